"""An HTTP client for the real servers with the shape of tests.conftest.Api, so the
builders in tests/api/helpers.py (donor, collection, box, step) work against them too."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from tests.reliability.figures import CAPTURED, add


@dataclass
class HttpApi:
    client: httpx.Client
    user: str = "tech"

    def as_(self, user: str) -> HttpApi:
        return HttpApi(self.client, user)

    def _headers(self, extra: dict | None) -> dict:
        auth = {"Authorization": f"Bearer {self.user}-token"} if self.user else {}
        return {**auth, **(extra or {})}

    def request(self, method: str, url: str, **kw: Any) -> httpx.Response:
        headers = self._headers(kw.pop("headers", None))
        r = self.client.request(method, "/api/v1" + url, headers=headers, **kw)
        add("requests tried")
        # The one answer that must carry a secret is the one that hands it out.
        hands_out = r.is_success and (url == "/auth/token" or url.endswith("/api-keys"))
        if not hands_out:
            CAPTURED.append(r.text[:20000])
        return r

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("GET", url, **kw)

    def post(self, url: str, json: object = None, **kw: Any) -> httpx.Response:
        return self.request("POST", url, json=json, **kw)

    def patch(self, url: str, json: object = None, **kw: Any) -> httpx.Response:
        return self.request("PATCH", url, json=json, **kw)

    def delete(self, url: str, **kw: Any) -> httpx.Response:
        return self.request("DELETE", url, **kw)


def client(base_url: str, user: str = "tech", timeout: float = 60) -> HttpApi:
    return HttpApi(httpx.Client(base_url=base_url, timeout=timeout), user)


def is_problem(r: httpx.Response, *statuses: int) -> bool:
    """A clean RFC 9457 answer with one of these statuses (no traceback in the body)."""
    return (r.status_code in statuses
            and r.headers.get("content-type", "").startswith("application/problem+json")
            and "Traceback" not in r.text and r.json().get("status") == r.status_code)
