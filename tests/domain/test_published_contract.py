"""What the domain publishes to people and integrators (GET /workflow, the permissions
table, wristband scans, transport ranges), checked against the lab's SOP written out here."""

from __future__ import annotations

import pytest

from lims.domain import custody, identity, permissions, workflow
from lims.domain.errors import Invalid, NotPermitted

STATES = ["registered", "collected", "in_transit", "received", "rejected", "in_processing",
          "processed", "in_culture", "cryopreserved", "thawed", "released", "distributed",
          "administered", "discarded", "consumed"]


def row(event: str) -> dict:
    (found,) = [t for t in workflow.describe()["transitions"] if t["event"] == event]
    return found


def test_states_and_final_states():
    d = workflow.describe()
    assert sorted(d["states"]) == sorted(STATES)
    assert d["final_states"] == ["administered", "consumed", "discarded"]
    assert [t["event"] for t in d["transitions"]] == [t.event for t in workflow.TRANSITIONS]


def test_release_row_reads_as_the_sop():
    r = row("release")
    assert (r["from"], r["to"], r["roles"]) == (["cryopreserved", "processed", "thawed"],
                                               "released", ["qa"])
    assert (r["needs_signature"], r["meanings"], r["needs_reason"]) == (True, ["released"],
                                                                        False)
    assert r["guards"] == ["donor_eligible", "consent_for_use", "qc_passed",
                           "no_open_excursion", "not_own_processing"]
    assert (r["hold"], r["sets_hold"], r["internal"], r["frees_position"]) == (
        False, None, False, False)
    assert r["description"] == "QA release for the intended use."
    assert [f["name"] for f in r["fields"]] == ["intended_use", "expires_at"]


def test_cryopreserve_fields_describe_box_and_position():
    box, position, volume, cells, viability, expiry = row("cryopreserve")["fields"]
    assert box == {"name": "box_id", "type": "id", "label": "Box", "unit": None,
                   "required": True, "choices": [], "choices_by_source": None,
                   "minimum": None, "maximum": None, "refers_to": "box", "default": None}
    assert (position["name"], position["type"], position["required"], position["minimum"]) == (
        "position", "position", True, 1)
    assert (volume["unit"], volume["minimum"], volume["required"]) == ("mL", 0, False)
    assert (viability["unit"], viability["minimum"], viability["maximum"]) == ("%", 0, 100)
    assert (cells["name"], expiry["type"]) == ("cell_count", "datetime")


def test_methods_are_listed_per_source_and_unsigned_rows_list_no_meaning():
    (method, _) = row("start_processing")["fields"]
    assert method["required"] is True
    by_source = method["choices_by_source"]
    assert sorted(method["choices"]) == sorted({m for ms in by_source.values() for m in ms})
    assert "density_gradient" in by_source["bone_marrow"]
    assert "enzymatic_digestion" in by_source["adipose_tissue"]
    assert "enzymatic_digestion" not in by_source["cord_blood"]
    assert row("passage")["meanings"] == [] and row("passage")["to"] is None
    assert row("reject")["frees_position"] is True and row("reject")["needs_reason"] is True
    assert row("place_hold")["sets_hold"] is True and row("lift_hold")["sets_hold"] is False


def test_the_diagram_draws_the_table():
    m = workflow.describe()["mermaid"].splitlines()
    assert m[:2] == ["stateDiagram-v2", "    [*] --> registered"]
    assert "    collected --> in_transit: dispatch" in m
    assert "    cryopreserved --> thawed: thaw" in m
    # Discard and holds apply from (nearly) every state: one note, not an arrow from each.
    assert not any(line.endswith((": discard", ": place_hold")) for line in m)
    assert "    note right of discarded: discard from any non-final state" in m
    assert "    administered --> [*]" in m and "    released --> [*]" not in m


# Who may do what outside the workflow: the lab's authority table.
SOP_ACTIONS = {
    "register_donor": {"coordinator", "integration"},
    "determine_eligibility": {"qa", "coordinator"},
    "record_consent": {"coordinator", "integration"},
    "withdraw_consent": {"coordinator", "qa", "integration"},
    "record_collection": {"technician", "coordinator", "integration"},
    "derive": {"technician"},
    "record_qc": {"technician", "qa"},
    "approve_qc": {"qa"},
    "manage_locations": {"coordinator", "admin"},
    "hand_over": {"technician", "coordinator", "qa"},
    "review_excursion": {"qa"},
    "print_label": {"technician", "coordinator", "qa"},
    "scan": {"technician", "coordinator", "qa"},
    "register_recipient": {"coordinator"},
    "bedside_check": {"technician", "coordinator"},
    "read_audit": {"qa", "coordinator", "admin"},
    "verify_audit": {"qa", "admin"},
    "manage_users": {"admin"},
    # The event feed: connected systems and the people who oversee the lab; webhooks are
    # set up by the connected system itself or an admin.
    "follow_events": {"integration", "coordinator", "qa", "admin"},
    "manage_webhooks": {"integration", "admin"},
}
ROLES = ["technician", "coordinator", "qa", "admin", "integration"]


@pytest.mark.parametrize("action", sorted(SOP_ACTIONS))
def test_each_action_is_allowed_to_exactly_the_sop_roles(action):
    assert set(permissions.ACTIONS) == set(SOP_ACTIONS)
    for role in ROLES:
        if role in SOP_ACTIONS[action]:
            permissions.require({role, "other"}, action)
        else:
            with pytest.raises(NotPermitted):
                permissions.require({role}, action)


def test_a_refusal_names_the_roles_that_may_and_the_ones_you_have():
    with pytest.raises(NotPermitted) as err:
        permissions.require({"technician", "coordinator"}, "verify_audit")
    assert err.value.detail == ("To verify the audit trail you need the role admin or qa; "
                                "you have coordinator, technician.")
    with pytest.raises(NotPermitted) as err:
        permissions.require(set(), "manage_users")
    assert err.value.detail == ("To manage users and API keys you need the role admin; "
                                "you have no role.")


@pytest.mark.parametrize(("typed", "read"), [
    ("WB-0007", "WB-0007"), ("  wb-0007\r\n", "WB-0007"), ("]C1WB-0007", "WB-0007"),
    ("]Q3 wb-77", "WB-77"), ("ABC", "ABC"), ("A" * 60, "A" * 60),
])
def test_a_wristband_scan_is_cleaned_like_a_product_scan(typed, read):
    assert identity.parse_wristband(typed) == read


@pytest.mark.parametrize("typed", ["", "AB", "-WB1", "WB 0007", "A" * 61, "WB_7", "]C1"])
def test_what_is_not_a_wristband_is_refused(typed):
    with pytest.raises(Invalid, match="not a patient wristband"):
        identity.parse_wristband(typed)


@pytest.mark.parametrize(("kind", "frozen", "low", "high"), [
    ("cord_blood", False, 4.0, 25.0), ("bone_marrow", False, 2.0, 25.0),
    ("lipoaspirate", False, 2.0, 25.0), ("msc_adipose", False, 2.0, 25.0),
    ("cord_blood", True, -196.0, -150.0), ("hsc_cd34", True, -196.0, -150.0),
])
def test_transport_ranges_and_excursions(kind, frozen, low, high):
    assert custody.allowed_range(kind, frozen) == (low, high)
    assert not custody.is_excursion(low, kind, frozen)
    assert not custody.is_excursion(high, kind, frozen)
    assert custody.is_excursion(low - 0.5, kind, frozen)
    assert custody.is_excursion(high + 0.5, kind, frozen)
    assert not custody.is_excursion(None, kind, frozen)
