"""The build and CI files: docker-compose.yml, Dockerfile, .dockerignore, .ci/run, Makefile.

No database and no Docker engine needed. docker-compose.yml is checked three ways:
`docker-compose config -q` / `docker compose config -q` where either is installed, a
structural check of the parsed file where PyYAML is importable, and a text check of each
service block that needs neither (so the file is never left unchecked).
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import stat
import subprocess
import sys
import threading
from functools import cache
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
COMPOSE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
CI_RUN = ROOT / ".ci" / "run"
MAKEFILE = ROOT / "Makefile"

SERVICES = {"db", "migrate", "api", "sealer", "worker"}
DEFAULT_PASSWORD = "lims"
HEALTH_URL = "http://127.0.0.1:8000/api/v1/healthz"
DB_URL_RE = re.compile(
    r"^postgresql\+psycopg://lims:\$\{POSTGRES_PASSWORD:-(?P<default>[^}]*)\}@db:5432/lims$"
)
SECRET_KEY_RE = re.compile(r"PASSWORD|SECRET|TOKEN|API_KEY", re.IGNORECASE)
HAS_YAML = importlib.util.find_spec("yaml") is not None


def _with_default(var: str) -> str:
    """How a secret must appear: taken from the environment, documented default "lims"."""
    return "${" + var + ":-" + DEFAULT_PASSWORD + "}"


# --------------------------------------------------------------------------- compose


def _compose_cli() -> list[str] | None:
    """The compose command line available here, if any."""
    if shutil.which("docker-compose"):
        return ["docker-compose"]
    if shutil.which("docker"):
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True,
                               timeout=60, check=False)
        if probe.returncode == 0:
            return ["docker", "compose"]
    return None


def test_compose_config_validates() -> None:
    cli = _compose_cli()
    if cli is None:
        pytest.skip("neither docker-compose nor `docker compose` installed here; the "
                    "structural and text checks below still run")
    env = {k: v for k, v in os.environ.items()
           if k not in {"POSTGRES_PASSWORD", "LIMS_FACILITY_ID"}}
    result = subprocess.run([*cli, "-f", str(COMPOSE), "config", "-q"], cwd=ROOT, env=env,
                            capture_output=True, text=True, timeout=120, check=False)
    assert result.returncode == 0, result.stderr or result.stdout


@cache
def _compose() -> dict[str, Any]:
    import yaml

    data = yaml.safe_load(COMPOSE.read_text())
    assert isinstance(data, dict)
    return data


def _env(service: dict[str, Any]) -> dict[str, str]:
    """`environment:` as a mapping (compose allows a mapping or a list of KEY=VALUE)."""
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env)
    return {str(k): str(v) for k, v in env.items()}


def _words(value: str | list[str]) -> list[str]:
    return value.split() if isinstance(value, str) else [str(v) for v in value]


def _healthcheck(service: dict[str, Any]) -> list[str]:
    test = service["healthcheck"]["test"]
    return [test] if isinstance(test, str) else [str(v) for v in test]


needs_yaml = pytest.mark.skipif(not HAS_YAML, reason="PyYAML not installed: the text checks "
                                "(test_compose_text_*) cover docker-compose.yml instead")


@needs_yaml
def test_compose_services_and_no_version_key() -> None:
    data = _compose()
    assert "version" not in data, "compose spec: the top-level `version:` key is obsolete"
    assert set(data["services"]) == SERVICES


@needs_yaml
def test_compose_db() -> None:
    data = _compose()
    db = data["services"]["db"]
    assert db["image"] == "postgres:16"
    env = _env(db)
    assert env["POSTGRES_USER"] == "lims"
    assert env["POSTGRES_DB"] == "lims"
    assert env["POSTGRES_PASSWORD"] == _with_default("POSTGRES_PASSWORD")
    volume_names = {v.split(":", 1)[0] for v in db["volumes"]}
    assert volume_names & set(data.get("volumes") or {}), "db must use a named volume"
    assert any("pg_isready" in part for part in _healthcheck(db))


@needs_yaml
def test_compose_migrate() -> None:
    migrate = _compose()["services"]["migrate"]
    assert migrate["build"] in (".", {"context": "."})
    assert _words(migrate["command"]) == ["lims", "db", "upgrade"]
    assert migrate["depends_on"] == {"db": {"condition": "service_healthy"}}
    # Unquoted `no` is YAML 1.1 for false, which compose rejects: it must be the string.
    assert migrate["restart"] == "no"
    match = DB_URL_RE.match(_env(migrate)["LIMS_DATABASE_URL"])
    assert match and match["default"] == DEFAULT_PASSWORD


@needs_yaml
def test_compose_api() -> None:
    services = _compose()["services"]
    api = services["api"]
    assert api["build"] in (".", {"context": "."})
    assert _words(api["command"]) == ["lims", "serve", "--host", "0.0.0.0", "--port", "8000",
                                      "--workers", "2"]
    assert api["depends_on"] == {"migrate": {"condition": "service_completed_successfully"},
                                 "db": {"condition": "service_healthy"}}
    assert [str(p) for p in api["ports"]] == ["8000:8000"]
    env = _env(api)
    assert env["LIMS_DATABASE_URL"] == _env(services["migrate"])["LIMS_DATABASE_URL"]
    assert env["LIMS_FACILITY_ID"] == "${LIMS_FACILITY_ID:-W1234}"
    check = _healthcheck(api)
    assert check[0] == "CMD" and "curl" not in " ".join(check)
    assert check[1:3] == ["python", "-c"]
    assert "urllib" in check[3] and HEALTH_URL in check[3]


@needs_yaml
def test_compose_worker() -> None:
    """Webhooks are delivered by a worker on the same database, once it is migrated."""
    services = _compose()["services"]
    worker = services["worker"]
    assert worker["build"] in (".", {"context": "."})
    assert _words(worker["command"]) == ["lims", "worker"]
    assert _env(worker)["LIMS_DATABASE_URL"] == _env(services["migrate"])["LIMS_DATABASE_URL"]
    assert worker["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    assert worker["restart"] == "unless-stopped"


@needs_yaml
def test_compose_no_hard_coded_secrets() -> None:
    for name, service in _compose()["services"].items():
        for key, value in _env(service).items():
            for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", value):
                assert password == _with_default("POSTGRES_PASSWORD"), (name, key)
            if SECRET_KEY_RE.search(key):
                assert value == _with_default(key), (name, key)


@needs_yaml
def test_compose_api_healthcheck_runs() -> None:
    """The healthcheck's Python snippet succeeds on a 200 and fails when nothing answers."""
    code = _healthcheck(_compose()["services"]["api"])[3]
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            seen.append(self.path)
            self.send_response(200 if self.path == "/api/v1/healthz" else 404)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b'{"status":"ok"}')

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        local = code.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
        ok = subprocess.run([sys.executable, "-c", local], capture_output=True, timeout=30,
                            check=False)
        assert ok.returncode == 0, ok.stderr
        assert seen == ["/api/v1/healthz"]
    finally:
        server.shutdown()
        server.server_close()
    down = subprocess.run([sys.executable, "-c", code.replace("127.0.0.1:8000",
                                                              f"127.0.0.1:{port}")],
                          capture_output=True, timeout=30, check=False)
    assert down.returncode != 0


