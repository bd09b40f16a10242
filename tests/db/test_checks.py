"""String enums are enforced by the database too: a direct write of a word the service
would never write is refused, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from tests.api.helpers import primary


@pytest.mark.parametrize(("table", "column", "word"), [
    ("sample", "state", "lost_in_the_freezer"),
    ("sample", "kind", "unicorn_cells"),
    ("sample", "source", "placenta"),
    ("donor", "eligibility", "probably"),
    ("donor", "donor_type", "cousin"),
    ("collection", "source", "placenta"),
])
def test_unknown_words_are_refused_by_the_database(api, engine, table, column, word):
    primary(api)
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(text(f"UPDATE {table} SET {column} = :w"), {"w": word})
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table} WHERE {column} = :w"),
                            {"w": word}).scalar() == 0
