"""Making the HTTP calls of ``step.fetch`` and ``step.ai.infer`` (``steps/gateway.py`` says
what they are and what their results become). Off the hot path, so aiohttp.

Never raises for a failed call: the ``Response`` says why in ``error``.
"""

from __future__ import annotations

from typing import Any

import aiohttp

from inlet.steps import gateway
from inlet.steps.gateway import Request, Response
from inlet.steps.reply import Reply


async def resolve(reply: Reply, keys: tuple[str, ...]) -> dict[str, dict[str, Any]]:
    """Make the calls of the reply's gateway opcodes, one after the other; what each
    opcode stands for then, by step id (``Call.gateway``)."""
    resolved = {}
    for op in gateway.gateway_ops(reply, keys):
        request = gateway.request_of(op)
        response = None if isinstance(request, str) else await perform(request)
        resolved[str(op.get("id") or "")] = gateway.resolved(op, request, response)
    return resolved


async def perform(request: Request) -> Response:
    """Make ``request``, within ``gateway.TIMEOUT`` seconds and reading at most
    ``gateway.MAX_RESPONSE_BYTES`` of body (read when called, so tests can lower them)."""
    timeout, limit = gateway.TIMEOUT, gateway.MAX_RESPONSE_BYTES
    try:
        async with (
            aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=timeout)) as session,
            session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                allow_redirects=True,
            ) as resp,
        ):
            chunks: list[bytes] = []
            size = 0
            async for chunk in resp.content.iter_chunked(65536):
                size += len(chunk)
                if size > limit:
                    return Response(
                        error=(
                            f"the response is larger than {limit} bytes (the fixed limit of "
                            "a step's output); fetch large data inside step.run and return "
                            "a reference"
                        )
                    )
                chunks.append(chunk)
            headers = {k.lower(): v for k, v in resp.headers.items()}
            return Response(status=resp.status, headers=headers, body=b"".join(chunks))
    except TimeoutError:
        return Response(error=f"no response within {timeout:g}s")
    except (aiohttp.ClientError, OSError, ValueError) as exc:
        return Response(error=f"the request failed: {exc or type(exc).__name__}")
