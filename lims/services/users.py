"""Users, roles, sign-in with lockout, bearer tokens and API keys for service accounts."""

from __future__ import annotations

from datetime import timedelta

from lims.db import dashboard as stations_db
from lims.db import queries, signin
from lims.db import users as stored_users
from lims.db.tables import ApiKey, AppUser, AuthToken
from lims.domain import permissions
from lims.domain.checks import KeyScopes, Roles, checked
from lims.domain.errors import Conflict, Invalid, NotAuthenticated, TooManyAttempts
from lims.domain.workflow import Role
from lims.services import audit, passwords
from lims.services.context import Actor, Context

ROLES = tuple(r.value for r in Role)
KEY_PREFIX = "lims_"


def actor_of(user: AppUser) -> Actor:
    return Actor(id=user.id, name=user.full_name, roles=frozenset(user.roles),
                 username=user.username)


def _user_view(u: AppUser) -> dict:
    return {"username": u.username, "full_name": u.full_name, "roles": sorted(u.roles),
            "active": u.active, "service_account": u.password_hash is None}


@checked
def add_user(ctx: Context, *, username: str, full_name: str, roles: Roles,
             password: str | None) -> AppUser:
    """A person (with a password) or a service account (password None, uses API keys)."""
    permissions.require(ctx.actor.roles, "manage_users")
    bad = sorted(set(roles) - set(ROLES))
    if not roles or bad:
        raise Invalid(f"Roles must be a non-empty subset of {', '.join(ROLES)}.")
    if password is not None and len(password) < 10:
        raise Invalid("A password needs at least 10 characters.")
    if _by_username(ctx, username):
        raise Conflict(f"The user name {username} is taken.")
    user = AppUser(username=username, full_name=full_name, roles=sorted(set(roles)),
                   password_hash=passwords.hash_password(password) if password else None,
                   created_at=ctx.now)
    ctx.session.add(user)
    ctx.session.flush()
    audit.record(ctx, "user_added", "user", user.id, after=_user_view(user))
    return user


@checked
def change_user(ctx: Context, user: AppUser, *, full_name: str | None = None,
                roles: Roles | None = None, active: bool | None = None) -> AppUser:
    """Rename, change roles, deactivate or reactivate: before and after go to the trail."""
    permissions.require(ctx.actor.roles, "manage_users")
    if roles is not None and (not roles or set(roles) - set(ROLES)):
        raise Invalid(f"Roles must be a non-empty subset of {', '.join(ROLES)}.")
    if user.id == ctx.actor.id and (active is False or (roles is not None
                                                         and "admin" not in roles)):
        raise Conflict("You cannot deactivate yourself or take away your own admin role.")
    before = _user_view(user)
    if full_name is not None:
        user.full_name = full_name
    if roles is not None:
        user.roles = sorted(set(roles))
    if active is not None:
        user.active = active
    user.version += 1
    ctx.session.add(user)
    audit.record(ctx, "user_changed", "user", user.id, before=before, after=_user_view(user))
    return user


def _by_username(ctx: Context, username: str, *, lock: bool = False) -> AppUser | None:
    return stored_users.user_by_username(ctx.session, username, lock=lock)


def is_locked(ctx: Context, user: AppUser) -> bool:
    return user.locked_until is not None and user.locked_until > ctx.now


def count_failure(ctx: Context, user: AppUser | None, username: str, action: str) -> None:
    """One more wrong password (sign-in or signature): audited, and enough of them lock
    the account for a while."""
    locked = user is not None and is_locked(ctx, user)
    if user is not None and not locked:
        user.failed_logins += 1
        if user.failed_logins >= ctx.settings.failed_login_limit:
            user.locked_until = ctx.now + timedelta(minutes=ctx.settings.lockout_minutes)
            user.failed_logins = 0
        ctx.session.add(user)
    audit.record(ctx, action, "login", username[:60], reason="locked" if locked else
                 "bad_credentials", after={"username": username[:60], "locked": locked})


