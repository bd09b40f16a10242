"""The baseline server: a bare FastAPI app with one sync endpoint returning a constant,
served exactly as lims is (uvicorn, same worker count, no access log)."""

from __future__ import annotations

from fastapi import FastAPI


def create_app() -> FastAPI:
    app = FastAPI()

    @app.get("/const")
    def const() -> dict[str, bool]:
        return {"ok": True}

    @app.post("/const")
    def const_post(body: dict) -> dict[str, bool]:
        return {"ok": True}

    return app
