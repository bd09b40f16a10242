"""The pages in a real browser (headless Debian Chromium), with the network blocked.

One server process and one browser for the whole session; each test makes its own data
through the API of that server, so tests do not depend on each other."""

from __future__ import annotations

import io
import re
import time

import zxingcpp
from PIL import Image

from tests.api import helpers as h
from tests.conftest import PASSWORD
from tests.web.conftest import screenshot

SCANNER_DELAY_MS = 5  # a keyboard-wedge scanner: a key every 5 ms or faster
SIGN = {"password": PASSWORD, "meaning": "released"}


def label_payload(api, sample_id: str) -> str:
    """What the scanner reads: the 2-D code of the label the service rendered."""
    # A printed label (a preview is crossed out, as it should be): the print is recorded.
    r = api.get(f"/samples/{sample_id}/label", params={"format": "png", "reason": "test"})
    assert r.status_code == 200, r.text
    codes = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.content)))
    assert codes, "no 2-D code found on the label"
    return codes[0].text


def scan(page, payload: str) -> None:
    """Type like a keyboard-wedge scanner: the payload and Enter, a key every 5 ms.

    A scanner's keys carry the time the scanner sent them, however busy the browser is.
    Playwright's own typing waits for each key to be handled before it sends the next, so
    on a loaded machine its keys drift apart; the keys are sent through the DevTools
    protocol with the scanner's timestamps instead (real, trusted key events)."""
    cdp = page.context.new_cdp_session(page)
    start = time.time()
    keys = [(c, {"key": c, "text": c, "unmodifiedText": c}) for c in payload]
    keys.append(("Enter", {"key": "Enter", "code": "Enter", "text": "\r",
                           "unmodifiedText": "\r", "windowsVirtualKeyCode": 13,
                           "nativeVirtualKeyCode": 13}))
    for i, (_, key) in enumerate(keys):
        at = start + i * SCANNER_DELAY_MS / 1000
        cdp.send("Input.dispatchKeyEvent", {"type": "keyDown", "timestamp": at, **key})
        cdp.send("Input.dispatchKeyEvent", {"type": "keyUp", "timestamp": at + 0.001,
                                            "key": key["key"]})
    cdp.detach()


def card_of(page, sample_id: str):
    card = page.locator(f'#card[data-sample="{sample_id}"]')
    card.wait_for()
    return card


def history(api, sample_id: str) -> list[str]:
    return [t["event"] for t in api.get(f"/samples/{sample_id}/history").json()]


# --- sign-in ----------------------------------------------------------------------------------

def test_sign_in_wrong_password_and_sign_out(open_page, offline):
    page = open_page(None)
    page.goto("/")
    assert "/signin" in page.url
    page.get_by_label("User name").fill("coord")
    page.get_by_label("Password").fill("wrong password")
    page.get_by_role("button", name="Sign in").click()
    assert page.get_by_role("alert").inner_text().startswith("User name or password is wrong")
    page.get_by_label("User name").fill("coord")
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/dashboard")
    assert page.get_by_text("Carla Coordinator").is_visible()
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url("**/signin")
    page.goto("/dashboard")
    assert "/signin" in page.url, "signed out: the dashboard needs a new sign-in"
    assert offline.blocked == []


def test_a_technician_is_refused_user_administration(open_page):
    page = open_page("tech")
    response = page.goto("/admin")
    assert response.status == 403
    assert "manage users" in page.get_by_role("alert").inner_text()
    assert page.get_by_role("link", name="Users").count() == 0  # not offered in the menu


# --- the bench ----------------------------------------------------------------------------------

def test_scanner_keys_are_never_lost_while_the_page_loads(open_page, live_api, offline):
    sample = h.primary(live_api)
    payload = label_payload(live_api, sample["id"])
    page = open_page("tech")

    held = []  # the page's own script is held back until the scanner is done

    page.route("**/static/bench.js", lambda route: held.append(route))
    for i in range(20):
        page.goto("/bench?station=load-test", wait_until="commit")
        # The first thing the page runs is the key capture in <head>; type the moment it
        # exists, while the rest of the page is still loading.
        page.wait_for_function("() => !!window.limsScanner", polling=5)
        assert page.evaluate("window.limsScanner.listening") is False
        scan(page, payload)
        while not held:
            page.wait_for_timeout(5)
        held.pop().continue_()
        card_of(page, sample["id"])
        first = page.locator(".recent tbody tr").first.locator(".payload")
        assert first.inner_text() == payload, f"run {i + 1}: characters lost"
    assert offline.blocked == []


