"""Lineage: every sample traces up to its donor and down to every derivative."""

from __future__ import annotations

from typing import Any

from lims.db import queries
from lims.db.tables import Sample
from lims.services.context import Context


def ancestors(ctx: Context, sample: Sample) -> list[Sample]:
    """Parent, grandparent, ... up to the primary container."""
    return queries.ancestors(ctx.session, sample)


def tree(samples: list[Sample], root_ids: list[str] | None = None) -> list[dict[str, Any]]:
    """Nest samples by parent: [{sample, children: [...]}], roots first."""
    by_parent: dict[str | None, list[Sample]] = {}
    ids = {s.id for s in samples}
    for s in samples:
        by_parent.setdefault(s.parent_id if s.parent_id in ids else None, []).append(s)

    def node(s: Sample) -> dict[str, Any]:
        return {"sample": s, "children": [node(c) for c in by_parent.get(s.id, [])]}

    roots = by_parent.get(None, [])
    if root_ids is not None:
        roots = [s for s in samples if s.id in root_ids]
    return [node(r) for r in roots]


def descendants(ctx: Context, sample: Sample) -> list[Sample]:
    """Every sample derived from this one, at any depth (all share its collection)."""
    family = queries.samples_where(ctx.session, collection_id=sample.collection_id)
    kids: dict[str, list[Sample]] = {}
    for s in family:
        if s.parent_id:
            kids.setdefault(s.parent_id, []).append(s)
    found, todo = [], list(kids.get(sample.id, []))
    while todo:
        s = todo.pop(0)
        found.append(s)
        todo.extend(kids.get(s.id, []))
    return found
