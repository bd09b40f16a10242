"""Small builders for API tests: a donor with consent, a collection, a box."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import count

from lims.domain import isbt

_n = count(1)


def iso(dt: datetime) -> str:
    return dt.isoformat()


def donor(api, *, donor_type="allogeneic", eligibility="eligible",
          scopes=("clinical", "research", "banking")) -> dict:
    r = api.as_("coord").post("/donors", {"code": f"D-{next(_n):05d}", "donor_type": donor_type,
                                          "eligibility": eligibility})
    assert r.status_code == 201, r.text
    d = r.json()
    if scopes:
        r = api.as_("coord").post(f"/donors/{d['id']}/consents", {
            "form_version": "v3", "scopes": list(scopes),
            "obtained_at": iso(datetime.now(UTC) - timedelta(days=1)), "obtained_by": "Dr. Who"})
        assert r.status_code == 201, r.text
    return d


def collection_body(donor_id: str, *, start: datetime | None = None,
                    minutes: float = 8, **fields: object) -> dict:
    """A valid collection request (ended an hour ago, 8 minutes long); override any field."""
    start = start or datetime.now(UTC) - timedelta(hours=1, minutes=minutes)
    return {"donor_id": donor_id, "source": "cord_blood", "site": "Maternity unit",
            "started_at": iso(start), "ended_at": iso(start + timedelta(minutes=minutes)),
            "volume_ml": 95.0, "anticoagulant": "CPD", "collector": "Midwife M.", **fields}


def collection(api, donor_id: str, *, source="cord_blood", hours_ago: float = 2,
               volume=95.0, containers=None, external_ref=None) -> dict:
    start = datetime.now(UTC) - timedelta(hours=hours_ago, minutes=8)
    body = collection_body(donor_id, start=start, source=source, volume_ml=volume)
    if containers:
        body["containers"] = containers
    if external_ref:
        body["external_ref"] = external_ref
    r = api.as_("tech").post("/collections", body)
    assert r.status_code == 201, r.text
    return r.json()


def primary(api, **kw) -> dict:
    d = donor(api, **{k: v for k, v in kw.items() if k in ("donor_type", "eligibility", "scopes")})
    c = collection(api, d["id"], **{k: v for k, v in kw.items()
                                    if k in ("source", "hours_ago", "volume")})
    return c["samples"][0]


def scan_code(sample: dict) -> str:
    """What the label of an allogeneic (unrelated donor) sample carries: DIN + product."""
    din, product, division = sample["code"].split("-")
    return isbt.din_data_structure(din) + f"=<{product}V{division}"


def step(api, sample_id: str, event: str, user="tech", **body) -> dict:
    r = api.as_(user).post(f"/samples/{sample_id}/transitions", {"event": event, **body})
    assert r.status_code == 200, r.text
    return r.json()


def box(api, name="Box 7", rows=9, cols=9) -> dict:
    a = api.as_("coord")
    site = a.post("/locations", {"kind": "site", "name": f"Lab {next(_n)}"}).json()
    dewar = a.post("/locations", {"kind": "storage_unit", "name": "Dewar 2",
                                  "parent_id": site["id"], "max_temp_c": -150}).json()
    rack = a.post("/locations", {"kind": "rack", "name": "Rack C", "parent_id": dewar["id"]}).json()
    r = a.post("/locations", {"kind": "box", "name": name, "parent_id": rack["id"],
                              "rows": rows, "cols": cols})
    assert r.status_code == 201, r.text
    return r.json()