def test_scanner_keys_are_never_lost_after_a_tap_on_a_button(open_page, live_api):
    sample = h.primary(live_api)
    payload = label_payload(live_api, sample["id"])
    page = open_page("tech")
    page.goto("/bench?station=tap-test")
    for i in range(20):
        page.get_by_role("button", name="Clear card").click()
        scan(page, payload)  # right after the tap: focus is on the button
        card_of(page, sample["id"])
        row = page.locator(".recent tbody tr").first
        assert row.locator(".payload").inner_text() == payload, f"run {i + 1}: characters lost"
    rows = live_api.as_("qa").get("/scans", params={"station": "tap-test"}).json()["items"]
    assert len(rows) == 20 and {r["payload"] for r in rows} == {payload}


def test_a_scan_shows_the_card_and_an_event_button_applies_the_event(open_page, live_api):
    d = h.donor(live_api, eligibility="pending")
    sample = h.collection(live_api, d["id"])["samples"][0]
    h.step(live_api, sample["id"], "place_hold", reason="label smudged")
    page = open_page("tech")
    page.goto("/bench?station=bench-2")
    scan(page, label_payload(live_api, sample["id"]))
    card = card_of(page, sample["id"])
    din = sample["code"].split("-")[0]
    text = card.inner_text()
    assert din[:5] in text.replace(" ", "") and "HPC, Cord Blood" in text
    assert d["code"] in text and "collected" in text
    assert "QUARANTINE (on hold): label smudged" in text  # in words, not only colour
    assert "Donor eligibility pending" in text
    screenshot(page, "bench-card")
    # Dispatch asks for the courier it is handed to (custody follows the tube).
    card.locator('summary[data-event="dispatch"]').click()
    form = card.locator('details[data-event="dispatch"]')
    form.get_by_label(re.compile(r"^Courier")).fill("MedExpress")
    form.locator("button[type=submit]").click()
    page.locator('#card[data-state="in_transit"]').wait_for()
    assert history(live_api, sample["id"])[-1] == "dispatch"
    assert "Done: dispatch" in page.locator("#status").inner_text()


def test_a_double_tap_applies_once(open_page, live_api):
    # A passage keeps the state (in culture), so only the idempotency key can stop a
    # double tap from counting two passages.
    sample = h.primary(live_api)
    h.step(live_api, sample["id"], "receive")
    h.step(live_api, sample["id"], "start_culture")
    page = open_page("tech")
    page.goto("/bench?station=bench-3")
    scan(page, label_payload(live_api, sample["id"]))
    card = card_of(page, sample["id"])
    card.locator('summary[data-event="passage"]').click()
    form = card.locator('details[data-event="passage"]')
    form.get_by_label("Flasks").fill("4")
    button = form.locator("button[type=submit]")
    # Two submissions of the same button before the first answer arrives.
    button.evaluate("b => { b.form.requestSubmit(b); b.form.requestSubmit(b); }")
    page.get_by_text("applied once").wait_for()  # the second answer: a replay
    assert history(live_api, sample["id"]).count("passage") == 1
    assert live_api.get(f"/samples/{sample['id']}").json()["passage"] == 1


def test_an_event_that_needs_data_asks_for_it(open_page, live_api):
    sample = h.primary(live_api)
    h.step(live_api, sample["id"], "receive")
    page = open_page("tech")
    page.goto("/bench?station=bench-4")
    scan(page, label_payload(live_api, sample["id"]))
    card = card_of(page, sample["id"])
    card.locator('summary[data-event="start_processing"]').click()
    form = card.locator('details[data-event="start_processing"]')
    method = form.get_by_label("Processing method")
    options = method.locator("option").all_inner_texts()
    assert "volume reduction" in options  # cord blood's validated methods only
    assert "enzymatic digestion" not in options  # adipose only: not offered for cord blood
    method.select_option("volume_reduction")
    form.locator("button[type=submit]").click()
    page.locator('#card[data-state="in_processing"]').wait_for()
    assert history(live_api, sample["id"])[-1] == "start_processing"


