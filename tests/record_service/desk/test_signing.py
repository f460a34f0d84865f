"""The outgoing webhook's signature, as a receiver checks it."""

from __future__ import annotations

import hashlib
import hmac

from record_service.desk.signing import sign, verify

SECRET = "a-shared-secret-of-the-shop"
BODY = b'{"event":"handoff.created","ticket":{"ticket_id":"HO24050112345678"}}'
NOW = 1_714_557_600


def test_the_signature_is_an_hmac_of_timestamp_dot_body() -> None:
    expected = hmac.new(SECRET.encode(), f"{NOW}.".encode() + BODY, hashlib.sha256).hexdigest()

    assert sign(SECRET, str(NOW), BODY) == f"sha256={expected}"


def test_a_genuine_recent_request_verifies() -> None:
    signature = sign(SECRET, str(NOW), BODY)

    assert verify(SECRET, str(NOW), BODY, signature, now=NOW + 60)


def test_anything_changed_does_not_verify() -> None:
    signature = sign(SECRET, str(NOW), BODY)

    assert not verify(SECRET, str(NOW), BODY + b" ", signature, now=NOW)
    assert not verify("another-secret-entirely", str(NOW), BODY, signature, now=NOW)
    assert not verify(SECRET, str(NOW + 1), BODY, signature, now=NOW)
    assert not verify(SECRET, str(NOW), BODY, signature.upper(), now=NOW)
    assert not verify(SECRET, str(NOW), BODY, "", now=NOW)


def test_an_old_or_malformed_timestamp_does_not_verify() -> None:
    old = sign(SECRET, str(NOW - 301), BODY)

    assert not verify(SECRET, str(NOW - 301), BODY, old, now=NOW)
    assert not verify(SECRET, "-5", BODY, sign(SECRET, "-5", BODY), now=NOW)
    assert not verify(SECRET, "１２３", BODY, sign(SECRET, "123", BODY), now=123)
