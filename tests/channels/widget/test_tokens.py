"""Shopper tokens (signed by the shop) and session tokens (signed by the channel), and
which conversation a connect gets: pure functions, with a fixed clock."""

from __future__ import annotations

import base64
import json
import secrets
from typing import Any

import jwt
import pytest

from channels.widget.tokens import (
    CONVERSATION_ID_PATTERN,
    SESSION_AUDIENCE,
    SESSION_TTL_S,
    ConnectRefused,
    Shopper,
    TokenRefused,
    WidgetSession,
    issue_session_token,
    new_conversation_id,
    open_session_token,
    resolve_session,
    session_key,
    sign_shopper_token,
    start_session,
    verify_shopper_token,
)

SECRET = secrets.token_urlsafe(32)  # generated: no secret-looking literal in the repo
OTHER_SECRET = secrets.token_urlsafe(32)
KEY = session_key(SECRET)
NOW = 1_800_000_000.0


def shop_token(claims: dict[str, Any], secret: str = SECRET, algorithm: str = "HS256") -> str:
    return jwt.encode(claims, secret, algorithm=algorithm)


def unsigned(claims: dict[str, Any]) -> str:
    """A token with `alg: none`, as an attacker would write it."""
    def part(value: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(value).encode()).rstrip(b"=").decode()

    return f"{part({'alg': 'none', 'typ': 'JWT'})}.{part(claims)}."


def refusal(call: Any) -> TokenRefused:
    with pytest.raises(TokenRefused) as raised:
        call()
    return raised.value


# ---- shopper tokens


def test_a_shopper_token_names_the_web_account_and_when_the_login_ends() -> None:
    token = sign_shopper_token(SECRET, "u_zhangwei", NOW, 3600, "张伟")
    assert verify_shopper_token(token, SECRET, NOW + 10) == Shopper("u_zhangwei", "张伟", int(NOW) + 3600)
    assert verify_shopper_token(sign_shopper_token(SECRET, "u_lina", NOW, 60), SECRET, NOW).display_name is None


@pytest.mark.parametrize(
    "token",
    [
        shop_token({"sub": "u_zhangwei", "exp": NOW + 600}, secret=OTHER_SECRET),
        shop_token({"sub": "u_zhangwei", "exp": NOW + 600}, algorithm="HS512"),
        unsigned({"sub": "u_zhangwei", "exp": NOW + 600}),
        shop_token({"sub": "u_zhangwei"}),  # no expiry
        shop_token({"exp": NOW + 600}),  # nobody
        shop_token({"sub": "u zhang<wei>", "exp": NOW + 600}),
        shop_token({"sub": 42, "exp": NOW + 600}),
        shop_token({"sub": "u_zhangwei", "exp": "tomorrow"}),
        shop_token({"sub": "u_zhangwei", "exp": NOW + 25 * 3600}),  # longer than a day
        shop_token({"sub": "u_zhangwei", "exp": NOW + 600, "iat": NOW + 3600}),  # issued in the future
        shop_token({"sub": "u_zhangwei", "exp": NOW + 600, "name": {"first": "伟"}}),
        shop_token({"sub": "u_zhangwei", "exp": NOW + 600, "aud": SESSION_AUDIENCE}),
        "not.a.token",
        "",
        "x" * 5000,
        None,
        {"sub": "u_zhangwei"},
    ],
)
def test_a_forged_or_malformed_shopper_token_is_invalid(token: Any) -> None:
    assert refusal(lambda: verify_shopper_token(token, SECRET, NOW)).code == "invalid_token"


def test_a_tampered_shopper_token_is_invalid() -> None:
    header, _, signature = sign_shopper_token(SECRET, "u_zhangwei", NOW, 600).split(".")
    payload = base64.urlsafe_b64encode(json.dumps({"sub": "u_lina", "exp": NOW + 600}).encode()).rstrip(b"=")
    assert refusal(lambda: verify_shopper_token(f"{header}.{payload.decode()}.{signature}", SECRET, NOW)).code == (
        "invalid_token"
    )