def test_cryopreserve_asks_for_the_box_and_the_position_as_the_lab_writes_it(open_page,
                                                                             live_api):
    sample = h.primary(live_api)
    h.step(live_api, sample["id"], "receive")
    box = h.box(live_api, name="Box W")
    page = open_page("tech")
    page.goto("/bench?station=bench-5")
    scan(page, label_payload(live_api, sample["id"]))
    card = card_of(page, sample["id"])
    card.locator('summary[data-event="cryopreserve"]').click()
    form = card.locator('details[data-event="cryopreserve"]')
    form.get_by_label(re.compile(r"^Box")).select_option(box["id"])
    form.get_by_label("Position in the box").fill("B3")
    form.locator("button[type=submit]").click()
    page.locator('#card[data-state="cryopreserved"]').wait_for()
    stored = live_api.get(f"/samples/{sample['id']}").json()
    assert stored["location_id"] == box["id"] and stored["position"] == 12  # 9 per row
    assert "position B3" in page.locator("#card").inner_text()


def test_a_signed_release_asks_for_the_password(open_page, live_api):
    d = h.donor(live_api)
    s = h.collection(live_api, d["id"])["samples"][0]
    h.step(live_api, s["id"], "receive")
    h.step(live_api, s["id"], "start_processing", data={"method": "volume_reduction"})
    h.step(live_api, s["id"], "complete_processing", user="tech2")
    live_api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass"})
    page = open_page("qa")
    page.goto("/bench?station=qa-1")
    scan(page, label_payload(live_api, s["id"]))
    card = card_of(page, s["id"])
    card.locator('summary[data-event="release"]').click()
    form = card.locator('details[data-event="release"]')
    assert form.get_by_label("Meaning of your signature").input_value() == "released"
    form.get_by_label("Your password").fill("not my password")
    form.locator("button[type=submit]").click()
    page.locator("#status [role=alert]").wait_for()
    assert "password" in page.locator("#status").inner_text().lower()
    assert history(live_api, s["id"])[-1] == "complete_processing"
    form.get_by_label("Your password").fill(PASSWORD)
    form.locator("button[type=submit]").click()
    page.locator('#card[data-state="released"]').wait_for()
    assert history(live_api, s["id"])[-1] == "release"


def test_box_mode_shows_the_outcome_of_every_tube(open_page, live_api):
    good = [h.primary(live_api) for _ in range(2)]
    bad = h.primary(live_api)
    h.step(live_api, bad["id"], "receive")  # already received: cannot be received again
    page = open_page("tech")
    page.goto("/bench/box?station=box-1")
    for s in (good[0], bad, good[1]):
        scan(page, label_payload(live_api, s["id"]))
    page.locator("#tubes tr").nth(2).wait_for()
    page.get_by_label("Event for every tube").select_option("receive")
    page.get_by_role("button", name="Apply to all scanned tubes").click()
    results = page.locator(".box-results")
    results.wait_for()
    assert "2 applied, 1 not applied" in results.inner_text()
    screenshot(page, "box-mode")
    rows = results.locator("tbody tr")
    assert rows.nth(0).inner_text().count("Applied") == 1
    assert "Not applied" in rows.nth(1).inner_text() and "received" in rows.nth(1).inner_text()
    for s in good:
        assert history(live_api, s["id"])[-1] == "receive"
    assert history(live_api, bad["id"]).count("receive") == 1


def _distributed(api, wristband: str) -> dict:
    d = h.donor(api)
    s = h.collection(api, d["id"])["samples"][0]
    h.step(api, s["id"], "receive")
    h.step(api, s["id"], "start_processing", data={"method": "volume_reduction"})
    h.step(api, s["id"], "complete_processing", user="tech2")
    api.post(f"/samples/{s['id']}/qc", {"test": "viability", "result": "pass"})
    h.step(api, s["id"], "release", user="qa", signature=SIGN)
    patient = api.as_("coord").post("/recipients", {"code": f"R-{wristband}",
                                                    "wristband_id": wristband}).json()
    h.step(api, s["id"], "distribute", user="coord",
           data={"intended_use": "clinical", "recipient_id": patient["id"]})
    return s


