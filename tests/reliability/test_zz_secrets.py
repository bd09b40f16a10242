"""Last: passwords, tokens and API keys used anywhere in this run never appear in the
server logs, the CLI output, any answer (except the one that hands a secret out), the
audit trail, or any row of the database."""

from __future__ import annotations

import json

from sqlalchemy import create_engine, select
from sqlmodel import SQLModel

from tests.conftest import PASSWORD, PEOPLE
from tests.reliability.figures import CAPTURED, SECRETS, add


def database_text(url: str) -> str:
    engine = create_engine(url)
    try:
        with engine.connect() as c:
            return "\n".join(json.dumps([list(map(str, row)) for row in
                                         c.execute(select(table)).all()])
                             for table in SQLModel.metadata.sorted_tables)
    finally:
        engine.dispose()


def test_no_secret_appears_in_anything_captured(servers, rel_db) -> None:
    secrets = {PASSWORD, *(f"{user}-token" for user in PEOPLE), *SECRETS}
    assert len(secrets) > len(PEOPLE) + 3, "the access tests did not run first"
    haystacks = {"captured answers and CLI output": "\n".join(CAPTURED),
                 "server logs": "\n".join(s.logs() for s in servers),
                 "database rows (audit trail included)": database_text(rel_db)}
    assert len(haystacks["server logs"]) > 1000
    leaks = [(where, secret[:6] + "...") for where, text in haystacks.items()
             for secret in secrets if secret in text]
    add("secrets checked", len(secrets))
    add("characters grepped for secrets", sum(len(t) for t in haystacks.values()))
    assert leaks == []
