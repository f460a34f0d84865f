"""The widget's two tokens, as pure functions: the shopper token the shop signs, and the
session token this channel signs.

- Shopper token: a JWT (HS256) the shop's backend signs with the shared WIDGET_SECRET for
  a logged-in shopper: `sub` (the web account id), `exp` (at most 24 h ahead), `iat`,
  optional `name`. The page passes it to the widget.
- Session token: a JWT this channel issues after every connect; it binds the conversation
  id (`cid`), and for a logged-in shopper the account (`sub`) and the login's expiry. Its
  key is derived from WIDGET_SECRET under a purpose label and it carries its own audience,
  so a shopper token is never a session token, and no shopper can make one for another
  conversation. The browser keeps it and passes it back to resume the conversation.

Times are checked here, against the caller's clock, not inside PyJWT.
"""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import re
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import jwt

ALGORITHM = "HS256"
# Clock skew tolerated between the shop's servers and ours.
LEEWAY_S = 30
MAX_SHOPPER_TOKEN_LIFETIME_S = 24 * 3600
# A session is resumable this long after the latest connect (each connect renews it).
SESSION_TTL_S = 24 * 3600
MAX_TOKEN_CHARS = 4096
MAX_NAME_CHARS = 64
SESSION_AUDIENCE = "aftersales-widget-session"
_SESSION_KEY_LABEL = b"aftersales widget session token v1"
ACCOUNT_ID_PATTERN = re.compile(r"[A-Za-z0-9_.@-]{1,64}")
CONVERSATION_ID_PATTERN = re.compile(r"web-[0-9a-f]{32}")

RefusalCode = Literal["invalid_token", "expired_token"]


class TokenRefused(Exception):
    """A token is forged, malformed or expired.

    Attributes:
        code: `invalid_token` or `expired_token` (the widget protocol's codes).
        login: Whether the refused token stood for a logged-in shopper (to word the answer).
    """

    def __init__(self, code: RefusalCode, reason: str, *, login: bool = False) -> None:
        super().__init__(reason)
        self.code: RefusalCode = code
        self.login = login


@dataclass(frozen=True)
class Shopper:
    """A logged-in shopper, as the shop's token vouches.

    Attributes:
        account_id: The web account id (the order system's account kind `web`).
        display_name: The name to greet with, or None.
        expires_at: When the shop's token expires (Unix seconds): the login ends then.
    """

    account_id: str
    display_name: str | None
    expires_at: int


@dataclass(frozen=True)
class WidgetSession:
    """A conversation and who may continue it.

    Attributes:
        conversation_id: The Rasa conversation (sender) id; chosen by the server only.
        account_id: The logged-in shopper's web account, or None for an anonymous session.
        display_name: The logged-in shopper's name, or None.
        login_expires_at: When the login ends (the shopper token's expiry), or None.
    """

    conversation_id: str
    account_id: str | None = None
    display_name: str | None = None
    login_expires_at: int | None = None

    @property
    def logged_in(self) -> bool:
        return self.account_id is not None

    def login_expired(self, now: float) -> bool:
        """Whether the shopper's login has ended (never, for an anonymous session)."""
        return self.login_expires_at is not None and now >= self.login_expires_at


# ---- shopper tokens (signed by the shop) --------------------------------------------------


def sign_shopper_token(
    secret: str, account_id: str, now: float, ttl_s: int, display_name: str | None = None
) -> str:
    """A shopper token as the shop's backend makes it (the demo page's login, and tests)."""
    claims: dict[str, Any] = {"sub": account_id, "iat": int(now), "exp": int(now) + ttl_s}
    if display_name:
        claims["name"] = display_name
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def verify_shopper_token(token: Any, secret: str, now: float) -> Shopper:
    """The shopper a shop-signed token stands for.

    Raises:
        TokenRefused: `expired_token` for an authentic token past its `exp`; else
            `invalid_token` (wrong signature, `alg: none` or another algorithm, missing or
            malformed claims, valid for longer than 24 h, issued in the future).
    """
    claims = _decode(token, secret.encode(), audience=None, required=["sub", "exp"])
    account_id = claims["sub"]
    if not isinstance(account_id, str) or not ACCOUNT_ID_PATTERN.fullmatch(account_id):
        raise TokenRefused("invalid_token", "shopper token: `sub` is not a web account id")
    name = claims.get("name")
    if name is not None and (not isinstance(name, str) or len(name) > MAX_NAME_CHARS):
        raise TokenRefused("invalid_token", "shopper token: `name` is not a short string")
    expires_at = _check_times(claims, now, login=True)
    if expires_at - now > MAX_SHOPPER_TOKEN_LIFETIME_S + LEEWAY_S:
        raise TokenRefused("invalid_token", "shopper token: valid for longer than 24 h")
    return Shopper(account_id, (name or "").strip() or None, expires_at)


# ---- session tokens (signed by this channel) ----------------------------------------------


def session_key(secret: str) -> bytes:
    """The session tokens' key: WIDGET_SECRET's HMAC of a purpose label, never the secret itself."""
    return hmac.new(secret.encode(), _SESSION_KEY_LABEL, hashlib.sha256).digest()


def new_conversation_id() -> str:
    """A fresh, unguessable conversation id (128 random bits)."""
    return "web-" + secrets.token_hex(16)


def start_session(shopper: Shopper | None) -> WidgetSession:
    """A new conversation, for a logged-in shopper or anonymous."""
    if shopper is None:
        return WidgetSession(new_conversation_id())
    return WidgetSession(new_conversation_id(), shopper.account_id, shopper.display_name, shopper.expires_at)