def test_an_expired_shopper_token_is_expired_but_only_when_authentic() -> None:
    token = sign_shopper_token(SECRET, "u_zhangwei", NOW - 7200, 3600)
    error = refusal(lambda: verify_shopper_token(token, SECRET, NOW))
    assert (error.code, error.login) == ("expired_token", True)
    forged = sign_shopper_token(OTHER_SECRET, "u_zhangwei", NOW - 7200, 3600)
    assert refusal(lambda: verify_shopper_token(forged, SECRET, NOW)).code == "invalid_token"


def test_clock_skew_of_a_few_seconds_is_tolerated() -> None:
    token = sign_shopper_token(SECRET, "u_zhangwei", NOW, 60)
    assert verify_shopper_token(token, SECRET, NOW + 75).account_id == "u_zhangwei"
    assert refusal(lambda: verify_shopper_token(token, SECRET, NOW + 95)).code == "expired_token"
    issued_early = shop_token({"sub": "u_zhangwei", "exp": NOW + 600, "iat": NOW + 20})
    assert verify_shopper_token(issued_early, SECRET, NOW).account_id == "u_zhangwei"


# ---- session tokens


def test_the_session_key_is_derived_not_the_secret() -> None:
    assert KEY == session_key(SECRET) and len(KEY) == 32
    assert KEY not in (SECRET.encode(), session_key(OTHER_SECRET))


