"""Console authentication: cookie sessions with a CSRF token, and role checks per action.

- ``vs_session``: an opaque random id (HttpOnly, SameSite=Strict, Secure on https, with an
  ``https://`` public URL or with ``VERIFICATION_COOKIE_SECURE``); the database keeps only its
  SHA-256. Idle timeout 30 min, absolute lifetime 12 h.
- ``vs_csrf``: random, readable by the page's script, which echoes it in ``X-CSRF-Token`` on
  every unsafe request (double submit, also checked against the session's own token).
- Bearer API keys and applicant join tokens are never looked at here: only the cookie counts.

:func:`console_user` is the one dependency every console route uses; the role check goes
through :func:`verification.protect.roles.is_allowed`, the single "may this role do that".
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import Request, Response
from sqlalchemy import delete, select

from signaling.console.errors import (
    CsrfError,
    ForbiddenRoleError,
    InvalidCredentialsError,
    NotAuthenticatedError,
    TooManyAttemptsError,
)
from signaling.console.services import ConsoleServices, services
from verification.protect.roles import Action, Role, is_allowed
from verification.store.schema import ConsoleLoginRow

SESSION_COOKIE = "vs_session"
CSRF_COOKIE = "vs_csrf"
CSRF_HEADER = "x-csrf-token"
IDLE_TIMEOUT_S = 30 * 60.0
ABSOLUTE_TIMEOUT_S = 12 * 3600.0
TOUCH_EVERY_S = 30.0  # last-seen writes at most this often per session
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
COOKIE_PATH = "/console"


@dataclass(frozen=True)
class ConsoleUser:
    username: str
    role: Role


@dataclass(frozen=True)
class LoginResult:
    user: ConsoleUser
    session_token: str
    csrf: str


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def client_key(request: Request) -> str:
    return f"client:{request.client.host if request.client else '?'}"


def login(svc: ConsoleServices, username: str, password: str, client: str) -> LoginResult:
    """Check the password (argon2id), throttle failures, open a session row."""
    user_key = f"user:{(username or '').strip().lower()[:64]}"
    wait = svc.throttle.retry_after((user_key, client))
    if wait is not None:
        raise TooManyAttemptsError("too many failed logins; try again later", wait)
    account = svc.accounts.authenticate(username, password)
    if account is None:
        svc.throttle.failed((user_key, client))
        svc.record(user_key.removeprefix("user:") or "?", "anonymous", "console.login_failed")
        raise InvalidCredentialsError("wrong username or password")
    svc.throttle.succeeded(user_key)
    token, csrf, now = secrets.token_urlsafe(32), secrets.token_urlsafe(32), svc.clock()
    with svc.sessions.begin() as db:
        db.execute(delete(ConsoleLoginRow).where(
            ConsoleLoginRow.username == account.username,
            (ConsoleLoginRow.last_seen_at < now - IDLE_TIMEOUT_S)
            | (ConsoleLoginRow.created_at < now - ABSOLUTE_TIMEOUT_S)))
        db.add(ConsoleLoginRow(id_sha256=_digest(token), username=account.username, csrf=csrf,
                               created_at=now, last_seen_at=now))
    svc.record(account.username, account.role.value, "console.login")
    return LoginResult(ConsoleUser(account.username, account.role), token, csrf)


def logout(svc: ConsoleServices, request: Request) -> None:
    token = request.cookies.get(SESSION_COOKIE)
    if token:
        with svc.sessions.begin() as db:
            db.execute(delete(ConsoleLoginRow).where(ConsoleLoginRow.id_sha256 == _digest(token)))


def set_cookies(response: Response, request: Request, svc: ConsoleServices,
                result: LoginResult) -> None:
    secure = (request.url.scheme == "https" or svc.settings.cookie_secure
              or (svc.settings.public_url or "").lower().startswith("https://"))
    response.set_cookie(SESSION_COOKIE, result.session_token, max_age=int(ABSOLUTE_TIMEOUT_S),
                        path=COOKIE_PATH, secure=secure, httponly=True, samesite="strict")
    response.set_cookie(CSRF_COOKIE, result.csrf, max_age=int(ABSOLUTE_TIMEOUT_S),
                        path=COOKIE_PATH, secure=secure, httponly=False, samesite="strict")


def clear_cookies(response: Response) -> None:
    for name in (SESSION_COOKIE, CSRF_COOKIE):
        response.delete_cookie(name, path=COOKIE_PATH)


@dataclass(frozen=True)
class Authenticated:
    user: ConsoleUser
    csrf: str


def authenticate(request: Request) -> Authenticated:
    """The signed-in user of this request (401 without a valid, unexpired session)."""
    svc = services(request)
    token = request.cookies.get(SESSION_COOKIE)
    if not token or len(token) > 128:
        raise NotAuthenticatedError("sign in to the console first")
    now = svc.clock()
    with svc.sessions.begin() as db:  # commits the expiry below (an exception would not)
        row = db.scalars(select(ConsoleLoginRow)
                         .where(ConsoleLoginRow.id_sha256 == _digest(token))).first()
        if row is None:
            raise NotAuthenticatedError("sign in to the console first")
        expired = (now - row.last_seen_at > IDLE_TIMEOUT_S
                   or now - row.created_at > ABSOLUTE_TIMEOUT_S)
        if expired:
            db.delete(row)
        elif now - row.last_seen_at >= TOUCH_EVERY_S:
            row.last_seen_at = now
        username, csrf = row.username, row.csrf
    if expired:
        raise NotAuthenticatedError("the console session expired; sign in again")
    account = svc.accounts.get(username)
    if account is None or account.disabled:
        raise NotAuthenticatedError("this account is disabled")
    return Authenticated(ConsoleUser(account.username, account.role), csrf)


def check_csrf(request: Request, expected: str) -> None:
    if request.method not in UNSAFE_METHODS:
        return
    header = request.headers.get(CSRF_HEADER, "")
    cookie = request.cookies.get(CSRF_COOKIE, "")
    # bytes: compare_digest refuses str with non-ASCII characters (a crafted header -> 500)
    if not (header and cookie and hmac.compare_digest(header.encode(), cookie.encode())
            and hmac.compare_digest(header.encode(), expected.encode())):
        raise CsrfError("missing or wrong X-CSRF-Token header")


def console_user(action: Action) -> Callable[[Request], ConsoleUser]:
    """Use as ``Depends(console_user(Action.X))``: the signed-in :class:`ConsoleUser`, whose
    role may do ``action``.

    401 ``not_authenticated`` without a valid session; 403 ``csrf`` for an unsafe method
    without the matching token; 403 ``forbidden`` when the role lacks the action.
    """

    def dependency(request: Request) -> ConsoleUser:
        found = authenticate(request)
        check_csrf(request, found.csrf)
        if not is_allowed(found.user.role, action):
            raise ForbiddenRoleError(f"role {found.user.role.value} may not {action.value}")
        return found.user

    dependency.__name__ = f"console_user_{action.name.lower()}"
    return dependency
