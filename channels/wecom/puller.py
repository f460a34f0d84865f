"""Pulling an account's messages with `kf/sync_msg`: one bot turn per message, its answer
sent with `kf/send_msg`, and where the pull stopped kept durably.

For each message of a page, in order: claim its msgid in the state database (so it never
gets two turns, even after a restart), run the turn, send the answer, mark it finished.
The page's `next_cursor` is saved only after all its messages are finished, so a restart
pulls the page again: finished messages are skipped, and a message whose turn was cut off
is resumed from Rasa's tracker (its turn ran: the answer recorded there is sent) or run
(it did not).

The numbered options last shown to a customer are in the channels' shared state
(`channels.common.shared_state`: memory, or Redis shared by every Rasa process), so that
the digit answering them is understood by whichever process pulls it.

Several processes (Sanic workers, replicas) may pull the same page at once: the message
claims of `channels.wecom.durable_state` tell a finished message from an unfinished one, but take a
claim another live process holds for one left by a stopped process. With Redis, a
message's turn is therefore also leased there (`IN_FLIGHT_NAMESPACE`, `TURN_LEASE_S`):
the process holding the lease handles the message; another process that meets it stops
its pull there without moving the cursor (the first goes on in order, so one customer's
messages are never answered out of order). A process that stops mid-turn leaves its lease
until it expires; the message is resumed by the first pull after that (the next
callback). Without Redis (one process) nothing changes.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

from rasa.core.channels.channel import UserMessage
from rasa.shared.core.events import BotUttered, UserUttered

from channels.common.channel_texts import ChannelTexts
from channels.common.numbered_text_output import NumberedTextOutput, choose_button, render_buttons
from channels.common.shared_state import SharedState
from channels.wecom.api import KfApi, WeComApiError
from channels.wecom.durable_state import ChannelState, Claim
from channels.wecom.protocol import (
    Inbound,
    MalformedMessage,
    conversation_id_for,
    interpret,
    message_id_for,
    send_msgid_for,
    send_parts,
)
from channels.wecom.pulls import PullQueue
from service_common.channels import WECOM_CHANNEL

logger = logging.getLogger(__name__)

CHANNEL_NAME = WECOM_CHANNEL
# Options shown in a turn can be picked by number until this long after.
BUTTONS_TTL_S = 3600.0
BUTTONS_NAMESPACE = "wecom:buttons"
# A message's turn, leased by the process running it (with Redis only).
IN_FLIGHT_NAMESPACE = "wecom:in_flight"
# Longer than a turn (four action calls of 20 s, rasa_server/turn_timeouts.py) and its send.
TURN_LEASE_S = 180.0
# Handled message ids older than the state's TTL are removed at most this often.
EXPIRY_INTERVAL_S = 3600.0
# A pull reads at most this many pages (1000 items each); the next callback goes on.
MAX_PAGES_PER_PULL = 50

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]
TrackerStoreSource = Callable[[], Any]


class WeComOutput(NumberedTextOutput):
    """Collects one WeCom turn's answers as texts; options become numbered lines."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME


