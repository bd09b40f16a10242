"""Hostile bodies get clean 4xx problems: too large (413, also when sent in chunks without
a Content-Length), too deeply nested or not UTF-8 (400), lone surrogates (422)."""

from __future__ import annotations

import pytest

JSON = {"Content-Type": "application/json"}


@pytest.fixture
def small(app, api):
    app.state.settings = app.state.settings.model_copy(update={"max_body_bytes": 10_000})
    return api


def _problem(r, status: int) -> dict:
    assert r.status_code == status, r.text[:300]
    assert r.headers["content-type"].startswith("application/problem+json")
    return r.json()


def test_a_body_over_the_limit_is_refused_before_it_is_read(api) -> None:
    # The default limit (1 MB): 3 MB of "name" is refused as too large, not validated.
    body = b'{"kind":"site","name":"' + b"x" * 3_000_000 + b'"}'
    r = api.client.post("/api/v1/locations", content=body,
                        headers={**JSON, "Authorization": "Bearer coord-token"})
    assert _problem(r, 413)["status"] == 413


def test_a_chunked_body_without_length_is_counted_too(api) -> None:
    def chunks():
        yield b'{"kind":"site","name":"'
        for _ in range(40):
            yield b"y" * 50_000
        yield b'"}'

    r = api.client.post("/api/v1/locations", content=chunks(),
                        headers={**JSON, "Authorization": "Bearer coord-token"})
    _problem(r, 413)
    assert api.get("/locations").json() == []


def test_deep_nesting_and_bad_encodings_are_clean_problems(small) -> None:
    auth = {**JSON, "Authorization": "Bearer coord-token"}
    deep = '{"event":"receive","data":' + '{"a":' * 3000 + "1" + "}" * 3000 + "}"
    body = _problem(small.client.post("/api/v1/samples/x/transitions", content=deep,
                                      headers=auth), 400)
    assert body["title"] == "Unreadable request"
    _problem(small.client.post("/api/v1/locations", content=b'{"kind":"site","name":"\xff"}',
                               headers=auth), 400)
    _problem(small.client.post("/api/v1/locations",
                               content=b'{"kind":"site","name":"a\\ud800b"}', headers=auth), 422)
    assert small.get("/locations").json() == []
