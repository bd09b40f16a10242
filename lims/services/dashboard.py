"""The coordinator's summary: one read model for the dashboard page and GET /dashboard.

Counts by state and by source, what needs attention (overdue, on hold, open excursions,
expiring soon, waiting for QA release), work in progress per step and throughput per
day. Overdue is decided by `states.is_overdue`, what waits for release by the workflow
table's `release` row: the SQL only narrows the rows.
"""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Annotated, Any

from lims.db import dashboard as db
from lims.db.tables import Sample
from lims.domain import states, workflow
from lims.domain.checks import Range, SourceName, checked
from lims.domain.sources import Source
from lims.domain.states import NON_FINAL, State
from lims.services.context import Context

EXPIRING_HOURS = 24
# The steps whose throughput is charted: material in, and product out.
THROUGHPUT_EVENTS = ("collect", "receive", "cryopreserve", "release", "distribute")
# Work in progress: samples in a state where someone is working on them.
IN_PROGRESS = (State.received, State.in_processing, State.in_culture, State.processed,
               State.thawed)


def _brief(ctx: Context, s: Sample) -> dict[str, Any]:
    return {"id": s.id, "code": s.code, "kind": s.kind, "source": s.source, "state": s.state,
            "on_hold": s.on_hold, "hold_reason": s.hold_reason,
            "processing_due_at": s.processing_due_at, "expires_at": s.expires_at}


# Throughput covers 1 to 90 days.
Days = Annotated[int, Range(1, 90, "days")]


@checked
def check_filters(source: SourceName | None, days: Days) -> None:
    """The dashboard's filters, checked before any page or API answer is computed."""


@checked
def summary(ctx: Context, *, source: SourceName | None = None, days: Days = 14
            ) -> dict[str, Any]:
    """Everything the dashboard shows, with the filters it was computed for."""
    s = ctx.session
    live = [x.value for x in NON_FINAL]
    overdue = [x for x in db.samples_due_before(s, ctx.now, states=live, source=source)
               if states.is_overdue(x.state, x.processing_due_at, ctx.now)]
    releasable = [x.value for x in workflow.BY_EVENT["release"].sources]
    attention = {
        "overdue": overdue,
        "on_hold": db.samples_on_hold(s, states=live, source=source),
        "open_excursions": db.samples_with_open_excursion(s, source=source),
        "expiring_24h": db.samples_expiring(s, ctx.now, ctx.now + timedelta(
            hours=EXPIRING_HOURS), states=live, source=source),
        "waiting_for_release": db.samples_in(s, states=releasable, on_hold=False,
                                             source=source),
    }
    by_state = db.count_by(s, "state", states=[x.value for x in State], source=source)
    # Material still in the hands of the lab (not administered, discarded or used up).
    by_source = db.count_by(s, "source", states=live, source=source)
    zone = ctx.settings.zone
    today = ctx.now.astimezone(zone).date()
    first = today - timedelta(days=days - 1)
    per_day: dict[str, Counter[str]] = {
        (first + timedelta(days=i)).isoformat(): Counter() for i in range(days)}
    since = ctx.now - timedelta(days=days + 1)
    for event, at in db.transitions_since(s, since, source=source):
        day = at.astimezone(zone).date().isoformat()
        if event in THROUGHPUT_EVENTS and day in per_day:
            per_day[day][event] += 1
    return {
        "generated_at": ctx.now,
        "filters": {"source": source, "days": days},
        "by_state": {x.value: by_state.get(x.value, 0) for x in State},
        "by_source": {x.value: by_source.get(x.value, 0) for x in Source},
        "attention": {k: {"count": len(v), "samples": [_brief(ctx, x) for x in v]}
                      for k, v in attention.items()},
        "in_progress": {x.value: by_state.get(x.value, 0) for x in IN_PROGRESS},
        "throughput": {"events": list(THROUGHPUT_EVENTS),
                       "days": [{"day": d, **{e: c.get(e, 0) for e in THROUGHPUT_EVENTS}}
                                for d, c in per_day.items()]},
    }


def change_marker(ctx: Context) -> int:
    """Moves whenever anything audited changes, in any server process."""
    return db.change_marker(ctx.session)