def issue_session_token(key: bytes, session: WidgetSession, now: float) -> str:
    """The token that resumes `session`: valid for SESSION_TTL_S, never beyond the login."""
    expires_at = int(now) + SESSION_TTL_S
    claims: dict[str, Any] = {"aud": SESSION_AUDIENCE, "cid": session.conversation_id, "iat": int(now)}
    if session.account_id is not None and session.login_expires_at is not None:
        claims.update(sub=session.account_id, login_exp=session.login_expires_at)
        if session.display_name:
            claims["name"] = session.display_name
        expires_at = min(expires_at, session.login_expires_at)
    claims["exp"] = expires_at
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def open_session_token(token: Any, key: bytes, now: float) -> WidgetSession:
    """The session a token this channel issued stands for.

    Raises:
        TokenRefused: `expired_token` for an authentic token past its `exp` (`login` set
            when it was a logged-in session); else `invalid_token`.
    """
    claims = _decode(token, key, audience=SESSION_AUDIENCE, required=["cid", "exp"])
    conversation_id = claims["cid"]
    if not isinstance(conversation_id, str) or not CONVERSATION_ID_PATTERN.fullmatch(conversation_id):
        raise TokenRefused("invalid_token", "session token: malformed `cid`")
    account_id, name = claims.get("sub"), claims.get("name")
    login_expires_at = _timestamp(claims.get("login_exp"))
    if account_id is None:
        _check_times(claims, now, login=False)
        return WidgetSession(conversation_id)
    if not isinstance(account_id, str) or login_expires_at is None or not isinstance(name, (str, type(None))):
        raise TokenRefused("invalid_token", "session token: malformed login claims")
    _check_times(claims, now, login=True)
    return WidgetSession(conversation_id, account_id, name, login_expires_at)


# ---- connecting ---------------------------------------------------------------------------


class ConnectRefused(Exception):
    """A connect's token was refused.

    Attributes:
        token: Which: `shopper_token`, `session_token`, or `auth` (not an object).
        error: Why, with the protocol's code.
    """

    def __init__(self, token: str, error: TokenRefused) -> None:
        super().__init__(f"{token}: {error}")
        self.token = token
        self.error = error


def resolve_session(auth: Any, secret: str, key: bytes, now: float) -> WidgetSession:
    """The conversation a connect's `auth` (`shopper_token`, `session_token`) allows.

    A shopper token logs in; a session token resumes its conversation, but only for the
    same shopper (or, without a shopper token, as it was issued). A session token of
    another shopper, or an anonymous one next to a shopper token, starts a new
    conversation: a shared browser never hands one shopper's conversation to another.
    Empty values count as absent.

    Args:
        auth: The socket.io `auth` object the browser sent (None: none).
        secret: WIDGET_SECRET, the shopper tokens' key.
        key: The session tokens' key (`session_key(secret)`).
        now: Unix seconds.

    Raises:
        ConnectRefused: A token is forged, malformed or expired; a stale session token
            next to a valid shopper token is not refused but replaced.
    """
    if auth is None:
        auth = {}
    if not isinstance(auth, dict):
        raise ConnectRefused("auth", TokenRefused("invalid_token", "auth is not an object"))
    shopper_token, session_token = auth.get("shopper_token"), auth.get("session_token")
    shopper: Shopper | None = None
    if shopper_token not in (None, ""):
        try:
            shopper = verify_shopper_token(shopper_token, secret, now)
        except TokenRefused as error:
            raise ConnectRefused("shopper_token", error) from None
    if session_token in (None, ""):
        return start_session(shopper)
    try:
        resumed = open_session_token(session_token, key, now)
    except TokenRefused as error:
        if shopper is None:
            raise ConnectRefused("session_token", error) from None
        return start_session(shopper)
    if shopper is None:
        return resumed
    if resumed.account_id != shopper.account_id:
        return start_session(shopper)
    # The same shopper: the fresh login's name and expiry.
    return dataclasses.replace(
        resumed, display_name=shopper.display_name, login_expires_at=shopper.expires_at
    )


# ---- shared -------------------------------------------------------------------------------


def _decode(token: Any, key: bytes, audience: str | None, required: list[str]) -> Mapping[str, Any]:
    """The claims of an authentic HS256 token; the times are left to `_check_times`."""
    if not isinstance(token, str) or not 0 < len(token) <= MAX_TOKEN_CHARS:
        raise TokenRefused("invalid_token", "not a token")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[ALGORITHM],
            audience=audience,
            options={"require": required, "verify_exp": False, "verify_iat": False, "verify_nbf": False},
        )
    except jwt.InvalidTokenError as error:
        raise TokenRefused("invalid_token", f"{type(error).__name__}") from None
    if not isinstance(claims, dict):
        raise TokenRefused("invalid_token", "claims are not an object")
    return claims


def _check_times(claims: Mapping[str, Any], now: float, *, login: bool) -> int:
    """Checks `exp`, `iat` and `nbf` against `now`; returns `exp`."""
    expires_at = _timestamp(claims.get("exp"))
    if expires_at is None:
        raise TokenRefused("invalid_token", "`exp` is not a time")
    for name in ("iat", "nbf"):
        value = claims.get(name)
        moment = _timestamp(value)
        if value is not None and (moment is None or moment > now + LEEWAY_S):
            raise TokenRefused("invalid_token", f"`{name}` is in the future or not a time")
    if now >= expires_at + LEEWAY_S:
        raise TokenRefused("expired_token", "expired", login=login)
    return expires_at


def _timestamp(value: Any) -> int | None:
    """A claim's Unix time in whole seconds, or None when it is not one."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 2**40:
        return None
    return int(value)
