"""Electronic signatures are bound to one record: a copy onto another record fails."""

from __future__ import annotations

from sqlalchemy import select

from lims.db.engine import unit_of_work
from lims.db.tables import Signature
from tests.api.helpers import primary, step

SIGN = {"password": "correct-horse-42", "meaning": "performed"}


def test_signature_copied_onto_another_record_fails_verification(api, engine, settings):
    signed, other = primary(api), primary(api)
    step(api, signed["id"], "discard", reason="bag leaking", signature=SIGN)
    assert api.as_("qa").get("/audit/verify").json()["ok"] is True
    timeline = api.get(f"/samples/{signed['id']}/timeline").json()
    assert [e["action"] for e in timeline][-2:] == ["event:discard", "signed"]
    assert "Jana Tech" in timeline[-1]["text"]

    # Inserting is allowed (the table is append-only, not read-only): forge a copy of the
    # signature that claims to sign the other sample.
    with unit_of_work(engine) as s:
        sig = s.execute(select(Signature)).scalar_one()
        s.add(Signature(signer_id=sig.signer_id, signer_name=sig.signer_name,
                        meaning=sig.meaning, signed_at=sig.signed_at, entity_type="sample",
                        entity_id=other["id"], audit_entry_id=sig.audit_entry_id,
                        binding_hash=sig.binding_hash))
    result = api.as_("qa").get("/audit/verify").json()
    assert result["ok"] is False
    assert "signature" in result["first_break"]["problem"]


def test_wrong_signature_password_signs_nothing(api, engine):
    s = primary(api)
    r = api.post(f"/samples/{s['id']}/transitions", {
        "event": "reject", "reason": "warm", "signature": {**SIGN, "password": "nope"}})
    assert r.status_code == 403
    with unit_of_work(engine) as session:
        assert session.execute(select(Signature)).first() is None
    assert api.get(f"/samples/{s['id']}").json()["state"] == "collected"


def test_wrong_state_with_a_mistyped_password_is_a_conflict_not_a_failed_sign_in(api, engine):
    """The SOP: a step that cannot be taken now says so (409) before any password is
    looked at, so a mistyped password on it never counts toward the lockout."""
    from lims.db.tables import AppUser

    s = primary(api)  # collected: nothing to release yet
    for _ in range(6):  # more than the 5 failures that lock an account
        r = api.as_("qa").post(f"/samples/{s['id']}/transitions", {
            "event": "release", "signature": {"password": "mistyped", "meaning": "released"}})
        assert r.status_code == 409, r.text
    with unit_of_work(engine) as session:
        qa = session.execute(select(AppUser).where(AppUser.username == "qa")).scalar_one()
        assert (qa.failed_logins, qa.locked_until) == (0, None)
    # In the right state (a collected tube may be rejected) the same mistake is a refused
    # signature, and it does count.
    r = api.as_("qa").post(f"/samples/{s['id']}/transitions", {
        "event": "reject", "reason": "warm", "signature": {"password": "mistyped",
                                                            "meaning": "performed"}})
    assert r.status_code == 403
    with unit_of_work(engine) as session:
        qa = session.execute(select(AppUser).where(AppUser.username == "qa")).scalar_one()
        assert qa.failed_logins == 1
