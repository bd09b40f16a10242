"""Every role tried on every event through HTTP: what the table refuses is refused with
the right problem, and nothing changes. (What it allows is applied in the scenarios.)"""

from __future__ import annotations

import pytest

from lims.domain import workflow
from lims.domain.workflow import State
from tests.api.helpers import primary, step

ROLES = {"tech": "technician", "coord": "coordinator", "qa": "qa", "admin": "admin",
         "hospital": "integration"}


@pytest.mark.parametrize("user", sorted(ROLES))
def test_role_by_event_refusals(api, user):
    s = primary(api)
    step(api, s["id"], "receive")
    before = api.get(f"/samples/{s['id']}").json()
    card = api.as_(user).get(f"/samples/{s['id']}").json()
    role = ROLES[user]
    assert card["allowed_events"] == workflow.allowed_events(State.received, False, [role])
    refused = 0
    for event in workflow.EVENTS:
        rule = workflow.BY_EVENT[event]
        fits = State.received in rule.sources and rule.hold is not True
        if fits and role in rule.roles and not rule.internal:
            continue  # allowed: applying it would change the sample (covered elsewhere)
        r = api.as_(user).post(f"/samples/{s['id']}/transitions", {"event": event})
        expected = 409 if not fits else 403
        assert r.status_code == expected, (user, event, r.text)
        assert r.headers["content-type"] == "application/problem+json"
        refused += 1
    assert refused >= len(workflow.EVENTS) - 6
    assert api.get(f"/samples/{s['id']}").json() == before
