"""The audit trail in the database, on SQLite and PostgreSQL: the append-only triggers
refuse UPDATE and DELETE, and `services.audit.verify` catches what someone who gets past
the triggers (a DBA, a restored dump) does to the rows: edits, deletions, reordering and
cutting off the newest entries after a checkpoint.

Tampering goes around the triggers the way an administrator would: on SQLite by dropping
the trigger (`audit_entry_no_update` / `audit_entry_no_delete`, migration 0002), on
PostgreSQL with `SET LOCAL session_replication_role = replica` in that one transaction.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, delete, func, select, text, update
from sqlalchemy.exc import DBAPIError

from lims.db.engine import unit_of_work
from lims.db.tables import AuditCheckpoint, AuditEntry, Signature
from lims.domain import audit as hashing
from lims.services import audit
from lims.services.context import Context
from tests.api.helpers import primary, step
from tests.conftest import PASSWORD, actor_for

AE = AuditEntry.__table__
# Everything an entry says, as opposed to where it sits in its chain.
PAYLOAD = ("at", "actor_id", "actor_name", "action", "entity_type", "entity_id", "before",
           "after", "reason", "request_id", "client_addr")


# --- helpers -------------------------------------------------------------------------------


@contextmanager
def tampering(engine: Engine, *verbs: str) -> Iterator[Connection]:
    """One transaction in which the append-only triggers of audit_entry do not fire."""
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            for verb in verbs:
                conn.exec_driver_sql(f"DROP TRIGGER audit_entry_no_{verb}")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        yield conn


def verify(engine: Engine, settings) -> dict[str, Any]:
    with unit_of_work(engine) as s:
        return audit.verify(Context(session=s, actor=actor_for(engine, "qa"), settings=settings))


def make_checkpoint(engine: Engine, settings) -> AuditCheckpoint:
    with unit_of_work(engine) as s:
        ctx = Context(session=s, actor=actor_for(engine, "admin"), settings=settings)
        return audit.checkpoint(ctx)


def chain_rows(engine: Engine, chain: str) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(AE).where(AE.c.chain == chain).order_by(AE.c.chain_seq))
        return [dict(r._mapping) for r in rows]


def processed_sample(api) -> str:
    """A sample whose chain has 6 entries: created, collect, receive, start, complete, qc."""
    s = primary(api)
    step(api, s["id"], "receive")
    step(api, s["id"], "start_processing", data={"method": "density_gradient"})
    step(api, s["id"], "complete_processing", data={"results": {"mnc": 1.1e9}})
    r = api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass",
                                             "value": 92.5, "unit": "%"})
    assert r.status_code == 201, r.text
    return s["id"]


def assert_break(result: dict[str, Any], *, entry_id: int | None, chain: str, seq: int,
                 problem: str) -> None:
    assert result["ok"] is False, result
    fb = result["first_break"]
    assert fb is not None, result
    assert (fb["entry_id"], fb["chain"], fb["chain_seq"]) == (entry_id, chain, seq), fb
    assert problem in fb["problem"], fb


# --- the triggers --------------------------------------------------------------------------


@pytest.fixture
def trail(db_url, api, engine) -> dict[str, Any]:
    """A sample with a 6-entry chain, and a signature elsewhere (reject needs one)."""
    sid = processed_sample(api)
    other = primary(api)
    step(api, other["id"], "reject", reason="bag leaking at the seam",
         signature={"password": PASSWORD, "meaning": "performed"})
    return {"sample_id": sid, "chain": f"sample:{sid}", "rows": chain_rows(engine, f"sample:{sid}")}


@pytest.mark.parametrize("sql", [
    "UPDATE audit_entry SET action = 'forged' WHERE id = :id",
    "UPDATE audit_entry SET chain_seq = chain_seq + 100 WHERE id = :id",
    "DELETE FROM audit_entry WHERE id = :id",
    "DELETE FROM audit_entry",
], ids=["update-action", "update-seq", "delete-one", "delete-all"])
def test_raw_update_and_delete_of_audit_entries_are_refused(trail, engine, settings,
                                                            sql: str) -> None:
    target = trail["rows"][1]["id"]
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(AE)).scalar_one()
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql), {"id": target})
    assert chain_rows(engine, trail["chain"]) == trail["rows"]
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(AE)).scalar_one() == total
    assert verify(engine, settings)["ok"] is True


@pytest.mark.parametrize("table", ["audit_checkpoint", "signature"])
@pytest.mark.parametrize("verb", ["UPDATE", "DELETE"])
def test_checkpoints_and_signatures_are_append_only_too(trail, engine, settings, table: str,
                                                        verb: str) -> None:
    make_checkpoint(engine, settings)
    with engine.connect() as conn:
        before = conn.execute(text(f"SELECT * FROM {table}")).all()
    assert before, f"no {table} row to attack"
    column = "prev_hash" if table == "audit_checkpoint" else "meaning"
    sql = f"UPDATE {table} SET {column} = 'x'" if verb == "UPDATE" else f"DELETE FROM {table}"
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(sql))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT * FROM {table}")).all() == before


def test_truncate_is_refused_on_postgresql(pg_url, trail, engine) -> None:
    for table in ("audit_entry", "audit_checkpoint", "signature"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
            conn.exec_driver_sql(f"TRUNCATE {table} CASCADE")
    assert chain_rows(engine, trail["chain"]) == trail["rows"]


def test_bypass_is_confined_to_its_transaction(pg_url, trail, engine) -> None:
    """Sanity check of the tampering helper itself: on PostgreSQL the replica role is
    SET LOCAL, so the next transaction on the same pooled connection is protected again."""
    target = trail["rows"][0]["id"]
    with tampering(engine, "update") as conn:
        conn.execute(update(AE).where(AE.c.id == target).values(reason="edited"))
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(update(AE).where(AE.c.id == target).values(reason="again"))


# --- verify catches tampering --------------------------------------------------------------


def test_clean_trail_verifies(trail, engine, settings) -> None:
    result = verify(engine, settings)
    assert result["ok"] is True, result
    assert result["first_break"] is None
    with engine.connect() as conn:
        assert result["entries_checked"] == conn.execute(
            select(func.count()).select_from(AE)).scalar_one()
    assert [r["chain_seq"] for r in trail["rows"]] == [1, 2, 3, 4, 5, 6]


@pytest.mark.parametrize("column,value", [
    ("actor_name", "Somebody Else"),
    ("reason", "it was always like this"),
    ("after", "volume"),  # a forged measurement in the recorded record state
    ("at", "shifted"),
], ids=["actor_name", "reason", "after", "at"])
def test_edited_entry_is_named_as_first_break(trail, engine, settings, column: str,
                                              value: str) -> None:
    victim = trail["rows"][2]  # receive, in the middle of the chain
    if value == "volume":
        new: Any = {**victim["after"], "volume_ml": victim["after"]["volume_ml"] + 40}
    elif value == "shifted":
        new = victim["at"].replace(year=victim["at"].year - 1)
    else:
        new = value
    with tampering(engine, "update") as conn:
        conn.execute(update(AE).where(AE.c.id == victim["id"]).values({column: new}))
    assert chain_rows(engine, trail["chain"])[2][column] == new  # the edit really landed

    assert_break(verify(engine, settings), entry_id=victim["id"], chain=trail["chain"], seq=3,
                 problem="content was changed")


def test_edit_with_recomputed_hash_breaks_the_link_to_the_next_entry(trail, engine,
                                                                     settings) -> None:
    rows = trail["rows"]
    victim = {**rows[1], "reason": "forged with a fresh hash"}
    new_hash = hashing.entry_hash(victim, victim["prev_hash"])
    with tampering(engine, "update") as conn:
        conn.execute(update(AE).where(AE.c.id == victim["id"])
                     .values(reason=victim["reason"], hash=new_hash))
    assert_break(verify(engine, settings), entry_id=rows[2]["id"], chain=trail["chain"], seq=3,
                 problem="does not link")


def test_deleted_middle_entry_is_caught(trail, engine, settings) -> None:
    rows = trail["rows"]
    with tampering(engine, "delete") as conn:
        assert conn.execute(delete(AE).where(AE.c.id == rows[2]["id"])).rowcount == 1
    assert [r["chain_seq"] for r in chain_rows(engine, trail["chain"])] == [1, 2, 4, 5, 6]

    assert_break(verify(engine, settings), entry_id=rows[3]["id"], chain=trail["chain"], seq=4,
                 problem="entry 3 is missing")


def test_deleted_middle_entry_with_renumbered_tail_is_caught(trail, engine, settings) -> None:
    """Close the gap too (4 -> 3, 5 -> 4, ...): the sequence looks whole, the hashes do not."""
    rows = trail["rows"]
    with tampering(engine, "delete", "update") as conn:
        conn.execute(delete(AE).where(AE.c.id == rows[2]["id"]))
        for r in rows[3:]:
            conn.execute(update(AE).where(AE.c.id == r["id"])
                         .values(chain_seq=r["chain_seq"] - 1))
    assert [r["chain_seq"] for r in chain_rows(engine, trail["chain"])] == [1, 2, 3, 4, 5]

    assert_break(verify(engine, settings), entry_id=rows[3]["id"], chain=trail["chain"], seq=3,
                 problem="does not link")


def test_swapped_content_of_two_entries_is_caught(trail, engine, settings) -> None:
    """Two events told in the wrong order: what entry 3 and 4 say is exchanged while each
    keeps its place (chain_seq, prev_hash, hash)."""
    rows = trail["rows"]
    a, b = rows[2], rows[3]
    with tampering(engine, "update") as conn:
        conn.execute(update(AE).where(AE.c.id == a["id"]).values({k: b[k] for k in PAYLOAD}))
        conn.execute(update(AE).where(AE.c.id == b["id"]).values({k: a[k] for k in PAYLOAD}))
    after = chain_rows(engine, trail["chain"])
    assert (after[2]["action"], after[3]["action"]) == (b["action"], a["action"])

    assert_break(verify(engine, settings), entry_id=a["id"], chain=trail["chain"], seq=3,
                 problem="content was changed")


def test_swapped_positions_of_two_entries_are_caught(trail, engine, settings) -> None:
    """The rows themselves reordered: entry 4 moved before entry 3 (hashes untouched)."""
    rows = trail["rows"]
    a, b = rows[2], rows[3]
    with tampering(engine, "update") as conn:  # via a free number: (chain, chain_seq) is unique
        conn.execute(update(AE).where(AE.c.id == a["id"]).values(chain_seq=999))
        conn.execute(update(AE).where(AE.c.id == b["id"]).values(chain_seq=3))
        conn.execute(update(AE).where(AE.c.id == a["id"]).values(chain_seq=4))

    assert_break(verify(engine, settings), entry_id=b["id"], chain=trail["chain"], seq=3,
                 problem="does not link")


def test_cut_off_newest_entry_is_caught_by_the_checkpoint(trail, engine, settings) -> None:
    make_checkpoint(engine, settings)
    assert verify(engine, settings)["ok"] is True
    newest = trail["rows"][-1]
    with tampering(engine, "delete") as conn:
        conn.execute(delete(AE).where(AE.c.id == newest["id"]))
    # What is left of the chain is a valid chain on its own ...
    left = chain_rows(engine, trail["chain"])
    assert hashing.verify_chain(trail["chain"], left) is None
    # ... only the checkpoint knows that entry 6 existed.
    assert_break(verify(engine, settings), entry_id=None, chain=trail["chain"], seq=6,
                 problem="sealed by checkpoint")


def test_rewritten_chain_with_valid_hashes_is_caught_by_the_checkpoint(trail, engine,
                                                                      settings) -> None:
    """The forger recomputes every hash from the edited entry to the head: the chain is
    self-consistent again, but the sealed head hash no longer matches."""
    make_checkpoint(engine, settings)
    rows = [dict(r) for r in trail["rows"]]
    rows[1]["reason"] = "rewritten history"
    prev = rows[0]["hash"]
    for r in rows[1:]:
        r["prev_hash"], r["hash"] = prev, hashing.entry_hash(r, prev)
        prev = r["hash"]
    with tampering(engine, "update") as conn:
        for r in rows[1:]:
            conn.execute(update(AE).where(AE.c.id == r["id"]).values(
                reason=r["reason"], prev_hash=r["prev_hash"], hash=r["hash"]))
    assert hashing.verify_chain(trail["chain"], chain_rows(engine, trail["chain"])) is None

    assert_break(verify(engine, settings), entry_id=None, chain=trail["chain"], seq=6,
                 problem="sealed by checkpoint")


def test_removed_checkpoint_is_caught(trail, engine, settings) -> None:
    first = make_checkpoint(engine, settings)
    make_checkpoint(engine, settings)
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER audit_checkpoint_no_delete")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(delete(AuditCheckpoint.__table__)
                     .where(AuditCheckpoint.__table__.c.id == first.id))
    result = verify(engine, settings)
    assert result["ok"] is False
    assert result["first_break"]["chain"] == "checkpoint"
    assert "checkpoint was altered or removed" in result["first_break"]["problem"]


def test_signature_moved_to_another_entry_is_caught(trail, engine, settings) -> None:
    with engine.connect() as conn:
        sig = conn.execute(select(Signature.__table__)).one()
    with engine.begin() as conn:
        if engine.dialect.name == "sqlite":
            conn.exec_driver_sql("DROP TRIGGER signature_no_update")
        else:
            conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
        conn.execute(update(Signature.__table__).where(Signature.__table__.c.id == sig.id)
                     .values(audit_entry_id=trail["rows"][3]["id"]))
    result = verify(engine, settings)
    assert result["ok"] is False
    assert result["first_break"]["chain"] == f"signature:{sig.id}"


# --- a realistic workload ------------------------------------------------------------------


def test_trail_after_a_realistic_workload_verifies(db_url, api, engine, settings) -> None:
    ids = [processed_sample(api) for _ in range(3)]
    # Aliquots of the first (new chains for the children, a derivation on the parent).
    r = api.post(f"/samples/{ids[0]}/derivatives", {"volume_ml": 10, "count": 3})
    assert r.status_code == 201, r.text
    children = [c["id"] for c in r.json()]
    # Hold and lift, a QA release with a signature, a rejection with a signature.
    step(api, ids[1], "place_hold", user="coord", reason="label smudged")
    step(api, ids[1], "lift_hold", user="qa", reason="relabelled and checked")
    step(api, ids[1], "release", user="qa",
         signature={"password": PASSWORD, "meaning": "released"})
    make_checkpoint(engine, settings)
    # Work after the checkpoint: chains grow beyond their sealed heads.
    step(api, ids[2], "place_hold", user="qa", reason="sterility retest")
    rej = primary(api)
    step(api, rej["id"], "reject", reason="temperature logger missing",
         signature={"password": PASSWORD, "meaning": "performed"})
    step(api, children[0], "place_hold", reason="aliquot tube cracked")
    make_checkpoint(engine, settings)
    step(api, children[1], "start_culture")

    result = verify(engine, settings)
    assert result == {"ok": True, "entries_checked": result["entries_checked"],
                      "first_break": None}
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(AE)).scalar_one()
        sigs = conn.execute(select(func.count()).select_from(Signature.__table__)).scalar_one()
        release = conn.execute(select(AE.c.chain_seq).where(
            AE.c.chain == f"sample:{ids[1]}", AE.c.action == "event:release")).scalar_one()
    assert result["entries_checked"] == total
    assert sigs == 2
    assert release == 9  # created, collect, receive, start, complete, qc, hold, lift, release
    for sid in [*ids, *children, rej["id"]]:  # every chain is gap-free from 1
        seqs = [r["chain_seq"] for r in chain_rows(engine, f"sample:{sid}")]
        assert seqs == list(range(1, len(seqs) + 1)), (sid, seqs)

    # The exported trail verifies offline too (python -m lims.domain.audit FILE).
    buf = io.StringIO()
    with unit_of_work(engine) as s:
        n = audit.export(Context(session=s, actor=actor_for(engine, "qa"), settings=settings),
                         buf)
    assert n == total + 2 + sigs  # entries + the two checkpoints + the signatures
    assert hashing.verify_export(buf.getvalue().splitlines()) is None
