"""Demo data: the scenarios of a lab's week (cord blood unit, autologous MSC, marrow
with a deviation, a box of vials), one user per role, samples in every state.

Demo users all have the password DEMO_PASSWORD (documented in the README).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

from lims.db import queries
from lims.db.tables import Sample
from lims.db.users import user_by_username
from lims.demo_clock import Story
from lims.domain.workflow import State
from lims.services import collections, custody, donors, identity, labelling, qc, samples, users
from lims.services.collections import Container
from lims.services.context import Context
from lims.services.samples import SignatureInput

DEMO_PASSWORD = "demo-password-1"
DEMO_USERS = {
    "tech": ("Jana Tech", ["technician"]),
    "tech2": ("Tom Bench", ["technician"]),
    "coord": ("Carla Coordinator", ["coordinator"]),
    "qa": ("Quentin QA", ["qa"]),
    "admin": ("Ada Admin", ["admin"]),
}


def load(ctx: Context) -> dict[str, Any]:
    """Load everything in the caller's transaction; refuses to load twice."""
    if user_by_username(ctx.session, "tech"):
        raise SystemExit("demo data is already loaded")
    people = {}
    for username, (name, roles) in DEMO_USERS.items():
        people[username] = users.actor_of(users.add_user(
            ctx, username=username, full_name=name, roles=roles, password=DEMO_PASSWORD))
    hospital = users.add_user(ctx, username="hospital-lims", full_name="Hospital LIMS",
                              roles=["integration"], password=None)
    _, api_key = users.create_api_key(ctx, hospital, "demo", ["read", "write"])

    def as_(who: str) -> Context:
        return replace(ctx, actor=people[who])

    sign = SignatureInput(password=DEMO_PASSWORD, meaning="released")
    t, qa, co = as_("tech"), as_("qa"), as_("coord")
    now = ctx.now
    site = custody.add_location(co, kind="site", name="Cell Processing Lab", parent_id=None)
    dewar = custody.add_location(co, kind="storage_unit", name="Dewar 2", parent_id=site.id,
                                 max_temp_c=-150)
    rack = custody.add_location(co, kind="rack", name="Rack C", parent_id=dewar.id)
    box = custody.add_location(co, kind="box", name="Box 7", parent_id=rack.id, rows=9, cols=9)
    freeze = iter(range(1, 82))

    def cryo(c: Context, sample_id: str) -> Sample:
        return samples.apply_event(c, sample_id, "cryopreserve",
                                   data={"box_id": box.id, "position": next(freeze)})

    def donor(code: str, kind: str, eligibility: str, scopes: list[str]):  # noqa: ANN202
        d = donors.register_donor(co, code=code, donor_type=kind, eligibility=eligibility)
        if scopes:
            donors.add_consent(co, d.id, form_version="v3", scopes=scopes,
                               obtained_at=now - timedelta(days=30), obtained_by="Dr. Weber")
        return d

    # 1. Cord blood unit for the public bank: born at night nine days ago, volume reduction,
    # cryopreserved, released once the 7-day sterility culture was negative.
    cb = donor("CB-2026-0412", "allogeneic", "eligible", ["banking", "clinical"])
    day = Story.days_ago(now, 9, hour=2)
    _, (bag, m1, _m2) = collections.create_collection(
        day.at(t, 0.3), cb, source="cord_blood", site="Maternity unit",
        started_at=day.time(0), ended_at=day.time(0.13), local_timezone="Europe/Berlin",
        volume_ml=95, anticoagulant="CPD", collector="Midwife Meyer",
        containers=[Container("cord_blood", 95), Container("maternal_sample", 5),
                    Container("maternal_sample", 5)])
    samples.apply_event(day.at(t, 4), bag.id, "receive")
    samples.apply_event(day.at(t, 5), bag.id, "start_processing", data={
        "method": "volume_reduction", "parameters": {"reagent": "HES 6%", "lot": "H2291"}})
    (product,) = samples.derive(day.at(t, 6), bag.id, kind="cord_blood", volume_ml=25)
    samples.derive(day.at(t, 6), bag.id, kind="plasma", volume_ml=40)
    samples.apply_event(day.at(t, 6.5), bag.id, "complete_processing",
                        data={"results": {"tnc": 1.6e9}})
    (qc_aliquot,) = samples.derive(day.at(t, 7), product.id, kind="qc_sample", volume_ml=1)
    cryo(day.at(t, 8), product.id)
    for test, value, unit, hours in (("tnc", 1.5e9, "cells", 9), ("cd34", 4.1e6, "cells", 9),
                                     ("viability", 92, "%", 9), ("sterility", None, None, 168)):
        qc.record_qc(day.at(t, hours), product.id, test=test, result="pass", value=value,
                     unit=unit, specification=None)
    samples.apply_event(day.at(qa, 170), product.id, "release",
                        data={"intended_use": "clinical"}, signature=sign)
    samples.apply_event(day.at(t, 4), m1.id, "receive")

    # 2. Autologous adipose MSC for an MS trial patient: SVF -> MSC culture -> bags.
    # Liposuction 26 days ago; a passage a week; harvest, freeze, then one bag thawed and
    # given within the post-thaw window.
    ms = donor("MS-TRIAL-017", "autologous", "eligible", ["clinical", "research"])
    day = Story.days_ago(now, 26, hour=8)
    _, (lipo,) = collections.create_collection(
        day.at(t, 0.6), ms, source="adipose_tissue", site="Clinic OR 2",
        started_at=day.time(0), ended_at=day.time(0.5), local_timezone="Europe/Berlin",
        volume_ml=60, anticoagulant="none", collector="Dr. Lind")
    samples.apply_event(day.at(t, 1.5), lipo.id, "receive")
    samples.apply_event(day.at(t, 2), lipo.id, "start_processing", data={
        "method": "enzymatic_digestion",
        "parameters": {"enzyme": "collagenase I", "lot": "C8812", "temp_c": 37, "min": 45}})
    (svf,) = samples.derive(day.at(t, 3), lipo.id, kind="svf", volume_ml=10)
    samples.apply_event(day.at(t, 3.5), lipo.id, "complete_processing")
    (msc,) = samples.derive(day.at(t, 3.6), svf.id, kind="msc_adipose", volume_ml=5)
    samples.apply_event(day.at(t, 4), msc.id, "start_culture")
    for p in (1, 2, 3):
        samples.apply_event(day.at(t, 168 * p), msc.id, "passage",
                            data={"flasks": 2 ** p, "confluence_pct": 85})
    samples.apply_event(day.at(t, 576), msc.id, "harvest_culture", data={"cell_count": 4e8})
    bags = samples.derive(day.at(t, 577), msc.id, kind=None, volume_ml=1, count=4)
    for b in bags[:3]:
        cryo(day.at(t, 578), b.id)
    samples.apply_event(day.at(t, 578), bags[3].id, "place_hold", reason="QC sterility pending")
    samples.apply_event(day.at(t, 600), bags[0].id, "thaw")
    qc.record_qc(day.at(t, 600.5), bags[0].id, test="viability", result="pass", value=85,
                 unit="%", specification=">= 70 %")
    samples.apply_event(day.at(qa, 601), bags[0].id, "release",
                        data={"intended_use": "clinical"}, signature=sign)
    identity.register_recipient(day.at(co, 601), code="R-MS-017", wristband_id="WB-0017",
                                donor_id=ms.id)
    samples.apply_event(day.at(co, 601.5), bags[0].id, "distribute", data={
        "intended_use": "clinical", "destination": "Neurology ward 3"})
    bedside = day.at(t, 602)
    check = identity.verify_bedside(bedside, wristband="WB-0017", site="Neurology ward 3",
                                    product=labelling.content(bedside, bags[0],
                                                              reprint=False).payload)
    samples.apply_event(day.at(t, 602.05), bags[0].id, "administer",
                        data={"check_id": check.id})

    # 3. Marrow for HSC, received late (deviation), excursion during transfer.
    # Harvested four days ago (07:00-08:00 UTC); dispatched within the hour; the courier
    # delivered 52 h after the end of collection, past the 48 h window.
    bm = donor("BM-REL-2026-03", "allogeneic", "eligible", ["clinical"])
    day = Story.days_ago(now, 4, hour=7)
    _, (marrow,) = collections.create_collection(
        day.at(t, 1.1), bm, source="bone_marrow", site="University Hospital",
        started_at=day.time(0), ended_at=day.time(1), local_timezone="Europe/Berlin",
        volume_ml=1100, anticoagulant="heparin", collector="Dr. Haas")
    samples.apply_event(day.at(t, 2), marrow.id, "dispatch",
                        data={"courier": "MedExpress", "shipper": "validated box 12"})
    samples.apply_event(day.at(t, 1 + 52), marrow.id, "receive")
    samples.apply_event(day.at(t, 53.5), marrow.id, "start_processing",
                        data={"method": "density_gradient"},
                        reason="courier delayed; received 52 h after collection (deviation DV-7)")
    (mnc,) = samples.derive(day.at(t, 55), marrow.id, kind="mnc", volume_ml=100)
    (hsc,) = samples.derive(day.at(t, 57), mnc.id, kind="hsc_cd34", volume_ml=50)
    samples.apply_event(day.at(t, 57.5), marrow.id, "complete_processing")
    transfer = custody.hand_over(day.at(t, 58), hsc.id, to="user:tech2", handed_over_at=None,
                                 temperature_c=37, shipper=None, condition="internal transfer",
                                 note=None)
    custody.confirm_receipt(day.at(as_("tech2"), 58.25), hsc.id, transfer.id,
                            received_at=None, temperature_c=20)

    # A marrow collection still waiting: overdue on the dashboard.
    late = donor("BM-2026-0099", "allogeneic", "pending", ["clinical"])
    collections.create_collection(
        t, late, source="bone_marrow", site="University Hospital",
        started_at=now - timedelta(hours=50), ended_at=now - timedelta(hours=49),
        local_timezone="Europe/Berlin", volume_ml=800, anticoagulant="ACD-A",
        collector="Dr. Haas")
    _fill_states(t, qa, co, donor, cryo, sign)

    # Scenario 2, step 6: the patient withdraws research consent; the bags stay available
    # for the patient's own clinical use and are flagged for research.
    (ms_consent,) = queries.consents_of(ctx.session, ms.id)
    donors.withdraw_consent(co, ms.id, ms_consent.id, ["research"], "patient request at visit 5")
    # A donor registered before consent was taken: nothing may be collected yet.
    donor("CB-2026-0999", "allogeneic", "pending", [])
    states = {s.value: 0 for s in State}
    states.update(queries.count_by_state(ctx.session))
    return {"users": sorted(DEMO_USERS), "password": DEMO_PASSWORD,
            "integration_api_key": api_key, "samples_by_state": states}