def sign_in(ctx: Context, username: str, password: str) -> tuple[AppUser | None, str | None]:
    """Check the password; returns (user, token) or (None, why). A failure is recorded
    (and counts towards the lockout), so the caller commits it before answering 401.
    Too many failures from one client address refuse further tries for a while."""
    _throttle_address(ctx)
    user = _by_username(ctx, username, lock=True)
    locked = user is not None and is_locked(ctx, user)
    ok = (user is not None and user.active and not locked and user.password_hash is not None
          and passwords.verify(user.password_hash, password))
    if not ok:
        count_failure(ctx, user, username, "login_failed")
        return None, "locked" if locked else "bad_credentials"
    assert user is not None
    user.failed_logins, user.locked_until = 0, None
    audit.record(ctx, "login", "login", username[:60], after={"username": username[:60]})
    token = passwords.new_secret()
    ctx.session.add(user)
    ctx.session.add(AuthToken(user_id=user.id, token_hash=passwords.digest(token),
                              created_at=ctx.now,
                              expires_at=ctx.now + timedelta(hours=ctx.settings.token_hours)))
    return user, token


def _throttle_address(ctx: Context) -> None:
    """Per client address, over every user name: stops guessing across many accounts,
    which the per-account lockout alone does not."""
    if not ctx.client_addr:
        return
    window = timedelta(minutes=ctx.settings.lockout_minutes)
    failed = signin.failed_sign_ins_from(ctx.session, ctx.client_addr, ctx.now - window)
    if failed >= ctx.settings.failed_login_limit_per_address:
        raise TooManyAttempts(
            "Too many failed sign-ins from this computer: wait "
            f"{ctx.settings.lockout_minutes} minutes, or ask an administrator.",
            retry_after=int(window.total_seconds()))


def user_for_token(ctx: Context, token: str) -> AppUser:
    row = stored_users.token_with_owner(ctx.session, passwords.digest(token))
    if row is None or row[1].revoked_at or row[1].expires_at <= ctx.now or not row[0].active:
        raise NotAuthenticated("Your sign-in has expired or is not valid: sign in again.")
    return row[0]


@checked
def create_api_key(ctx: Context, user: AppUser, name: str, scopes: KeyScopes) -> tuple[ApiKey, str]:
    """Returns the key row and the secret, which is shown this once and never stored."""
    permissions.require(ctx.actor.roles, "manage_users")
    if user.password_hash is not None:
        raise Invalid("API keys are for service accounts; people sign in with a password.")
    secret = passwords.new_secret(KEY_PREFIX)
    key = ApiKey(user_id=user.id, name=name, prefix=secret[:12], key_hash=passwords.digest(secret),
                 scopes=sorted(set(scopes)), created_at=ctx.now)
    ctx.session.add(key)
    ctx.session.flush()
    audit.record(ctx, "api_key_created", "user", user.id,
                 after={"key_id": key.id, "name": name, "prefix": key.prefix, "scopes": key.scopes})
    return key, secret


def revoke_api_key(ctx: Context, key: ApiKey) -> ApiKey:
    permissions.require(ctx.actor.roles, "manage_users")
    key.revoked_at = ctx.now
    ctx.session.add(key)
    audit.record(ctx, "api_key_revoked", "user", key.user_id,
                 after={"key_id": key.id, "prefix": key.prefix})
    return key


def user_for_api_key(ctx: Context, secret: str) -> tuple[AppUser, ApiKey]:
    key = stored_users.api_key_by_prefix(ctx.session, secret[:12])
    if key is None or key.revoked_at or key.key_hash != passwords.digest(secret):
        raise NotAuthenticated("This API key is not valid or was revoked.")
    user = ctx.session.get(AppUser, key.user_id)
    if user is None or not user.active:
        raise NotAuthenticated("The service account of this API key is disabled.")
    # Last-used time is an operational hint, not an audited change.
    if key.last_used_at is None or ctx.now - key.last_used_at > timedelta(minutes=1):
        key.last_used_at = ctx.now
        ctx.session.add(key)
    return user, key


def sign_out(ctx: Context, token: str) -> None:
    """The session's bearer token stops working at once; the sign-out is audited."""
    stations_db.revoke_token(ctx.session, passwords.digest(token), ctx.now)
    audit.record(ctx, "logout", "login", ctx.actor.username[:60],
                 after={"username": ctx.actor.username[:60]})


def everyone(ctx: Context) -> list[AppUser]:
    """Every account, by user name (the admin's list)."""
    permissions.require(ctx.actor.roles, "manage_users")
    return stations_db.all_users(ctx.session)



def user(ctx: Context, user_id: str) -> AppUser:
    return queries.get(ctx.session, AppUser, user_id)


def api_key(ctx: Context, key_id: str) -> ApiKey:
    return queries.get(ctx.session, ApiKey, key_id)
