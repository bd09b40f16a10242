"""Hostile and malformed input.

In process, with hypothesis: the scan parser, the ISBT check character and the label
fitter never crash on garbage, and a misread label never resolves to another donation.
Over HTTP, against the real servers: huge, deeply nested and badly encoded bodies, SQL
meta-characters in every filter and path parameter, path traversal in template names:
clean 4xx problems, never a 5xx, never someone else's records.
(schemathesis over the whole OpenAPI document is another helper's work.)
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
import string
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lims import labels
from lims.domain import isbt
from lims.domain.errors import Invalid
from tests.api import helpers
from tests.reliability.client import HttpApi, client, is_problem
from tests.reliability.figures import add, ensure

FUZZ = settings(max_examples=300, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow])
ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ*"  # ISO/IEC 7064 MOD 37-2 (ISBT 128)
FIN_FIRST = "ABCDEFGHIJKLMNPQRSTUVWXYZ123456789"  # A-N, P-Z, 1-9

dins = st.builds(lambda f, p, y, n: f"{f}{p:04d}{y:02d}{n:06d}",
                 st.sampled_from(FIN_FIRST), st.integers(0, 9999), st.integers(0, 99),
                 st.integers(0, 999999))
noise = st.sampled_from(["", "]Q1", "]d2", " ", "\t", "]C0"])
ends = st.sampled_from(["", "\r", "\n", "\r\n", "  "])


def counted(n: int = 1) -> None:
    add("fuzz cases tried", n)


@FUZZ
@given(st.text(max_size=60))
def test_scan_parser_never_crashes_on_garbage(raw: str) -> None:
    counted()
    try:
        code = isbt.parse_scan(raw)
    except isbt.InvalidCode:
        return
    assert len(code.din) == 13 and code.check == isbt.check_character(code.din)


@FUZZ
@given(st.text(alphabet=string.ascii_letters + string.digits + "=<*& \r\n]", max_size=40))
def test_scan_parser_on_label_shaped_garbage(raw: str) -> None:
    counted()
    try:
        code = isbt.parse_scan("=" + raw)
    except isbt.InvalidCode:
        return
    assert code.check == isbt.check_character(code.din)


@FUZZ
@given(dins, noise, ends)
def test_a_clean_label_resolves_to_its_own_donation(din: str, prefix: str, end: str) -> None:
    counted()
    payload = f"{prefix}={din}{60 + ALPHABET.index(isbt.check_character(din))}{end}"
    assert isbt.parse_scan(payload).din == din


@FUZZ
@given(dins, st.data())
def test_a_misread_character_never_resolves_to_another_donation(din: str, data) -> None:
    """One character of the code misread (what a damaged label or a bad scan does): the
    scan is refused, or it still names the same donation; never another one."""
    counted()
    payload = f"={din}{60 + ALPHABET.index(isbt.check_character(din))}"
    i = data.draw(st.integers(1, len(payload) - 1))
    c = data.draw(st.sampled_from(string.ascii_uppercase + string.digits + "*"))
    misread = payload[:i] + c + payload[i + 1:]
    try:
        code = isbt.parse_scan(misread)
    except isbt.InvalidCode:
        return
    assert code.din == din, (payload, misread, code.din)


@FUZZ
@given(dins, st.data())
def test_typed_din_with_one_error_or_swap_is_caught(din: str, data) -> None:
    """MOD 37-2 catches every single substitution and every swap of neighbours."""
    counted()
    typed = din + isbt.check_character(din)
    i = data.draw(st.integers(0, 12))
    if data.draw(st.booleans()):
        c = data.draw(st.sampled_from(string.ascii_uppercase + string.digits))
        wrong = typed[:i] + c + typed[i + 1:]
    else:
        wrong = typed[:i] + typed[i + 1] + typed[i] + typed[i + 2:]
    try:
        code = isbt.parse_scan(wrong)
    except isbt.InvalidCode:
        return
    assert code.din == din, (typed, wrong)


LATIN1 = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255,
                                        blacklist_categories=("Cc", "Cs")), max_size=80)
TEMPLATES = labels.load_templates(labels.default_templates_dir())


@settings(max_examples=60, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow])
@given(dins, LATIN1, LATIN1, st.lists(LATIN1, max_size=4), st.lists(LATIN1, max_size=3),
       st.sampled_from(sorted(TEMPLATES)), st.sampled_from(["qr", "datamatrix"]))
def test_label_fitter_answers_for_any_text(din, product, donor, warnings, statements,
                                           template, symbology) -> None:
    """Fits or does not fit, or refuses the content as invalid: never anything else."""
    counted()
    try:
        content = labels.LabelContent(
            payload=f"={din}{60 + ALPHABET.index(isbt.check_character(din))}",
            identifier=isbt.human_din(din), check=isbt.check_character(din),
            product=product, product_code="S1234", donor_code=donor or "D-1",
            collection_date=dt.date(2026, 5, 1), expiry=None, warnings=tuple(warnings),
            statements=tuple(statements))
    except ValueError:
        return
    assert labels.fits(content, TEMPLATES[template], symbology) in (True, False)


# --- over HTTP, against the real servers ---------------------------------------------------

# Sent percent-encoded as they are: bytes that are not UTF-8 (a lone surrogate, 0xFF).
RAW = ["%ED%B3%BF", "%FF%FE", "%C3%28"]
NASTY = ["' OR '1'='1", "'; DROP TABLE sample; --", "%", "_", "\\", "\" OR 1=1 --",
         "a\x00b", "../../../../etc/passwd", "..%2F..%2Fetc%2Fpasswd", "𝔘𝔫𝔦",
         "x" * 5000, "1e309", "-1", "NaN", "null", "[]", "{}"]


@pytest.fixture(scope="module")
def api(servers) -> HttpApi:
    return client(servers[1].url)


def no_5xx(r, what: str) -> None:
    add("hostile requests")
    if r.status_code >= 500:
        add("5xx on hostile input")
    assert r.status_code < 500, (what, r.status_code, r.text[:300])
    if r.status_code >= 400 and "/fhir/" in what:  # FHIR answers an OperationOutcome
        assert r.json()["resourceType"] == "OperationOutcome", (what, r.text[:300])
    elif r.status_code >= 400:
        assert is_problem(r, r.status_code), (what, r.status_code, r.text[:300])


def get_routes_with_query(api: HttpApi) -> list[tuple[str, list[str]]]:
    doc = api.client.get("/openapi.json").json()
    out = []
    for path, ops in doc["paths"].items():
        op = ops.get("get")
        if op is None:
            continue
        names = [p["name"] for p in op.get("parameters", []) if p["in"] == "query"]
        out.append((path, names))
    return out


def test_sql_metacharacters_in_every_filter_and_path(api: HttpApi) -> None:
    ensure("5xx on hostile input")
    sample = helpers.primary(api.as_("tech"))
    routes = get_routes_with_query(api)
    assert len(routes) > 15
    for path, names in routes:
        base = path.replace("{sample_id}", sample["id"])
        for value in NASTY:
            url = base
            for part in ("{", "}"):  # other ids: the nasty value itself
                url = url.replace(part, "")
            for name in names:
                r = api.as_("qa").get(url.replace("/api/v1", "", 1), params={name: value})
                no_5xx(r, f"GET {path}?{name}={value[:20]!r}")
                if value == NASTY[0]:
                    for raw in RAW:
                        q = f"{url.replace('/api/v1', '', 1)}?{name}={raw}"
                        no_5xx(api.as_("qa").get(q), f"GET {q}")
                body = r.json() if r.headers.get("content-type", "").endswith("json") else {}
                # (since/until are ranges: "-1" is a valid instant that every entry is after)
                if r.status_code == 200 and isinstance(body, dict) and "items" in body \
                        and name not in ("since", "until"):
                    # A filter value no record has matches no record (never "all rows").
                    assert body["items"] == [], (path, name, value[:20])
            # The value as the path parameter(s).
            if "{" in path:
                for v in (quote(value, safe=""), *(RAW if value == NASTY[0] else ())):
                    nasty_path = re.sub(r"\{[^}]+\}", lambda _m, v=v: v, path)
                    r = api.as_("qa").get(nasty_path.replace("/api/v1", "", 1))
                    no_5xx(r, f"GET {nasty_path[:60]!r}")


@pytest.mark.parametrize("template", [
    "../../../../etc/passwd", "..\\..\\windows\\win.ini", "/etc/passwd", "cryovial/../../x",
    "cryovial\x00.toml", "%2e%2e%2fetc%2fpasswd", "_private", "..", "cryovial.toml", ""])
def test_template_names_cannot_reach_files(api: HttpApi, template: str) -> None:
    sample = helpers.primary(api.as_("tech"))
    r = api.as_("tech").get(f"/samples/{sample['id']}/label",
                            params={"template": template, "preview": "true"})
    no_5xx(r, f"template {template!r}")
    assert 400 <= r.status_code < 500, (template, r.status_code)
    assert "root:" not in r.text
    r = api.as_("tech").post("/labels/sheet", {"sample_ids": [sample["id"]],
                                               "template": template})
    no_5xx(r, f"sheet template {template!r}")
    assert 400 <= r.status_code < 500, (template, r.status_code)


def test_huge_nested_and_badly_encoded_bodies(api: HttpApi) -> None:
    sample = helpers.primary(api.as_("tech"))
    url = f"/api/v1/samples/{sample['id']}/transitions"
    headers = {"Authorization": "Bearer tech-token", "Content-Type": "application/json"}
    cases = {
        "20 MB": b'{"event":"receive","reason":"' + b"x" * 20_000_000 + b'"}',
        "nested 100k": ('{"event":"receive","data":' + '{"a":' * 100_000 + "1"
                        + "}" * 100_000 + "}").encode(),
        "nested lists": ('{"event":"receive","data":{"v":' + "[" * 50_000 + "]" * 50_000
                         + "}}").encode(),
        "not UTF-8": b'{"event":"receive","reason":"\xc3\x28\xff"}',
        "lone surrogate": b'{"event":"receive","reason":"\\udc00"}',
        "NUL": b'{"event":"receive","reason":"a\\u0000b"}',
        "not JSON": b"<xml>receive</xml>",
        "empty": b"",
        "NaN": b'{"event":"receive","data":{"volume_ml":NaN}}',
        "huge number": b'{"event":"receive","data":{"volume_ml":1' + b"0" * 5000 + b"}}",
    }
    for what, body in cases.items():
        r = api.client.post(url, content=body, headers=headers)
        no_5xx(r, what)
        assert 400 <= r.status_code < 500, (what, r.status_code, r.text[:200])
    # Nothing of that reached the sample.
    after = api.get(f"/samples/{sample['id']}").json()
    assert after["state"] == "collected" and after["version"] == sample["version"]


def test_garbage_scans_never_resolve_to_a_sample(api: HttpApi) -> None:
    sample = helpers.primary(api.as_("tech"))
    good = helpers.scan_code(sample)
    r = api.as_("tech").post("/scans", {"payload": good, "station": "bench-9"})
    assert r.status_code == 200 and r.json()["id"] == sample["id"]
    for i in range(1, 14):  # every character of the DIN misread, one at a time
        for c in "07AZ*":
            bad = good[:i] + c + good[i + 1:]
            if bad == good:
                continue
            r = api.as_("tech").post("/scans", {"payload": bad, "station": "bench-9"})
            no_5xx(r, bad)
            assert r.status_code != 200 or r.json()["id"] == sample["id"], bad
            counted()


# --- the CSV import: what a spreadsheet export can contain -------------------------------

CSV_HEADER = ("external_ref,donor_code,source,site,started_at,ended_at,volume_ml,"
              "anticoagulant,collector")


@FUZZ
@given(st.text(max_size=400))
def test_csv_import_file_garbage_is_refused_in_words(text: str) -> None:
    counted()
    from lims.services import exchange

    try:
        rows = exchange.read_csv(text)
    except Invalid:
        return
    for raw in rows:
        try:
            exchange._parse_row(raw)
        except Invalid:
            continue


@FUZZ
@given(st.lists(st.text(alphabet=string.printable + "äöü€\u00a0", max_size=30),
                min_size=9, max_size=9))
def test_csv_import_row_garbage_is_refused_or_read_exactly(cells: list[str]) -> None:
    counted()
    from lims.services import exchange

    buf = io.StringIO()
    csv.writer(buf).writerows([CSV_HEADER.split(","), cells])
    try:
        (raw,) = exchange.read_csv(buf.getvalue())
        fields = exchange._parse_row(raw)
    except Invalid:
        return
    # Accepted: every value is the cell as written (trimmed), times carry a zone, the
    # volume is a plausible number: garbage never becomes a different collection.
    assert fields["external_ref"] == cells[0].strip()
    assert fields["donor_code"] == cells[1].strip()
    assert fields["started_at"].tzinfo is not None and fields["ended_at"].tzinfo is not None
    assert 0 < fields["volume_ml"] <= 5000
