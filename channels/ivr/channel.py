"""The Rasa input and output channel of the phone line (IVR).

Routes, under `/webhooks/ivr/`: `GET /` (health) and `POST /turn` (one turn of a call;
the JSON both ways is in `channels/ivr/README.md`). The protocol is in `protocol.py`,
what a turn means in `inbound.py`, the speakable answer in `render.py`, the per-call
memory in `calls.py` (in the channels' shared state: any Rasa process can answer any turn).

How the channel knows the bot handed the call over: the message announcing a handoff
carries the ticket in its channel metadata (`service_common/channel_metadata.py`):
number, status (`queued`: transfer; `callback_scheduled`: hang up, a person calls back),
priority, reason, order and the agent's summary. `bot/actions/handoff.py` says it only
after the ticket is queued for the record service, so the turn itself tells, with no
read of the record service or of the tracker store, and no race. The goodbye is a domain
response said by a rule (no action to add metadata), so it is known by its name,
`utter_goodbye` (Rasa's `utter_action`).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels.common.channel_texts import ChannelTexts
from channels.common.request_body import read_limited_body
from channels.common.shared_state import SharedState
from channels.ivr.calls import AnsweredTurn, Call, CallBook
from channels.ivr.inbound import (
    CONFIRM_RESPONSES,
    KEYS_INVALID_RESPONSE,
    NO_INPUT_RESPONSE,
    SAY_AGAIN_RESPONSE,
    Inbound,
    interpret,
)
from channels.ivr.protocol import (
    MAX_BODY_BYTES,
    CallAction,
    MalformedTurn,
    Turn,
    conversation_id_for,
    error_json,
    is_fresh,
    message_id_for,
    parse_turn,
    reply_json,
    token_matches,
)
from channels.ivr.render import OPTION_RESPONSE, OPTIONS_RESPONSE, BotMessage, speakable, turn_speech
from channels.ivr.settings import IvrConfigError, IvrSettings
from service_common.channel_metadata import HandoffNotice
from service_common.channels import IVR_CHANNEL

logger = logging.getLogger(__name__)

CHANNEL_NAME = IVR_CHANNEL
# The order system's account kind for a phone number (every customer's phone is one).
PHONE_ACCOUNT = "phone"
GOODBYE_RESPONSE = "utter_goodbye"
BOT_UNAVAILABLE_RESPONSE = "utter_channel_ivr_bot_unavailable"
NOTHING_SAID_RESPONSE = "utter_channel_ivr_nothing_said"
SYSTEM_ERROR_REASON = "system_error"
CHANNEL_TEXTS = (
    *CONFIRM_RESPONSES.values(),
    SAY_AGAIN_RESPONSE,
    NO_INPUT_RESPONSE,
    KEYS_INVALID_RESPONSE,
    OPTIONS_RESPONSE,
    OPTION_RESPONSE,
    BOT_UNAVAILABLE_RESPONSE,
    NOTHING_SAID_RESPONSE,
)

OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class IvrOutput(OutputChannel):
    """Collects one turn's bot messages, with their response names and channel metadata."""

    def __init__(self) -> None:
        self.messages: list[BotMessage] = []

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    async def send_response(self, recipient_id: str, message: dict[str, Any]) -> None:
        self.messages.append(BotMessage.from_rasa(message))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        self.messages.append(BotMessage.from_rasa({**kwargs, "text": text}))


def handoff_in(messages: Sequence[BotMessage]) -> HandoffNotice | None:
    """The handoff ticket a bot's turn announced (in a message's channel metadata), if any."""
    return next(
        (message.channel_metadata.handoff for message in messages if message.channel_metadata.handoff),
        None,
    )


def call_action(messages: Sequence[BotMessage]) -> tuple[CallAction, str | None, bool]:
    """What happens to the call after the bot's turn.

    Returns:
        The action (`transfer` for a queued handoff, `hangup` for a scheduled callback or
        a goodbye, else `continue`), the handoff ticket's number if any, and whether the
        handoff is a scheduled callback.
    """
    handoff = handoff_in(messages)
    if handoff is not None and handoff.status == "queued":
        return "transfer", handoff.ticket_id, False
    if handoff is not None:
        return "hangup", handoff.ticket_id, True
    if any(message.response == GOODBYE_RESPONSE for message in messages):
        return "hangup", None, False
    return "continue", None, False


def transfer_json(queue: str, handoff: HandoffNotice | None) -> dict[str, Any]:
    """The `transfer` object: where to, and what the agent needs (from the ticket)."""
    return {
        "queue": queue,
        "ticket_id": handoff.ticket_id if handoff else None,
        "priority": handoff.priority if handoff else None,
        "reason": handoff.reason if handoff else None,
        "order_id": handoff.order_id if handoff else None,
        "summary": handoff.summary if handoff else None,
    }


