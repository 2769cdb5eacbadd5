from __future__ import annotations

import base64
import os
import re
import threading

import pytest
from inngest._internal.client_lib import client as sdk_client
from ulid import ULID

from inlet import ids
from inlet.errors import InvalidValue
from inlet.ids import new_ulid, ulid_from_seed, ulid_time

ULID_TEXT = re.compile(r"[0-9A-HJKMNP-TV-Z]{26}")
NOW = 1_795_370_092.370


def seed_of(ms: int, entropy: bytes) -> str:
    return f"{ms},{base64.b64encode(entropy).decode()}"


def test_a_new_ulid_is_26_crockford_characters_stamped_with_the_given_time() -> None:
    ulid = new_ulid(NOW)

    assert ULID_TEXT.fullmatch(ulid)
    assert ULID.from_str(ulid).milliseconds == 1_795_370_092_370
    assert ulid_time(ulid) == pytest.approx(NOW)


def test_new_ulids_at_the_same_time_differ() -> None:
    assert len({new_ulid(NOW) for _ in range(100)}) == 100


def test_new_ulids_sort_by_time_as_text() -> None:
    assert new_ulid(NOW) < new_ulid(NOW + 0.002)


def test_the_ulids_of_one_millisecond_count_up_from_a_random_first() -> None:
    first, second, third = (ULID.from_str(new_ulid(NOW + 7.0)) for _ in range(3))
    assert int(second) == int(first) + 1 and int(third) == int(first) + 2
    later = ULID.from_str(new_ulid(NOW + 8.0))  # a new millisecond: random again
    entropy = 2**80 - 1
    assert later.milliseconds > first.milliseconds
    assert int(later) & entropy != (int(third) & entropy) + 1


def test_counting_up_carries_past_z_and_starts_afresh_after_the_last_value(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    source = ids._Source()
    monkeypatch.setattr(ids, "_source", source)
    made = new_ulid(NOW)
    source.last = "0000000000000AZZ"
    assert new_ulid(NOW) == made[:10] + "0000000000000B00"
    source.last = "Z" * 16  # 2**80 - 1: nothing follows it in this millisecond
    assert ULID_TEXT.fullmatch(new_ulid(NOW))


def test_a_new_ulid_is_its_time_then_a_digit_per_random_byte_as_python_ulid_reads_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    randoms = bytes([0, 1, 2, 0x1F, 0x20, 0x7F, 0x80, 0xAA, 0x55, 0xFE, 0xFF, 0x10, 3, 4, 5, 6])
    monkeypatch.setattr(ids.os, "urandom", lambda n: (randoms * n)[:n])
    monkeypatch.setattr(ids, "_source", ids._Source())
    # Each random byte's low five bits are one digit of the 80 random bits.
    digits = "012Z0Z0ANYZG3456"

    for now in (0.0, 1.0, NOW, (2**48 - 1) / 1000, NOW):
        made = new_ulid(now)
        parsed = ULID.from_str(made)
        assert made[10:] == digits
        assert parsed.milliseconds == int(now * 1000)
        assert str(parsed) == made
        randomness = int.from_bytes(parsed.bytes[6:], "big")
        assert randomness == sum((b & 31) << (5 * (15 - i)) for i, b in enumerate(randoms))


def test_new_ulids_differ_past_the_buffered_entropy_and_across_threads() -> None:
    made: list[list[str]] = [[] for _ in range(4)]

    def make(out: list[str]) -> None:
        out.extend(new_ulid(NOW) for _ in range(2_000))  # five buffers each

    threads = [threading.Thread(target=make, args=(out,)) for out in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert len({ulid for out in made for ulid in out}) == 8_000


@pytest.mark.skipif(not hasattr(os, "fork"), reason="os.fork is POSIX only")
def test_a_forked_child_does_not_repeat_its_parents_next_ulids() -> None:
    new_ulid(NOW)  # the parent has buffered entropy
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its first ids, then out
        os.close(read)
        os.write(write, ",".join(new_ulid(NOW) for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = set(pipe.read().split(","))
    os.waitpid(pid, 0)

    assert len(child) == 10
    assert child.isdisjoint(new_ulid(NOW) for _ in range(10))


def test_a_time_before_the_epoch_has_no_ulid() -> None:
    with pytest.raises(ValueError, match="cannot be stored in a ULID"):
        new_ulid(-1.0)


def test_a_seed_gives_the_same_ulid_every_time() -> None:
    seed = seed_of(1_743_130_137_367, bytes(range(10)))

    assert ulid_from_seed(seed, 1) == ulid_from_seed(seed, 1)
    assert ulid_time(ulid_from_seed(seed, 1)) == 1_743_130_137.367


def test_each_position_in_a_request_gets_its_own_seeded_ulid() -> None:
    seed = seed_of(1_743_130_137_367, bytes(range(10)))

    assert len({ulid_from_seed(seed, index) for index in range(1, 5001)}) == 5000


def test_the_index_is_added_to_the_big_endian_counter_in_entropy_bytes_6_to_9() -> None:
    entropy = bytes([9, 8, 7, 6, 5, 4, 0, 0, 0, 0xFF])
    ulid = ULID.from_str(ulid_from_seed(seed_of(1_000, entropy), 2))

    assert ulid.bytes[:6] == (1_000).to_bytes(6, "big")
    assert ulid.bytes[6:] == bytes([9, 8, 7, 6, 5, 4, 0, 0, 1, 0x01])


def test_the_seeded_counter_wraps_around_at_2_to_the_32() -> None:
    entropy = bytes([1, 2, 3, 4, 5, 6, 0xFF, 0xFF, 0xFF, 0xFF])
    ulid = ULID.from_str(ulid_from_seed(seed_of(1_000, entropy), 1))

    assert ulid.bytes[6:] == bytes([1, 2, 3, 4, 5, 6, 0, 0, 0, 0])


def test_the_go_servers_documented_example_seed_parses() -> None:
    assert ulid_time(ulid_from_seed("1743130137367,eii2YKXRVTJPuA==", 1)) == 1_743_130_137.367


def test_a_seed_made_by_the_official_python_sdk_parses() -> None:
    seed = sdk_client._seed()

    ulid = ulid_from_seed(seed, 1)

    assert ULID.from_str(ulid).milliseconds == int(seed.split(",")[0])


@pytest.mark.parametrize(
    ("seed", "reason"),
    [
        ("", "exactly one comma"),
        ("1743130137367", "exactly one comma"),
        ("1,2,3", "exactly one comma"),
        ("abc,eii2YKXRVTJPuA==", "not a whole number"),
        ("-5,eii2YKXRVTJPuA==", "not a whole number"),
        ("0,eii2YKXRVTJPuA==", "outside the range"),
        ("1743130137367,eii2YKXRVTJPuA", "not standard base64"),
        ("1743130137367,!!!!", "not standard base64"),
        ("1743130137367,AAAA", "3 bytes, not 10"),
    ],
)
def test_a_malformed_seed_is_an_invalid_value_naming_the_header_and_the_form(
    seed: str, reason: str
) -> None:
    with pytest.raises(InvalidValue) as caught:
        ulid_from_seed(seed, 1)

    message = caught.value.message
    assert "X-Inngest-Event-Id-Seed" in message
    assert repr(seed) in message
    assert reason in message
    assert "<unix ms>,<base64 of 10 bytes>" in message


def test_ulid_time_rejects_text_that_is_not_a_ulid() -> None:
    with pytest.raises(ValueError, match="'nope' is not a ULID"):
        ulid_time("nope")
