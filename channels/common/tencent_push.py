"""What Tencent's message pushes share, as pure functions: WeChat's secure mode and
WeCom's callbacks are signed, timestamped and encrypted the same way.

Signatures (SHA-1 of the sorted Token, timestamp, nonce and `<Encrypt>`), freshness,
safe XML parsing and the EncodingAESKey's shape; nothing here does I/O or keeps state.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree
from wechatpy.utils import WeChatSigner

MAX_CLOCK_SKEW_S = 300
# The most characters of a shopper's text that go into a bot turn.
MAX_TEXT_CHARS = 2000


class MalformedMessage(ValueError):
    """A push body is not the XML Tencent sends, or does not decrypt with our keys."""


# ---- signatures and freshness ------------------------------------------------------------


def signature_of(token: str, timestamp: str, nonce: str, *extra: str) -> str:
    """Tencent's push signature: SHA-1 of the sorted, concatenated values.

    Args:
        token: The account's Token.
        timestamp: The push's `timestamp` query parameter.
        nonce: The push's `nonce` query parameter.
        *extra: The `<Encrypt>` text, for a secure-mode `msg_signature`.
    """
    signer = WeChatSigner()
    signer.add_data(token, timestamp, nonce, *extra)
    return str(signer.signature)


def signature_matches(expected: str, given: str) -> bool:
    """Compares signatures in constant time, so timing reveals no matching prefix."""
    return hmac.compare_digest(expected.encode(), given.encode())


def is_fresh(timestamp: str, now: float, max_skew_s: float = MAX_CLOCK_SKEW_S) -> bool:
    """Whether a push's timestamp (Unix seconds) is within `max_skew_s` of `now`."""
    if not timestamp.isascii() or not timestamp.isdigit() or len(timestamp) > 12:
        return False
    return abs(int(timestamp) - now) <= max_skew_s


# ---- parsing -----------------------------------------------------------------------------


def parse_xml_fields(body: bytes | str) -> dict[str, str]:
    """The top-level fields of a pushed XML document, parsed with DTDs forbidden.

    A DTD is refused as soon as the parser meets it, so entity expansion (billion laughs)
    and external entities never run.

    Raises:
        MalformedMessage: Not well-formed, has a DTD, or the root is not `<xml>`.
    """
    try:
        root = defusedxml.ElementTree.fromstring(body, forbid_dtd=True)
    except (defusedxml.DefusedXmlException, ParseError, ValueError) as error:
        raise MalformedMessage(type(error).__name__) from None
    if root.tag != "xml":
        raise MalformedMessage("the root element is not <xml>")
    return {child.tag: (child.text or "").strip() for child in root}


# ---- keys --------------------------------------------------------------------------------


def is_valid_aes_key(key: str) -> bool:
    """Whether `key` is an EncodingAESKey: 43 base64 characters that decode to 32 bytes."""
    if len(key) != 43:
        return False
    try:
        return len(base64.b64decode(key + "=", validate=True)) == 32
    except (binascii.Error, ValueError):
        return False