def _service_blocks(text: str) -> dict[str, str]:
    """Each service's lines without comments, found by indentation alone (no YAML parser)."""
    lines = text.splitlines()
    start = lines.index("services:")
    blocks: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in lines[start + 1:]:
        if line and not line[0].isspace() and not line.startswith("#"):
            break  # next top-level key
        header = re.match(r"^  ([A-Za-z0-9_.-]+):\s*$", line)
        if header:
            current = blocks.setdefault(header[1], [])
        elif current is not None and not line.lstrip().startswith("#"):
            current.append(line)
    return {name: "\n".join(body) for name, body in blocks.items()}


def test_compose_text_structure() -> None:
    text = COMPOSE.read_text()
    assert not re.search(r"^version:", text, re.MULTILINE)
    blocks = _service_blocks(text)
    assert set(blocks) == SERVICES
    db, migrate, api = blocks["db"], blocks["migrate"], blocks["api"]

    assert re.search(r"^\s+image:\s*postgres:16\s*$", db, re.MULTILINE)
    assert re.search(r"^\s+healthcheck:", db, re.MULTILINE) and "pg_isready" in db
    assert re.search(r"^\s+- pgdata:/var/lib/postgresql/data", db, re.MULTILINE)
    assert re.search(r"^volumes:\n  pgdata:", text, re.MULTILINE)

    assert re.search(r"^\s+build:\s*\.\s*$", migrate, re.MULTILINE)
    assert re.search(r'^\s+restart:\s*"no"\s*$', migrate, re.MULTILINE)
    assert re.search(r"db:\n\s+condition:\s*service_healthy", migrate)

    assert re.search(r"^\s+build:\s*\.\s*$", api, re.MULTILINE)
    assert re.search(r"db:\n\s+condition:\s*service_healthy", api)
    assert re.search(r"migrate:\n\s+condition:\s*service_completed_successfully", api)
    assert re.search(r'^\s+- "8000:8000"\s*$', api, re.MULTILINE)
    assert re.search(r"^\s+healthcheck:", api, re.MULTILINE)
    assert "urllib" in api and HEALTH_URL in api and "curl" not in api
    assert "LIMS_FACILITY_ID: ${LIMS_FACILITY_ID:-W1234}" in api
    for block in (migrate, api):
        url = re.search(r"LIMS_DATABASE_URL:\s*(\S+)", block)
        assert url and DB_URL_RE.match(url[1]), block