def callback_json(handoff: HandoffNotice) -> dict[str, Any]:
    """The `callback` object: the ticket a person calls back on, and when."""
    return {
        "ticket_id": handoff.ticket_id,
        "callback_at": handoff.callback_at,
        "priority": handoff.priority,
        "reason": handoff.reason,
    }


class IvrInput(InputChannel):
    """The phone line: `channels.ivr.IvrInput` in credentials.yml."""

    @classmethod
    def name(cls) -> str:
        return CHANNEL_NAME

    @classmethod
    def from_credentials(cls, credentials: dict[str, Any] | None) -> InputChannel:
        """The channel from its section of credentials.yml, and the shared state from the
        environment (`CHANNEL_STATE_REDIS_URL`, `CHANNEL_STATE_KEY_PREFIX`).

        Raises:
            RasaException: The section is missing.
            IvrConfigError: A setting is missing or malformed; the message names it.
            ChannelTextsError: A channel text is missing from domain.yml.
        """
        if not credentials:
            return cls.raise_missing_credentials_exception()
        settings = IvrSettings.from_credentials(credentials)
        try:
            shared_state = SharedState.from_env()
        except ValueError as error:
            raise IvrConfigError(f"IVR channel: {error}") from None
        return cls(settings, shared_state=shared_state)

    def __init__(
        self,
        settings: IvrSettings,
        texts: ChannelTexts | None = None,
        clock: Callable[[], float] = time.time,
        shared_state: SharedState | None = None,
    ) -> None:
        """Creates the channel.

        Args:
            settings: The validated settings.
            texts: The channel's own texts (default: read from domain.yml now).
            clock: Unix seconds, for the freshness of turns.
            shared_state: Where the calls' memory is kept for every Rasa process
                (default: this process's memory, right for one process).
        """
        self.settings = settings
        self.texts = texts or ChannelTexts.load(CHANNEL_TEXTS)
        self._clock = clock
        self.shared_state = shared_state if shared_state is not None else SharedState()
        self.calls = CallBook(self.shared_state)

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        """The routes: `GET /` (health) and `POST /turn`."""
        bp = Blueprint(f"ivr_webhook_{id(self)}", __name__)

        async def health(request: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        async def receive(request: Request) -> HTTPResponse:
            authorised = token_matches(self.settings.token, request.headers.get("authorization"))
            if authorised is None:
                return response.json(
                    error_json("unauthorized", "an `Authorization: Bearer <IVR_TOKEN>` header is required"),
                    status=401,
                    headers={"WWW-Authenticate": 'Bearer realm="ivr"'},
                )
            if not authorised:
                logger.info("ivr: turn refused: wrong token")
                return response.json(error_json("forbidden", "wrong token"), status=403)
            body = await read_limited_body(request, MAX_BODY_BYTES)
            if body is None:
                return response.json(
                    error_json("too_large", f"the body is larger than {MAX_BODY_BYTES} bytes"), status=413
                )
            try:
                turn = parse_turn(body)
            except MalformedTurn as error:
                logger.info("ivr: malformed turn refused (%s)", error.field)
                return response.json(error_json("malformed", error.problem, error.field), status=400)
            if not is_fresh(turn.timestamp, self._clock(), self.settings.max_clock_skew_s):
                logger.info("ivr: expired turn %d of call %s refused", turn.turn_id, turn.call_id)
                return response.json(
                    error_json("expired", "the turn's timestamp is too far from now", "timestamp"), status=403
                )
            status, reply = await self.reply_to(turn, on_new_message)
            return response.json(reply, status=status)

        bp.add_route(health, "/", methods=["GET"])
        bp.add_route(receive, "/turn", methods=["POST"], stream=True)

        @bp.listener("after_server_stop")
        async def close_clients(*_: Any) -> None:
            if self.shared_state.shared:
                await self.shared_state.client().close()

        return bp

    # -- one answer per turn

    async def reply_to(self, turn: Turn, on_new_message: OnNewMessage) -> tuple[int, dict[str, Any]]:
        """Answers a valid, authenticated turn once; a retry of it gets the same answer.

        Returns:
            The HTTP status (200, or 409 for a turn that conflicts with the call) and body.
        """
        # Shielded: a platform that hangs up on the request does not cancel the turn.
        return await asyncio.shield(asyncio.ensure_future(self._answer(turn, on_new_message)))

    async def _answer(self, turn: Turn, on_new_message: OnNewMessage) -> tuple[int, dict[str, Any]]:
        """`reply_to` under the call's lock: a retry waits for its turn's answer, a later
        turn for the turns before it, on whichever process they run."""
        async with self.calls.locked(turn.call_id):
            call = await self.calls.get(turn.call_id) or await self.calls.start(turn.call_id, turn.caller)
            if call.caller != turn.caller:
                return _conflict("caller_changed", "the caller's number differs from the call's first turn")
            fingerprint = turn.fingerprint()
            answered = call.turns.get(turn.turn_id)
            if answered is not None:
                if answered.fingerprint != fingerprint:
                    return _conflict("turn_conflict", "this turn id was already sent with other content")
                logger.info("ivr: a repeated turn %d of call %s joined its answer",
                            turn.turn_id, turn.call_id)
                return 200, answered.answer
            if turn.turn_id <= call.last_turn_id:
                return _conflict("out_of_order", "a later turn of this call was already answered")
            if call.ended:
                return _conflict("call_ended", "the call is over")
            answer = await self._turn(turn, call, on_new_message)
            call.remember(turn.turn_id, AnsweredTurn(fingerprint, answer))
            await self.calls.touch(turn.call_id, call)
            return 200, answer

    async def _turn(self, turn: Turn, call: Call, on_new_message: OnNewMessage) -> dict[str, Any]:
        """Runs one turn (the call's lock held): the channel's own answer, or one bot turn;
        never raises."""
        try:
            inbound = interpret(turn, call.pending, call.options, self.settings.confidence_threshold)
            if inbound.kind == "end":
                call.ended, call.pending = True, None
                return reply_json(turn, "", "hangup")
            if inbound.kind == "repeat":
                return reply_json(turn, call.last_speech or self._say(NO_INPUT_RESPONSE), "continue")
            call.pending = inbound.pending
            if inbound.kind == "answer":
                call.last_speech = self._say(inbound.response, **inbound.values)
                return reply_json(turn, call.last_speech, "continue")
            return await self._bot_turn(turn, call, inbound, on_new_message)
        except Exception:
            logger.exception("ivr: turn %d of call %s failed", turn.turn_id, turn.call_id)
            return self._unavailable(turn, call)

    async def _bot_turn(
        self, turn: Turn, call: Call, inbound: Inbound, on_new_message: OnNewMessage
    ) -> dict[str, Any]:
        """Sends the caller's words to the bot; the bot's messages become the answer."""
        output = IvrOutput()
        details: dict[str, Any] = {"call_id": turn.call_id, "turn_id": turn.turn_id, "input": inbound.source}
        if inbound.confidence is not None:
            details["confidence"] = inbound.confidence
        metadata: dict[str, Any] = {"ivr": details}
        if call.caller is not None:
            # What bot/actions/conversation.py's trusted_account() reads: the network's caller id.
            metadata["account"] = {"channel": PHONE_ACCOUNT, "account_id": call.caller}
        message = UserMessage(
            text=inbound.text,
            output_channel=output,
            sender_id=conversation_id_for(turn.call_id, self.settings.token),
            input_channel=CHANNEL_NAME,
            message_id=message_id_for(turn.call_id, turn.turn_id),
            metadata=metadata,
        )
        try:
            await on_new_message(message)
        except Exception as error:
            logger.error("ivr: the bot failed on message %s (%s)", message.message_id, type(error).__name__)
            return self._unavailable(turn, call)
        speech, options = turn_speech(output.messages, self.texts)
        call.options = options
        call.last_speech = speech or self._say(NOTHING_SAID_RESPONSE)
        action, _, callback = call_action(output.messages)
        logger.info("ivr: turn %d of call %s answered (%s)", turn.turn_id, turn.call_id, action)
        if action == "hangup":
            call.ended = True
        handoff = handoff_in(output.messages)
        if handoff is None:
            return reply_json(turn, call.last_speech, action)
        if callback:
            return reply_json(turn, call.last_speech, action, callback=callback_json(handoff))
        transfer = transfer_json(self.settings.transfer_queue, handoff)
        return reply_json(turn, call.last_speech, action, transfer=transfer)

    def _unavailable(self, turn: Turn, call: Call) -> dict[str, Any]:
        """The bot cannot answer: the caller goes to a person rather than being lost."""
        call.last_speech, call.pending = self._say(BOT_UNAVAILABLE_RESPONSE), None
        transfer = {**transfer_json(self.settings.transfer_queue, None), "reason": SYSTEM_ERROR_REASON}
        return reply_json(turn, call.last_speech, "transfer", transfer=transfer)

    def _say(self, name: str, **values: Any) -> str:
        return speakable(self.texts(name, **values))


def _conflict(error: str, message: str) -> tuple[int, dict[str, Any]]:
    return 409, error_json(error, message)
