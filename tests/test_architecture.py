"""Imports go one way: domain <- db <- services <- api / cli. The domain is pure."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

LIMS = Path(__file__).resolve().parents[1] / "lims"
# What each layer may not import (its own layer and those below it are fine).
FORBIDDEN = {
    "domain": ("lims.db", "lims.services", "lims.api", "lims.main", "lims.cli", "fastapi",
               "sqlalchemy", "sqlmodel", "starlette", "httpx", "pydantic_settings"),
    "db": ("lims.services", "lims.api", "lims.main", "lims.cli", "fastapi"),
    "services": ("lims.api", "lims.main", "lims.cli", "fastapi", "starlette"),
}


def _imports(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.add(node.module)
    return names


# Only lims/db speaks SQL: nothing else may import the database toolkits.
SQL_TOOLKITS = ("sqlalchemy", "sqlmodel")


def _is(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_only_the_data_layer_imports_sql_toolkits():
    outside = [m for m in sorted(LIMS.rglob("*.py")) if (LIMS / "db") not in m.parents]
    assert len(outside) > 40  # services, api, domain, labels, cli, demo, reports, main
    bad = [(str(m.relative_to(LIMS)), name) for m in outside for name in _imports(m)
           if _is(name, SQL_TOOLKITS)]
    assert bad == []


# Routers and pages translate HTTP around the services: of the data layer they may name
# the unit of work, the database errors, the table classes (as types) and the clock.
EDGE_MAY_USE = ("lims.db.engine", "lims.db.errors", "lims.db.tables", "lims.db.types")


@pytest.mark.parametrize("layer", ["api", "web"])
def test_routers_and_pages_read_through_services(layer):
    modules = sorted((LIMS / layer).glob("*.py"))
    assert modules, layer
    bad = [(m.name, name) for m in modules for name in _imports(m)
           if _is(name, ("lims.db",)) and name not in EDGE_MAY_USE]
    assert bad == []


@pytest.mark.parametrize("layer", sorted(FORBIDDEN))
def test_layer_imports_only_downwards(layer):
    modules = sorted((LIMS / layer).glob("*.py"))
    assert modules, layer
    bad = [(m.name, name) for m in modules for name in _imports(m) if _is(name, FORBIDDEN[layer])]
    assert bad == []


def test_domain_does_no_io():
    for m in (LIMS / "domain").glob("*.py"):
        imported = _imports(m)
        assert not imported & {"os", "socket", "subprocess", "requests", "time"}, m.name
