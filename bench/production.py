"""lims as production runs it, against baselines measured in the same run.

    python bench/production.py [--smoke] [--seconds 8] [--samples 1000000]
                               [--audit 1000000] [--no-sqlite]

Sets up its own PostgreSQL database (lims_bench on 127.0.0.1:5432, dropped and made
again), starts `lims serve --workers 2` and a bare FastAPI app the same way, drives
both from `wrk` (a separate process on 127.0.0.1) for a bounded time, runs `pgbench`
on the SQL statements the service issued for a transition (captured with a SQLAlchemy
hook), loads the big tables with COPY, and prints one table: each figure beside its
baseline and the ratio. `--smoke`: tiny data, two seconds per figure (checks that the
benchmark works; figures mean nothing). Asserts nothing about speed.
"""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import os
import random
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("LIMS_FAST_PASSWORD_HASHING", "1")
warnings.filterwarnings("ignore", message=".*httpx.*")

import psycopg  # noqa: E402
import qrcode  # noqa: E402
from sqlalchemy import event, select  # noqa: E402

from lims import labels  # noqa: E402
from lims.config import Settings  # noqa: E402
from lims.db.engine import make_engine, unit_of_work  # noqa: E402
from lims.db.migrate import upgrade  # noqa: E402
from lims.db.tables import AppUser, AuthToken, Donor, Sample  # noqa: E402
from lims.db.types import utcnow  # noqa: E402
from lims.domain import audit as hashing  # noqa: E402
from lims.services import audit, collections, donors, labelling, passwords, samples, users  # noqa: E402
from lims.services.context import Actor, Context  # noqa: E402

PG = "postgresql+psycopg://postgres@127.0.0.1:5432/"
DBNAME = os.environ.get("LIMS_BENCH_DB", "lims_bench")
TOKEN = "tech-bench-token"
SETUP = Actor(id="bench", name="bench setup", roles=frozenset({"admin", "coordinator", "qa"}))
WRK_LUA = Path(__file__).with_name("wrk.lua")


def say(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --- servers -----------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def server(kind: str, db_url: str | None, workers: int, logdir: Path) -> Iterator[dict]:
    """`lims serve` (kind 'lims') or the bare app, as its own process group."""
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if kind == "lims":
        env["LIMS_DATABASE_URL"] = db_url or ""
        cmd = [sys.executable, "-c", "from lims.cli import app; app()", "serve",
               "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
        probe = "/api/v1/healthz"
    else:
        cmd = [sys.executable, "-c", "import uvicorn; uvicorn.run('bench.bare:create_app', "
               f"factory=True, host='127.0.0.1', port={port}, workers={workers}, "
               "log_level='warning', access_log=False)"]
        probe = "/const"
    log = (logdir / f"{kind}-{port}.log").open("w")
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"{kind} server exited: see {log.name}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as c:
                    c.sendall(f"GET {probe} HTTP/1.1\r\nHost: x\r\n\r\n".encode())
                    if b" 200 " in c.recv(200):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"{kind} server did not answer within 60 s")
            time.sleep(0.2)
        time.sleep(0.5 * workers)  # every worker up, not only the first
        yield {"base": base, "pid": proc.pid}
    finally:
        os.killpg(proc.pid, 15)
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, 9)
            proc.wait()
        log.close()


def peak_rss_mb(pid: int) -> float:
    """Largest VmHWM (peak resident set) of the server's processes, in MB."""
    pids, todo = [], [pid]
    while todo:
        p = todo.pop()
        pids.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in
                         Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    peak = 0
    for p in pids:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmHWM:"):
                    peak = max(peak, int(line.split()[1]))
        except OSError:
            pass
    return peak / 1024