class KfPuller:
    """Pulls, answers and remembers the messages of the company's customer-service accounts."""

    def __init__(
        self,
        api: KfApi,
        state: ChannelState,
        texts: ChannelTexts,
        conversation_key: str,
        on_new_message: OnNewMessage,
        tracker_store: TrackerStoreSource,
        clock: Callable[[], float] = time.monotonic,
        shared_state: SharedState | None = None,
    ) -> None:
        """Creates the puller; nothing is pulled until `request` or `catch_up`.

        Args:
            api: WeCom's API.
            state: The cursors and handled message ids.
            texts: The channel's own texts.
            conversation_key: The secret that keys the conversation ids' hash.
            on_new_message: Rasa's handler of a user message (one bot turn).
            tracker_store: Gives Rasa's tracker store (None before the agent is loaded).
            clock: Monotonic seconds, for the expiry of handled ids.
            shared_state: Where the options shown, and with Redis the messages being
                handled, are kept for every Rasa process (default: this process's memory).
        """
        self.api = api
        self.state = state
        self.queue = PullQueue(self.pull)
        self._texts = texts
        self._conversation_key = conversation_key
        self._on_new_message = on_new_message
        self._tracker_store = tracker_store
        self._clock = clock
        # Conversation id -> the payloads of the numbered options shown last.
        shared_state = shared_state or SharedState()
        self._buttons = shared_state.map(BUTTONS_NAMESPACE, BUTTONS_TTL_S)
        self._in_flight = shared_state.map(IN_FLIGHT_NAMESPACE, TURN_LEASE_S) if shared_state.shared else None
        self._expired_at: float | None = None

    def request(self, open_kfid: str, token: str) -> None:
        """Pulls `open_kfid` in the background, after any pull of it that runs."""
        self.queue.request(open_kfid, token)

    async def catch_up(self) -> None:
        """Pulls every account pulled before (at start: what came while we were down)."""
        for open_kfid in await asyncio.to_thread(self.state.streams):
            self.queue.request(open_kfid, "")

    async def close(self) -> None:
        """Stops the pulls and closes the API session and the state database."""
        await self.queue.cancel()
        self.api.close()
        self.state.close()

    async def pull(self, open_kfid: str, token: str) -> None:
        """Reads `open_kfid`'s news page by page and handles each message once.

        Raises:
            WeComApiError: A page could not be read; the cursor stays where it was.
            sqlalchemy.exc.SQLAlchemyError: The state database failed.
        """
        await self._expire_if_due()
        cursor = await asyncio.to_thread(self.state.cursor, open_kfid)
        if cursor is None:  # a new account: known from now on, so that a restart catches up
            await asyncio.to_thread(self.state.save_cursor, open_kfid, "")
            cursor = ""
        for _ in range(MAX_PAGES_PER_PULL):
            page = await self.api.sync_msg(open_kfid, cursor, token)
            for item in page.items:
                if not await self.handle(item):
                    # Another process is on this page: it goes on in order and saves the cursor.
                    logger.info("wecom: another process is handling this page of %s; it goes on", open_kfid)
                    return
            if page.next_cursor and page.next_cursor != cursor:
                # Every message of the page is finished: a restart goes on after it.
                await asyncio.to_thread(self.state.save_cursor, open_kfid, page.next_cursor)
                cursor = page.next_cursor
            elif page.has_more:
                logger.error("wecom: kf/sync_msg has more but gave no new cursor; stopping this pull")
                return
            if not page.has_more:
                return
        logger.warning("wecom: %d pages in one pull; the next callback goes on", MAX_PAGES_PER_PULL)

    async def handle(self, item: Mapping[str, Any]) -> bool:
        """Handles one `kf/sync_msg` item at most once, whatever happened before.

        Returns:
            False when another live process is handling the message (with Redis only).
        """
        try:
            inbound = interpret(item)
        except MalformedMessage as error:
            logger.warning("wecom: a malformed kf/sync_msg item was skipped (%s)", error)
            return True
        if inbound.kind == "ignore":
            return True
        conversation = conversation_id_for(inbound.open_kfid, inbound.external_userid, self._conversation_key)
        message_id = message_id_for(inbound.msgid)
        if self._in_flight is None:
            await self._handle_claimed(inbound, conversation, message_id)
            return True
        if not await self._in_flight.claim(inbound.msgid):
            logger.info("wecom: message %s is being handled by another process", message_id)
            return False
        try:
            await self._handle_claimed(inbound, conversation, message_id)
        finally:
            await self._in_flight.pop(inbound.msgid)
        return True

    async def _handle_claimed(self, inbound: Inbound, conversation: str, message_id: str) -> None:
        """`_handle` once no other live process is on the message."""
        claim = await asyncio.to_thread(self.state.claim, inbound.msgid)
        if claim in (Claim.HANDLED, Claim.TAKEN):
            logger.info("wecom: message %s was handled before; skipped", message_id)
            return
        texts: list[str] | None = None
        if claim is Claim.ABANDONED:
            # Read the tracker before adopting: if it fails, the claim stays abandoned for
            # the next pull instead of being this process's unfinished one.
            texts = await self._answer_in_tracker(conversation, message_id)
            if not await asyncio.to_thread(self.state.adopt, inbound.msgid):
                return
            logger.warning("wecom: message %s was cut off by a restart; %s", message_id,
                           "its turn ran, sending the answer" if texts is not None else "running its turn")
        if texts is None:
            texts = await self._answer(inbound, conversation, message_id)
        await self._deliver(inbound, texts)
        await asyncio.to_thread(self.state.finish, inbound.msgid)

    async def _answer(self, inbound: Inbound, conversation: str, message_id: str) -> list[str]:
        """The message's answer: a channel text, or the texts of its one bot turn; never raises."""
        if inbound.kind == "answer":
            return [self._texts(inbound.text)]
        text = inbound.text
        if inbound.kind == "turn":
            text = choose_button(text, await self._buttons.get(conversation) or []) or text
        output = WeComOutput(self._texts("utter_channel_pick_by_number"))
        message = UserMessage(
            text=text,
            output_channel=output,
            sender_id=conversation,
            input_channel=CHANNEL_NAME,
            message_id=message_id,
            # What bot/actions/conversation.py's trusted_account() reads.
            metadata={
                "account": {"channel": CHANNEL_NAME, "account_id": inbound.external_userid},
                "wecom": dict(inbound.details),
            },
        )
        try:
            await self._on_new_message(message)
        except Exception as error:
            logger.error("wecom: the bot failed on message %s (%s)", message_id, type(error).__name__)
            return [self._texts("utter_channel_bot_unavailable")]
        await self._remember_buttons(conversation, output.button_payloads)
        return output.texts

    async def _answer_in_tracker(self, conversation: str, message_id: str) -> list[str] | None:
        """The answer Rasa recorded for `message_id`, or None if its turn never ran."""
        store = self._tracker_store()
        tracker = await store.retrieve_full_tracker(conversation) if store is not None else None
        if tracker is None:
            return None
        events = list(tracker.events)
        turn = next((index for index, event in enumerate(events)
                     if isinstance(event, UserUttered) and event.message_id == message_id), None)
        if turn is None:
            return None
        texts: list[str] = []
        payloads: list[str] = []
        prompt = self._texts("utter_channel_pick_by_number")
        for event in events[turn + 1:]:
            if isinstance(event, UserUttered):
                break
            if isinstance(event, BotUttered) and event.text:
                text, shown = render_buttons(event.text, event.data.get("buttons") or [], prompt)
                texts.append(text)
                payloads = shown or payloads
        await self._remember_buttons(conversation, payloads)
        return texts

    async def _remember_buttons(self, conversation: str, payloads: list[str]) -> None:
        if payloads:
            await self._buttons.put(conversation, payloads)
        else:
            await self._buttons.pop(conversation)

    async def _deliver(self, inbound: Inbound, texts: list[str]) -> None:
        """Sends the answer; a refusal is logged (the turn is not repeated for it)."""
        parts = send_parts(texts)
        if inbound.kind == "welcome":
            parts = parts[:1]  # a welcome code sends one message
        for number, part in enumerate(parts):
            msgid = send_msgid_for(inbound.msgid, number)
            try:
                if inbound.kind == "welcome":
                    await self.api.send_welcome(inbound.welcome_code, part, msgid)
                else:
                    await self.api.send_text(inbound.external_userid, inbound.open_kfid, part, msgid)
            except WeComApiError as error:
                logger.error("wecom: answer %d of %d to message %s not delivered (%s)", number + 1,
                             len(parts), message_id_for(inbound.msgid), error)
                return

    async def _expire_if_due(self) -> None:
        now = self._clock()
        if self._expired_at is None or now - self._expired_at >= EXPIRY_INTERVAL_S:
            self._expired_at = now
            removed = await asyncio.to_thread(self.state.expire)
            if removed:
                logger.info("wecom: forgot %d handled message ids past their TTL", removed)
