"""Users, their sign-in tokens and the API keys of service accounts."""

from __future__ import annotations

from sqlmodel import Session, col, select

from lims.db.tables import ApiKey, AppUser, AuthToken


def user_by_username(session: Session, username: str, *, lock: bool = False) -> AppUser | None:
    q = select(AppUser).where(AppUser.username == username)
    if lock:  # failure counting is read-modify-write: parallel guesses must take turns
        q = q.with_for_update().execution_options(populate_existing=True)
    return session.execute(q).scalar_one_or_none()


def token_with_owner(session: Session, token_hash: str) -> tuple[AppUser, AuthToken] | None:
    q = select(AppUser, AuthToken).join(AuthToken, col(AuthToken.user_id) == AppUser.id).where(
        AuthToken.token_hash == token_hash)
    row = session.execute(q).first()
    return (row[0], row[1]) if row else None


def api_key_by_prefix(session: Session, prefix: str) -> ApiKey | None:
    return session.execute(select(ApiKey).where(ApiKey.prefix == prefix)).scalar_one_or_none()
