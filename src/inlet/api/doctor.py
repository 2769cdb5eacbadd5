"""``GET /v1/doctor``: the server-side checks of ``inlet doctor`` (a viewer token is enough
in inlet start: it reads, and says nothing a key could be recovered from)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

from inlet import __version__
from inlet.api.auth import exposure_warning
from inlet.api.render import wrapped
from inlet.clock import Clock
from inlet.config import Settings
from inlet.doctor.checks import failed
from inlet.doctor.service import Doctor


class DoctorAPI:
    def __init__(self, settings: Settings, doctor: Doctor, clock: Clock) -> None:
        self._settings = settings
        self._doctor = doctor
        self._clock = clock

    async def check(self, request: Request) -> Response:
        """The verdicts, ``ok`` false when any failed; 200 either way (the request worked)."""
        profile = self._settings.profile
        exposure = exposure_warning(self._settings.host) if profile == "dev" else None
        checks = await self._doctor.run(exposure)
        data = {
            "ok": not failed(checks),
            "profile": profile,
            "version": __version__,
            "checks": [c.as_dict() for c in checks],
        }
        return wrapped(data, self._clock.now())
