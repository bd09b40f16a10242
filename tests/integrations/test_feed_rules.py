"""The pure rules of the feed and webhooks (lims/domain/feed.py), no database."""

from __future__ import annotations

import pytest

from lims.domain import feed
from lims.domain.errors import Invalid


@pytest.mark.parametrize("entity, action, expected", [
    ("sample", "event:release", "sample.release"),
    ("sample", "sample_created", "sample.created"),
    ("sample", "custody_handed_over", "sample.custody_handed_over"),
    ("donor", "donor_registered", "donor.registered"),
    ("webhook", "webhook_disabled", "webhook.disabled"),
])
def test_event_type_names(entity, action, expected):
    assert feed.event_type(entity, action) == expected


def test_type_filters():
    assert feed.check_types(["sample.*, donor.registered", "sample.*", ""]) == (
        "sample.*", "donor.registered")
    assert feed.check_types(["*"]) == ("*",)
    for bad in ("sample..x", "Sample", "sample.re lease", "*.release", "sample.*.x", "%"):
        with pytest.raises(Invalid):
            feed.check_types([bad])
    assert feed.matches("sample.release", ("sample.*",))
    assert not feed.matches("samples.release", ("sample.*",))
    assert not feed.matches("donor.registered", ("sample.*", "sample.release"))
    assert feed.matches("donor.registered", ())
    assert feed.matches("donor.registered", ("*",))


@pytest.mark.parametrize("raw, expected", [(None, 0), ("", 0), ("0", 0), ("1042", 1042)])
def test_cursor(raw, expected):
    assert feed.parse_cursor(raw) == expected


@pytest.mark.parametrize("raw", ["-1", "1.0", "abc", " 1", "1e3", "١٢", "9" * 19])
def test_malformed_cursor(raw):
    with pytest.raises(Invalid, match="cursor"):
        feed.parse_cursor(raw)


def test_no_secrets_at_any_depth():
    data = {"username": "h", "password_hash": "x", "keys": [{"api_key": "k", "name": "n",
                                                          "prefix": "lims_abc"}],
            "nested": {"Secret": 1, "token_hash": 2, "state": "received"}}
    assert feed.without_secrets(data) == {"username": "h", "keys": [{"name": "n"}],
                                          "nested": {"state": "received"}}


def test_signature_matches_an_independent_hmac():
    # printf '%s' '1767225600.{"id":"e1"}' | openssl dgst -sha256 -hmac whsec_test
    assert feed.signature("whsec_test", 1767225600, b'{"id":"e1"}') == (
        "v1=454f7f9597bf74f9ee7b13eab0ac98e91665e9039d783864ee4129a0f2c9c88f")


def test_retry_delays_double_up_to_the_cap_with_jitter():
    assert [feed.retry_delay(n, 10, 3600, 1.0) for n in range(1, 11)] == [
        10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600]
    assert feed.retry_delay(3, 10, 3600, 0.5) == 20
    assert feed.retry_delay(500, 10, 3600, 1.0) == 3600
