"""The Chatwoot adapter: handoffs opened in a Chatwoot inbox, agents' replies relayed back.

Out (a `chatwoot` delivery of the outbox), with Chatwoot's Application API
(`api_access_token` header, under `/api/v1/accounts/{account_id}`):

1. the contact: `GET contacts/search?q=<identifier>`, else `POST contacts` with the inbox;
   if the contact has no contact inbox in our inbox, `POST contacts/{id}/contact_inboxes`;
2. the conversation: the contact's conversation tagged with the ticket id
   (`GET contacts/{id}/conversations`), else `POST conversations` with
   `additional_attributes.aftersales_ticket_id`;
3. the context, as a private note: `POST conversations/{id}/messages` with `private: true`.

Each step's result is stored (`chatwoot_links`) as soon as Chatwoot answered, so a retried
delivery repeats no finished step. The shopper's identifier in Chatwoot is a hash of the
Rasa conversation id; the contact shows the masked phone only.

Back (Chatwoot's webhook, `POST /desk/chatwoot/webhook?token=...`): `message_created` with
`message_type: outgoing`, not private, from an agent, is sent to the shopper through the
Rasa server (the ticket is taken for Chatwoot on its first reply; each message is relayed
once, by its id); `conversation_status_changed` to `resolved` resolves the ticket, resumes
the bot and has it ask for a rating.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import requests
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from record_service.desk.agents import ExternalAgent
from record_service.desk.outbox import Delivery, DeliveryFailed
from record_service.desk.workflow import Desk
from record_service.models import (
    BUSINESS_TZ,
    CLAIMABLE_STATUSES,
    ChatwootLink,
    ChatwootRelayedMessage,
)
from record_service.repository import utc_now
from record_service.settings import ChatwootSettings
from record_service.transactions import in_transaction
from service_common.db import transaction
from service_common.http import ApiError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Chatwoot as the holder of the tickets its agents take.
CHATWOOT_DESK = ExternalAgent(id="chatwoot", name="Chatwoot")
TICKET_ATTRIBUTE = "aftersales_ticket_id"
MAX_AGENT_NAME_CHARS = 64
# What the Chatwoot agent reads in the private note (agent-facing, not shopper-facing).
REASON_LABELS = {
    "user_request": "顾客要求人工",
    "beyond_authority": "超出机器人权限",
    "repeated_failure": "机器人多次未能解决",
    "urgent": "紧急事项",
    "overdue_refund": "退款超时",
    "system_error": "系统故障",
    "other": "其他",
}
ROLE_LABELS = {"shopper": "顾客", "bot": "机器人", "agent": "客服"}
MAX_NOTE_TURNS = 30


class ChatwootError(Exception):
    """Chatwoot refused a request or answered something unexpected (no token in the message)."""


class ChatwootApi:
    """The part of Chatwoot's Application API the adapter uses.

    One `requests.Session` with timeouts; the calls block. Nothing is retried here: the
    outbox retries whole deliveries, and every step is looked up before it is repeated.

    Args:
        base_url: Chatwoot's URL (RECORDS_CHATWOOT_URL).
        api_token: The access token (RECORDS_CHATWOOT_API_TOKEN).
        account_id: The account (RECORDS_CHATWOOT_ACCOUNT_ID).
        connect_timeout_s: Seconds to wait for a connection.
        read_timeout_s: Seconds to wait for an answer.
    """

    def __init__(
        self,
        base_url: str,
        api_token: str,
        account_id: int,
        *,
        connect_timeout_s: float = 3.0,
        read_timeout_s: float = 10.0,
    ) -> None:
        self._account_url = f"{base_url.rstrip('/')}/api/v1/accounts/{account_id}"
        self._timeout = (connect_timeout_s, read_timeout_s)
        self._session = requests.Session()
        self._session.headers["api_access_token"] = api_token

    def find_contact(self, identifier: str) -> dict[str, Any] | None:
        """The contact with exactly this identifier, or None."""
        answer = self._call("GET", "/contacts/search", params={"q": identifier})
        contacts = answer.get("payload")
        for contact in contacts if isinstance(contacts, list) else []:
            if isinstance(contact, dict) and contact.get("identifier") == identifier:
                return contact
        return None

    def create_contact(self, inbox_id: int, name: str, identifier: str) -> tuple[int, str | None]:
        """Creates a contact in an inbox; returns its id and its contact inbox's source id."""
        answer = self._call(
            "POST", "/contacts", body={"inbox_id": inbox_id, "name": name, "identifier": identifier}
        )
        payload = _object(answer.get("payload"))
        contact = _object(payload.get("contact"))
        contact_inbox = _object(payload.get("contact_inbox"))
        source_id = contact_inbox.get("source_id")
        return _id(contact.get("id"), "contact"), source_id if isinstance(source_id, str) else None

    def create_contact_inbox(self, contact_id: int, inbox_id: int) -> str:
        """Makes a contact reachable in an inbox; returns the contact inbox's source id."""
        answer = self._call("POST", f"/contacts/{contact_id}/contact_inboxes", body={"inbox_id": inbox_id})
        source_id = answer.get("source_id")
        if not isinstance(source_id, str) or not source_id:
            raise ChatwootError("the contact inbox has no source_id")
        return source_id

    def contact_conversations(self, contact_id: int) -> list[dict[str, Any]]:
        """The contact's conversations."""
        payload = self._call("GET", f"/contacts/{contact_id}/conversations").get("payload")
        return [item for item in payload if isinstance(item, dict)] if isinstance(payload, list) else []

    def create_conversation(
        self, source_id: str, inbox_id: int, contact_id: int, attributes: dict[str, Any]
    ) -> int:
        """Opens a conversation; returns its id (the one Chatwoot's webhooks carry)."""
        answer = self._call(
            "POST",
            "/conversations",
            body={
                "source_id": source_id,
                "inbox_id": inbox_id,
                "contact_id": contact_id,
                "status": "open",
                "additional_attributes": attributes,
            },
        )
        return _id(answer.get("id"), "conversation")

    def create_private_note(self, conversation_id: int, content: str) -> int:
        """Adds a note only agents see; returns the message id."""
        answer = self._call(
            "POST",
            f"/conversations/{conversation_id}/messages",
            body={"content": content, "message_type": "outgoing", "private": True},
        )
        return _id(answer.get("id"), "message")

    def close(self) -> None:
        """Closes the HTTP session."""
        self._session.close()

    def _call(
        self,
        method: str,
        path: str,
        *,
        params: dict[str, str] | None = None,
        body: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        try:
            reply = self._session.request(
                method, f"{self._account_url}{path}", params=params, json=body, timeout=self._timeout
            )
        except requests.RequestException as error:
            raise ChatwootError(f"Chatwoot unreachable on {_route(path)}: {type(error).__name__}") from None
        if not 200 <= reply.status_code < 300:
            raise ChatwootError(f"Chatwoot answered HTTP {reply.status_code} on {method} {_route(path)}")
        try:
            answer = reply.json()
        except ValueError:
            raise ChatwootError(f"Chatwoot's answer on {_route(path)} is not JSON") from None
        if not isinstance(answer, dict):
            raise ChatwootError(f"Chatwoot's answer on {_route(path)} is not an object")
        return answer


def _object(value: object) -> dict[str, Any]:
    """`value` if it is a JSON object, else an empty one (Chatwoot's answers are not trusted)."""
    return value if isinstance(value, dict) else {}


def _route(path: str) -> str:
    """A path with its ids replaced, for messages."""
    return "/".join("{id}" if part.isdigit() else part for part in path.split("/"))


def _id(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ChatwootError(f"Chatwoot's {what} has no id")
    return value


def contact_identifier(conversation_id: str) -> str:
    """The shopper's identifier in Chatwoot: a hash of the Rasa conversation id, not the id itself."""
    return "aftersales:" + hashlib.sha256(conversation_id.encode("utf-8")).hexdigest()[:32]


def private_note(payload: dict[str, Any]) -> str:
    """The note a Chatwoot agent reads first: the ticket and its context, in Chinese."""
    ticket = payload.get("ticket") or {}
    context = payload.get("context") or {}
    due_at = ticket.get("due_at")
    due = (
        datetime.fromisoformat(due_at).astimezone(BUSINESS_TZ).strftime("%Y-%m-%d %H:%M")
        if isinstance(due_at, str)
        else "-"
    )
    lines = [
        f"【转人工工单】{ticket.get('ticket_id', '-')}",
        f"原因：{REASON_LABELS.get(str(ticket.get('reason')), str(ticket.get('reason')))}",
        f"优先级：{ticket.get('priority', '-')}（1 最紧急）",
        f"处理时限：{due}（北京时间）",
        f"渠道：{ticket.get('channel', '-')}",
        f"订单：{ticket.get('order_id') or '未提供'}",
        f"联系方式：{context.get('contact_masked') or '未提供'}",
        f"摘要：{context.get('summary') or '-'}",
    ]
    turns = context.get("transcript") if isinstance(context.get("transcript"), list) else []
    if turns:
        lines.append("对话记录：")
        for turn in turns[-MAX_NOTE_TURNS:]:
            if isinstance(turn, dict) and isinstance(turn.get("text"), str):
                lines.append(f"{ROLE_LABELS.get(str(turn.get('role')), '-')}：{turn['text']}")
    return "\n".join(lines)


class ChatwootSender:
    """Opens a delivered handoff in Chatwoot (the outbox's `chatwoot` target).

    Args:
        api: Chatwoot's API.
        inbox_id: The inbox conversations are opened in.
        sessions: The record database's session factory (for `chatwoot_links`).
    """

    def __init__(self, api: ChatwootApi, inbox_id: int, sessions: sessionmaker) -> None:
        self._api = api
        self._inbox_id = inbox_id
        self._sessions = sessions

    def send(self, delivery: Delivery) -> None:
        """Creates (or finds) the contact and the conversation, then posts the context note.

        Raises:
            DeliveryFailed: A step failed; the finished ones are kept for the next attempt.
        """
        try:
            self._open(delivery)
        except ChatwootError as error:
            raise DeliveryFailed(str(error)) from None

    def close(self) -> None:
        """Closes the API's HTTP session."""
        self._api.close()

    def _open(self, delivery: Delivery) -> None:
        ticket = delivery.payload["ticket"]
        link = self._link(delivery.ticket_id)
        if link.contact_id is None or link.source_id is None:
            contact_id, source_id = self._contact(ticket, delivery.payload.get("context") or {})
            self._save(delivery.ticket_id, contact_id=contact_id, source_id=source_id)
            link.contact_id, link.source_id = contact_id, source_id
        if link.conversation_id is None:
            conversation_id = self._conversation(link.contact_id, link.source_id, delivery.ticket_id)
            self._save(delivery.ticket_id, conversation_id=conversation_id)
            link.conversation_id = conversation_id
        if link.note_message_id is None:
            note_id = self._api.create_private_note(int(link.conversation_id), private_note(delivery.payload))
            self._save(delivery.ticket_id, note_message_id=note_id)

    def _contact(self, ticket: dict[str, Any], context: dict[str, Any]) -> tuple[int, str]:
        identifier = contact_identifier(str(ticket["conversation_id"]))
        contact = self._api.find_contact(identifier)
        if contact is None:
            name = f"顾客 {context.get('contact_masked') or ticket['ticket_id']}"
            contact_id, source_id = self._api.create_contact(self._inbox_id, name, identifier)
        else:
            contact_id, source_id = _id(contact.get("id"), "contact"), _source_in(contact, self._inbox_id)
        if source_id is None:
            source_id = self._api.create_contact_inbox(contact_id, self._inbox_id)
        return contact_id, source_id

    def _conversation(self, contact_id: int, source_id: str, ticket_id: str) -> int:
        for conversation in self._api.contact_conversations(contact_id):
            attributes = conversation.get("additional_attributes")
            if isinstance(attributes, dict) and attributes.get(TICKET_ATTRIBUTE) == ticket_id:
                return _id(conversation.get("id"), "conversation")
        attributes = {TICKET_ATTRIBUTE: ticket_id}
        return self._api.create_conversation(source_id, self._inbox_id, contact_id, attributes)

    def _link(self, ticket_id: str) -> ChatwootLink:
        with transaction(self._sessions) as session:
            link = session.get(ChatwootLink, ticket_id)
            if link is None:
                link = ChatwootLink(ticket_id=ticket_id)
                session.add(link)
            return link

    def _save(self, ticket_id: str, **values: Any) -> None:
        with transaction(self._sessions) as session:
            link = session.get(ChatwootLink, ticket_id)
            assert link is not None  # _link() created it
            for name, value in values.items():
                setattr(link, name, value)


def _source_in(contact: dict[str, Any], inbox_id: int) -> str | None:
    """The source id of the contact's contact inbox in `inbox_id`, if it has one."""
    for contact_inbox in contact.get("contact_inboxes") or []:
        if not isinstance(contact_inbox, dict):
            continue
        inbox = _object(contact_inbox.get("inbox"))
        source_id = contact_inbox.get("source_id")
        if inbox.get("id") == inbox_id and isinstance(source_id, str) and source_id:
            return source_id
    return None


class ChatwootWebhook:
    """Handles the webhook Chatwoot posts to the desk.

    Args:
        settings: The Chatwoot settings (the account and the webhook's token).
        sessions: The record database's session factory.
        desk: The desk's actions.
        clock: Returns the current aware time.
    """

    def __init__(
        self,
        settings: ChatwootSettings,
        sessions: sessionmaker,
        desk: Desk,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._settings = settings
        self._sessions = sessions
        self._desk = desk
        self._clock = clock

    def authentic(self, token: str | None) -> bool:
        """Whether the webhook's `?token=` is the configured one (compared in constant time)."""
        expected = self._settings.webhook_token.encode()
        return hmac.compare_digest((token or "").encode("utf-8", "replace"), expected)

    async def handle(self, event: dict[str, Any]) -> dict[str, Any]:
        """Acts on one webhook event; returns what was done (`result`).

        Raises:
            ApiError: 409 ticket_closed / ticket_taken / not_your_ticket (as 403), 503
                bot_unreachable: the reply did not reach the shopper.
        """
        account = _object(event.get("account"))
        if "id" in account and _int_id(account["id"]) != self._settings.account_id:
            return {"result": "ignored", "why": "another account"}
        kind = event.get("event")
        if kind == "message_created":
            return await self._message(event)
        if kind == "conversation_status_changed" and event.get("status") == "resolved":
            return await self._resolved(event)
        return {"result": "ignored", "why": "not an event the desk acts on"}

    async def _message(self, event: dict[str, Any]) -> dict[str, Any]:
        content, sender, message_id = event.get("content"), event.get("sender"), _int_id(event.get("id"))
        if (
            event.get("message_type") != "outgoing"
            or event.get("private") is True
            or not isinstance(content, str)
            or not content.strip()
            or not isinstance(sender, dict)
            or sender.get("type") not in (None, "user")
            or message_id is None
        ):
            return {"result": "ignored", "why": "not an agent's public message"}
        conversation = event.get("conversation")
        ticket_id = await self._ticket_of(conversation.get("id") if isinstance(conversation, dict) else None)
        if ticket_id is None:
            return {"result": "ignored", "why": "not a handoff conversation"}
        speaker = _chatwoot_agent(sender)
        await self._take_if_waiting(ticket_id, speaker)
        if not await self._db(lambda session: _note_relayed(session, message_id, ticket_id, self._clock())):
            return {"result": "duplicate"}
        try:
            await self._desk.reply(
                ticket_id,
                speaker,
                content.strip(),
                claimant=CHATWOOT_DESK,
                details={"chatwoot_message_id": message_id},
            )
        except ApiError:
            await self._db(lambda session: _forget_relayed(session, message_id))
            raise
        return {"result": "relayed", "ticket_id": ticket_id}

    async def _resolved(self, event: dict[str, Any]) -> dict[str, Any]:
        ticket_id = await self._ticket_of(event.get("id"))
        if ticket_id is None:
            return {"result": "ignored", "why": "not a handoff conversation"}
        status = (await self._desk.ticket(ticket_id)).ticket.status
        if status == "resolved":
            return {"result": "already_resolved", "ticket_id": ticket_id}
        meta = _object(event.get("meta"))
        assignee = meta.get("assignee") if isinstance(meta.get("assignee"), dict) else None
        speaker = CHATWOOT_DESK if assignee is None else _chatwoot_agent(assignee)
        await self._take_if_waiting(ticket_id, speaker)
        _, asked = await self._desk.resolve(ticket_id, speaker, claimant=CHATWOOT_DESK)
        return {"result": "resolved", "ticket_id": ticket_id, "satisfaction_requested": asked}

    async def _take_if_waiting(self, ticket_id: str, speaker: ExternalAgent) -> None:
        if (await self._desk.ticket(ticket_id)).ticket.status in CLAIMABLE_STATUSES:
            await self._desk.claim(ticket_id, speaker, claimant=CHATWOOT_DESK)

    async def _ticket_of(self, raw_conversation_id: object) -> str | None:
        conversation_id = _int_id(raw_conversation_id)
        if conversation_id is None:
            return None
        statement = select(ChatwootLink.ticket_id).where(ChatwootLink.conversation_id == conversation_id)
        return await self._db(lambda session: session.execute(statement).scalar_one_or_none())

    async def _db(self, work: Callable[[Session], T]) -> T:
        return await in_transaction(self._sessions, work)


def _int_id(value: object) -> int | None:
    """A Chatwoot id, which webhooks carry as a number or, in places, as a string of digits."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.isascii() and value.isdigit() and len(value) < 19:
        return int(value)
    return None


def _chatwoot_agent(user: dict[str, Any]) -> ExternalAgent:
    """A Chatwoot agent (a webhook's `sender` or `assignee`) as the audit and the shopper see it."""
    return ExternalAgent(
        id=f"chatwoot:{user.get('id')}",
        name=str(user.get("name") or CHATWOOT_DESK.name)[:MAX_AGENT_NAME_CHARS],
    )


def _note_relayed(session: Session, message_id: int, ticket_id: str, now: datetime) -> bool:
    """Notes a message as relayed; False when it already was (its primary key exists)."""
    try:
        with session.begin_nested():
            session.add(ChatwootRelayedMessage(message_id=message_id, ticket_id=ticket_id, relayed_at=now))
    except IntegrityError:
        return False
    return True


def _forget_relayed(session: Session, message_id: int) -> None:
    row = session.get(ChatwootRelayedMessage, message_id)
    if row is not None:
        session.delete(row)
