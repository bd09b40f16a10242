"""The figures the suite prints at the end (conftest.pytest_terminal_summary), and
everything captured along the way for the secrets grep (test_zz_secrets.py)."""

from __future__ import annotations

FIGURES: dict[str, float | int] = {}
# Server logs, CLI output, response bodies: grepped for passwords, tokens and API keys.
CAPTURED: list[str] = []
# Passwords, tokens and API keys used in the suite: none may appear in CAPTURED.
SECRETS: list[str] = []


def add(name: str, n: float = 1) -> None:
    FIGURES[name] = FIGURES.get(name, 0) + n


def ensure(*names: str) -> None:
    """Show a figure even when it stayed zero (zero lost writes is the point)."""
    for name in names:
        FIGURES.setdefault(name, 0)
