"""WeChat's message-push protocol as pure functions: decryption with key rotation, reply
rendering, and what a push means for the bot.

Signatures, freshness and safe XML parsing are shared with WeCom
(`channels.common.tencent_push`), numbered options with every text-only channel
(`channels.common.numbered_text_output`). Nothing here does I/O or keeps state, so all of
it is tested without a server.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

from wechatpy import events as wechat_events
from wechatpy import messages as wechat_messages
from wechatpy import parse_message
from wechatpy.crypto import WeChatCrypto
from wechatpy.replies import TextReply

from channels.common.speech_transcript import speech_text
from channels.common.tencent_push import MAX_TEXT_CHARS, MalformedMessage
from service_common.channels import WECHAT_CHANNEL

# WeChat's limit on one text message (passive reply or customer-service message), in UTF-8 bytes.
MAX_MESSAGE_BYTES = 2048
GREET_PAYLOAD = "/greet"
# Characters XML 1.0 forbids even inside CDATA.
_XML_INVALID_CHARS = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# ---- what the shopper reads: the channel's own texts, by their name in domain.yml --------
IMAGE_ANSWER = "utter_channel_image_received"
IMAGE_EVIDENCE_ANSWER = "utter_channel_image_evidence"
VOICE_NOT_RECOGNISED_ANSWER = "utter_channel_voice_not_recognised"
UNSUPPORTED_ANSWER = "utter_channel_unsupported_message"
EMPTY_TEXT_ANSWER = "utter_channel_empty_text"
BOT_UNAVAILABLE_ANSWER = "utter_channel_bot_unavailable"
BUTTONS_PROMPT = "utter_channel_pick_by_number"
TEXT_NAMES = (
    IMAGE_ANSWER,
    IMAGE_EVIDENCE_ANSWER,
    VOICE_NOT_RECOGNISED_ANSWER,
    UNSUPPORTED_ANSWER,
    EMPTY_TEXT_ANSWER,
    BOT_UNAVAILABLE_ANSWER,
    BUTTONS_PROMPT,
)


# ---- decryption --------------------------------------------------------------------------


def decrypt_push(
    cryptos: Sequence[WeChatCrypto], encrypted: str, msg_signature: str, timestamp: str, nonce: str
) -> tuple[str, WeChatCrypto]:
    """Decrypts a secure-mode push with the first key that works.

    Args:
        cryptos: One per accepted EncodingAESKey: the current one first, then the previous.
        encrypted: The `<Encrypt>` text.
        msg_signature: The push's verified `msg_signature`.
        timestamp: The push's `timestamp`.
        nonce: The push's `nonce`.

    Returns:
        The decrypted message XML, and the crypto that decrypted it (to encrypt the reply).

    Raises:
        MalformedMessage: No key decrypts it to a message for this account.
    """
    for crypto in cryptos:
        xml = _try_decrypt(crypto, encrypted, msg_signature, timestamp, nonce)
        if xml is not None:
            return xml, crypto
    raise MalformedMessage("does not decrypt with the current or the previous EncodingAESKey")


def _try_decrypt(
    crypto: WeChatCrypto, encrypted: str, msg_signature: str, timestamp: str, nonce: str
) -> str | None:
    try:
        return str(crypto.decrypt_message({"Encrypt": encrypted}, msg_signature, timestamp, nonce))
    except Exception:
        # A wrong key fails in many ways inside wechatpy (padding, length, UTF-8, AppID).
        return None


def parse_wechat_message(xml: str) -> Any:
    """wechatpy's message or event object for a push already checked by `parse_xml_fields`.

    Raises:
        MalformedMessage: wechatpy cannot read it (e.g. a field given twice).
    """
    try:
        return parse_message(xml)
    except Exception as error:  # xmltodict and wechatpy's fields raise whatever they meet
        raise MalformedMessage(type(error).__name__) from None


# ---- replies -----------------------------------------------------------------------------


def cdata_safe(text: str) -> str:
    """`text` made safe inside a CDATA section.

    Characters XML forbids are dropped and `]]>` is split across two sections, because
    wechatpy puts field values into CDATA as they are.
    """
    return _XML_INVALID_CHARS.sub("", text).replace("]]>", "]]]]><![CDATA[>")


def render_text_reply(content: str, to_user: str, from_user: str, create_time: int) -> str:
    """The passive text reply XML (wechatpy's TextReply, every value CDATA-safe).

    Args:
        content: What the shopper reads.
        to_user: The shopper's openid (the push's FromUserName).
        from_user: The account (the push's ToUserName).
        create_time: Unix seconds.
    """
    reply = TextReply(
        content=cdata_safe(content),
        target=cdata_safe(to_user),
        source=cdata_safe(from_user),
        time=int(create_time),
    )
    return str(reply.render())


def encrypt_reply(crypto: WeChatCrypto, xml: str, nonce: str, timestamp: int) -> str:
    """The secure-mode envelope of a reply, encrypted with the key that decrypted the push."""
    return str(crypto.encrypt_message(xml, nonce, str(timestamp)))


def split_into_messages(texts: Sequence[str], max_bytes: int = MAX_MESSAGE_BYTES) -> list[str]:
    """A turn's texts as few WeChat messages as fit, each at most `max_bytes` of UTF-8.

    Texts are joined by a blank line while they fit; a text longer than one message is
    cut between characters.
    """
    messages: list[str] = []
    for text in texts:
        for piece in _pieces(text, max_bytes):
            joined = f"{messages[-1]}\n\n{piece}" if messages else piece
            if messages and len(joined.encode()) <= max_bytes:
                messages[-1] = joined
            else:
                messages.append(piece)
    return messages


def _pieces(text: str, max_bytes: int) -> list[str]:
    pieces, current, size = [], "", 0
    for character in text:
        width = len(character.encode())
        if size + width > max_bytes:
            pieces.append(current)
            current, size = "", 0
        current += character
        size += width
    return [*pieces, current] if current else pieces


# ---- identity of pushes and shoppers -----------------------------------------------------


def dedupe_key(fields: dict[str, str]) -> str:
    """What identifies one push across WeChat's retries.

    A message's MsgId; for an event (which has none), FromUserName + CreateTime, plus the
    event type so that two different events in the same second stay two.
    """
    msg_id = fields.get("MsgId", "")
    if msg_id and msg_id != "0":
        return f"msg:{msg_id}"
    return f"event:{fields.get('FromUserName', '')}:{fields.get('CreateTime', '')}:{fields.get('Event', '')}"


def conversation_id_for(openid: str, key: str) -> str:
    """The Rasa conversation id of a WeChat shopper: a keyed hash of the openid.

    Not the openid itself: the REST webhook lets anybody name a conversation id, so a
    guessable one would let a stranger continue a shopper's verified conversation.
    """
    digest = hmac.new(key.encode(), openid.encode(), hashlib.sha256).hexdigest()
    return f"wx-{digest[:32]}"


def message_id_for(key: str) -> str:
    """The Rasa message id of a push: the same for every retry of it."""
    return f"wechat-{hashlib.sha256(key.encode()).hexdigest()[:32]}"


# ---- what a push means -------------------------------------------------------------------

InboundKind = Literal["turn", "answer", "image", "ignore"]


@dataclass(frozen=True)
class Inbound:
    """What to do with one push.

    Attributes:
        kind: `turn` (send `text` to the bot), `answer` (reply the channel text named
            `text`, without a turn), `image` (keep `attachment` for the shopper's next
            message and say so) or `ignore` (answer `success`, nothing else).
        openid: The sender's openid.
        text: The shopper's words for a turn, or the name of the channel's own answer.
        details: What the channel learnt from the push, for the turn's metadata.
        attachment: The image's metadata, for `image`.
    """

    kind: InboundKind
    openid: str
    text: str = ""
    details: dict[str, str] = field(default_factory=dict)
    attachment: dict[str, str | None] = field(default_factory=dict)


def _utc_iso(moment: Any) -> str:
    """WeChat's CreateTime (Unix seconds, as wechatpy gives it) as ISO 8601 in UTC."""
    if isinstance(moment, datetime):
        return moment.astimezone(timezone.utc).isoformat()
    try:
        return datetime.fromtimestamp(int(moment), timezone.utc).isoformat()
    except (TypeError, ValueError, OverflowError, OSError):
        return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def interpret(message: Any, msg_type: str) -> Inbound:
    """Decides what a wechatpy message or event means for the bot.

    Args:
        message: What `parse_wechat_message` returned.
        msg_type: The push's `MsgType` field as WeChat sent it.
    """
    openid = str(message.source or "")
    details = {"msg_type": msg_type}
    if isinstance(message, wechat_messages.TextMessage):
        text = str(message.content or "").strip()[:MAX_TEXT_CHARS]
        if not text:
            return Inbound("answer", openid, EMPTY_TEXT_ANSWER)
        return Inbound("turn", openid, text, details)
    if isinstance(message, wechat_messages.VoiceMessage):
        # WeChat's recognition punctuates pauses, as the phone line's ASR does.
        recognised = speech_text(str(message.recognition or ""), MAX_TEXT_CHARS)
        if not recognised:
            return Inbound("answer", openid, VOICE_NOT_RECOGNISED_ANSWER)
        return Inbound("turn", openid, recognised, {**details, "media_id": str(message.media_id or "")})
    if isinstance(message, wechat_messages.ImageMessage):
        # The shape the record service keeps as complaint evidence (channel-neutral).
        attachment = {
            "kind": "image",
            "channel": WECHAT_CHANNEL,
            "media_id": str(message.media_id or "") or None,
            "url": str(message.image or "") or None,
            "received_at": _utc_iso(message.time),
        }
        return Inbound("image", openid, attachment=attachment)
    if isinstance(message, (wechat_events.SubscribeEvent, wechat_events.SubscribeScanEvent)):
        return Inbound("turn", openid, GREET_PAYLOAD, {**details, "event": "subscribe"})
    if msg_type.lower() == "event":
        # Unsubscribe, menu views, location reports...: an answer would be noise or lost.
        return Inbound("ignore", openid)
    return Inbound("answer", openid, UNSUPPORTED_ANSWER)
