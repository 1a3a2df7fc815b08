"""An endorsement's live state as server-sent events (WHATWG HTML §9.2), for the OBS overlay.

``GET /api/v1/endorsements/{code}/events`` answers ``text/event-stream``: first a ``state``
event with the current ``{"code", "status", "scans"}`` and a ``retry`` field (how long the
browser waits before reconnecting), then a ``state`` event whenever the status or the scan
count changes (read once per process for every client of a code: ``registry.endorsements.live``),
and a ``heartbeat`` event when the stream has been quiet for a while, so a client can tell a
live stream from a dead connection. After ``LiveBoard.stream_seconds`` the server ends the
stream and the browser reconnects on its own, getting the current state first again, so a
stuck connection or a proxy holds nothing for long and a shutting-down server waits for no
stream longer than that. On SIGTERM/SIGINT under uvicorn every stream ends at once
(sse-starlette's shutdown detection).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import orjson
from fastapi import Request
from sse_starlette import EventSourceResponse, ServerSentEvent
from starlette.background import BackgroundTask
from starlette.concurrency import run_in_threadpool

from api.scan import scan_entry
from registry.endorsements.live import RETRY_MILLISECONDS, LiveBoard, LiveSubscription

SEND_TIMEOUT_SECONDS = 10.0
"""A client that takes longer to accept one event is dropped (it reconnects if alive)."""


def _state_event(subscription: LiveSubscription, *, retry: int | None = None) -> ServerSentEvent:
    body = orjson.dumps(subscription.state.as_json()).decode()
    return ServerSentEvent(body, event="state", retry=retry)


def _heartbeat() -> ServerSentEvent:
    return ServerSentEvent("{}", event="heartbeat")


async def _events(
    subscription: LiveSubscription, changed: asyncio.Event, seconds: float
) -> AsyncIterator[ServerSentEvent]:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    try:
        shown = subscription.state
        yield _state_event(subscription, retry=RETRY_MILLISECONDS)
        while not subscription.ended:
            remaining = deadline - loop.time()
            if remaining <= 0:
                break
            try:
                await asyncio.wait_for(changed.wait(), remaining)
            except TimeoutError:
                break
            changed.clear()
            if subscription.ended:
                break
            if subscription.state != shown:
                shown = subscription.state
                yield _state_event(subscription)
    finally:
        subscription.close()


async def live_events(request: Request, code: str) -> EventSourceResponse:
    """The event stream of endorsement ``code``; NotFound (before any byte is streamed) for
    a malformed or unknown code."""
    entry = await scan_entry(request, code)
    board: LiveBoard = request.app.state.live_board
    loop = asyncio.get_running_loop()
    changed = asyncio.Event()

    def notify() -> None:  # in the board's thread
        loop.call_soon_threadsafe(changed.set)

    subscription = await run_in_threadpool(board.subscribe, entry.code, notify)
    return EventSourceResponse(
        _events(subscription, changed, board.stream_seconds),
        ping=board.heartbeat_seconds,
        ping_message_factory=_heartbeat,
        send_timeout=SEND_TIMEOUT_SECONDS,
        headers={"Cache-Control": "no-store"},
        # Also when the stream never started (the client left first); closing is idempotent.
        background=BackgroundTask(subscription.close),
    )