def wrk(base: str, conns: int, seconds: float, *, method: str = "GET", path: str,
        body: str = "", items: list[str] | None = None, tmp: Path) -> dict:
    """Drive one endpoint from wrk; requests/s, p50/p99 ms, non-2xx count."""
    threads = min(2, conns)
    env = {**os.environ, "BENCH_METHOD": method, "BENCH_PATH": path, "BENCH_BODY": body,
           "BENCH_TOKEN": TOKEN, "BENCH_THREADS": str(threads), "BENCH_ITEMS": ""}
    if items:
        f = tmp / f"items-{uuid.uuid4().hex[:8]}.txt"
        f.write_text("\n".join(items) + "\n")
        env["BENCH_ITEMS"] = str(f)
    cmd = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s",
           "--timeout", "10s", "-s", str(WRK_LUA), base + "/"]
    out = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=seconds + 60)
    line = [x for x in out.stdout.splitlines() if x.startswith("{")]
    if out.returncode or not line:
        raise SystemExit(f"wrk failed: {out.stdout}\n{out.stderr}")
    r = json.loads(line[-1])
    r["rps"] = r["requests"] / r["seconds"] if r["seconds"] else 0.0
    return r


# --- data --------------------------------------------------------------------------------

def fresh_database() -> str:
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                         autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DBNAME}")
    return PG + DBNAME


def seed(url: str, n_culture: int, n_cord: int) -> dict[str, Any]:
    """Users with tokens, donors, samples through the services: `n_culture` adipose
    samples in culture (for passages) and `n_cord` received cord-blood samples (scans)."""
    settings = Settings(database_url=url)
    engine = make_engine(url)
    out: dict[str, Any] = {"culture": [], "cord": [], "payloads": []}
    with unit_of_work(engine) as session:
        ctx = Context(session=session, actor=SETUP, settings=settings)
        u = users.add_user(ctx, username="tech", full_name="Bench technician",
                           roles=["technician"], password="bench-password-1")
        session.add(AuthToken(user_id=u.id, token_hash=passwords.digest(TOKEN),
                              expires_at=utcnow() + dt.timedelta(days=1)))
        ids = {}
        for code, kind in (("BENCH-AT-1", "autologous"), ("BENCH-CB-1", "allogeneic"),
                           ("BENCH-BM-1", "allogeneic")):
            d = donors.register_donor(ctx, code=code, donor_type=kind, eligibility="eligible")
            donors.add_consent(ctx, d.id, form_version="v3", scopes=["banking", "clinical"],
                               obtained_at=ctx.now - dt.timedelta(days=30),
                               obtained_by="Dr. Bench")
            ids[code] = d.id
    with unit_of_work(engine) as session:
        tech = users.actor_of(session.execute(
            select(AppUser).where(AppUser.username == "tech")).scalar_one())
    plan = [("BENCH-AT-1", "adipose_tissue", n_culture, "culture"),
            ("BENCH-CB-1", "cord_blood", n_cord, "cord"), ("BENCH-BM-1", "bone_marrow", 1, "")]
    for code, source, n, key in plan:
        for start in range(0, n, 50):
            with unit_of_work(engine) as session:
                ctx = Context(session=session, actor=tech, settings=settings)
                donor = session.get(Donor, ids[code])
                for _ in range(min(50, n - start)):
                    _, (s,) = collections.create_collection(
                        ctx, donor, source=source, site="Bench site",
                        started_at=ctx.now - dt.timedelta(hours=2),
                        ended_at=ctx.now - dt.timedelta(hours=1, minutes=50),
                        local_timezone="Europe/Berlin", volume_ml=80, anticoagulant="CPD",
                        collector="Bench collector")
                    samples.apply_event(ctx, s.id, "receive")
                    if key == "culture":
                        samples.apply_event(ctx, s.id, "start_culture",
                                            data={"method": "plastic_adherence"})
                    if key:
                        out[key].append(s.id)
                    if key == "cord":
                        out["payloads"].append(
                            labelling.content(ctx, session.get(Sample, s.id),
                                              reprint=False).payload)
    out["engine"], out["settings"], out["tech"] = engine, settings, tech
    return out


def uuid7_at(t: dt.datetime, rng: random.Random) -> str:
    """A UUIDv7 string for a past moment (ids order by creation, as lims makes them)."""
    ms = int(t.timestamp() * 1000)
    value = (ms & ((1 << 48) - 1)) << 80 | 0x7 << 76 | rng.getrandbits(12) << 64
    value |= 0b10 << 62 | rng.getrandbits(62)
    return str(uuid.UUID(int=value))


