"""The app's routes as the app holds them (FastAPI keeps included routers as they were
included: walk them, adding each include's prefix)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from fastapi.routing import APIRoute


@dataclass(frozen=True)
class Route:
    path: str  # the full path, as a client calls it
    route: APIRoute

    @property
    def operation_id(self) -> str:
        return self.route.operation_id or self.route.name

    @property
    def methods(self) -> set[str]:
        return set(self.route.methods)


def _walk(router, prefix: str) -> Iterator[Route]:
    for r in router.routes:
        included = getattr(r, "original_router", None)
        if included is not None:
            yield from _walk(included, prefix + r.include_context.prefix)
        elif isinstance(r, APIRoute):
            yield Route(prefix + r.path, r)


def app_routes() -> list[Route]:
    from lims.config import Settings
    from lims.main import create_app

    app = create_app(Settings(database_url="sqlite:///:memory:"))
    app.state.engine.dispose()
    # The API's contract; the pages (forms with a CSRF token, per-tap keys) are not the API.
    return [r for r in _walk(app.router, "") if r.path.startswith("/api/v1/")]
