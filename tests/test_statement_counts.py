"""Round trips of the hot paths: a change that adds a query to a scan, a card or a
transition fails here, not only in a benchmark.

Every statement sent to the database during one request is counted with a SQLAlchemy
`before_cursor_execute` hook (SQLite's BEGIN IMMEDIATE is transaction control, not a
query, and is not counted). The bounds are what each path needs, stated independently of
the code:

- every request: 1 statement to sign in (the token and its owner, together);
- the card (GET /samples/{id}): the sample with its collection, donor, the donor's
  consents, open excursions and storage place: 1;
- a scan: the sample the label names with all the card shows 1, the "seen at station"
  record 1;
- an audited transition without guards (a passage, the culture staying in the same
  hands): lock the sample 1, whether a hand-over awaits receipt 1, the audit chain's
  head 1, then write the sample, the transition log and the audit entry (3, the sample
  once), and the response's consent withdrawals 1.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import event

from lims.domain import isbt
from tests.api.helpers import collection, donor, scan_code, step

SIGN_IN = 1


@contextmanager
def counted(app) -> Iterator[list[str]]:
    seen: list[str] = []

    def hook(conn, cursor, statement, params, context, executemany):  # noqa: ANN001
        if not statement.lstrip().upper().startswith("BEGIN"):
            seen.append(" ".join(statement.split())[:160])

    engine = app.state.engine
    event.listen(engine, "before_cursor_execute", hook)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", hook)


def _in_culture(api) -> dict:
    d = donor(api, donor_type="autologous")
    c = collection(api, d["id"], source="adipose_tissue")
    s = c["samples"][0]
    step(api, s["id"], "receive")
    step(api, s["id"], "start_culture", data={"method": "plastic_adherence"})
    step(api, s["id"], "passage", data={"flasks": 2})  # custody is with tech from now on
    return s


def test_card_needs_at_most_two_statements(app, api):
    s = _in_culture(api)
    with counted(app) as seen:
        r = api.get(f"/samples/{s['id']}")
    assert r.status_code == 200, r.text
    assert r.json()["donor_code"] and r.json()["identifier"]
    assert len(seen) <= SIGN_IN + 1, "\n".join(seen)


def test_scan_needs_at_most_three_statements(app, api):
    s = _in_culture(api)
    with counted(app) as seen:
        r = api.post("/scans", {"payload": scan_code(s), "station": "bench-1"})
    assert r.status_code == 200, r.text
    assert r.json()["sample_id"] == s["id"]
    assert len(seen) <= SIGN_IN + 2, "\n".join(seen)


def test_scan_of_an_unknown_label_is_still_recorded_in_few_statements(app, api):
    s = _in_culture(api)
    product, division = s["code"].split("-")[1:]
    unknown = isbt.din_data_structure("W123426999999") + f"=<{product}V{division}"
    with counted(app) as seen:
        r = api.post("/scans", {"payload": unknown, "station": "bench-1"})
    assert r.status_code == 404, r.text
    assert len(seen) <= SIGN_IN + 2, "\n".join(seen)


def test_audited_transition_statements_are_bounded_and_write_the_sample_once(
        app, api):
    s = _in_culture(api)
    with counted(app) as seen:
        r = api.post(f"/samples/{s['id']}/transitions",
                     {"event": "passage", "data": {"flasks": 3}})
    assert r.status_code == 200, r.text
    assert r.json()["passage"] == 2
    # The change itself: lock and read the sample, read its custody, write the sample,
    # the transition log, the audit entry after reading its chain head: 6. The event feed:
    # the sample's list view for the event (consents), the outbox row, and at commit the
    # numbering in commit order (max position, the unnumbered rows, their update; on
    # PostgreSQL the advisory lock first): 5 or 6. The answer: the list row's consents and
    # the card (one query): 2.
    assert len(seen) <= SIGN_IN + 14, "\n".join(seen)
    writes = [q for q in seen if q.split()[0] in ("INSERT", "UPDATE")]
    # transition log, audit entry, sample, outbox event, its feed position
    assert len(writes) == 5, "\n".join(writes)
    assert sum(q.startswith("UPDATE sample ") for q in writes) == 1
