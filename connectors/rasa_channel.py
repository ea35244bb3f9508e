"""The Rasa adapter: the only module in ``connectors`` importing rasa or sanic.

``WhatsAppInput`` (credentials.yml key ``connectors.rasa_channel.WhatsAppInput``) serves
``/webhooks/whatsapp/webhook``: GET is Meta's verification handshake, POST goes through
connectors.ingest (signature, size, cheap JSON check, group-commit append, 200). A
connectors.consumer.Consumer started with the server turns stream entries into ``UserMessage``s,
one contact at a time. ``WhatsAppOutput`` renders Rasa responses (connectors.render) and sends
them through connectors.sender.Sender (window, consent, rate limits, retries). A turn that ends
with no reply because an action failed (e.g. the action server is down) gets a short apology
instead of silence (``handle_turn``).
"""
from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import os
import re
import time
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Deque, Dict, List, Optional, Tuple

import redis.asyncio as aioredis
from rasa.core.channels.channel import InputChannel, OutputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from connectors import monitoring, payloads
from connectors.client import GraphClient
from connectors.consumer import Consumer, ConsumerOptions
from connectors.errors import WhatsAppError
from connectors.http_framing import refuse_bad_content_length
from connectors.ingest import GroupCommitAppender, receive
from connectors.mapping import BotInput
from connectors.redis_options import restart_tolerant
from connectors.render import render
from connectors.routing import Router
from connectors.sender import Purpose, Sender
from connectors.signature import SIGNATURE_HEADER, verify_challenge
from connectors.tasks import start_task, stop_tasks
from observability.http import add_routes, instrument
from observability.logs import install as install_logging

log = logging.getLogger(__name__)
_REQUIRED = ("verify_token", "app_secret", "access_token", "phone_number_id", "redis_url")
#: Sent when a turn ends with no reply because an action failed (credentials: ``action_failure_reply``).
ACTION_FAILURE_REPLY = ("Sorry, I'm having trouble right now — please try again in a minute, "
                        "or type 'agent' to talk to a person.")


class AgentNotReady(RuntimeError):
    """Rasa's agent is not loaded (yet): retry the message later instead of losing it."""


def _flag(value: Any) -> bool:
    return str(value).strip().lower() in ("1", "true", "yes", "on")


@dataclass(frozen=True)
class WhatsAppSettings:
    """The channel's credentials.yml block, read once."""

    verify_token: str
    app_secret: str
    access_token: str
    phone_number_id: str
    redis_url: str
    graph_base_url: str = "https://graph.facebook.com"
    graph_version: str = "v23.0"
    mark_read: bool = True
    typing_indicator: bool = True
    reengage_template: str = ""
    reengage_language: str = "en"
    reengage_params: Tuple[str, ...] = ("{name}",)
    human_app_ttl_s: int = 1800
    action_failure_reply: str = ACTION_FAILURE_REPLY
    log_format: str = ""  # text | json: format + mask this process's logs (observability.logs); "" = leave as is
    consumer: ConsumerOptions = field(default_factory=ConsumerOptions)

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WhatsAppSettings":
        creds = {k: v for k, v in (credentials or {}).items() if v is not None and v != ""}
        missing = [k for k in _REQUIRED if k not in creds]
        if missing:
            raise ValueError(f"WhatsApp channel: missing credentials {', '.join(missing)} (see connectors/README.md)")
        params = creds.get("reengage_params", ["{name}"])
        return cls(
            **{k: str(creds[k]) for k in _REQUIRED},
            graph_base_url=str(creds.get("graph_base_url", cls.graph_base_url)),
            graph_version=str(creds.get("graph_version", cls.graph_version)),
            mark_read=_flag(creds.get("mark_read", True)), typing_indicator=_flag(creds.get("typing_indicator", True)),
            reengage_template=str(creds.get("reengage_template", "")),
            reengage_language=str(creds.get("reengage_language", "en")),
            reengage_params=tuple(str(p) for p in (params if isinstance(params, list) else [params])),
            human_app_ttl_s=int(creds.get("human_app_ttl_s", 1800)),
            action_failure_reply=str(creds.get("action_failure_reply", ACTION_FAILURE_REPLY)),
            # The process's edge: PARLEY_LOG_FORMAT is shared by every Parley process.
            log_format=str(creds.get("log_format") or os.environ.get("PARLEY_LOG_FORMAT", "")),
            consumer=ConsumerOptions(partitions=int(creds.get("partitions", 16))),
        )


