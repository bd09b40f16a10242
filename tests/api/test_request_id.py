"""Every response names its request (X-Request-ID): the caller's id if it sent one, a new
one otherwise; the same id is written in the audit entries of that request and in the
one-line request log."""

from __future__ import annotations

import json
import logging
import re

from tests.api.helpers import collection, donor


def test_request_id_is_echoed_or_made_and_lands_in_the_audit_entry(api, caplog):
    r = api.get("/healthz", headers={"X-Request-ID": "scanner-7-0042"})
    assert r.status_code == 200 and r.headers["X-Request-ID"] == "scanner-7-0042"
    made = api.get("/healthz").headers["X-Request-ID"]
    assert re.fullmatch(r"[0-9a-f]{32}", made)
    assert api.get("/healthz").headers["X-Request-ID"] != made
    missing = api.get("/samples/no-such-sample", headers={"X-Request-ID": "lost-tube-1"})
    assert missing.status_code == 404 and missing.headers["X-Request-ID"] == "lost-tube-1"

    d = donor(api)
    with caplog.at_level(logging.INFO, logger="lims.request"):
        c = collection(api, d["id"])
    sample_id = c["samples"][0]["id"]
    entries = api.as_("qa").get("/audit", params={"entity_id": sample_id}).json()["items"]
    assert entries and all(e["request_id"] for e in entries)
    lines = [json.loads(rec.getMessage()) for rec in caplog.records
             if rec.name == "lims.request"]
    posted = [x for x in lines if x["method"] == "POST" and x["path"] == "/api/v1/collections"]
    assert posted and posted[-1]["status"] == 201 and posted[-1]["user"] == "tech"
    assert posted[-1]["request_id"] == entries[0]["request_id"]