def test_compose_text_no_hard_coded_secrets() -> None:
    text = COMPOSE.read_text()
    for password in re.findall(r"://[^:/@\s]+:([^@\s]+)@", text):
        assert password == _with_default("POSTGRES_PASSWORD")
    for key, value in re.findall(r"^\s+-?\s*([A-Z_]+)[:=]\s*(\S.*)$", text, re.MULTILINE):
        if SECRET_KEY_RE.search(key):
            assert value.strip() == _with_default(key), (key, value)


# --------------------------------------------------------------------------- Dockerfile


def _dockerfile() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    out = []
    for line in text.splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            word, _, rest = line.partition(" ")
            out.append((word.upper(), rest.strip()))
    return out


def test_dockerfile() -> None:
    steps = _dockerfile()
    args = {word: [rest for w, rest in steps if w == word] for word in {w for w, _ in steps}}
    assert args["FROM"] == ["python:3.11-slim"]
    assert args["WORKDIR"] == ["/app"]
    users = args.get("USER", [])
    assert users and users[-1] not in {"root", "0"}, "the service must not run as root"
    copied = {src.rstrip("/") for rest in args["COPY"] for src in rest.split()[:-1]}
    assert {"pyproject.toml", "alembic.ini", "migrations", "lims", "labels"} <= copied
    for src in copied:
        assert (ROOT / src).exists(), f"COPY {src}: not in the repository"
    # Editable, so migrate.py's parents[2] (= /app) holds alembic.ini and migrations/.
    assert any("pip install --no-cache-dir -e ." in rest for rest in args["RUN"])
    assert args["EXPOSE"] == ["8000"]
    assert args["CMD"] == ['["lims", "serve", "--host", "0.0.0.0", "--port", "8000"]']


def test_repository_layout_matches_image_layout() -> None:
    """What the Dockerfile keeps together is what the code looks for."""
    migrate_py = ROOT / "lims" / "db" / "migrate.py"
    assert "parents[2]" in migrate_py.read_text()
    root = migrate_py.resolve().parents[2]
    assert (root / "alembic.ini").is_file() and (root / "migrations" / "env.py").is_file()


