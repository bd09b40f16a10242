"""Throughput and latency of lims' hot paths, as ratios to baselines measured in the same run.

    python bench/run.py [--db sqlite|postgresql] [--n 300]

The machine is shared and noisy, so absolute numbers mean little: read the ratio column.
Single client, in-process. Prints figures only; asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from datetime import timedelta
from pathlib import Path

os.environ["LIMS_FAST_PASSWORD_HASHING"] = "1"
warnings.filterwarnings("ignore", message=".*httpx.*")  # starlette TestClient notice
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import qrcode  # noqa: E402
from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import JSON, bindparam, create_engine, select, text  # noqa: E402

from lims import labels  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db.engine import make_engine, unit_of_work  # noqa: E402
from lims.db.migrate import upgrade  # noqa: E402
from lims.db.tables import AppUser, AuthToken, Donor, Sample  # noqa: E402
from lims.db.types import UTCDateTime, new_id, utcnow  # noqa: E402
from lims.main import create_app  # noqa: E402
from lims.services import collections, donors, labelling, passwords, samples, users  # noqa: E402
from lims.services.context import Actor, Context  # noqa: E402

PG_ADMIN = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
ROLES = {"tech": "technician", "coord": "coordinator", "qa": "qa", "admin": "admin"}
WARMUP = 5


def timed(fn, items) -> dict:
    """Call fn(item) for each item; ops/s over the whole loop, per-call p50/p99 in ms."""
    lat = []
    t0 = time.perf_counter()
    for it in items:
        s = time.perf_counter()
        fn(it)
        lat.append(time.perf_counter() - s)
    total = time.perf_counter() - t0
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else lat * 99
    return {"ops": len(lat) / total, "p50": q[49] * 1e3, "p99": q[98] * 1e3, "total": total}


# Sets the bench up: an administrator who is also coordinator and QA (not measured).
SETUP = Actor(id="bench", name="bench setup", roles=frozenset({"admin", "coordinator", "qa"}))


def seed(url: str, settings: Settings, n: int) -> tuple[list[str], object]:
    """Users (one per role) with bearer tokens '<user>-bench-token'; n received samples."""
    engine = make_engine(url)
    with unit_of_work(engine) as session:
        ctx = Context(session=session, actor=SETUP, settings=settings)
        for username, role in ROLES.items():
            u = users.add_user(ctx, username=username, full_name=f"Bench {role}",
                               roles=[role], password="bench-password-1")
            session.add(AuthToken(user_id=u.id, token_hash=passwords.digest(
                f"{username}-bench-token"), expires_at=utcnow() + timedelta(days=1)))
    with unit_of_work(engine) as session:
        tech = users.actor_of(session.execute(
            select(AppUser).where(AppUser.username == "tech")).scalar_one())
        ctx = Context(session=session, actor=SETUP, settings=settings)
        d = donors.register_donor(ctx, code="BENCH-CB-1", donor_type="allogeneic",
                                  eligibility="eligible")
        donors.add_consent(ctx, d.id, form_version="v3", scopes=["banking", "clinical"],
                           obtained_at=ctx.now - timedelta(days=30), obtained_by="Dr. Bench")
    ids: list[str] = []
    for start in range(0, n, 50):  # batches keep each transaction modest
        with unit_of_work(engine) as session:
            ctx = Context(session=session, actor=tech, settings=settings)
            d = session.get(Donor, d.id)
            for _ in range(min(50, n - start)):
                _, (s,) = collections.create_collection(
                    ctx, d, source="cord_blood", site="Maternity unit",
                    started_at=ctx.now - timedelta(hours=2),
                    ended_at=ctx.now - timedelta(hours=1, minutes=50),
                    local_timezone="Europe/Berlin", volume_ml=80, anticoagulant="CPD",
                    collector="Midwife Bench")
                samples.apply_event(ctx, s.id, "receive")
                ids.append(s.id)
    return ids, (engine, tech)


def raw_transition(engine, pg: bool):
    """The same shape of transaction in plain SQLAlchemy Core: lock, 2 inserts, update."""
    chain, seq = f"bench-raw:{os.getpid()}", iter(range(1, 10**9))
    sel = text("SELECT * FROM sample WHERE id = :id" + (" FOR UPDATE" if pg else ""))
    ins_t = text(
        "INSERT INTO sample_transition (id, sample_id, event, from_state, to_state, actor_id,"
        " actor_name, deviation, data, at) VALUES (:id, :sid, 'bench', 'received',"
        " 'received', 'bench', 'bench', :dev, :data, :at)"
    ).bindparams(bindparam("data", type_=JSON()), bindparam("at", type_=UTCDateTime()))
    ins_a = text(
        "INSERT INTO audit_entry (chain, chain_seq, prev_hash, hash, at, actor_id, actor_name,"
        " action, entity_type, entity_id, after) VALUES (:chain, :seq, :prev, :hash, :at,"
        " 'bench', 'bench', 'event:bench', 'sample', :sid, :after)"
    ).bindparams(bindparam("after", type_=JSON()), bindparam("at", type_=UTCDateTime()))
    upd = text("UPDATE sample SET version = version + 1 WHERE id = :id")
    prev = ["0" * 64]

    def op(sid: str) -> None:
        k = next(seq)
        h = hashlib.sha256(f"{prev[0]}{k}".encode()).hexdigest()
        now = utcnow()
        with engine.begin() as c:
            c.execute(sel, {"id": sid}).one()
            c.execute(ins_t, {"id": new_id(), "sid": sid, "dev": False, "data": {}, "at": now})
            c.execute(ins_a, {"chain": chain, "seq": k, "prev": prev[0], "hash": h, "at": now,
                              "sid": sid, "after": {"state": "received"}})
            c.execute(upd, {"id": sid})
        prev[0] = h
    return op


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    ap.add_argument("--n", type=int, default=300, help="samples per measured run")
    args = ap.parse_args()
    n = max(args.n, 2)
    pg = args.db == "postgresql"
    tmp = tempfile.TemporaryDirectory(prefix="lims-bench-")
    admin = None
    if pg:
        name = f"lims_bench_{os.getpid()}"
        admin = create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
        with admin.connect() as c:
            c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            c.execute(text(f"CREATE DATABASE {name}"))
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{name}"
    else:
        url = f"sqlite:///{tmp.name}/bench.db"
    engine = app = None
    try:
        upgrade(url)
        settings = Settings(database_url=url)
        t0 = time.perf_counter()
        ids, (engine, tech) = seed(url, settings, 2 * (n + WARMUP))
        seeding = time.perf_counter() - t0
        svc_ids, http_ids = ids[: n + WARMUP], ids[n + WARMUP:]
        rows = []

        # 1 + 2: audited transition, raw SQL baseline vs the service.
        raw = raw_transition(engine, pg)
        timed(raw, svc_ids[:WARMUP])
        base_tx = timed(raw, svc_ids[WARMUP:])

        def service(sid: str) -> None:
            with unit_of_work(engine) as session:
                ctx = Context(session=session, actor=tech, settings=settings)
                samples.apply_event(ctx, sid, "start_processing",
                                    data={"method": "volume_reduction"})
        timed(service, svc_ids[:WARMUP])
        rows += [("raw SQL transition (baseline)", base_tx, None),
                 ("audited transition (service)", timed(service, svc_ids[WARMUP:]), base_tx)]

        # 3 + 4: through the HTTP stack (TestClient: in-process ASGI, no sockets).
        app = create_app(Settings(database_url=url))
        auth = {"Authorization": "Bearer tech-bench-token"}
        with TestClient(app) as client:
            def http(sid: str) -> None:
                r = client.post(f"/api/v1/samples/{sid}/transitions", headers=auth,
                                json={"event": "start_processing",
                                      "data": {"method": "volume_reduction"}})
                if r.status_code >= 300:
                    raise SystemExit(f"transition via HTTP failed: {r.status_code} {r.text}")
            timed(http, http_ids[:WARMUP])
            rows.append(("audited transition (HTTP)", timed(http, http_ids[WARMUP:]), base_tx))

            with unit_of_work(engine) as session:
                ctx = Context(session=session, actor=tech, settings=settings)
                contents = [labelling.content(ctx, session.get(Sample, sid), reprint=False)
                            for sid in ids]
            payloads = [c.payload for c in contents]

            def health(_: str) -> None:
                client.get("/api/v1/healthz").raise_for_status()

            def scan(payload: str) -> None:
                r = client.post("/api/v1/scans", headers=auth,
                                json={"payload": payload, "station": "bench-1"})
                if r.status_code >= 300:
                    raise SystemExit(f"scan failed: {r.status_code} {r.text}")
            timed(health, payloads[:WARMUP])
            base_h = timed(health, payloads[WARMUP:n + WARMUP])
            timed(scan, payloads[:WARMUP])
            rows += [("GET /healthz (baseline)", base_h, None),
                     ("scan to card (HTTP)", timed(scan, payloads[WARMUP:n + WARMUP]), base_h)]

        # 5: labels. Baseline: bare qrcode.make(payload) to PNG bytes.
        tpl = labels.load_templates(labels.default_templates_dir())["cryovial"]

        def bare_qr(payload: str) -> None:
            buf = io.BytesIO()
            qrcode.make(payload).save(buf)

        m = min(n, 200)
        timed(bare_qr, payloads[:WARMUP])
        base_qr = timed(bare_qr, payloads[WARMUP:m + WARMUP])
        timed(lambda c: labels.render_png(c, tpl), contents[:WARMUP])
        png = timed(lambda c: labels.render_png(c, tpl), contents[WARMUP:m + WARMUP])
        sheet = [contents[i % len(contents)] for i in range(96)]
        pdf = timed(lambda _: labels.render_pdf(sheet, tpl, layout="sheet"), range(3))
        per96 = {"ops": base_qr["ops"] / 96, "p50": base_qr["p50"] * 96,
                 "p99": base_qr["p99"] * 96}
        rows += [("bare qrcode PNG (baseline)", base_qr, None),
                 ("label PNG cryovial", png, base_qr),
                 ("96-label PDF sheet (x3 runs)", pdf, per96)]
    finally:
        if app is not None:
            app.state.engine.dispose()
        if engine is not None:
            engine.dispose()
        if admin is not None:
            with admin.connect() as c:
                c.execute(text(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            admin.dispose()
        tmp.cleanup()

    print(f"\nlims bench: backend={args.db}  N={n}  (seeding {len(ids)} samples took "
          f"{seeding:.1f} s; single client, in-process)\n")
    print(f"{'name':34} {'ops/s':>9} {'p50 ms':>8} {'p99 ms':>8} {'ratio':>7}  baseline")
    for label, r, base in rows:
        ratio = f"{r['ops'] / base['ops']:.3f}" if base else "1"
        bname = "" if base is None else ("96 x bare QR" if base is per96 else
                                         "raw SQL" if base is base_tx else
                                         "healthz" if base is base_h else "bare QR")
        print(f"{label:34} {r['ops']:9.1f} {r['p50']:8.2f} {r['p99']:8.2f} {ratio:>7}  {bname}")
    print("\nratio = throughput / throughput of its baseline, both measured in this run "
          "(0.25 = a quarter of the baseline's ops/s, i.e. 4x the cost per op); "
          "compare ratios across runs, not ops/s.\n")


if __name__ == "__main__":
    main()
