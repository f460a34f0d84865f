"""WeCom customer service (微信客服) as pure functions: callback signatures and
decryption, the `kf/sync_msg` page and what each of its messages means for the bot,
conversation and message ids, and how answers are cut into `kf/send_msg` texts.

WeCom signs and encrypts every callback like WeChat's secure mode (SHA-1 of the sorted
Token, timestamp, nonce and `<Encrypt>`; AES with the CorpID as receive id), so the
signature, freshness and safe-XML functions are shared with WeChat
(`channels.common.tencent_push`). Nothing here does I/O or keeps state, so all of it is
tested without a server.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from wechatpy.enterprise.crypto import PrpCrypto, WeChatCrypto

from channels.common.tencent_push import MAX_TEXT_CHARS, MalformedMessage

KF_EVENT = "kf_msg_or_event"
GREET_PAYLOAD = "/greet"
# `origin` of a sync_msg item: 3 the WeChat customer, 4 a system event, 5 a servicer.
ORIGIN_CUSTOMER = 3
# kf/send_msg takes at most 2048 bytes of text content.
MAX_SEND_BYTES = 2048
# The msgid we give a sent message: at most 32 characters of [0-9a-zA-Z_-].
MAX_SEND_MSGID_CHARS = 32
MAX_FIELD_CHARS = 128


# ---- callbacks ---------------------------------------------------------------------------


def decrypt_callback(
    crypto: WeChatCrypto, encrypted: str, msg_signature: str, timestamp: str, nonce: str
) -> str:
    """The XML inside a callback's `<Encrypt>`, whose signature the caller has verified.

    Raises:
        MalformedMessage: It does not decrypt with the key, or not for this CorpID.
    """
    try:
        return str(crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce))
    except Exception:
        # A wrong key or CorpID fails in many ways inside wechatpy (padding, length, UTF-8).
        raise MalformedMessage("does not decrypt to a message for this CorpID") from None


def decrypt_echostr(crypto: WeChatCrypto, echostr: str) -> str:
    """The plain text of a URL verification's encrypted `echostr` (signature verified).

    Raises:
        MalformedMessage: It does not decrypt with the key, or not for this CorpID.
    """
    try:
        return str(PrpCrypto(crypto.key).decrypt(echostr, crypto.corp_id))
    except Exception:
        raise MalformedMessage("echostr does not decrypt for this CorpID") from None


@dataclass(frozen=True)
class KfCallback:
    """A `kf_msg_or_event` callback: there is something to pull.

    Attributes:
        open_kfid: The customer-service account with news.
        token: The callback's token for `kf/sync_msg` (valid 10 minutes).
    """

    open_kfid: str
    token: str


def kf_callback(fields: Mapping[str, str]) -> KfCallback | None:
    """The pull a decrypted callback asks for, or None for another event.

    Raises:
        MalformedMessage: A `kf_msg_or_event` without its Token or OpenKfId.
    """
    if fields.get("MsgType") != "event" or fields.get("Event") != KF_EVENT:
        return None
    token, open_kfid = fields.get("Token", ""), fields.get("OpenKfId", "")
    if not token or not open_kfid or len(token) > MAX_FIELD_CHARS or len(open_kfid) > MAX_FIELD_CHARS:
        raise MalformedMessage("kf_msg_or_event without a valid Token or OpenKfId")
    return KfCallback(open_kfid, token)


# ---- kf/sync_msg -------------------------------------------------------------------------


@dataclass(frozen=True)
class SyncPage:
    """One answer of `kf/sync_msg`.

    Attributes:
        next_cursor: Where the next pull goes on from ('' if WeCom gave none).
        has_more: Whether to pull again at once.
        items: The messages and events, oldest first, as WeCom sent them.
    """

    next_cursor: str
    has_more: bool
    items: list[dict[str, Any]]


def parse_sync_page(data: Mapping[str, Any]) -> SyncPage:
    """The page of a successful `kf/sync_msg` answer.

    Raises:
        MalformedMessage: `msg_list`, `next_cursor` or `has_more` is not what WeCom sends.
    """
    items, next_cursor = data.get("msg_list", []), data.get("next_cursor", "")
    has_more = data.get("has_more", 0)
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise MalformedMessage("msg_list is not a list of objects")
    if not isinstance(next_cursor, str) or has_more not in (0, 1):
        raise MalformedMessage("next_cursor or has_more is malformed")
    return SyncPage(next_cursor, bool(has_more), items)


InboundKind = Literal["turn", "answer", "welcome", "ignore"]


@dataclass(frozen=True)
class Inbound:
    """What to do with one `kf/sync_msg` item.

    Attributes:
        kind: `turn` (send `text` to the bot), `answer` (send the channel text named
            `text`, no turn), `welcome` (a turn on `text`, answered with the welcome code)
            or `ignore`.
        msgid: WeCom's id of the item.
        open_kfid: The customer-service account.
        external_userid: The WeChat customer.
        text: The shopper's words, the greeting payload, or a channel text's name.
        details: What the channel learnt from the item, for the turn's metadata.
        welcome_code: The one-time code of an `enter_session` event.
    """

    kind: InboundKind
    msgid: str = ""
    open_kfid: str = ""
    external_userid: str = ""
    text: str = ""
    details: dict[str, str] = field(default_factory=dict)
    welcome_code: str = ""


def interpret(item: Mapping[str, Any]) -> Inbound:
    """Decides what a `kf/sync_msg` item means for the bot.

    Raises:
        MalformedMessage: The item lacks its msgid, account or customer.
    """
    msgtype = _text(item.get("msgtype"))
    if msgtype == "event":
        return _interpret_event(item)
    if item.get("origin") != ORIGIN_CUSTOMER:
        return Inbound("ignore")  # a servicer's or the system's message: not for the bot
    msgid, open_kfid, external_userid = _ids(item)

    def answer(text_name: str) -> Inbound:
        return Inbound("answer", msgid, open_kfid, external_userid, text_name)

    if msgtype == "text":
        body = item.get("text")
        text = _text(body.get("content") if isinstance(body, dict) else None).strip()[:MAX_TEXT_CHARS]
        if not text:
            return answer("utter_channel_empty_text")
        details = {"msg_type": msgtype, "open_kfid": open_kfid}
        return Inbound("turn", msgid, open_kfid, external_userid, text, details)
    if msgtype == "image":
        return answer("utter_channel_wecom_image")
    if msgtype == "voice":
        return answer("utter_channel_wecom_voice")
    return answer("utter_channel_wecom_unsupported")


def _interpret_event(item: Mapping[str, Any]) -> Inbound:
    event = item.get("event")
    if not isinstance(event, dict) or _text(event.get("event_type")) != "enter_session":
        # Recalls, failed sends, servicer and session changes: nothing for the bot to say.
        return Inbound("ignore")
    welcome_code = _text(event.get("welcome_code"))
    if not welcome_code:
        return Inbound("ignore")  # WeCom allows no welcome now (the session is not new)
    msgid, open_kfid, external_userid = _ids({**item, **event})
    details = {"msg_type": "event", "event": "enter_session", "open_kfid": open_kfid}
    return Inbound("welcome", msgid, open_kfid, external_userid, GREET_PAYLOAD, details, welcome_code)


def _ids(item: Mapping[str, Any]) -> tuple[str, str, str]:
    values = tuple(_text(item.get(name)) for name in ("msgid", "open_kfid", "external_userid"))
    if not all(values) or any(len(value) > MAX_FIELD_CHARS for value in values):
        raise MalformedMessage("an item without a valid msgid, open_kfid or external_userid")
    return values[0], values[1], values[2]


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ---- identities --------------------------------------------------------------------------


def conversation_id_for(open_kfid: str, external_userid: str, key: str) -> str:
    """The Rasa conversation id of a WeCom customer of one account: a keyed hash.

    Not the ids themselves: the REST webhook lets anybody name a conversation id, so a
    guessable one would let a stranger continue a shopper's conversation.
    """
    digest = hmac.new(key.encode(), f"{open_kfid}\n{external_userid}".encode(), hashlib.sha256).hexdigest()
    return f"wc-{digest[:32]}"


def message_id_for(msgid: str) -> str:
    """The Rasa message id of a WeCom message: the same however often it is pulled."""
    return f"wecom-{hashlib.sha256(msgid.encode()).hexdigest()[:32]}"


def send_msgid_for(msgid: str, part: int) -> str:
    """The msgid of part `part` of the answer to `msgid`: the same if it is sent again."""
    return hashlib.sha256(f"{msgid}\n{part}".encode()).hexdigest()[:MAX_SEND_MSGID_CHARS]


# ---- answers -----------------------------------------------------------------------------


def send_parts(texts: Sequence[str], max_bytes: int = MAX_SEND_BYTES) -> list[str]:
    """A turn's texts as few `kf/send_msg` texts as fit: joined, then cut at `max_bytes`.

    WeCom lets an account send at most 5 messages per customer message, so one turn's
    texts go out together, cut only where a text is longer than WeCom takes (at line
    breaks where possible, never inside a character).
    """
    joined = "\n\n".join(text.strip() for text in texts if text.strip())
    parts: list[str] = []
    while joined:
        if len(joined.encode()) <= max_bytes:
            parts.append(joined)
            break
        cut = len(joined.encode()[:max_bytes].decode("utf-8", errors="ignore"))
        newline = joined.rfind("\n", 0, cut)
        cut = newline if newline > 0 else cut
        parts.append(joined[:cut].rstrip())
        joined = joined[cut:].lstrip()
    return parts
