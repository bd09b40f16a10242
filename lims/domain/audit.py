"""Audit hashing: canonical content, hash chains, checkpoints, signature binding.

Each entity has its own chain (entry n covers its content and entry n-1's hash), so
writers of unrelated samples never wait on one another. A checkpoint seals the heads of
all chains at one moment and is chained to the previous checkpoint; it catches a chain
whose newest entries were cut off. Everything here is pure: the database layer feeds
rows in and acts on the findings.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Any

from lims.domain.clock import readable

GENESIS = "0" * 64

# The fields an entry's hash covers, in this order of meaning (the JSON is key-sorted).
HASHED_FIELDS = (
    "chain", "chain_seq", "at", "actor_id", "actor_name", "action", "entity_type",
    "entity_id", "before", "after", "reason", "request_id", "client_addr",
)


def _default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not canonical: {type(value).__name__}")


def canonical(value: Any) -> bytes:
    """Deterministic JSON bytes: sorted keys, no spaces, UTF-8, ISO datetimes."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=_default
    ).encode()


def jsonable(value: Any) -> Any:
    """The value as it will read back from a JSON column (datetimes become ISO text)."""
    return json.loads(canonical(value))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def entry_hash(content: Mapping[str, Any], prev_hash: str) -> str:
    """Hash of one entry: its canonical content and its predecessor's hash."""
    body = {k: content.get(k) for k in HASHED_FIELDS}
    return sha256(prev_hash.encode() + b"\n" + canonical(body))


@dataclass(frozen=True)
class Break:
    """The first entry that does not verify, and why."""

    entry_id: int | None
    chain: str
    chain_seq: int | None
    problem: str


def verify_chain(chain: str, entries: Iterable[Mapping[str, Any]]) -> Break | None:
    """Check one chain's entries, given in chain_seq order."""
    expected_prev, expected_seq = GENESIS, 1
    for e in entries:
        if e["chain_seq"] != expected_seq:
            what = "missing or deleted" if e["chain_seq"] > expected_seq else "out of order"
            return Break(e.get("id"), chain, e["chain_seq"],
                         f"entry {expected_seq} is {what} (found {e['chain_seq']})")
        if e["prev_hash"] != expected_prev:
            return Break(e.get("id"), chain, e["chain_seq"],
                         "does not link to the entry before it (inserted or reordered)")
        if entry_hash(e, e["prev_hash"]) != e["hash"]:
            return Break(e.get("id"), chain, e["chain_seq"],
                         "content was changed after it was written")
        expected_prev, expected_seq = e["hash"], expected_seq + 1
    return None


def checkpoint_hash(heads: Mapping[str, Any], at: datetime, prev_hash: str) -> str:
    """Seal over every chain head ({chain: [seq, hash]}) chained to the previous seal."""
    return sha256(prev_hash.encode() + b"\n" + canonical({"at": at, "heads": heads}))


def verify_checkpoints(
    checkpoints: Iterable[Mapping[str, Any]], entry_hashes: Mapping[tuple[str, int], str]
) -> Break | None:
    """Check the checkpoint chain and that every sealed head still exists unchanged."""
    prev = GENESIS
    for cp in checkpoints:
        if cp["prev_hash"] != prev or checkpoint_hash(cp["heads"], cp["at"], prev) != cp["hash"]:
            return Break(None, "checkpoint", cp["id"], "checkpoint was altered or removed")
        for chain, (seq, head_hash) in sorted(cp["heads"].items()):
            if entry_hashes.get((chain, seq)) != head_hash:
                return Break(None, chain, seq,
                             f"entry sealed by checkpoint {cp['id']} is missing or changed")
        prev = cp["hash"]
    return None


def signature_binding(
    *, signer_id: str, meaning: str, signed_at: datetime, entity_type: str, entity_id: str,
    record_state: Mapping[str, Any], audit_hash: str,
) -> str:
    """Binds a signature to one record state and one audit entry: copy it elsewhere and
    the binding no longer matches."""
    return sha256(canonical({
        "signer_id": signer_id, "meaning": meaning, "signed_at": signed_at,
        "entity_type": entity_type, "entity_id": entity_id,
        "record": record_state, "audit_hash": audit_hash,
    }))


