"""Per-contact effects of one inbound message or business echo, in a fixed order.

For a message: claim the wamid (connectors.dedupe) -> refresh the 24-hour window -> emit
``message.received`` -> read ownership -> either the handoff inbox (a human owns the chat) or
the injected bot handler (optionally with mark-read / typing first) -> mark the claim done.
If any step raises, the claim is released and the error propagates: the caller does not ack
the stream entry, so the message is retried. A crash leaves the claim holding the entry's
token, and the redelivered entry resumes (at-least-once; a duplicate copy of the wamid in
another entry is dropped).
"""
from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Optional, Set

from observability.metrics import INBOUND_MESSAGES

from . import dedupe, keys, mapping, ownership
from .webhook import Echo, InboundMessage, MessageType

log = logging.getLogger(__name__)

MessageHandler = Callable[[mapping.BotInput], Awaitable[None]]
BeforeBot = Callable[[InboundMessage], Awaitable[None]]
WindowRefresher = Callable[[Any, str, str, float], Awaitable[Any]]

#: Types whose arrival we do not count as opening the window (Meta leaves it unverified; a
#: wrong "open" costs a failed send, a missed one only a template).
_NO_WINDOW = frozenset({MessageType.REACTION, MessageType.SYSTEM, MessageType.UNSUPPORTED,
                        MessageType.REVOKE, MessageType.UNKNOWN})


async def _default_refresh(redis: Any, phone_number_id: str, wa_id: str, ts: float) -> Any:
    from .window import refresh_window  # the outbound half's window module owns the key's format

    return await refresh_window(redis, phone_number_id, wa_id, ts)


class Router:
    """Applies one contact's items; the caller guarantees one item per contact at a time."""

    def __init__(self, redis: Any, handler: MessageHandler, *, before_bot: Optional[BeforeBot] = None,
                 refresh_window: WindowRefresher = _default_refresh, human_app_ttl_s: int = 1800,
                 before_bot_timeout_s: float = 5.0) -> None:
        self._redis = redis
        self._handler = handler
        self._before_bot = before_bot
        self._refresh_window = refresh_window
        self._human_app_ttl_s = human_app_ttl_s
        self._before_bot_timeout_s = before_bot_timeout_s
        self._side_tasks: Set["asyncio.Task[None]"] = set()

    async def handle_message(self, msg: InboundMessage, token: str) -> None:
        """Route ``msg`` (``token``: its work item's id, for the two-phase claim)."""
        key = keys.seen_message(msg.wamid)
        if msg.wamid and await dedupe.claim(self._redis, key, token) is dedupe.Claim.DUPLICATE:
            log.debug("duplicate inbound %s dropped", msg.type.value)
            INBOUND_MESSAGES.labels("duplicate").inc()
            return
        try:
            await self._apply(msg)
        except Exception:
            if msg.wamid:
                await dedupe.release(self._redis, key, token)
            raise
        if msg.wamid:
            await dedupe.complete(self._redis, key)

    async def _apply(self, msg: InboundMessage) -> None:
        if msg.type not in _NO_WINDOW and msg.wa_id:
            await self._refresh_window(self._redis, msg.phone_number_id, msg.wa_id, float(msg.timestamp))
        event = mapping.received_event(msg)
        await self._redis.xadd(keys.EVENTS_STREAM, event.to_fields())
        owner = await ownership.load(self._redis, msg.wa_id)
        if owner.owner.is_human:
            await self._redis.xadd(keys.HANDOFF_INBOX_STREAM, event.to_fields())
            self._routed(msg, "handoff")
            return
        bot_input = mapping.bot_input(msg)
        if bot_input is None:
            self._routed(msg, "event_only")
            return
        if self._before_bot is not None:
            self._spawn(self._before_bot(msg))
        self._routed(msg, "bot")
        await self._handler(bot_input)

    @staticmethod
    def _routed(msg: InboundMessage, route: str) -> None:
        # The connector's line of the message's trace (the trace id comes from the context).
        INBOUND_MESSAGES.labels(route).inc()
        log.info("inbound %s from %s -> %s", msg.type.value, msg.wa_id, route)

    async def handle_echo(self, echo: Echo) -> None:
        """A human wrote from the Business app: silence the bot for a while, record the echo."""
        if echo.to:
            await ownership.mark_human_app(self._redis, echo.to, self._human_app_ttl_s)
        key = keys.seen_message(echo.wamid or f"echo:{echo.to}:{echo.timestamp}")
        fields = mapping.echo_event(echo).to_fields()
        await dedupe.emit_once(self._redis, key, keys.EVENTS_STREAM, fields)

    async def close(self) -> None:
        """Cancel side tasks (mark-read / typing calls) still running."""
        for task in list(self._side_tasks):
            task.cancel()
        if self._side_tasks:
            await asyncio.wait(set(self._side_tasks), timeout=1.0)

    def _spawn(self, coro: Awaitable[None]) -> None:
        # Mark-read / typing must never delay or fail the bot's answer: run beside it, bounded.
        async def guarded() -> None:
            try:
                await asyncio.wait_for(coro, self._before_bot_timeout_s)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                log.warning("mark-read/typing failed: %r", exc)

        task = asyncio.get_running_loop().create_task(guarded())
        self._side_tasks.add(task)
        task.add_done_callback(self._side_tasks.discard)