def test_bedside_shows_match_or_every_reason(open_page, live_api):
    s = _distributed(live_api, "WB-7001")
    payload = label_payload(live_api, s["id"])
    page = open_page("coord")
    page.goto("/bedside")
    scan(page, "WB-7001")
    scan(page, payload)
    verdict = page.locator("#verdict")
    verdict.wait_for()
    assert verdict.inner_text().startswith("MATCH")
    page.goto("/bedside")
    scan(page, "WB-9999")
    scan(page, payload)
    verdict = page.locator("#verdict")
    verdict.wait_for()
    text = verdict.inner_text()
    assert "NO MATCH" in text and "WB-9999" in text
    assert "wrong patient: this product is not assigned to the patient scanned" in text
    screenshot(page, "bedside-mismatch")


# --- dashboard, sample page, workflow, docs -------------------------------------------------------

def test_dashboard_updates_itself_after_a_change_through_the_api(open_page, live_api):
    sample = h.primary(live_api)
    page = open_page("coord")
    page.goto("/dashboard")
    cell = page.locator('[data-count="attention:on_hold"]')
    before = int(cell.inner_text())
    screenshot(page, "dashboard")
    h.step(live_api, sample["id"], "place_hold", reason="sterility pending")
    page.wait_for_function(
        "n => Number(document.querySelector('[data-count=\"attention:on_hold\"]')"
        ".textContent) === n", arg=before + 1, timeout=5000)
    assert sample["code"] in page.locator("#dash").inner_text()


def test_the_lineage_of_four_generations_shows_every_derivative(open_page, live_api):
    d = h.donor(live_api)
    root = h.collection(live_api, d["id"], volume=100)["samples"][0]
    h.step(live_api, root["id"], "receive")
    h.step(live_api, root["id"], "start_processing", data={"method": "volume_reduction"})
    gen2 = live_api.post(f"/samples/{root['id']}/derivatives",
                         {"kind": "hsc_cd34", "volume_ml": 20, "count": 2}).json()
    gen3 = live_api.post(f"/samples/{gen2[0]['id']}/derivatives",
                         {"volume_ml": 5, "count": 3}).json()
    gen4 = live_api.post(f"/samples/{gen3[1]['id']}/derivatives",
                         {"volume_ml": 1, "count": 2}).json()
    family = [root, *gen2, *gen3, *gen4]
    assert len(family) == 8
    page = open_page("qa")
    page.goto(f"/samples/{gen3[1]['id']}")
    svg = page.locator(".lineage svg")
    linked = set(svg.locator("a.lineage-node").evaluate_all(
        "nodes => nodes.map(n => n.getAttribute('data-sample'))"))
    assert linked == {s["id"] for s in family}
    assert d["code"] in svg.inner_html()  # from the donor
    screenshot(page, "sample")
    svg.locator(f'a[data-sample="{gen4[0]["id"]}"]').click()
    page.wait_for_url(f"**/samples/{gen4[0]['id']}")


def test_workflow_page_draws_every_state_and_lists_every_event(open_page, live_api):
    table = live_api.get("/workflow").json()
    page = open_page("qa")
    page.goto("/workflow")
    drawn = set(page.locator("svg g.state").evaluate_all(
        "gs => gs.map(g => g.getAttribute('data-state'))"))
    assert drawn == set(table["states"])
    for t in table["transitions"]:
        row = page.locator(f"#event-{t['event']}")
        assert ", ".join(t["roles"]) in row.inner_text()
    assert "required: released" in page.locator("#event-release").inner_text()
    screenshot(page, "workflow")


def test_docs_list_every_operation_with_the_network_blocked(open_page, live_api, offline):
    spec = live_api.client.get("/openapi.json").json()
    operations = {op["operationId"] for path in spec["paths"].values() for op in path.values()}
    assert len(operations) > 40
    page = open_page(None)
    page.goto("/docs")
    page.locator(".opblock").first.wait_for()
    shown = page.locator(".opblock").evaluate_all("bs => bs.map(b => b.id)")
    missing = [o for o in operations if not any(i.endswith("-" + o) for i in shown)]
    assert missing == []
    assert not [u for u in offline.blocked if "validator" not in u]
