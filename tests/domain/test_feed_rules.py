"""The event feed's rules as the integration guide states them: type names, filters,
cursors, secrets kept out, webhook signatures and the retry schedule."""

from __future__ import annotations

import hashlib
import hmac

import pytest

from lims.domain import feed
from lims.domain.errors import Invalid


def test_event_types_are_entity_dot_verb():
    assert feed.event_type("sample", "event:release") == "sample.release"
    assert feed.event_type("donor", "donor_registered") == "donor.registered"
    assert feed.event_type("sample", "custody_handed_over") == "sample.custody_handed_over"
    assert feed.event_type("recipient", "event:recipient_linked") == "recipient.linked"


def test_type_filters_may_be_repeated_or_comma_separated_and_are_kept_once():
    assert feed.check_types(["sample.release, sample.*", "donor.registered,,", " * "]) == (
        "sample.release", "sample.*", "donor.registered", "*")
    assert feed.check_types(["sample.release", "sample.release"]) == ("sample.release",)
    assert feed.check_types([]) == ()
    assert feed.check_types(["sample"]) == ("sample",)
    assert feed.check_types(["qc_result2.approved_v2"]) == ("qc_result2.approved_v2",)


@pytest.mark.parametrize("bad", ["Sample.release", "sample.", "sample.release.x", "*.release",
                                 "1sample", "sample.Release", "sample release", "sample.**",
                                 "sample.r-1"])
def test_a_filter_that_can_never_match_is_named(bad):
    with pytest.raises(Invalid) as caught:
        feed.check_types([bad])
    assert caught.value.detail == (f"'{bad}' is not an event type. Use names like "
                                   "sample.release, sample.* for every sample event, or * for all.")
    assert caught.value.extra == {"field": "types"}


def test_at_most_fifty_filters():
    fifty = [f"sample.e{i}" for i in range(50)]
    assert len(feed.check_types(fifty)) == 50
    assert len(feed.check_types(fifty + ["sample.e0"])) == 50  # a repeat is not another one
    with pytest.raises(Invalid) as caught:
        feed.check_types(fifty + ["sample.e50"])
    assert caught.value.detail == "At most 50 event types at once."
    assert caught.value.extra == {"field": "types"}


def test_filters_select_exact_types_whole_entities_or_everything():
    assert feed.matches("sample.release", [])
    assert feed.matches("sample.release", ["donor.registered", "*"])
    assert feed.matches("sample.release", ["sample.release"])
    assert feed.matches("sample.release", ["donor.*", "sample.*"])
    assert not feed.matches("sample.release", ["sample.receive"])
    assert not feed.matches("sample.release", ["donor.*"])
    assert not feed.matches("samples.release", ["sample.*"])  # another entity, same prefix
    assert not feed.matches("sample.release", ["sample"])
    assert not feed.matches("sample.release", ["sample.rel"])


def test_a_cursor_is_a_position_or_nothing():
    assert feed.parse_cursor(None) == 0
    assert feed.parse_cursor("") == 0
    assert feed.parse_cursor("0") == 0
    assert feed.parse_cursor("1042") == 1042
    assert feed.parse_cursor("9" * 18) == 10**18 - 1


@pytest.mark.parametrize("bad", ["-1", "12a", "1.5", "٣", "9" * 19, " 12"])
def test_anything_else_as_a_cursor_is_refused_naming_the_parameter(bad):
    with pytest.raises(Invalid) as caught:
        feed.parse_cursor(bad, "from")
    assert caught.value.detail == (
        "'from' must be a cursor from this feed (the `cursor` of an event or the "
        f"`next_cursor` of a page), e.g. from=1042; got {bad!r}.")
    assert caught.value.extra == {"field": "from"}
    with pytest.raises(Invalid) as caught:
        feed.parse_cursor("x" * 50)
    assert caught.value.detail.endswith(f"e.g. after=1042; got {'x' * 40!r}.")
    assert caught.value.extra == {"field": "after"}


def test_secrets_never_leave_in_an_event_at_any_depth():
    data = {"name": "lab-bot", "Password": "p", "client_secret": "s", "TOKEN": "t",
            "key_hash": "h", "api_key": "k", "key_prefix": "lims_ab", "signature_binding": "b",
            "roles": ["qa"], "nested": {"user": {"password_hash": "x", "id": 7}},
            "items": [{"secret": 1, "n": 2}, ("token", {"api_key": 3, "m": 4})], 3: "three"}
    assert feed.without_secrets(data) == {
        "name": "lab-bot", "roles": ["qa"], "nested": {"user": {"id": 7}},
        "items": [{"n": 2}, ["token", {"m": 4}]], 3: "three"}
    assert feed.without_secrets("plain") == "plain"


def test_a_webhook_signature_is_hmac_sha256_of_timestamp_dot_body():
    body = b'{"type":"sample.release"}'
    expected = hmac.new(b"whsec_1", b'1764581400.{"type":"sample.release"}',
                        hashlib.sha256).hexdigest()
    assert feed.signature("whsec_1", 1764581400, body) == "v1=" + expected
    assert feed.signature("whsec_2", 1764581400, body) != "v1=" + expected


def test_retries_double_from_the_base_up_to_the_cap_then_jitter_scales_them():
    assert feed.retry_delay(0, 2.0, 300.0, 1.0) == 0.0
    assert feed.retry_delay(-3, 2.0, 300.0, 1.0) == 0.0
    assert [feed.retry_delay(n, 2.0, 300.0, 1.0) for n in range(1, 10)] == [
        2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 300.0]
    assert feed.retry_delay(3, 2.0, 300.0, 0.5) == 4.0
    assert feed.retry_delay(10**6, 2.0, 300.0, 0.75) == 225.0  # no overflow after many tries
    # the exponent stops at 40: a cap beyond 2**40 x base is never reached
    assert feed.retry_delay(41, 1.0, 2.0**50, 1.0) == 2.0**40
    assert feed.retry_delay(60, 1.0, 2.0**50, 1.0) == 2.0**40
