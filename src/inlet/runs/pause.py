"""Pausing a function: it starts no run until it is resumed, and every event it skips
meanwhile is recorded (``PAUSED``) so a bulk replay can run them after. Runs already under
way go on, unless the operator asks for them to be cancelled as the function is paused."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from inlet.clock import Clock
from inlet.errors import NotFound
from inlet.runs.cancel import Canceller
from inlet.runs.registry import Registry
from inlet.store import Store


@dataclass(frozen=True, slots=True)
class PauseState:
    slug: str
    paused_at: float | None
    """When it was paused; None when it runs."""
    cancelled: tuple[str, ...] = ()
    """The runs cancelled as it was paused."""


class Pauser:
    def __init__(
        self,
        store: Store,
        canceller: Canceller,
        clock: Clock,
        registry: Callable[[], Registry],
    ) -> None:
        self._store = store
        self._canceller = canceller
        self._clock = clock
        self._registry = registry

    def known(self, slug: str) -> None:
        """Raise ``NotFound``, naming the known functions, unless ``slug`` is one."""
        if self._registry().get(slug) is None:
            known = ", ".join(sorted(self._registry().functions)) or "none"
            raise NotFound(f"function {slug!r} is not registered; known functions: {known}")

    async def pause(self, slug: str, *, cancel_running: bool = False) -> PauseState:
        """Pause ``slug`` (pausing a paused function keeps its first pause time)."""
        self.known(slug)
        await self._store.set_paused(slug, self._clock.now())
        cancelled: list[str] = []
        if cancel_running:
            cancelled = await self._canceller.cancel_many(
                slug,
                started_after=None,
                started_before=None,
                condition=None,
                reason=f"cancelled as function {slug!r} was paused",
            )
        paused = await self._store.paused_functions()
        return PauseState(slug, paused.get(slug), tuple(cancelled))

    async def resume(self, slug: str) -> PauseState:
        """Let ``slug`` run again; the events it skipped are not run (replay them)."""
        self.known(slug)
        await self._store.set_paused(slug, None)
        return PauseState(slug, None)

    async def state(self, slug: str) -> PauseState:
        self.known(slug)
        return PauseState(slug, (await self._store.paused_functions()).get(slug))
