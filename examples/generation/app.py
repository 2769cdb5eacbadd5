"""The generation example: a page with a prompt box, and the four-step function behind it.

Generate creates a session (IN_PROGRESS) and sends ``brainstorm.generate-seeds``; the
function runs ``load-session`` -> ``generate-seeds`` -> ``save-seeds`` -> ``update-session``
and the page polls the session until it is COMPLETED (or FAILED, with the error).

    INNGEST_DEV=http://127.0.0.1:8288 .venv/bin/uvicorn examples.generation.app:app --port 3001

With GENERATION_API_URL, GENERATION_API_KEY and GENERATION_API_MODEL it calls that
OpenAI-compatible endpoint; without them an offline generator, labelled as such.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import fastapi
import inngest
import inngest.fast_api
from fastapi.responses import FileResponse
from pydantic import BaseModel, Field

from .generator import ChatGenerator, Generator, OfflineGenerator
from .sessions import Sessions

PAGE = Path(__file__).with_name("page.html")
EVENT = "brainstorm.generate-seeds"
API_VARIABLES = ("GENERATION_API_URL", "GENERATION_API_KEY", "GENERATION_API_MODEL")


class ConfigError(Exception):
    """The example's settings are incomplete; the message names the variable."""


class NewSession(BaseModel):
    prompt: str = Field(min_length=1, max_length=2000)


def generator_from(env: Mapping[str, str]) -> Generator:
    given = {name: env.get(name, "").strip() for name in API_VARIABLES}
    if not any(given.values()):
        return OfflineGenerator(delay=float(env.get("GENERATION_OFFLINE_DELAY", "2")))
    for name, value in given.items():
        if not value:
            raise ConfigError(
                f"{name} is not set: an OpenAI-compatible endpoint needs all of "
                f"{', '.join(API_VARIABLES)}; unset them all for the offline generator"
            )
    url, key, model = given.values()
    return ChatGenerator(url=url.rstrip("/"), key=key, model=model)


def create_app(sessions: Sessions, generator: Generator) -> fastapi.FastAPI:
    client = inngest.Inngest(app_id="generation", logger=logging.getLogger("uvicorn"))

    async def mark_failed(ctx: inngest.Context) -> None:
        # inngest/function.failed carries the original event and the run's last error.
        original = ctx.event.data.get("event")
        data = original.get("data") if isinstance(original, Mapping) else None
        session_id = data.get("session_id") if isinstance(data, Mapping) else None
        error = ctx.event.data.get("error")
        message = error.get("message") if isinstance(error, Mapping) else error
        sessions.finish(int(str(session_id)), "FAILED", str(message))

    @client.create_function(
        fn_id="generate-seeds",
        trigger=inngest.TriggerEvent(event=EVENT),
        retries=2,
        on_failure=mark_failed,
    )
    async def generate_seeds(ctx: inngest.Context) -> dict[str, Any]:
        session_id = int(str(ctx.event.data["session_id"]))

        async def load_session() -> str:
            session = sessions.get(session_id)
            if session is None:
                raise inngest.NonRetriableError(f"no session {session_id}")
            return session.prompt

        prompt = await ctx.step.run("load-session", load_session)

        async def generate() -> list[str]:
            return await generator.seeds(prompt)

        seeds = await ctx.step.run("generate-seeds", generate)

        async def save() -> int:
            sessions.save_seeds(session_id, seeds)
            return len(seeds)

        await ctx.step.run("save-seeds", save)

        async def update() -> str:
            sessions.finish(session_id, "COMPLETED")
            return "COMPLETED"

        status = await ctx.step.run("update-session", update)
        return {"session_id": session_id, "status": status, "seeds": len(seeds)}

    app = fastapi.FastAPI(title="Inlet example: generation")
    inngest.fast_api.serve(app, client, [generate_seeds])

    @app.get("/", include_in_schema=False)
    async def page() -> FileResponse:
        return FileResponse(PAGE)

    @app.get("/api/generator")
    async def which_generator() -> dict[str, Any]:
        return {"label": generator.label, "offline": isinstance(generator, OfflineGenerator)}

    @app.post("/api/sessions", status_code=201)
    async def create_session(new: NewSession) -> dict[str, Any]:
        session = sessions.create(new.prompt, generator.label)
        await client.send(inngest.Event(name=EVENT, data={"session_id": session.id}))
        return session.as_json()

    @app.get("/api/sessions")
    async def list_sessions() -> dict[str, Any]:
        return {"data": [s.as_json() for s in sessions.recent()]}

    @app.get("/api/sessions/{session_id}")
    async def get_session(session_id: int) -> dict[str, Any]:
        session = sessions.get(session_id)
        if session is None:
            raise fastapi.HTTPException(404, f"no session {session_id}")
        return session.as_json()

    return app


def _load() -> fastapi.FastAPI:
    try:
        generator = generator_from(os.environ)
    except ConfigError as exc:
        print(f"generation example: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    database = os.environ.get("GENERATION_DATABASE", ".inlet/generation.db")
    Path(database).parent.mkdir(parents=True, exist_ok=True)
    return create_app(Sessions(database), generator)


app = _load()
