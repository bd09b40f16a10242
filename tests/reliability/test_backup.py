"""Backup and restore on PostgreSQL: `lims backup` while the servers run, `lims restore`
into a new database, and a server on the restored database serves the same samples and
an audit trail that verifies."""

from __future__ import annotations

from pathlib import Path

from tests.api import helpers
from tests.conftest import PG_ADMIN_URL, _pg_url
from tests.reliability.client import HttpApi, client
from tests.reliability.conftest import Server, create_database, drop_database, lims
from tests.reliability.figures import add


def all_samples(api: HttpApi) -> list[dict]:
    out, cursor = [], None
    while True:
        page = api.get("/samples", params={"limit": 200, **({"cursor": cursor} if cursor
                                                              else {})}).json()
        out += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return out


def test_restored_database_serves_the_same_samples_and_verifies(servers, rel_db, log_dir,
                                                               tmp_path: Path) -> None:
    api = client(servers[0].url)
    for _ in range(3):
        s = helpers.primary(api)
        helpers.step(api, s["id"], "receive")
    before = all_samples(api)
    dump = tmp_path / "lims.dump"
    lims(rel_db, "backup", str(dump))
    assert dump.stat().st_size > 0

    name = create_database(PG_ADMIN_URL)
    restored_url = _pg_url(name)
    server = Server(restored_url, log_dir)
    try:
        done = lims(restored_url, "restore", str(dump), "--yes")
        assert '"ok": true' in done.stdout, done.stdout
        server.start()
        restored = client(server.url)
        after = all_samples(restored)
        assert len(after) == len(before) > 0
        assert after == before
        result = restored.as_("qa").get("/audit/verify").json()
        assert result["ok"] is True, result
        add("samples restored from a backup", len(after))
    finally:
        server.stop()
        drop_database(PG_ADMIN_URL, name)
