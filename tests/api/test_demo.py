"""`lims demo` loads the scenarios; afterwards the dashboard lists cryopreserved samples."""

from __future__ import annotations

import shutil
import subprocess
from datetime import datetime, timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from lims.config import Settings
from lims.db.engine import make_engine, unit_of_work
from lims.db.migrate import upgrade
from lims.demo import DEMO_PASSWORD, load
from lims.domain.workflow import State
from lims.main import create_app
from lims.services import audit
from lims.services.context import Actor, Context

ADMIN = Actor(id="cli", name="lims cli", roles=frozenset({"admin"}))


def test_demo_then_list_cryopreserved(tmp_path):
    url = f"sqlite:///{tmp_path / 'demo.db'}"
    upgrade(url)
    settings = Settings(database_url=url)
    engine = make_engine(url)
    with unit_of_work(engine) as s:
        summary = load(Context(session=s, actor=ADMIN, settings=settings))
    assert all(summary["samples_by_state"][st.value] >= 1 for st in State), summary
    with unit_of_work(engine) as s:
        assert audit.verify(Context(session=s, actor=ADMIN, settings=settings))["ok"]
    engine.dispose()

    app = create_app(settings)
    with TestClient(app) as client:
        token = client.post("/api/v1/auth/token", data={
            "username": "tech", "password": DEMO_PASSWORD}).json()["access_token"]
        r = client.get("/api/v1/samples", params={"state": "cryopreserved"},
                       headers={"Authorization": f"Bearer {token}"})
        assert r.status_code == 200
        items = r.json()["items"]
        assert items and all(i["state"] == "cryopreserved" for i in items)
        assert all(i["location_id"] and i["position"] for i in items)
        donors = client.get("/api/v1/donors", params={"limit": 200},
                            headers={"Authorization": f"Bearer {token}"}).json()["items"]
        by_code = {d["code"]: d for d in donors}
        assert by_code["CB-2026-0999"]["consents"] == []  # registered, no consent yet
        assert by_code["MS-TRIAL-017"]["active_consent_scopes"] == ["clinical"]
        flagged = client.get("/api/v1/samples", params={
            "donor_id": by_code["MS-TRIAL-017"]["id"]},
            headers={"Authorization": f"Bearer {token}"}).json()["items"]
        assert flagged and all(s["consent_withdrawn"] == ["research"] for s in flagged)
        # Demo events happen hours and days apart, as in a lab: the marrow received late
        # shows 52 hours between the end of collection and its receipt, not one minute.
        bm = by_code["BM-REL-2026-03"]["id"]
        trace = client.get(f"/api/v1/donors/{bm}/trace",
                           headers={"Authorization": f"Bearer {token}"}).json()
        (dev,) = trace["deviations"]
        assert (dev["since_collection"], dev["late_by"]) == ("52 h 30 min", "4 h 30 min")
        marrow = trace["collections"][0]["samples"][0]["id"]
        history = client.get(f"/api/v1/samples/{marrow}/history",
                             headers={"Authorization": f"Bearer {token}"}).json()
        at = {h["event"]: datetime.fromisoformat(h["at"]) for h in history}
        ended = datetime.fromisoformat(trace["collections"][0]["ended_at"])
        assert at["receive"] - ended == timedelta(hours=52)
        assert at["receive"] - at["dispatch"] > timedelta(hours=48)  # the courier's delay
        assert len(set(at.values())) == len(at)  # no two steps in the same instant
        _pages_for_review(client, token, by_code)
        key = {"X-API-Key": summary["integration_api_key"]}
        assert client.get("/api/v1/samples", headers=key).status_code == 200
    app.state.engine.dispose()


def _pages_for_review(client: TestClient, token: str, by_code: dict) -> None:
    """The demo's trace reports as PNGs under tests/artifacts/reports/ for a reviewer."""
    if not shutil.which("pdftoppm"):
        return
    out = Path(__file__).resolve().parents[1] / "artifacts" / "reports"
    out.mkdir(parents=True, exist_ok=True)
    for code in ("BM-REL-2026-03", "MS-TRIAL-017"):  # the late marrow; weeks of culture
        pdf = client.get(f"/api/v1/donors/{by_code[code]['id']}/trace", params={
            "format": "pdf"}, headers={"Authorization": f"Bearer {token}"})
        assert pdf.status_code == 200
        stem = out / f"demo-{code}"
        for old in out.glob(f"demo-{code}*"):
            old.unlink()
        stem.with_suffix(".pdf").write_bytes(pdf.content)
        subprocess.run(["pdftoppm", "-png", "-r", "80", str(stem.with_suffix(".pdf")),
                        str(stem)], check=True, timeout=60)