STATE_SPREAD = {  # a bank some years old: most material frozen or gone
    "cryopreserved": 46, "distributed": 10, "administered": 8, "discarded": 9,
    "consumed": 12, "released": 2, "thawed": 0.5, "received": 1.5, "in_processing": 1,
    "processed": 2, "in_culture": 1, "rejected": 2, "collected": 0.5, "in_transit": 0.3,
    "registered": 0.2}
SOURCE_SPREAD = {"cord_blood": 55, "bone_marrow": 30, "adipose_tissue": 15}


def _copy_text(v: Any) -> str:
    """A value as COPY's text format wants it."""
    if v is None:
        return "\\N"
    if isinstance(v, bool):
        return "t" if v else "f"
    if isinstance(v, dt.datetime):
        return v.isoformat()
    if isinstance(v, (dict, list)):
        v = json.dumps(v)
    return (str(v).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")
            .replace("\r", "\\r"))


def copy_lines(conn: psycopg.Connection, table: str, cols: list[str],
               lines: Iterator[str]) -> int:
    """COPY ready-made text lines, in large chunks (no per-value adaptation)."""
    n = 0
    with conn.cursor() as cur, cur.copy(
            f"COPY {table} ({', '.join(cols)}) FROM STDIN") as cp:
        chunk: list[str] = []
        for line in lines:
            chunk.append(line)
            n += 1
            if len(chunk) >= 20_000:
                cp.write("".join(chunk))
                chunk = []
        if chunk:
            cp.write("".join(chunk))
    return n


def _template(conn: psycopg.Connection, table: str, where: str) -> dict[str, str]:
    """One row the service made, each column already in COPY's text form."""
    cur = conn.execute(f"SELECT * FROM {table} WHERE {where} LIMIT 1")
    names = [d.name for d in cur.description]
    return {k: _copy_text(v) for k, v in zip(names, cur.fetchone(), strict=True)}


def _line(tpl: dict[str, str], cols: list[str], over: dict[str, str]) -> str:
    return "\t".join([over[c] if c in over else tpl[c] for c in cols]) + "\n"


