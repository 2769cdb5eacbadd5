from __future__ import annotations

from inlet.flow.config import Singleton
from inlet.flow.decision import ADMIT, Skip
from inlet.flow.singleton import CancelThen, singleton


def test_a_run_is_admitted_when_no_run_holds_the_key() -> None:
    assert singleton(None, Singleton(mode="skip")) == ADMIT
    assert singleton(None, Singleton(mode="cancel")) == ADMIT


def test_skip_mode_drops_the_new_run_while_one_is_active() -> None:
    decision = singleton("run-1", Singleton(mode="skip"))

    assert isinstance(decision, Skip)
    assert "run-1" in decision.reason


def test_cancel_mode_cancels_the_active_run_then_starts_the_new_one() -> None:
    assert singleton("run-1", Singleton(mode="cancel")) == CancelThen("run-1")
