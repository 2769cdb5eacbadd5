"""The opcodes an SDK answers with in a 206 reply (docs/protocol.md §5.2).

A ``StrEnum`` so that each member *is* its wire string: it compares equal to what the SDK
sent, serialises as itself, and is stored as a memo's ``op`` without conversion. A typo in
a member name fails type checking instead of silently matching nothing.
"""

from __future__ import annotations

from enum import StrEnum


class Op(StrEnum):
    STEP_RUN = "StepRun"
    """A step ran inline and returned ``data`` (the Python SDK says ``Step``)."""
    STEP = "Step"
    STEP_ERROR = "StepError"
    """A step raised; retried while the function has attempts left."""
    STEP_FAILED = "StepFailed"
    """A step raised and will not be retried; also the memo op of an exhausted retry."""
    STEP_PLANNED = "StepPlanned"
    """A step to run in a call of its own (parallel steps, or planning mode)."""
    STEP_NOT_FOUND = "StepNotFound"
    SLEEP = "Sleep"
    WAIT_FOR_EVENT = "WaitForEvent"
    INVOKE_FUNCTION = "InvokeFunction"
    RUN_COMPLETE = "RunComplete"
    DISCOVERY_REQUEST = "DiscoveryRequest"
    DEFER_ADD = "DeferAdd"
    """``defer()``: start a deferred child run once this run ends (``steps/defer.py``)."""
    DEFER_ABORT = "DeferAbort"
    """A defer added earlier is not to start after all."""
    GATEWAY = "Gateway"
    """``step.fetch``: the server makes the HTTP call and memoises the response."""
    AI_GATEWAY = "AIGateway"
    """``step.ai.infer``: the same, for a model provider's inference API."""


STEP_DONE = frozenset({Op.STEP_RUN, Op.STEP})
"""A step that returned a value."""
STEP_RAISED = frozenset({Op.STEP_ERROR, Op.STEP_FAILED})
"""A step that raised."""
WAITING = frozenset({Op.SLEEP, Op.WAIT_FOR_EVENT, Op.INVOKE_FUNCTION})
"""Opcodes that park the step until a timer or an event resolves it."""
LAZY = frozenset({Op.DEFER_ADD, Op.DEFER_ABORT})
"""Opcodes that ride along with another (no step of their own to plan or run)."""
GATEWAYS = frozenset({Op.GATEWAY, Op.AI_GATEWAY})
"""Opcodes whose HTTP call the server makes."""
STEP_MEMOS = frozenset({Op.STEP_RUN, Op.STEP, Op.STEP_FAILED})
"""Memo ops of a step that ran; any other memo resolves a parked step, whose listener and
timer then go."""

RESUME = "Resume"
"""The memo op (Inlet's own label, not an opcode) of a wait or invoke an event resolved."""
TIMER = "Timer"
"""The memo op (Inlet's own label) of a sleep or wait timeout that a timer resolved."""
