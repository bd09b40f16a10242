"""Request size limit: a body larger than the service ever needs is refused (413) before
it is read into memory, whatever the Content-Length says (chunked bodies are counted)."""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send


def _problem(scope: Scope, limit: int) -> tuple[bytes, list[tuple[bytes, bytes]]]:
    body = json.dumps({
        "type": "https://lims.example/problems/body-too-large", "title": "Request too large",
        "status": 413, "detail": f"The request body is larger than {limit} bytes; nothing "
        "was saved. Send less at a time (e.g. fewer tubes per batch).",
        "instance": scope.get("path", "")}).encode()
    return body, [(b"content-type", b"application/problem+json"),
                  (b"content-length", str(len(body)).encode())]


class BodyLimit:
    """Pure ASGI middleware: counts the bytes as they arrive and stops at `limit`."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, send)
            return
        seen = 0
        too_large = False

        async def counted() -> Message:
            nonlocal seen, too_large
            if too_large:  # the app asks for more after we cut it off
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.limit:
                    # Stop reading here: the app sees a cut-off body and fails on it;
                    # its answer is replaced by the 413 below.
                    too_large = True
                    return {"type": "http.request", "body": b"", "more_body": False}
            return message

        passing = False  # the app's own answer began before the cut: let it finish

        async def answer(message: Message) -> None:
            nonlocal passing
            if passing or not too_large:
                passing = True
                await send(message)
            elif message["type"] == "http.response.start":
                await self._refuse(scope, send)

        await self.app(scope, counted, answer)

    async def _refuse(self, scope: Scope, send: Send) -> None:
        body, headers = _problem(scope, self.limit)
        start: dict[str, Any] = {"type": "http.response.start", "status": 413,
                                 "headers": headers}
        await send(start)
        await send({"type": "http.response.body", "body": body})