def diff(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[tuple]:
    """(field, old, new) for every field that changed."""
    before, after = before or {}, after or {}
    keys = sorted(set(before) | set(after))
    return [(k, before.get(k), after.get(k)) for k in keys if before.get(k) != after.get(k)]


# How a changed field reads in a sentence; fields not worth a sentence are left out.
READABLE = {"volume_ml": ("volume", " mL"), "expires_at": ("expiry", ""),
            "viability_pct": ("viability", " %"),
            "cell_count": ("cell count", ""), "state": ("state", ""), "on_hold": ("hold", ""),
            "position": ("position", ""), "passage": ("passage", ""),
            "hold_reason": ("hold reason", ""), "eligibility": ("eligibility", "")}
QUIET = {"version", "location_id", "recipient_id"}
# For entries that record a fact rather than a change: which facts make the sentence.
SUMMARY = {
    "custody_handed_over": (("to", "to {}"), ("temperature_c", "{} C"), ("shipper", "by {}")),
    "custody_received": (("custodian", "now with {}"), ("temperature_c", "{} C")),
    "temperature_excursion": (("temperature_c", "{} C"), ("allowed", "allowed {}")),
    "qc_recorded": (("test", "{}"), ("result", "{}"), ("value", "value {}")),
    "qc_approved": (("test", "{}"), ("result", "{}")),
    "signed": (("meaning", "{}"),),
    "label_printed": (("template", "{}"), ("format", "{}")),
    "label_reprinted": (("template", "{}"), ("format", "{}")),
    "bedside_mismatch": (("reasons", "{}"),),
    "derivation": (("children", "into {}"),),
}


def describe(entry: Mapping[str, Any], zone: tzinfo) -> str:
    """A sentence a person can read, with the time in the lab's ``zone``, e.g.
    'derivation: volume 12.0 -> 9.5 mL by Jana Tech at 2026-11-26 15:02 CET: aliquot taken'."""
    at = entry["at"]
    when = readable(at, zone) if isinstance(at, datetime) else str(at)
    changes = [c for c in diff(entry.get("before"), entry.get("after")) if c[0] not in QUIET]
    action = str(entry["action"]).replace("event:", "").replace("_", " ")
    if entry.get("before") and changes:
        parts = []
        for k, old, new in changes[:6]:
            name, unit = READABLE.get(k, (k.replace("_", " "), ""))
            parts.append(f"{name} {_show(old, zone)} -> {_show(new, zone)}{unit}")
        text = f"{action}: {', '.join(parts)}"
    elif entry["action"] in SUMMARY and entry.get("after"):
        after = entry["after"]
        facts = [template.format(_show(after[k], zone))
                 for k, template in SUMMARY[entry["action"]]
                 if after.get(k) not in (None, "", [])]
        text = f"{action}: {', '.join(facts)}" if facts else action
    else:
        text = action
    text += f" by {entry['actor_name']} at {when}"
    if entry.get("reason"):
        text += f": {entry['reason']}"
    return text


def _show(value: Any, zone: tzinfo) -> str:
    """A value as a person reads it; a stored time (ISO text) in the lab's zone."""
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    if isinstance(value, str) and len(value) >= 20 and value[4] == "-" and value[10] == "T":
        try:
            return readable(datetime.fromisoformat(value), zone)
        except ValueError:
            return value
    return "-" if value is None else str(value)


def verify_export(lines: Iterable[str]) -> Break | None:
    """Verify an exported trail (JSON Lines from `lims audit export`) offline: chains,
    checkpoints and signature bindings."""
    chains: dict[str, list[dict[str, Any]]] = {}
    checkpoints: list[dict[str, Any]] = []
    signatures: list[dict[str, Any]] = []
    for line in lines:
        if not line.strip():
            continue
        row = json.loads(line)
        kind = row.pop("kind")
        if kind == "entry":
            chains.setdefault(row["chain"], []).append(row)
        elif kind == "checkpoint":
            checkpoints.append(row)
        elif kind == "signature":
            signatures.append(row)
    hashes = {}
    for chain, rows in sorted(chains.items()):
        rows.sort(key=lambda r: r["chain_seq"])
        broken = verify_chain(chain, rows)
        if broken:
            return broken
        hashes.update({(chain, r["chain_seq"]): r["hash"] for r in rows})
    broken = verify_checkpoints(checkpoints, hashes)
    if broken:
        return broken
    by_id = {r["id"]: r for rows in chains.values() for r in rows}
    for sig in signatures:
        entry = by_id.get(sig["audit_entry_id"])
        if entry is None or entry["entity_id"] != sig["entity_id"] or signature_binding(
                signer_id=sig["signer_id"], meaning=sig["meaning"], signed_at=sig["signed_at"],
                entity_type=sig["entity_type"], entity_id=sig["entity_id"],
                record_state=entry["after"] or {}, audit_hash=entry["hash"],
        ) != sig["binding_hash"]:
            return Break(sig["audit_entry_id"], f"signature:{sig['id']}", None,
                         "signature does not match the record it claims to sign")
    return None


# The one place the domain touches a file: an inspector runs this with nothing installed
# but Python (this module imports only the standard library).
if __name__ == "__main__":  # python -m lims.domain.audit export.jsonl
    import sys

    with open(sys.argv[1], encoding="utf-8") as fh:
        result = verify_export(fh)
    print("OK: every chain and checkpoint verifies" if result is None else f"BROKEN: {result}")
    sys.exit(0 if result is None else 1)
