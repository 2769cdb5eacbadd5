from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from inlet.flow.concurrency import Candidate, select


def ids(candidates: tuple[Candidate, ...]) -> list[str]:
    return [c.id for c in candidates]


def test_candidates_are_picked_in_order_up_to_the_capacity() -> None:
    cands = [Candidate(f"c{i}") for i in range(5)]

    assert ids(select(cands, {}, capacity=3).picked) == ["c0", "c1", "c2"]


def test_a_key_never_gets_more_than_its_limit_counting_those_in_flight() -> None:
    cands = [Candidate(f"c{i}", (("fn:f", 3),)) for i in range(5)]

    selection = select(cands, {"fn:f": 1}, capacity=10)

    assert ids(selection.picked) == ["c0", "c1"]
    assert selection.full_keys == {"fn:f"}


def test_an_item_blocked_on_a_full_key_does_not_hold_back_other_keys() -> None:
    cands = [
        Candidate("a1", (("k:a", 1),)),
        Candidate("a2", (("k:a", 1),)),
        Candidate("b1", (("k:b", 1),)),
    ]

    selection = select(cands, {}, capacity=10)

    assert ids(selection.picked) == ["a1", "b1"]
    assert selection.full_keys == {"k:a", "k:b"}


def test_an_item_needs_room_on_every_one_of_its_keys() -> None:
    cands = [
        Candidate("x", (("k:user", 5), ("fn:f", 1))),
        Candidate("y", (("k:user", 5),)),
    ]

    selection = select(cands, {"fn:f": 1}, capacity=10)

    assert ids(selection.picked) == ["y"]
    assert "fn:f" in selection.full_keys
    assert "k:user" not in selection.full_keys


def test_an_over_limit_key_from_a_lowered_limit_admits_nothing() -> None:
    assert select([Candidate("c", (("k", 2),))], {"k": 5}, capacity=1).picked == ()


def test_zero_capacity_picks_nothing() -> None:
    assert select([Candidate("c")], {}, capacity=0).picked == ()


def test_a_key_shared_across_functions_is_checked_against_each_items_own_limit() -> None:
    cands = [Candidate("f1", (("env:e:k", 1),)), Candidate("g1", (("env:e:k", 3),))]

    assert ids(select(cands, {"env:e:k": 1}, capacity=10).picked) == ["g1"]


KEYS = ["k0", "k1", "k2", "k3"]
candidate_lists = st.lists(
    st.lists(
        st.tuples(st.sampled_from(KEYS), st.integers(min_value=1, max_value=4)),
        max_size=3,
    ),
    max_size=25,
).map(lambda specs: [Candidate(f"c{i}", tuple(spec)) for i, spec in enumerate(specs)])


@settings(max_examples=400, deadline=None)
@given(
    cands=candidate_lists,
    in_flight=st.dictionaries(st.sampled_from(KEYS), st.integers(min_value=0, max_value=5)),
    capacity=st.integers(min_value=0, max_value=30),
)
def test_selection_respects_every_limit_and_keeps_queue_order(
    cands: list[Candidate], in_flight: dict[str, int], capacity: int
) -> None:
    selection = select(cands, in_flight, capacity)
    picked = set(ids(selection.picked))

    assert len(selection.picked) <= capacity
    assert ids(selection.picked) == [c.id for c in cands if c.id in picked]  # a subsequence

    held = dict(in_flight)
    picks_so_far = 0
    for cand in cands:
        room = all(held.get(key, 0) < limit for key, limit in cand.keys)
        if cand.id in picked:
            # Picking it kept every key within the limit of the item holding it.
            assert room
            for key in {key for key, _ in cand.keys}:
                held[key] = held.get(key, 0) + 1
            picks_so_far += 1
        elif picks_so_far < capacity:
            # Passed over with capacity left only because a key of its was full: no later
            # item took room it could have used, and the store learns which key it was.
            assert not room
            blocking = {key for key, limit in cand.keys if held.get(key, 0) >= limit}
            assert blocking & selection.full_keys

    for key in selection.full_keys:
        limits = [limit for c in cands for k, limit in c.keys if k == key]
        assert held.get(key, 0) >= min(limits)
