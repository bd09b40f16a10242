"""The audit trail's hashes and the offline verification of an exported trail, as an
inspector would check them: the hash formula is recomputed here with hashlib and json
alone, and every kind of tampering is named with the entry it hits."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import pytest

from lims.domain import audit
from lims.domain.audit import GENESIS, Break

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
FIELDS = ("chain", "chain_seq", "at", "actor_id", "actor_name", "action", "entity_type",
          "entity_id", "before", "after", "reason", "request_id", "client_addr")


def by_hand(prev: str, body: dict) -> str:
    text = json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(prev.encode() + b"\n" + text.encode()).hexdigest()


def entry(id_: int, chain: str, seq: int, prev: str, **content) -> dict:
    e = {"id": id_, "chain": chain, "chain_seq": seq, "at": AT.isoformat(),
         "actor_id": "u-1", "actor_name": "Jana Tech", "action": "event:receive",
         "entity_type": "sample", "entity_id": chain.split(":")[1], "before": None,
         "after": {"state": "received"}, "reason": None, "request_id": "r-1",
         "client_addr": "10.0.0.7", "prev_hash": prev, **content}
    e["hash"] = by_hand(prev, {k: e.get(k) for k in FIELDS})
    return e


def test_entry_hash_is_sha256_of_previous_hash_and_canonical_content():
    e = entry(1, "sample:s1", 1, GENESIS, reason="Größe ✓")  # UTF-8, not \\u escapes
    assert audit.entry_hash(e, GENESIS) == e["hash"]
    assert audit.entry_hash({**e, "unrelated": 1}, GENESIS) == e["hash"]  # only the fields
    assert audit.entry_hash({**e, "reason": "other"}, GENESIS) != e["hash"]
    assert audit.entry_hash(e, "1" * 64) != e["hash"]


def test_checkpoint_hash_seals_heads_and_time_on_the_previous_seal():
    heads = {"sample:s1": [2, "ab" * 32]}
    expected = by_hand(GENESIS, {"at": AT.isoformat(), "heads": heads})
    assert audit.checkpoint_hash(heads, AT, GENESIS) == expected


def test_signature_binding_covers_signer_meaning_time_record_and_entry():
    fields = dict(signer_id="u-9", meaning="released", signed_at=AT, entity_type="sample",
                  entity_id="s1", record_state={"state": "released"}, audit_hash="cd" * 32)
    text = json.dumps({"signer_id": "u-9", "meaning": "released", "signed_at": AT.isoformat(),
                       "entity_type": "sample", "entity_id": "s1",
                       "record": {"state": "released"}, "audit_hash": "cd" * 32},
                      sort_keys=True, separators=(",", ":"))
    assert audit.signature_binding(**fields) == hashlib.sha256(text.encode()).hexdigest()
    for key, other in (("meaning", "reviewed"), ("entity_id", "s2"), ("signer_id", "u-8")):
        assert audit.signature_binding(**{**fields, key: other}) != \
            audit.signature_binding(**fields)


def trail() -> dict:
    """Two samples' chains, a checkpoint over both, and a signature on s1's second entry."""
    a1 = entry(1, "sample:s1", 1, GENESIS)
    a2 = entry(2, "sample:s1", 2, a1["hash"], action="event:release",
               after={"state": "released"})
    b1 = entry(3, "sample:s2", 1, GENESIS)
    heads = {"sample:s1": [2, a2["hash"]], "sample:s2": [1, b1["hash"]]}
    cp = {"id": 1, "at": AT.isoformat(), "heads": heads, "prev_hash": GENESIS,
          "hash": audit.checkpoint_hash(heads, AT, GENESIS)}
    sig = {"id": "sig-1", "audit_entry_id": 2, "signer_id": "u-9", "meaning": "released",
           "signed_at": AT.isoformat(), "entity_type": "sample", "entity_id": "s1"}
    sig["binding_hash"] = audit.signature_binding(
        signer_id="u-9", meaning="released", signed_at=AT, entity_type="sample",
        entity_id="s1", record_state={"state": "released"}, audit_hash=a2["hash"])
    return {"entries": [a1, a2, b1], "checkpoints": [cp], "signatures": [sig]}


def lines(t: dict) -> list[str]:
    out = [json.dumps({"kind": "entry", **e}) for e in t["entries"]]
    out += [json.dumps({"kind": "checkpoint", **c}) for c in t["checkpoints"]]
    out += [json.dumps({"kind": "signature", **s}) for s in t["signatures"]]
    return out


def test_an_untouched_export_verifies_in_any_line_order_with_blank_lines():
    t = trail()
    assert audit.verify_export(lines(t)) is None
    assert audit.verify_export(["", *reversed(lines(t)), "  "]) is None


def test_a_changed_entry_is_named():
    t = trail()
    t["entries"][1]["reason"] = "added later"
    assert audit.verify_export(lines(t)) == Break(2, "sample:s1", 2,
                                                  "content was changed after it was written")


def test_a_deleted_entry_in_the_middle_is_named():
    t = trail()
    t["entries"].insert(2, entry(9, "sample:s1", 3, t["entries"][1]["hash"]))
    del t["entries"][1]
    assert audit.verify_export(lines(t)) == Break(9, "sample:s1", 3,
                                                  "entry 2 is missing or deleted (found 3)")


def test_an_entry_that_does_not_link_to_its_predecessor_is_named():
    t = trail()
    t["entries"][1] = entry(2, "sample:s1", 2, "ef" * 32, action="event:release")
    assert audit.verify_export(lines(t)) == Break(
        2, "sample:s1", 2, "does not link to the entry before it (inserted or reordered)")


def test_entries_out_of_order_in_a_chain():
    a1 = entry(1, "sample:s1", 1, GENESIS)
    a2 = entry(2, "sample:s1", 2, a1["hash"])
    assert audit.verify_chain("sample:s1", [a1, a2]) is None
    assert audit.verify_chain("sample:s1", [a2, a1]) == Break(
        2, "sample:s1", 2, "entry 1 is missing or deleted (found 2)")
    assert audit.verify_chain("sample:s1", [a1, a1]) == Break(
        1, "sample:s1", 1, "entry 2 is out of order (found 1)")


def test_a_tail_cut_off_after_a_checkpoint_is_caught():
    t = trail()
    del t["entries"][1]  # s1's sealed head is gone; the chain alone still verifies
    assert audit.verify_export(lines(t)) == Break(
        None, "sample:s1", 2, "entry sealed by checkpoint 1 is missing or changed")


@pytest.mark.parametrize("field", ["heads", "prev_hash", "at"])
def test_an_altered_checkpoint_is_caught(field):
    t = trail()
    cp = t["checkpoints"][0]
    cp[field] = {"sample:s1": [1, "00" * 32]} if field == "heads" else (
        "11" * 32 if field == "prev_hash" else "2026-12-02T00:00:00+00:00")
    assert audit.verify_export(lines(t)) == Break(None, "checkpoint", 1,
                                                  "checkpoint was altered or removed")


def test_a_removed_checkpoint_between_two_is_caught():
    t = trail()
    first = t["checkpoints"][0]
    heads = first["heads"]
    second = {"id": 2, "at": AT.isoformat(), "heads": heads, "prev_hash": first["hash"],
              "hash": audit.checkpoint_hash(heads, AT, first["hash"])}
    t["checkpoints"].append(second)
    assert audit.verify_export(lines(t)) is None
    t["checkpoints"] = [second]
    assert audit.verify_export(lines(t)) == Break(None, "checkpoint", 2,
                                                  "checkpoint was altered or removed")


@pytest.mark.parametrize(("field", "value"), [
    ("audit_entry_id", 1),  # moved to another entry of the same sample
    ("audit_entry_id", 99),  # pointing at nothing
    ("entity_id", "s2"),  # claimed for another sample
    ("meaning", "reviewed"),  # meaning changed afterwards
])
def test_a_moved_or_changed_signature_is_caught(field, value):
    t = trail()
    t["signatures"][0][field] = value
    broken = audit.verify_export(lines(t))
    assert broken == Break(t["signatures"][0]["audit_entry_id"], "signature:sig-1", None,
                           "signature does not match the record it claims to sign")