def test_dockerignore_keeps_what_the_image_needs() -> None:
    patterns = {line.strip().rstrip("/") for line in
                (ROOT / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")}
    assert {".venv", ".git", "var", ".env"} <= patterns
    assert not patterns & {"pyproject.toml", "alembic.ini", "migrations", "lims", "labels"}


# --------------------------------------------------------------------------- .ci/run


def test_ci_run_script() -> None:
    assert CI_RUN.stat().st_mode & stat.S_IXUSR, ".ci/run must be executable"
    text = CI_RUN.read_text()
    assert text.startswith("#!/usr/bin/env bash\n") or text.startswith("#!/bin/bash\n")
    assert re.search(r"^set -euo pipefail$", text, re.MULTILINE)
    export = re.search(r"^export LIMS_REQUIRE_POSTGRES=1$", text, re.MULTILINE)
    test = re.search(r"^make test$", text, re.MULTILINE)
    lint = re.search(r"^make lint$", text, re.MULTILINE)
    assert export and test and lint
    assert export.start() < test.start() < lint.start()
    assert "pg_isready -q -h \"$PG_HOST\" -p \"$PG_PORT\"" in text and "PG_PORT=5432" in text
    assert "pg_ctlcluster --skip-systemctl-redirect" in text
    if shutil.which("bash"):
        syntax = subprocess.run(["bash", "-n", str(CI_RUN)], capture_output=True, text=True,
                                timeout=30, check=False)
        assert syntax.returncode == 0, syntax.stderr


# --------------------------------------------------------------------------- Makefile


def test_makefile_targets_declared() -> None:
    text = MAKEFILE.read_text()
    phony = set(" ".join(re.findall(r"^\.PHONY:(.*)$", text, re.MULTILINE)).split())
    for target in ("run", "test", "lint", "demo", "bench", "clean"):
        assert re.search(rf"^{target}:", text, re.MULTILINE), target
        assert target in phony, target
    assert re.search(r"^PY \?= python3$", text, re.MULTILINE)
    # Recipe lines must start with a tab: `make -n` below fails ("missing separator") if not.


def _make_dry_run(tmp_path: Path, *args: str) -> str:
    """`make -n`: prints the recipes without running them (the Makefile has no `+` lines,
    no $(MAKE) and no $(shell), so nothing executes). A throw-away VENV keeps the output
    independent of this checkout's .venv."""
    make = shutil.which("make")
    if make is None:
        pytest.skip("GNU make not installed; test_makefile_targets_declared still ran")
    # Under `make test` this runs inside make: drop the outer make's flags and overrides.
    env = {k: v for k, v in os.environ.items()
           if k not in {"MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"}}
    result = subprocess.run([make, "-n", "--no-print-directory", "-f", str(MAKEFILE), *args,
                             f"VENV={tmp_path / 'venv'}", f"PY={sys.executable}"],
                            cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "venv").exists()
    return result.stdout


def test_makefile_is_dry_run_safe() -> None:
    text = MAKEFILE.read_text()
    assert "$(shell" not in text and "$(MAKE)" not in text
    assert not re.search(r"^\t@?\+", text, re.MULTILINE)


def test_make_run_dry(tmp_path: Path) -> None:
    out = _make_dry_run(tmp_path, "run")
    venv = tmp_path / "venv"
    lines = out.splitlines()
    assert f"{sys.executable} -m venv {venv} || \\" in lines
    assert any(re.search(r"pip -q .*install -e \.$", line) for line in lines)
    assert f"touch {venv}/.stamp-install" in lines
    assert lines[-2:] == [f"{venv}/bin/lims db upgrade",
                          f"{venv}/bin/lims serve --host 127.0.0.1 --port 8000 --workers 1"]


def test_make_test_dry(tmp_path: Path) -> None:
    out = _make_dry_run(tmp_path, "test", "PYTEST_ARGS=-k smoke -x")
    venv = tmp_path / "venv"
    lines = out.splitlines()
    assert any(re.search(r"pip -q .*install -e '\.\[dev\]'$", line) for line in lines)
    assert f"touch {venv}/.stamp-install-dev" in lines
    assert lines[-1] == f"{venv}/bin/python -m pytest -n 2 -k smoke -x"


def test_make_lint_and_demo_dry(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    assert _make_dry_run(tmp_path, "lint").splitlines()[-2:] == [
        f"{venv}/bin/ruff check lims tests migrations bench", f"{venv}/bin/mypy lims"]
    assert _make_dry_run(tmp_path, "demo").splitlines()[-2:] == [
        f"{venv}/bin/lims db upgrade", f"{venv}/bin/lims demo"]
