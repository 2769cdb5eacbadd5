"""Random ULIDs take their 80 bits from a per-thread pool of os.urandom: never the same
bytes twice, in two threads or in a forked child."""

from __future__ import annotations

import os
import threading

from ulid import ULID

from inlet.ids import new_ulid


def _entropy(ulid: str) -> bytes:
    return ULID.from_str(ulid).bytes[6:]


def test_ids_made_in_one_millisecond_differ_and_keep_its_time() -> None:
    ids = [new_ulid(1_700_000_000.123) for _ in range(2_000)]  # five refills of the pool
    assert len({_entropy(u) for u in ids}) == len(ids)
    assert {ULID.from_str(u).milliseconds for u in ids} == {1_700_000_000_123}


def test_two_threads_never_take_the_same_bytes() -> None:
    made: dict[int, list[str]] = {}

    def make(n: int) -> None:
        made[n] = [new_ulid(1.0) for _ in range(1_000)]

    threads = [threading.Thread(target=make, args=(n,)) for n in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not {_entropy(u) for u in made[0]} & {_entropy(u) for u in made[1]}


def test_a_forked_child_does_not_repeat_its_parent_s_next_ids() -> None:
    new_ulid(1.0)  # the pool is filled in this process before the fork
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: send its next ten ids and leave at once
        os.close(read)
        os.write(write, ",".join(new_ulid(1.0) for _ in range(10)).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read) as pipe:
        child = pipe.read().split(",")
    os.waitpid(pid, 0)
    parent = [new_ulid(1.0) for _ in range(10)]
    assert not {_entropy(u) for u in child} & {_entropy(u) for u in parent}
