"""Password and secret hashing (argon2id via argon2-cffi: maintained, memory-hard)."""

from __future__ import annotations

import hashlib
import os
import secrets

from argon2 import PasswordHasher, profiles
from argon2.exceptions import InvalidHashError, VerificationError

# The test suite sets LIMS_FAST_PASSWORD_HASHING=1: the cheapest argon2 profile keeps
# hundreds of logins fast. Never set it in production.
_hasher = (
    PasswordHasher.from_parameters(profiles.CHEAPEST)
    if os.environ.get("LIMS_FAST_PASSWORD_HASHING") == "1"
    else PasswordHasher()
)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify(stored: str, password: str) -> bool:
    try:
        return _hasher.verify(stored, password)
    except (VerificationError, InvalidHashError):
        return False


def new_secret(prefix: str = "") -> str:
    return prefix + secrets.token_urlsafe(32)


def digest(secret: str) -> str:
    """Tokens and API keys are long random strings: SHA-256 is enough to store them."""
    return hashlib.sha256(secret.encode()).hexdigest()