class WhatsAppOutput(OutputChannel):
    """Bot responses -> Cloud API bodies -> the one send path."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    def __init__(self, sender: Sender, settings: WhatsAppSettings, names: "NameBook") -> None:
        self.sender, self.settings, self.names = sender, settings, names

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await self._send_all(recipient_id, render(message))

    async def send_text_message(self, recipient_id: str, text: str, **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"text": text}))

    async def send_text_with_buttons(self, recipient_id: str, text: str, buttons: List[Dict[str, Any]],
                                     **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"text": text, "buttons": buttons}))

    async def send_quick_replies(self, recipient_id: str, text: str, quick_replies: List[Dict[str, Any]],
                                 **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"text": text, "quick_replies": quick_replies}))

    async def send_image_url(self, recipient_id: str, image: str, **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"image": image}))

    async def send_attachment(self, recipient_id: str, attachment: Any, **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"attachment": attachment}))

    async def send_elements(self, recipient_id: str, elements: Any, **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"elements": list(elements)}))

    async def send_custom_json(self, recipient_id: str, json_message: Any, **kwargs: Any) -> None:
        await self._send_all(recipient_id, render({"custom": json_message}))

    async def send_action_failure_reply(self, recipient_id: str) -> None:
        """The apology for a turn that failed silently (see ``handle_turn``)."""
        await self.send_text_message(recipient_id, self.settings.action_failure_reply)

    async def _send_all(self, recipient_id: str, bodies: List[Dict[str, Any]]) -> None:
        turn = _TURN.get()
        if turn is not None and bodies:
            turn.replies += 1
        for body in bodies:
            fallback = self._reengage(recipient_id)
            try:
                result = await self.sender.send(recipient_id, body, purpose=Purpose.CONVERSATION, by="bot",
                                                fallback_template=fallback)
            except WhatsAppError as exc:  # Sender already emitted message.failed; say it here too
                log.error("bot reply to %s not sent: %s (code %s)", recipient_id, exc, getattr(exc, "code", None))
                continue
            if result.fallback_used:
                # The window is closed: the re-engagement template went out instead; the rest of
                # this turn would only be refused, so it is logged and skipped.
                self.names.reengaged(recipient_id)
                log.info("window closed for %s: sent re-engagement template %s", recipient_id,
                         self.settings.reengage_template)
                return

    def _reengage(self, recipient_id: str) -> Optional[Dict[str, Any]]:
        if not self.settings.reengage_template or self.names.recently_reengaged(recipient_id):
            return None
        name = self.names.get(recipient_id) or "there"
        params = [p.format(name=name) for p in self.settings.reengage_params]
        return payloads.template(self.settings.reengage_template, self.settings.reengage_language,
                                 body=params or None)


@dataclass
class _Turn:
    """What one Rasa turn did, as far as the channel can see."""

    replies: int = 0
    failed_actions: List[str] = field(default_factory=list)


_TURN: "contextvars.ContextVar[Optional[_Turn]]" = contextvars.ContextVar("parley_rasa_turn", default=None)


class _ActionFailureWatch(logging.Filter):
    """Marks the running turn when Rasa swallows an action's exception.

    Rasa 3.6 catches any exception of an action (action server down or answering 5xx, bad
    events...) in ``MessageProcessor._run_action``, logs it with ``logger.exception`` ("Bot will
    continue, but the actions events are lost") and carries on; it offers no hook for it. An
    ``ActionExecutionRejection`` (a form's validation saying no) is handled there too but not
    logged this way, so it does not count. Records are matched by function and traceback, not by
    text, and only inside a turn (``_TURN``, per asyncio task): the filter never drops a record.
    """

    logger_name = "rasa.core.processor"

    def filter(self, record: logging.LogRecord) -> bool:
        turn = _TURN.get()
        if turn is not None and record.exc_info and record.funcName == "_run_action":
            name = re.search(r"action '([^']+)'", record.getMessage())
            turn.failed_actions.append(name.group(1) if name else "?")
        return True


_WATCH = _ActionFailureWatch()


async def handle_turn(on_new_message: Callable[[UserMessage], Awaitable[Any]], message: UserMessage) -> bool:
    """Run one Rasa turn; if an action failed and the bot said nothing, apologise.

    Without this the customer hears nothing when the action server is down (issue #7). A turn
    that legitimately says nothing (a paused conversation) or that still replied (Rasa's own
    fallback after the failure) gets no apology. Returns True if the apology was sent. An
    exception from Rasa propagates (the router retries the message) and sends nothing.
    """
    processor_log = logging.getLogger(_ActionFailureWatch.logger_name)
    if _WATCH not in processor_log.filters:
        processor_log.addFilter(_WATCH)
        if processor_log.disabled or not processor_log.isEnabledFor(logging.ERROR):
            log.warning("%s does not log errors: failed actions will go unanswered", processor_log.name)
    turn = _Turn()
    token = _TURN.set(turn)
    try:
        await on_new_message(message)
    finally:
        _TURN.reset(token)
    output = message.output_channel
    if not turn.failed_actions or turn.replies or not isinstance(output, WhatsAppOutput):
        return False
    log.warning("turn of %s failed silently (%s): sending the action-failure reply", message.sender_id,
                ", ".join(turn.failed_actions))
    try:
        await output.send_action_failure_reply(message.sender_id)
    except Exception:  # noqa: BLE001 - the turn is done: raising would make the router run it again
        log.exception("action-failure reply to %s not sent", message.sender_id)
        return False
    return True


class NameBook:
    """Bounded memory of customers' profile names (for the re-engagement template)."""

    def __init__(self, size: int = 10_000, reengage_quiet_s: float = 60.0) -> None:
        self._names: "collections.OrderedDict[str, str]" = collections.OrderedDict()
        self._reengaged: Dict[str, float] = {}
        self._size, self._quiet = size, reengage_quiet_s

    def remember(self, wa_id: str, name: str) -> None:
        if name:
            self._names[wa_id] = name
            self._names.move_to_end(wa_id)
            while len(self._names) > self._size:
                self._names.popitem(last=False)

    def get(self, wa_id: str) -> str:
        return self._names.get(wa_id, "")

    def reengaged(self, wa_id: str) -> None:
        now = time.monotonic()
        self._reengaged = {k: t for k, t in self._reengaged.items() if now - t < self._quiet}
        self._reengaged[wa_id] = now

    def recently_reengaged(self, wa_id: str) -> bool:
        return time.monotonic() - self._reengaged.get(wa_id, -1e9) < self._quiet


class WhatsAppInput(InputChannel):
    """Meta webhooks in; bot answers out through WhatsAppOutput."""

    @classmethod
    def name(cls) -> str:
        return "whatsapp"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> "WhatsAppInput":
        return cls(WhatsAppSettings.from_credentials(credentials))

    def __init__(self, settings: WhatsAppSettings) -> None:
        self.settings = settings
        self.names = NameBook()
        self.redis: Any = None
        self.appender: Optional[GroupCommitAppender] = None
        self.sender: Optional[Sender] = None
        self.consumer: Optional[Consumer] = None
        self._client: Optional[GraphClient] = None
        self._starter: Optional["asyncio.Task[None]"] = None
        self._agent_of: Callable[[], Any] = lambda: None

    def get_output_channel(self) -> Optional[OutputChannel]:
        """For proactive messages (``trigger_intent?output_channel=latest``)."""
        return WhatsAppOutput(self.sender, self.settings, self.names) if self.sender else None

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        bp = Blueprint(f"whatsapp_webhook_{id(self)}", __name__)
        if self.settings.log_format:  # Rasa built its Sanic app (and its log handlers) already
            install_logging("rasa", self.settings.log_format)
        refuse_bad_content_length(bp)  # Sanic 21.12 would spin forever on a negative one
        # /webhooks/whatsapp/metrics, /healthz, /readyz on Rasa's port (no separate metrics port)
        instrument(bp, "rasa")
        add_routes(bp, "rasa", checks=lambda: monitoring.checks(lambda: self.redis, self._agent_of),
                   samplers=lambda: monitoring.samplers(lambda: self.redis, self.settings.consumer.partitions))

        @bp.route("/", methods=["GET"])
        async def health(_: Request) -> HTTPResponse:
            return response.json({"status": "ok"})

        @bp.route("/webhook", methods=["GET"])
        async def handshake(request: Request) -> HTTPResponse:
            query = {k: v for k, v in request.query_args}
            challenge = verify_challenge(query, self.settings.verify_token)
            if challenge is None:
                return response.text("forbidden", status=403)
            return response.text(challenge, status=200, content_type="text/plain")

        @bp.route("/webhook", methods=["POST"])
        async def webhook(request: Request) -> HTTPResponse:
            if self.appender is None:
                return response.text("starting", status=503)
            length = request.headers.get("content-length")
            status = await receive(self.appender, self.settings.app_secret, request.body or b"",
                                   request.headers.get(SIGNATURE_HEADER), int(length) if length else None)
            return response.text("" if status == 200 else str(status), status=status)

        @bp.listener("after_server_start")
        async def start(app: Any, _loop: Any) -> None:
            await self.start(lambda: getattr(app.ctx, "agent", None), on_new_message)

        @bp.listener("before_server_stop")
        async def stop(_app: Any, _loop: Any) -> None:
            await self.stop()

        return bp

    async def start(self, agent_of: Callable[[], Any], on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> None:
        """Open clients, then start consuming once Rasa's agent is ready (its model loaded)."""
        s = self.settings
        self._agent_of = agent_of
        self.redis = aioredis.Redis.from_url(s.redis_url, **restart_tolerant(5.0))
        self.appender = GroupCommitAppender(self.redis)
        self._client = GraphClient.from_credentials(s.access_token, s.phone_number_id, base_url=s.graph_base_url,
                                                    version=s.graph_version)
        self.sender = Sender(self._client, self.redis)
        output = WhatsAppOutput(self.sender, s, self.names)

        async def handle(bot_input: BotInput) -> None:
            agent = agent_of()
            if agent is None or not agent.is_ready():
                raise AgentNotReady("Rasa agent not ready")
            self.names.remember(bot_input.sender_id, str(bot_input.metadata.get("name") or ""))
            await handle_turn(on_new_message, UserMessage(
                bot_input.text, output, bot_input.sender_id, input_channel=self.name(),
                message_id=bot_input.message_id, metadata=bot_input.metadata))

        before_bot = self._before_bot if (s.mark_read or s.typing_indicator) else None
        router = Router(self.redis, handle, before_bot=before_bot, human_app_ttl_s=s.human_app_ttl_s)
        self.consumer = Consumer(self.redis, router, s.consumer)
        self._starter = start_task(self._start_when_ready(agent_of), "whatsapp-consumer-starter")

    async def _start_when_ready(self, agent_of: Callable[[], Any]) -> None:
        # Rasa drops messages that arrive before its model is loaded ("no agent to handle it"):
        # consume only once it is ready. Bounded: give up after an hour and say so.
        for _ in range(36_000):
            agent = agent_of()
            if agent is not None and agent.is_ready():
                break
            await asyncio.sleep(0.1)
        else:
            log.error("Rasa agent never became ready: inbound messages stay queued in Redis")
            return
        assert self.consumer is not None
        await self.consumer.start()
        log.info("WhatsApp inbound consumer %s started", self.consumer.name)

    async def _before_bot(self, msg: Any) -> None:
        assert self.sender is not None
        await self.sender.mark_read(msg.wamid, typing=self.settings.typing_indicator)

    async def stop(self) -> None:
        """Stop consuming, flush pending appends, close clients."""
        # The starter first, and until it has ended: one that ignored a cancel inside a Redis call
        # would start the consumer after this stopped it, and nothing would stop it then.
        await stop_tasks([self._starter])
        if self.consumer is not None:
            await self.consumer.stop()
        if self.appender is not None:
            await self.appender.close()
        if self._client is not None:
            await self._client.aclose()
        if self.redis is not None:
            await self.redis.close()
