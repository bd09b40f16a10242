"""Pages for people: the bench scanning station, the coordinator dashboard, the sample
page, the workflow diagram and user administration. Server-rendered (Jinja2), every
asset served by lims itself (it works on an isolated lab network)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def install(app: FastAPI) -> None:
    """Mount the pages and their static files on the app."""
    from lims.web import live, pages

    app.include_router(live.router)
    app.include_router(pages.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