def test_conversation_ids_are_fresh_and_unguessable() -> None:
    ids = {new_conversation_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(CONVERSATION_ID_PATTERN.fullmatch(i) for i in ids)


def test_an_anonymous_session_token_resumes_its_conversation() -> None:
    session = start_session(None)
    token = issue_session_token(KEY, session, NOW)
    assert open_session_token(token, KEY, NOW + SESSION_TTL_S - 60) == session
    assert not session.logged_in and not session.login_expired(NOW + 10**6)
    error = refusal(lambda: open_session_token(token, KEY, NOW + SESSION_TTL_S + 60))
    assert (error.code, error.login) == ("expired_token", False)


def test_a_logged_in_session_token_never_outlives_the_login() -> None:
    shopper = Shopper("u_zhangwei", "张伟", int(NOW) + 600)
    session = start_session(shopper)
    assert (session.account_id, session.display_name, session.login_expires_at) == ("u_zhangwei", "张伟", NOW + 600)
    token = issue_session_token(KEY, session, NOW)
    claims = jwt.decode(token, KEY, algorithms=["HS256"], audience=SESSION_AUDIENCE,
                        options={"verify_exp": False, "verify_iat": False})
    assert claims["exp"] == NOW + 600
    assert open_session_token(token, KEY, NOW + 300) == session
    error = refusal(lambda: open_session_token(token, KEY, NOW + 700))
    assert (error.code, error.login) == ("expired_token", True)
    assert session.login_expired(NOW + 600) and not session.login_expired(NOW + 599)


@pytest.mark.parametrize(
    "token",
    [
        # Signed with the shop's secret itself: whoever can sign shopper tokens still cannot
        # pass one off as a session token.
        shop_token({"aud": SESSION_AUDIENCE, "cid": "web-" + "0" * 32, "exp": NOW + 600}),
        sign_shopper_token(SECRET, "u_zhangwei", NOW, 600),
        jwt.encode({"cid": "web-" + "0" * 32, "exp": NOW + 600}, KEY, algorithm="HS256"),  # no audience
        jwt.encode({"aud": SESSION_AUDIENCE, "cid": "web-" + "0" * 32, "exp": NOW + 600}, session_key(OTHER_SECRET),
                   algorithm="HS256"),
        jwt.encode({"aud": SESSION_AUDIENCE, "cid": "../../tracker", "exp": NOW + 600}, KEY, algorithm="HS256"),
        jwt.encode({"aud": SESSION_AUDIENCE, "cid": "web-" + "0" * 32, "exp": NOW + 600, "sub": "u_lina"}, KEY,
                   algorithm="HS256"),  # a login without its expiry
        unsigned({"aud": SESSION_AUDIENCE, "cid": "web-" + "0" * 32, "exp": NOW + 600}),
        42,
    ],
)
def test_anything_but_a_session_token_of_this_channel_is_invalid(token: Any) -> None:
    assert refusal(lambda: open_session_token(token, KEY, NOW)).code == "invalid_token"


def test_a_session_token_is_no_shopper_token() -> None:
    token = issue_session_token(KEY, start_session(Shopper("u_zhangwei", None, int(NOW) + 600)), NOW)
    assert refusal(lambda: verify_shopper_token(token, SECRET, NOW)).code == "invalid_token"


# ---- which conversation a connect gets


def connect_refusal(auth: Any) -> ConnectRefused:
    with pytest.raises(ConnectRefused) as raised:
        resolve_session(auth, SECRET, KEY, NOW)
    return raised.value


def test_nothing_starts_an_anonymous_conversation() -> None:
    for auth in (None, {}, {"shopper_token": "", "session_token": None}):
        session = resolve_session(auth, SECRET, KEY, NOW)
        assert session.account_id is None and CONVERSATION_ID_PATTERN.fullmatch(session.conversation_id)


def test_a_browser_chosen_conversation_id_is_ignored() -> None:
    known = start_session(None).conversation_id
    session = resolve_session({"session_id": known, "conversation_id": known}, SECRET, KEY, NOW)
    assert session.conversation_id != known


def test_a_shopper_token_logs_in_to_a_new_conversation() -> None:
    token = sign_shopper_token(SECRET, "u_zhangwei", NOW, 600, "张伟")
    session = resolve_session({"shopper_token": token}, SECRET, KEY, NOW)
    assert (session.account_id, session.display_name, session.login_expires_at) == ("u_zhangwei", "张伟", NOW + 600)


def test_a_session_token_resumes_for_the_same_shopper_only() -> None:
    zhangwei = sign_shopper_token(SECRET, "u_zhangwei", NOW, 600)
    first = resolve_session({"shopper_token": zhangwei}, SECRET, KEY, NOW)
    resume = issue_session_token(KEY, first, NOW)
    later_login = sign_shopper_token(SECRET, "u_zhangwei", NOW + 300, 900, "张伟")
    resumed = resolve_session({"shopper_token": later_login, "session_token": resume}, SECRET, KEY, NOW + 300)
    assert resumed == WidgetSession(first.conversation_id, "u_zhangwei", "张伟", int(NOW) + 1200)
    assert resolve_session({"session_token": resume}, SECRET, KEY, NOW + 300) == first
    lina = sign_shopper_token(SECRET, "u_lina", NOW, 600)
    other = resolve_session({"shopper_token": lina, "session_token": resume}, SECRET, KEY, NOW)
    assert other.account_id == "u_lina" and other.conversation_id != first.conversation_id


def test_an_anonymous_conversation_is_not_carried_into_a_login() -> None:
    anonymous = issue_session_token(KEY, start_session(None), NOW)
    token = sign_shopper_token(SECRET, "u_zhangwei", NOW, 600)
    session = resolve_session({"shopper_token": token, "session_token": anonymous}, SECRET, KEY, NOW)
    assert session.account_id == "u_zhangwei"
    assert session.conversation_id != open_session_token(anonymous, KEY, NOW).conversation_id


def test_a_stale_session_token_gives_way_to_a_valid_login() -> None:
    token = sign_shopper_token(SECRET, "u_zhangwei", NOW, 600)
    for stale in ("forged", issue_session_token(KEY, start_session(None), NOW - 2 * SESSION_TTL_S)):
        session = resolve_session({"shopper_token": token, "session_token": stale}, SECRET, KEY, NOW)
        assert session.account_id == "u_zhangwei"


def test_refused_connects_name_the_token_and_the_reason() -> None:
    expired_login = sign_shopper_token(SECRET, "u_zhangwei", NOW - 7200, 3600)
    expired_session = issue_session_token(KEY, start_session(None), NOW - 2 * SESSION_TTL_S)
    cases = [
        ("not an object", "auth", "invalid_token"),
        ({"shopper_token": "forged"}, "shopper_token", "invalid_token"),
        ({"shopper_token": expired_login}, "shopper_token", "expired_token"),
        ({"shopper_token": expired_login, "session_token": issue_session_token(KEY, start_session(None), NOW)},
         "shopper_token", "expired_token"),
        ({"session_token": "forged"}, "session_token", "invalid_token"),
        ({"session_token": expired_session}, "session_token", "expired_token"),
    ]
    for auth, token, code in cases:
        refused = connect_refusal(auth)
        assert (refused.token, refused.error.code) == (token, code), auth