def _fill_states(t: Context, qa: Context, co: Context, donor: Any, cryo: Any,
                 sign: SignatureInput) -> None:
    """A few more samples so that every state of the workflow has at least one."""
    d = donor("CB-2026-0500", "allogeneic", "eligible", ["clinical", "banking"])
    now = t.now

    def new() -> Sample:
        _, (s,) = collections.create_collection(
            t, d, source="cord_blood", site="Maternity unit", started_at=now - timedelta(hours=3),
            ended_at=now - timedelta(hours=2, minutes=50), local_timezone="Europe/Berlin",
            volume_ml=80, anticoagulant="CPD", collector="Midwife Meyer")
        return s

    registered = collections.create_collection(
        t, d, source="cord_blood", site="Maternity unit", started_at=now + timedelta(minutes=2),
        ended_at=now + timedelta(minutes=20), local_timezone="Europe/Berlin", volume_ml=80,
        anticoagulant="CPD", collector="Midwife Meyer")
    del registered
    samples.apply_event(t, new().id, "dispatch", data={"courier": "MedExpress"})
    samples.apply_event(t, new().id, "reject", reason="bag leaking on receipt",
                        signature=replace(sign, meaning="performed"))
    s = new()
    samples.apply_event(t, s.id, "receive")
    samples.apply_event(t, s.id, "start_culture", data={"method": "plastic_adherence"})
    s = new()
    samples.apply_event(t, s.id, "receive")
    samples.apply_event(t, s.id, "discard", reason="clotted", signature=replace(
        sign, meaning="performed"))
    s = new()
    samples.apply_event(t, s.id, "receive")
    samples.derive(t, s.id, kind=None, volume_ml=40, count=2)  # consumes the parent
    def released(viability: float) -> Sample:
        s = new()
        samples.apply_event(t, s.id, "receive")
        samples.apply_event(t, s.id, "start_processing", data={"method": "volume_reduction"})
        samples.apply_event(t, s.id, "complete_processing")
        qc.record_qc(t, s.id, test="viability", result="pass", value=viability, unit="%",
                     specification=">= 70 %")
        return samples.apply_event(qa, s.id, "release", data={"intended_use": "clinical"},
                                   signature=sign)

    released(90)
    s2 = released(91)
    patient = identity.register_recipient(co, code="R-0007", wristband_id="WB-0007",
                                          donor_id=None)
    samples.apply_event(co, s2.id, "distribute", data={
        "intended_use": "clinical", "recipient_id": patient.id,
        "destination": "Transplant Centre A"})
    s3 = new()
    samples.apply_event(t, s3.id, "receive")
    samples.apply_event(t, s3.id, "start_processing", data={"method": "red_cell_depletion"})
    s4 = new()
    samples.apply_event(t, s4.id, "receive")
    cryo(t, s4.id)
    samples.apply_event(t, s4.id, "thaw")
