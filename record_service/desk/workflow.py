"""What each desk action does: check the ticket, ask the bot, record the change.

The database decides races, the Rasa server is asked next, and a change is kept only once
Rasa accepted it:

- claim: the claim is committed (one of two concurrent claims wins), then the conversation
  is paused; if Rasa cannot be reached the claim is undone and the agent gets 503
  `bot_unreachable`. Should the process die between the two, the ticket stays with the
  agent, who claims it again (a repeated claim by the same agent pauses again);
- reply: the ticket must be the agent's and open; the message goes to Rasa, then the
  audit records it; if Rasa cannot be reached, nothing is recorded (503);
- resolve / hand back: the conversation is resumed first; only then is the ticket
  closed. If Rasa cannot be reached, the ticket stays assigned (503) and the agent tries
  again (resuming twice is harmless). Asking for the satisfaction rating comes after the
  resume; if that one call fails the ticket is still resolved (the bot has the
  conversation again) and the answer says `satisfaction_requested: false`.

Every action that took effect is appended to the audit in the transaction that made it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, TypeVar

from sqlalchemy.orm import sessionmaker

from record_service.desk.agents import Actor
from record_service.desk.bot import BotClient, BotError, BotUnavailableError, conversation_view
from record_service.desk.repository import DeskRepository, DeskTicket
from record_service.repository import iso, utc_now
from record_service.transactions import in_transaction
from service_common.channels import RELAYED_CHANNELS
from service_common.http import ApiError, run_blocking
from service_common.pii import mask_personal_data

logger = logging.getLogger(__name__)

T = TypeVar("T")

# The bot's action that asks the shopper for a 1-5 rating (bot side: the lead's).
SATISFACTION_ACTION = "action_ask_satisfaction"
# Views are recorded once per agent and ticket in this interval: the workspace polls.
VIEW_AUDIT_INTERVAL = timedelta(minutes=10)


class Desk:
    """The desk's actions on handoff tickets.

    Args:
        sessions: The record database's session factory.
        bot: The Rasa server's client; None when RECORDS_BOT_URL is not configured.
        clock: Returns the current aware time.
    """

    def __init__(
        self, sessions: sessionmaker, bot: BotClient | None, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self._sessions = sessions
        self._bot = bot
        self._clock = clock

    async def queue(self, statuses: tuple[str, ...], limit: int) -> list[DeskTicket]:
        """The tickets in `statuses`, most urgent first."""
        return await self._db(lambda repo: repo.queue(statuses, limit))

    async def ticket(self, ticket_id: str) -> DeskTicket:
        """One ticket with its claim (404 handoff_not_found)."""
        return await self._db(lambda repo: repo.ticket(ticket_id))

    async def view(
        self, ticket_id: str, agent: Actor
    ) -> tuple[DeskTicket, dict[str, Any] | None, str | None]:
        """A ticket, and its live conversation from Rasa (recorded as a view).

        Returns:
            The ticket, the conversation (`bot.conversation_view`) or None, and the error
            code when the conversation could not be read (`bot_unreachable`, ...).
        """

        def read(repo: DeskRepository) -> DeskTicket:
            desk_ticket = repo.ticket(ticket_id)
            repo.record_view(ticket_id, agent, VIEW_AUDIT_INTERVAL)
            return desk_ticket

        desk_ticket = await self._db(read)
        try:
            tracker = await self._ask_bot(lambda bot: bot.tracker(desk_ticket.ticket.conversation_id))
        except ApiError as error:
            return desk_ticket, None, error.code
        return desk_ticket, conversation_view(tracker), None

    async def claim(self, ticket_id: str, agent: Actor, claimant: Actor | None = None) -> DeskTicket:
        """Takes a waiting ticket and pauses the bot in its conversation.

        Args:
            ticket_id: The ticket.
            agent: Who acts (recorded in the audit).
            claimant: Who holds the ticket, when not the agent (an external help desk).

        Raises:
            ApiError: 404 handoff_not_found; 409 ticket_taken or ticket_closed; 503
                bot_unreachable (the claim is undone) or 502 bot_rejected.
        """
        holder = claimant or agent

        def take(repo: DeskRepository) -> tuple[bool, str]:
            taken = repo.claim(ticket_id, holder)
            if taken:
                repo.record(ticket_id, agent, "claim", {"claimant": holder.id})
            return taken, str(repo.ticket(ticket_id).ticket.conversation_id)

        taken, conversation_id = await self._db(take)
        try:
            await self._ask_bot(lambda bot: bot.pause(conversation_id))
        except ApiError as error:
            if taken:
                reason = error.code
                await self._db(lambda repo: self._undo_claim(repo, ticket_id, agent, holder, reason))
            raise
        return await self._db(lambda repo: repo.ticket(ticket_id))

    async def reply(
        self,
        ticket_id: str,
        agent: Actor,
        text: str,
        claimant: Actor | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        """Sends an agent's message to the shopper on the shopper's channel.

        Raises:
            ApiError: 404; 409 ticket_closed, ticket_not_assigned or channel_not_relayed;
                403 not_your_ticket;
                503 bot_unreachable or 502 bot_rejected (nothing recorded).
        """
        holder = claimant or agent
        desk_ticket = await self._db(lambda repo: repo.owned(ticket_id, holder))
        if desk_ticket.ticket.channel not in RELAYED_CHANNELS:
            raise ApiError(
                409, "channel_not_relayed",
                "the shopper's channel does not carry an agent's messages: call the shopper back",
            )
        conversation_id = str(desk_ticket.ticket.conversation_id)
        await self._ask_bot(lambda bot: bot.say(conversation_id, text, agent))
        audit = {"chars": len(text), "text": mask_personal_data(text), **(details or {})}
        await self._db(lambda repo: repo.record(ticket_id, agent, "reply", audit))

    async def resolve(
        self, ticket_id: str, agent: Actor, claimant: Actor | None = None
    ) -> tuple[DeskTicket, bool]:
        """Gives the conversation back to the bot, which asks the shopper for a rating.

        Returns:
            The resolved ticket, and whether the rating was asked for.

        Raises:
            ApiError: as `reply`; on 503/502 the ticket stays assigned.
        """
        holder = claimant or agent
        conversation_id = await self._resume(ticket_id, holder)
        try:
            await self._ask_bot(lambda bot: bot.run_action(conversation_id, SATISFACTION_ACTION))
            asked = True
        except ApiError as error:
            logger.warning("desk: ticket %s resolved, but the rating could not be asked for (%s)",
                           ticket_id, error.code)
            asked = False

        def close(repo: DeskRepository) -> DeskTicket:
            repo.close(ticket_id, holder, "resolved")
            repo.record(ticket_id, agent, "resolve", {"satisfaction_requested": asked})
            return repo.ticket(ticket_id)

        return await self._db(close), asked

    async def hand_back(self, ticket_id: str, agent: Actor) -> DeskTicket:
        """Gives the conversation back to the bot without a rating.

        Raises:
            ApiError: as `reply`; on 503/502 the ticket stays assigned.
        """
        await self._resume(ticket_id, agent)

        def close(repo: DeskRepository) -> DeskTicket:
            repo.close(ticket_id, agent, "handed_back")
            repo.record(ticket_id, agent, "hand_back")
            return repo.ticket(ticket_id)

        return await self._db(close)

    async def reveal_contact(self, ticket_id: str, agent: Actor) -> str | None:
        """The full phone number of the agent's ticket (None if it has none); recorded either way.

        Raises:
            ApiError: 404; 409 ticket_not_assigned; 403 not_your_ticket.
        """

        def reveal(repo: DeskRepository) -> str | None:
            phone = repo.contact_phone(ticket_id, agent)
            repo.record(ticket_id, agent, "reveal_contact", {"revealed": phone is not None})
            return phone

        return await self._db(reveal)

    async def audit(self, ticket_id: str) -> list[dict[str, Any]]:
        """The ticket's audit entries, oldest first."""
        entries = await self._db(lambda repo: repo.audit(ticket_id))
        return [
            {"agent_id": e.agent_id, "action": e.action, "at": iso(e.at), "details": e.details}
            for e in entries
        ]

    async def _resume(self, ticket_id: str, holder: Actor) -> str:
        desk_ticket = await self._db(lambda repo: repo.owned(ticket_id, holder))
        conversation_id = str(desk_ticket.ticket.conversation_id)
        await self._ask_bot(lambda bot: bot.resume(conversation_id))
        return conversation_id

    @staticmethod
    def _undo_claim(repo: DeskRepository, ticket_id: str, agent: Actor, holder: Actor, reason: str) -> None:
        repo.undo_claim(ticket_id, holder)
        repo.record(ticket_id, agent, "claim_undone", {"reason": reason})

    async def _db(self, work: Callable[[DeskRepository], T]) -> T:
        return await in_transaction(
            self._sessions, lambda session: work(DeskRepository(session, self._clock))
        )

    async def _ask_bot(self, call: Callable[[BotClient], T]) -> T:
        """Runs a call of the Rasa client in a worker thread, its failures as API errors."""
        bot = self._bot
        if bot is None:
            raise ApiError(503, "bot_not_configured", "the desk has no bot to talk to (RECORDS_BOT_URL)")
        try:
            return await run_blocking(call, bot)
        except BotUnavailableError as error:
            logger.warning("desk: the bot is unreachable: %s", error)
            raise ApiError(
                503, "bot_unreachable", "the bot cannot be reached now; nothing was changed"
            ) from None
        except BotError as error:
            logger.error("desk: the bot refused a request: %s", error)
            raise ApiError(502, "bot_rejected", "the bot refused the request; nothing was changed") from None