def load_samples(dsn: str, n: int) -> float:
    """n samples (2 per collection, 20 collections per donor) spread over states, sources
    and ten years, loaded with COPY from templates of rows the service made."""
    t0 = time.perf_counter()
    rng = random.Random(12)
    with psycopg.connect(dsn) as conn:
        tpl = {src: _template(conn, "sample", f"source = '{src}' AND parent_id IS NULL")
               for src in SOURCE_SPREAD}
        ctpl = {src: _template(conn, "collection", f"source = '{src}'")
                for src in SOURCE_SPREAD}
        dtpl = _template(conn, "donor", "true")
        n_coll = (n + 1) // 2
        n_donor = max(1, n_coll // 20)
        now = dt.datetime.now(dt.UTC)
        start = now - dt.timedelta(days=3650)
        span = (now - start).total_seconds()
        donor_ids = [uuid7_at(start, rng) for _ in range(n_donor)]
        dcols = list(dtpl)
        copy_lines(conn, "donor", dcols, (
            _line(dtpl, dcols, {"id": did, "code": f"BULK-{i:07d}"})
            for i, did in enumerate(donor_ids)))
        src_of = rng.choices(list(SOURCE_SPREAD), list(SOURCE_SPREAD.values()), k=n_coll)
        state_of = rng.choices(list(STATE_SPREAD), list(STATE_SPREAD.values()), k=n)
        years: dict[int, int] = {}
        colls: list[tuple[str, str, str, str, dt.datetime]] = []
        for i in range(n_coll):
            at = start + dt.timedelta(seconds=span * i / n_coll)
            yy = at.year % 100
            years[yy] = years.get(yy, 0) + 1
            colls.append((uuid7_at(at, rng), f"W9998{yy:02d}{years[yy]:06d}", src_of[i],
                          donor_ids[i // 20], at))
        ccols = list(ctpl["cord_blood"])
        copy_lines(conn, "collection", ccols, (
            _line(ctpl[src], ccols, {"id": cid, "din": din, "donor_id": did, "source": src,
                                     "external_ref": "\\N", "started_at": at.isoformat(),
                                     "ended_at": at.isoformat(),
                                     "created_at": at.isoformat()})
            for cid, din, src, did, at in colls))
        scols = list(tpl["cord_blood"])

        def sample_lines() -> Iterator[str]:
            made = 0
            for cid, din, src, did, at in colls:
                t = tpl[src]
                when = at.isoformat()
                due = (at + dt.timedelta(hours=48)).isoformat()
                for div in ("00", "01"):
                    if made >= n:
                        return
                    yield _line(t, scols, {
                        "id": uuid7_at(at, rng), "code": f"{din}{t['product_code']}{div}",
                        "collection_id": cid, "donor_id": did, "source": src,
                        "division": div, "state": state_of[made], "location_id": "\\N",
                        "position": "\\N", "on_hold": "t" if made % 97 == 0 else "f",
                        "processing_due_at": due, "expires_at": "\\N", "created_at": when,
                        "updated_at": when, "recipient_id": "\\N"})
                    made += 1
        copy_lines(conn, "sample", scols, sample_lines())
        conn.commit()
        for table in ("donor", "collection", "sample"):
            conn.execute(f"ANALYZE {table}")
        conn.commit()
    return time.perf_counter() - t0


def load_audit(dsn: str, n: int, per_chain: int = 10) -> float:
    """n audit entries in chains of `per_chain`, hashed by lims.domain.audit, with COPY."""
    t0 = time.perf_counter()
    cols = ["chain", "chain_seq", "prev_hash", "hash", "at", "actor_id", "actor_name",
            "action", "entity_type", "entity_id", "before", "after", "reason",
            "request_id", "client_addr"]
    base = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)

    def lines() -> Iterator[str]:
        for c in range(0, n, per_chain):
            entity = f"bulk-{c // per_chain:08d}"
            prev = hashing.GENESIS
            for seq in range(1, min(per_chain, n - c) + 1):
                e = {"chain": f"sample:{entity}", "chain_seq": seq, "prev_hash": prev,
                     "at": base + dt.timedelta(seconds=c + seq, microseconds=seq),
                     "actor_id": "bench", "actor_name": "Bench technician",
                     "action": "event:passage", "entity_type": "sample",
                     "entity_id": entity, "before": {"passage": seq - 1, "state": "in_culture"},
                     "after": {"passage": seq, "state": "in_culture"}, "reason": None,
                     "request_id": f"{c:08x}{seq:04x}", "client_addr": "127.0.0.1"}
                e["hash"] = hashing.entry_hash(e, prev)
                prev = e["hash"]
                yield "\t".join([_copy_text(e[k]) for k in cols]) + "\n"
    with psycopg.connect(dsn) as conn:
        copy_lines(conn, "audit_entry", cols, lines())
        conn.commit()
        conn.execute("ANALYZE audit_entry")
    return time.perf_counter() - t0


# --- the pgbench baseline: the statements the service issued --------------------------

def _literal(v: Any) -> str:
    if v is None:
        return "NULL"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if hasattr(v, "obj"):  # psycopg Json/Jsonb wrapper
        v = json.dumps(v.obj)
    if isinstance(v, (dict, list)):
        v = json.dumps(v)
    if isinstance(v, (dt.datetime, dt.date)):
        v = v.isoformat()
    return "'" + str(v).replace("'", "''") + "'"


def capture(engine: Any) -> tuple[list[tuple[str, Any]], Callable[[], None]]:
    """Record (statement, parameters) of everything sent through `engine` from now on."""
    seen: list[tuple[str, Any]] = []

    def hook(conn: Any, cursor: Any, statement: str, params: Any, context: Any,
             executemany: bool) -> None:
        seen.append((statement, params))
    event.listen(engine, "before_cursor_execute", hook)
    return seen, lambda: event.remove(engine, "before_cursor_execute", hook)


def pgbench_script(statements: list[tuple[str, Any]], sample_ids: list[str],
                   target: str) -> str:
    """The captured statements as one pgbench transaction: the sample is picked at random
    among `sample_ids`, the audit chain is a fresh one, new row ids come from
    gen_random_uuid(); every other literal is what the service sent."""
    arr = "(ARRAY[" + ",".join(_literal(s) for s in sample_ids) + "])[:pgbk]"
    lines = [f"\\set pgbk random(1, {len(sample_ids)})",
             "\\set pgbr random(1, 1000000000000)", "BEGIN;"]
    for sql, params in statements:
        items = params.items() if isinstance(params, dict) else []
        values: dict[str, str] = {}
        for k, v in items:
            if v == target:
                values[k] = arr
            elif v == f"sample:{target}":
                values[k] = "('pgb:' || :client_id || ':' || :pgbr)"
            elif (re.fullmatch(r"(event_)?id(__\d+)?", k)
                  and sql.lstrip().upper().startswith("INSERT")):  # new rows, new ids
                values[k] = "gen_random_uuid()::text"
            else:
                values[k] = _literal(v)
        text_ = re.sub(r"%\((\w+)\)s", lambda m, vals=values: vals[m.group(1)], sql)
        lines.append(" ".join(text_.split()) + ";")
    lines.append("COMMIT;")
    return "\n".join(lines) + "\n"


def pgbench(script: str, conns: int, seconds: float, tmp: Path, db: str) -> dict:
    work = tmp / f"pgbench-{uuid.uuid4().hex[:6]}"
    work.mkdir()
    (work / "tx.sql").write_text(script)
    cmd = ["pgbench", "-n", "-h", "127.0.0.1", "-U", "postgres", f"-c{conns}",
           f"-j{min(2, conns)}", f"-T{max(1, round(seconds))}", "-l", "-f", "tx.sql", db]
    out = subprocess.run(cmd, cwd=work, capture_output=True, text=True,
                         timeout=seconds + 60)
    if out.returncode:
        raise SystemExit(f"pgbench failed:\n{out.stdout}\n{out.stderr}\n{script}")
    lat = []
    for f in work.glob("pgbench_log.*"):
        lat += [int(line.split()[2]) / 1000 for line in f.read_text().splitlines()]
    m = re.search(r"tps = ([\d.]+) \(without initial", out.stdout)
    tps = float(m.group(1)) if m else 0.0
    q = statistics.quantiles(lat, n=100, method="inclusive") if len(lat) > 1 else [0.0] * 99
    shutil.rmtree(work, ignore_errors=True)
    return {"rps": tps, "p50": q[49], "p99": q[98], "non2xx": 0, "requests": len(lat)}


# --- in-process figures ------------------------------------------------------------------

def rate(fn: Callable[[Any], Any], items: list[Any]) -> float:
    t0 = time.perf_counter()
    for it in items:
        fn(it)
    return len(items) / (time.perf_counter() - t0)


def label_figures(n: int) -> list[tuple]:
    sys.path.insert(0, str(Path(__file__).parent))
    from labels import content  # bench/labels.py: fresh label contents, no cache hits

    tpl = labels.load_templates(labels.default_templates_dir())["cryovial"]
    seqs = iter(range(0, 10**6, n + 100))

    def fresh() -> list[Any]:
        s = next(seqs)
        return [content(s + i) for i in range(n)]

    def bare(c: Any) -> None:
        buf = io.BytesIO()
        qrcode.make(c.payload).save(buf)
    labels.render_png(content(999_999), tpl)  # fonts, imports
    base_png = rate(bare, fresh())
    png = rate(lambda c: labels.render_png(c, tpl), fresh())
    zpl = rate(lambda c: labels.render_zpl(c, tpl), fresh())
    sheet = [content(500_000 + i) for i in range(96)]
    secs = []
    for _ in range(3):
        t0 = time.perf_counter()
        labels.render_pdf(sheet, tpl, layout="sheet")
        secs.append(time.perf_counter() - t0)
    pdf = statistics.median(secs)
    return [
        ("label QR PNG (cryovial), labels/s", f"{png:.0f}", f"{base_png:.0f} bare qrcode PNG",
         png / base_png),
        ("label ZPL (cryovial), labels/s", f"{zpl:.0f}", "", None),
        ("96-label PDF sheet, s", f"{pdf:.3f}", f"{96 / base_png:.3f} = 96 bare QR PNG",
         (96 / base_png) / pdf),
    ]


def verify_figure(url: str, settings: Settings) -> tuple[float, int, bool]:
    engine = make_engine(url)
    try:
        with unit_of_work(engine) as session:
            ctx = Context(session=session, settings=settings,
                          actor=Actor(id="bench", name="bench", roles=frozenset({"admin", "qa"})))
            t0 = time.perf_counter()
            result = audit.verify(ctx)
            secs = time.perf_counter() - t0
    finally:
        engine.dispose()
    return result["entries_checked"] / secs, result["entries_checked"], result["ok"]


# --- the run -----------------------------------------------------------------------------

def fmt(r: dict) -> str:
    bad = f", {r['non2xx']} non-2xx" if r.get("non2xx") else ""
    return f"{r['rps']:.0f} req/s, p50 {r['p50']:.1f} ms, p99 {r['p99']:.1f} ms{bad}"


def http_rows(base_lims: str, base_bare: str, d: dict, secs: float, tmp: Path,
              label: str) -> tuple[list[tuple], dict]:
    """scan -> card at 16 and 1 clients, health check, each beside the bare endpoint."""
    rows = []
    scan_body = '{"payload": "{item}", "station": "bench-1"}'
    payloads = [json.dumps(p)[1:-1] for p in d["payloads"]]
    bare16 = wrk(base_bare, 16, secs, path="/const", tmp=tmp)
    bare1 = wrk(base_bare, 1, secs, path="/const", tmp=tmp)
    s16 = wrk(base_lims, 16, secs, method="POST", path="/api/v1/scans", body=scan_body,
              items=payloads, tmp=tmp)
    s1 = wrk(base_lims, 1, secs, method="POST", path="/api/v1/scans", body=scan_body,
             items=payloads, tmp=tmp)
    h16 = wrk(base_lims, 16, secs, path="/api/v1/healthz", tmp=tmp)
    rows += [(f"{label} scan -> card, 16 clients", fmt(s16), "bare: " + fmt(bare16),
              s16["rps"] / bare16["rps"]),
             (f"{label} scan -> card, 1 client", fmt(s1), "bare: " + fmt(bare1),
              s1["rps"] / bare1["rps"]),
             (f"{label} GET /healthz, 16 clients", fmt(h16), "bare: " + fmt(bare16),
              h16["rps"] / bare16["rps"])]
    return rows, bare16


def warm_up(base_lims: str, base_bare: str, d: dict, culture: list[str], tmp: Path) -> None:
    """Every worker imports, connects and fills its caches before anything is measured."""
    payloads = [json.dumps(p)[1:-1] for p in d["payloads"]]
    wrk(base_bare, 4, 2, path="/const", tmp=tmp)
    wrk(base_lims, 4, 2, method="POST", path="/api/v1/scans",
        body='{"payload": "{item}", "station": "bench-1"}', items=payloads, tmp=tmp)
    path, body, ids = transition_items(culture)
    wrk(base_lims, 4, 2, method="POST", path=path, body=body, items=ids, tmp=tmp)


def transition_items(ids: list[str]) -> tuple[str, str, list[str]]:
    return ("/api/v1/samples/{item}/transitions",
            '{"event": "passage", "data": {"flasks": 2}}', ids)


class Table(list):
    """The rows of the final table, each also logged as soon as it is measured."""

    def append(self, row: tuple) -> None:
        name, value, base, ratio = row
        say(f"{name}: {value} | {base} | {'' if ratio is None else f'{ratio:.2f}'}")
        super().append(row)

    def __iadd__(self, rows: Any) -> Table:
        for r in rows:
            self.append(r)
        return self


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--smoke", action="store_true", help="tiny data, 2 s per figure")
    ap.add_argument("--seconds", type=float, default=8.0, help="per load figure")
    ap.add_argument("--samples", type=int, default=1_000_000)
    ap.add_argument("--audit", type=int, default=1_000_000)
    ap.add_argument("--no-sqlite", action="store_true")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--keep", action="store_true",
                    help="keep the database lims_bench (for EXPLAIN ANALYZE afterwards)")
    args = ap.parse_args()
    if args.smoke:
        args.seconds, args.samples, args.audit = 2.0, 2_000, 2_000
    for tool in ("wrk", "pgbench"):
        if not shutil.which(tool):
            raise SystemExit(f"{tool} is needed (Debian: apt-get install {tool}; "
                             "`make bench` installs it)")
    secs = args.seconds
    t_start = time.perf_counter()
    tmpd = tempfile.TemporaryDirectory(prefix="lims-bench-")
    tmp = Path(tmpd.name)
    table = Table()
    notes: list[str] = []

    say("fresh database lims_bench, migrations")
    url = fresh_database()
    upgrade(url)
    say("seeding through the services")
    n_culture, n_cord = (32, 32) if args.smoke else (256, 256)
    d = seed(url, n_culture, n_cord)
    engine, settings = d["engine"], d["settings"]

    # The statements of one audited transition, as the HTTP request issues them.
    from fastapi.testclient import TestClient

    from lims.main import create_app
    capture_app = create_app(Settings(database_url=url))
    with TestClient(capture_app) as client:
        path, body, _ = transition_items([])
        target = d["culture"][-1]
        seen, stop = capture(capture_app.state.engine)
        r = client.post(path.replace("{item}", target), content=body,
                        headers={"Authorization": f"Bearer {TOKEN}",
                                 "Content-Type": "application/json"})
        stop()
        if r.status_code != 200:
            raise SystemExit(f"capture transition failed: {r.status_code} {r.text}")
    capture_app.state.engine.dispose()
    culture = d["culture"][:-1]
    say(f"captured {len(seen)} statements of one transition")

    lims_srv = server("lims", url, args.workers, tmp)
    bare_srv = server("bare", None, args.workers, tmp)
    with lims_srv as lims, bare_srv as bare:
        say("PostgreSQL: warm-up, then scans, health, transitions")
        warm_up(lims["base"], bare["base"], d, culture, tmp)
        rows, bare16 = http_rows(lims["base"], bare["base"], d, secs, tmp, "PG")
        table += rows
        path, body, ids = transition_items(culture)
        tx = wrk(lims["base"], 16, secs, method="POST", path=path, body=body, items=ids,
                 tmp=tmp)
        rss = peak_rss_mb(lims["pid"])
        rss_bare = peak_rss_mb(bare["pid"])
    # pgbench writes audit rows that belong to no valid chain: it runs on a copy, so the
    # trail verified below stays the service's own.
    engine.dispose()
    script = pgbench_script(seen, culture, target)
    (tmp / "transition.sql").write_text(script)
    with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                         autocommit=True) as c:
        c.execute(f"DROP DATABASE IF EXISTS {DBNAME}_pgb WITH (FORCE)")
        c.execute(f"CREATE DATABASE {DBNAME}_pgb TEMPLATE {DBNAME}")
    try:
        pgb = pgbench(script, 16, secs, tmp, f"{DBNAME}_pgb")
    finally:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                             autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DBNAME}_pgb WITH (FORCE)")
    table.append(("PG audited transition (passage), 16 clients", fmt(tx),
                  f"pgbench, same {len(seen)} statements: " + fmt(pgb), tx["rps"] / pgb["rps"]))
    table.append(("peak RSS per server process, MB", f"{rss:.0f}",
                  f"{rss_bare:.0f} bare FastAPI", rss_bare / rss if rss else None))

    say(f"loading {args.samples} samples with COPY")
    dsn = f"host=127.0.0.1 user=postgres dbname={DBNAME}"
    t_load = load_samples(dsn, args.samples)
    notes.append(f"{args.samples:,} samples loaded with COPY in {t_load:.0f} s")
    say(f"samples loaded in {t_load:.1f} s")
    say(f"loading {args.audit} audit entries with COPY")
    t_audit = load_audit(dsn, args.audit)
    notes.append(f"{args.audit:,} audit entries (valid chains) loaded with COPY in "
                 f"{t_audit:.0f} s")
    with server("lims", url, args.workers, tmp) as lims:
        say("PostgreSQL: list and dashboard over the big table")
        lst = wrk(lims["base"], 4, secs, path="/api/v1/samples?state=received"
                  "&source=bone_marrow&limit=50", tmp=tmp)
        lst2 = wrk(lims["base"], 4, secs, path="/api/v1/samples?state=cryopreserved"
                   "&source=cord_blood&limit=50", tmp=tmp)
        table.append((f"PG first list page, state=received&source=bone_marrow, "
                      f"{args.samples:,} samples, 4 clients", fmt(lst), "", None))
        table.append((f"PG first list page, state=cryopreserved&source=cord_blood, "
                      f"{args.samples:,} samples, 4 clients", fmt(lst2), "", None))
        probe = subprocess.run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}",
                                "-H", f"Authorization: Bearer {TOKEN}",
                                lims["base"] + "/api/v1/dashboard"],
                               capture_output=True, text=True)
        if probe.stdout.strip() == "200":
            dash = wrk(lims["base"], 4, secs, path="/api/v1/dashboard", tmp=tmp)
            table.append((f"PG dashboard summary, {args.samples:,} samples, 4 clients",
                          fmt(dash), "", None))
        else:
            notes.append(f"dashboard: GET /api/v1/dashboard answered {probe.stdout.strip()}"
                         " (not on this branch yet): row skipped")
    say("audit verification")
    eps, checked, ok = verify_figure(url, settings)
    table.append((f"audit verification, {checked:,} entries, entries/s", f"{eps:,.0f}",
                  "", None))
    if not ok:
        notes.append("audit verification found a break (the bench data is wrong)")
    engine.dispose()

    if not args.no_sqlite:
        say("SQLite default: scans, transitions")
        sq_url = f"sqlite:///{tmp}/bench.db"
        upgrade(sq_url)
        dq = seed(sq_url, 16 if args.smoke else 128, 16 if args.smoke else 128)
        dq["engine"].dispose()
        with server("lims", sq_url, args.workers, tmp) as lims, \
                server("bare", None, args.workers, tmp) as bare:
            warm_up(lims["base"], bare["base"], dq, dq["culture"], tmp)
            rows, _ = http_rows(lims["base"], bare["base"], dq, secs, tmp, "SQLite")
            table += rows[:2]
            path, body, ids = transition_items(dq["culture"])
            txs = wrk(lims["base"], 16, secs, method="POST", path=path, body=body,
                      items=ids, tmp=tmp)
            table.append(("SQLite audited transition (passage), 16 clients", fmt(txs),
                          "", None))

    say("labels (in-process)")
    table += label_figures(20 if args.smoke else 200)
    if not args.keep:
        with psycopg.connect("host=127.0.0.1 user=postgres dbname=postgres",
                             autocommit=True) as c:
            c.execute(f"DROP DATABASE IF EXISTS {DBNAME} WITH (FORCE)")
    tmpd.cleanup()

    print(f"\nlims bench (production shape): {args.workers} server processes, wrk on "
          f"127.0.0.1, {secs:.0f} s per figure, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}; total {time.perf_counter() - t_start:.0f} s"
          f"{'  [SMOKE: tiny data, figures mean nothing]' if args.smoke else ''}\n")
    print("| figure | lims | baseline (same run) | ratio |")
    print("| --- | --- | --- | --- |")
    for name, value, base, ratio in table:
        print(f"| {name} | {value} | {base} | {'' if ratio is None else f'{ratio:.2f}'} |")
    print("\nratio = lims throughput / baseline throughput (for the PDF sheet: baseline "
          "seconds / lims seconds; for memory: baseline MB / lims MB); 1 = as good as the "
          "baseline.")
    for n in notes:
        print(f"- {n}")


if __name__ == "__main__":
    main()
