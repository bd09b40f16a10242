"""Upgrading a database that already holds samples keeps them (SQLite batch migrations
copy tables, which must not trip over foreign keys)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import create_engine, text

from lims.db.migrate import downgrade, upgrade


def test_upgrade_from_0002_with_data_keeps_every_row(tmp_path):
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002")
    now = datetime.now(UTC).replace(tzinfo=None).isoformat(" ")
    engine = create_engine(url)
    with engine.begin() as c:
        c.execute(text("PRAGMA foreign_keys=ON"))
        c.execute(text("INSERT INTO donor (id, code, donor_type, related, eligibility, "
                       "created_at, updated_at, version) VALUES ('d1', 'D-1', 'allogeneic', 0,"
                       " 'eligible', :t, :t, 1)"), {"t": now})
        c.execute(text("INSERT INTO collection (id, din, donor_id, source, site, started_at, "
                       "ended_at, local_timezone, volume_ml, anticoagulant, collector, "
                       "created_by, created_at) VALUES ('c1', 'W123426000001', 'd1', "
                       "'cord_blood', 'x', :t, :t, 'UTC', 90, 'CPD', 'me', 'u', :t)"),
                  {"t": now})
        for i, parent in ((1, None), (2, "s1")):
            c.execute(text(
                "INSERT INTO sample (id, code, collection_id, donor_id, parent_id, source, kind,"
                " product_code, division, state, on_hold, volume_ml, initial_volume_ml, "
                "version, created_at, updated_at) VALUES (:id, :code, 'c1', 'd1', :parent, "
                "'cord_blood', 'cord_blood', 'S1002', :div, 'received', 0, 10, 10, 1, :t, :t)"),
                {"id": f"s{i}", "code": f"W123426000001-S1002-{i}0", "parent": parent,
                 "div": f"{i}0", "t": now})
    engine.dispose()

    upgrade(url)
    engine = create_engine(url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM sample")).scalar() == 2
        assert c.execute(text("SELECT parent_id FROM sample WHERE id='s2'")).scalar() == "s1"
        assert c.execute(text("SELECT recipient_id FROM sample WHERE id='s1'")).scalar() is None
        assert c.execute(text("PRAGMA foreign_key_check")).fetchall() == []
        assert c.execute(text("SELECT version_num FROM alembic_version")).scalar() != "0002"
    engine.dispose()
    downgrade(url, "0002")  # and back, with the data still there
    engine = create_engine(url)
    with engine.connect() as c:
        assert c.execute(text("SELECT count(*) FROM sample")).scalar() == 2
    engine.dispose()
