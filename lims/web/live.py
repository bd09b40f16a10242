"""Live dashboard: server-sent events when anything changed, in any server process.

Each connection polls a durable marker (the newest audit entry id: every audited write
moves it) twice a second, so a change made through another process or machine reaches
every open dashboard within about half a second. No in-process list is involved."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from lims.services import dashboard
from lims.web.session import PageRoute, transaction

router = APIRouter(route_class=PageRoute, include_in_schema=False)
POLL_SECONDS = 0.5
HEARTBEAT_POLLS = 30  # a comment line every ~15 s keeps proxies from closing the stream


def _marker(request: Request) -> int:
    with transaction(request) as ctx:
        return dashboard.change_marker(ctx)


@router.get("/dashboard/stream")
async def stream(request: Request) -> StreamingResponse:
    first = await run_in_threadpool(_marker, request)  # refuses a visitor not signed in

    async def events() -> AsyncIterator[str]:
        last, polls = first, 0
        yield f"retry: 1000\nevent: hello\ndata: {first}\n\n"
        while not await request.is_disconnected():
            await asyncio.sleep(POLL_SECONDS)
            polls += 1
            try:
                marker = await run_in_threadpool(_marker, request)
            except Exception:  # noqa: BLE001 - signed out or database away: end the stream
                return
            if marker != last:
                last = marker
                yield f"event: change\ndata: {marker}\n\n"
            elif polls % HEARTBEAT_POLLS == 0:
                yield ": still here\n\n"

    return StreamingResponse(events(), media_type="text/event-stream",
                             headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"})
