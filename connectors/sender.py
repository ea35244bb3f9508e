"""The one send path: bot replies, agent replies and campaigns all go through ``Sender.send``.

Order of checks for every message (ARCHITECTURE §2, reference §9):

1. **Consent**: a contact with a marketing opt-out gets no marketing or campaign message
   (``ConsentRefused``, nothing sent).
2. **Window**: a free-form message outside the 24-hour window is refused locally
   (``WindowClosed``); with ``fallback_template`` (the bot's re-engagement template) that
   template is sent instead and ``SendResult.fallback_used`` says so.
3. **Pacing**: a slot in the recipient's pair budget, then a token of the number's bucket
   (both in Redis, shared by every process; see connectors.ratelimit). Waits, never fails.
   Steps 2-3 of every send made in one event-loop tick are one batched script call.
4. **Priority**: live conversations are never starved by campaigns on the same number:

   - in Redis, conversational sends *reserve* tokens (the bucket may go into debt and they
     sleep until their turn), while campaign sends only *try*: they take tokens only when no
     debt is outstanding and ``RateLimits.conversation_reserve`` tokens stay in the bucket.
     So a conversational send waits about one token interval per conversational send ahead
     of it, across all processes, however large the campaign backlog; campaigns still get
     every token nobody else wants.
   - in this process, at most ``max_concurrency`` requests are in flight; campaign sends may
     hold at most ``max_concurrency - reserved_slots`` of them, and a freed slot goes to a
     waiting conversational send first. Campaign sends wait for their token *holding* their
     slot (so tokens are never hoarded), and one pump task per process asks Redis for as
     many tokens as campaign sends are waiting, instead of each of them polling.
5. **Retry**: transient errors (130429, 131056 for that recipient, 131000, 131016, 1, 2, 4,
   80007, 133004, 131057, network failures) are retried per ``RetryPolicy``, taking a new
   token each attempt; an ambiguous timeout is retried at most once (no idempotency key).
6. **Record**: success emits ``message.outbound`` on ``keys.EVENTS_STREAM``; any failure,
   local or from Meta, emits ``message.failed`` (``wamid: null``) and raises the typed error.

``CONVERSATION``, ``AGENT`` and ``TRANSACTIONAL`` sends are urgent; ``CAMPAIGN`` sends yield.
"""
from __future__ import annotations

import asyncio
import collections
import enum
import logging
import random
import re
import time
import uuid
from dataclasses import dataclass, field
from typing import Any, Awaitable, Callable, Deque, Dict, Mapping, Optional

from connectors import events, keys, payloads
from connectors.client import GraphClient
from connectors.consent import AllowAll, ConsentChecker
from connectors.errors import (ConsentRefused, InvalidRequest, RetryPolicy, TransportError, WhatsAppError,
                               WindowClosed)
from connectors.ratelimit import (CLOSED, PAIR_THEN_BUCKET, Admission, RateLimits, RedisBatcher, ScriptBatch,
                                  number_bucket)
from observability.metrics import SEND_DURATION, SENDS

log = logging.getLogger(__name__)

CATEGORIES = ("service", "utility", "marketing", "authentication")


class Purpose(str, enum.Enum):
    CONVERSATION = "conversation"    # the bot answering
    AGENT = "agent"                  # a human agent answering
    TRANSACTIONAL = "transactional"  # OTPs, order updates: urgent, not a conversation
    CAMPAIGN = "campaign"            # broadcasts: yields to everything else

    @property
    def urgent(self) -> bool:
        return self is not Purpose.CAMPAIGN


@dataclass(frozen=True)
class SendResult:
    wamid: str
    attempts: int
    #: True when the window was closed and ``fallback_template`` went out instead.
    fallback_used: bool = False
    #: The body that was sent (without ``to``).
    payload: Dict[str, Any] = field(default_factory=dict, repr=False)


class PriorityGate:
    """At most ``limit`` holders; low priority at most ``limit - reserved``; urgent served first."""

    def __init__(self, limit: int, reserved: int) -> None:
        if not 0 <= reserved < limit:
            raise ValueError("need 0 <= reserved < limit")
        self.limit = limit
        self.low_limit = limit - reserved
        self.active = 0
        self.low_active = 0
        self._waiters: Dict[bool, Deque[asyncio.Future]] = {True: collections.deque(), False: collections.deque()}

    def _fits(self, urgent: bool) -> bool:
        return self.active < self.limit and (urgent or self.low_active < self.low_limit)

    def _take(self, urgent: bool) -> None:
        self.active += 1
        if not urgent:
            self.low_active += 1

    async def acquire(self, urgent: bool) -> None:
        queued = self._waiters[True] or (not urgent and self._waiters[False])
        if not queued and self._fits(urgent):
            self._take(urgent)
            return
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[urgent].append(waiter)
        try:
            await waiter  # the slot is taken for us before we are woken
        except asyncio.CancelledError:
            if waiter.done() and not waiter.cancelled():
                self.release(urgent)
            else:
                try:
                    self._waiters[urgent].remove(waiter)
                except ValueError:
                    pass
            raise

    def release(self, urgent: bool) -> None:
        self.active -= 1
        if not urgent:
            self.low_active -= 1
        self._wake()

    def _wake(self) -> None:
        for urgent in (True, False):
            queue = self._waiters[urgent]
            while queue and self._fits(urgent):
                waiter = queue.popleft()
                if not waiter.done():
                    self._take(urgent)
                    waiter.set_result(None)
            if queue and urgent:
                return  # urgent senders still waiting: nothing goes to campaigns


_NOT_DIGITS = re.compile(r"\D")


def wa_id_of(to: str) -> str:
    """``"+1 (650) 555-1234"`` -> ``"16505551234"``."""
    digits = _NOT_DIGITS.sub("", str(to))
    if not digits:
        raise InvalidRequest("Invalid parameter", code=100, local=True, details=f"recipient {to!r} has no digits")
    return digits


# ARGV[1]: the stream; ARGV[2]: JSON list of [type, id, data, ts(, trace)] (the Event.to_fields values).
_XADD_MANY_LUA = """
local entries = cjson.decode(ARGV[2])
for _, e in ipairs(entries) do
  if e[5] then
    redis.call('XADD', ARGV[1], '*', 'type', e[1], 'id', e[2], 'data', e[3], 'ts', e[4], 'trace', e[5])
  else
    redis.call('XADD', ARGV[1], '*', 'type', e[1], 'id', e[2], 'data', e[3], 'ts', e[4])
  end
end
return #entries
"""


class Sender:
    """Sends through one business number; share one instance per process and number.

    ``redis`` is a ``redis.asyncio`` client (or a ``RedisBatcher``); the sender batches its
    own Redis work (see connectors.ratelimit). For a Redis-backed consent check under load,
    give the checker the sender's batcher: ``RedisConsent(sender.redis)`` or build the
    ``RedisBatcher`` first and pass it to both. Call ``aclose`` on shutdown.
    """

    def __init__(
        self,
        client: GraphClient,
        redis: Any,
        *,
        consent: Optional[ConsentChecker] = None,
        limits: RateLimits = RateLimits(),
        retry: RetryPolicy = RetryPolicy(),
        max_concurrency: int = 256,
        reserved_slots: Optional[int] = None,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        rng: Any = None,
        events_stream: str = keys.EVENTS_STREAM,
    ) -> None:
        self.client = client
        self.redis = redis if isinstance(redis, RedisBatcher) else RedisBatcher(redis)
        self.phone_number_id = client.phone_number_id
        self.consent: ConsentChecker = consent or AllowAll()
        self.limits = limits
        self.retry = retry
        self.clock = clock
        self._sleep = sleep
        self._rng = rng or random.Random()
        self.events_stream = events_stream
        self.admission = Admission(self.redis, self.phone_number_id, limits, clock=clock)
        self._bucket = number_bucket(self.redis.redis, self.phone_number_id, limits)
        self._events = ScriptBatch(self.redis, _XADD_MANY_LUA, lambda: [self.events_stream], stride=0)
        reserved = max(1, max_concurrency // 4) if reserved_slots is None else reserved_slots
        self.gate = PriorityGate(max_concurrency, min(reserved, max_concurrency - 1))
        self._token_waiters: Deque[asyncio.Future] = collections.deque()
        self._pump: Optional[asyncio.Task] = None

    async def send(
        self,
        to: str,
        payload: Mapping[str, Any],
        *,
        purpose: Purpose = Purpose.CONVERSATION,
        category: str = "service",
        by: str = "bot",
        fallback_template: Optional[Mapping[str, Any]] = None,
        callback_data: Optional[str] = None,
    ) -> SendResult:
        """Send one body (from connectors.payloads / connectors.render) to ``to``.

        Raises a ``WhatsAppError`` subclass (after emitting ``message.failed``) when the message
        was refused locally or Meta failed it permanently or after the last retry.
        """
        purpose = Purpose(purpose)
        started = time.perf_counter()
        # One log line per conversational send (a reply is the end of a message's trace, see
        # observability.trace); campaigns send too many for INFO.
        level = logging.INFO if purpose.urgent else logging.DEBUG
        wa_id = wa_id_of(to)
        sent: Dict[str, Any] = dict(payload)
        fallback_used = False
        try:
            if category not in CATEGORIES:
                raise InvalidRequest("Invalid parameter", code=100, local=True, details=f"category {category!r}")
            if callback_data is not None:
                payloads.check_callback_data(callback_data)
            campaign = purpose is Purpose.CAMPAIGN
            if (category == "marketing" or campaign) and not await self.consent.allows(
                    wa_id, category=category, campaign=campaign):
                raise ConsentRefused(details=f"{wa_id} opted out of {category} messages")
            status, wait = await self.admission.admit(wa_id, check_window=not payloads.is_template(sent),
                                                      bucket=purpose.urgent)
            if status == CLOSED:
                if fallback_template is None:
                    raise WindowClosed(code=131047, local=True,
                                       details="more than 24 hours since the customer's last message")
                if not payloads.is_template(fallback_template):
                    raise InvalidRequest("Invalid parameter", code=100, local=True,
                                         details="fallback_template must be a template body")
                sent, fallback_used = dict(fallback_template), True
                status, wait = await self.admission.admit(wa_id, check_window=False, bucket=purpose.urgent)
            if status == PAIR_THEN_BUCKET:
                await self._sleep(wait)
                status, wait = await self.admission.admit(wa_id, check_window=False, pair=False)
            if wait > 0:
                await self._sleep(wait)
            body = dict(sent, to="+" + wa_id)
            if callback_data is not None:
                body["biz_opaque_callback_data"] = callback_data
            wamid, attempts = await self._deliver(wa_id, body, purpose.urgent)
        except WhatsAppError as error:
            result = "refused" if error.local else "failed"
            SENDS.labels(self.phone_number_id, purpose.value, result).inc()
            log.log(level, "%s %s to %s %s: %s", purpose.value, sent.get("type", "message"), wa_id, result, error)
            await self._emit_failed(wa_id, sent, error, by=by, purpose=purpose, callback_data=callback_data)
            raise
        SENDS.labels(self.phone_number_id, purpose.value, "sent").inc()
        SEND_DURATION.labels(purpose.value).observe(time.perf_counter() - started)
        log.log(level, "%s %s to %s sent by %s (attempt %d%s)", purpose.value, sent.get("type", "message"), wa_id,
                by, attempts, ", re-engagement template" if fallback_used else "")
        await self._emit(events.MESSAGE_OUTBOUND, f"{wamid}:outbound", {
            "wamid": wamid, "wa_id": wa_id, "by": by, "payload": sent,
            "purpose": purpose.value, "category": category, "fallback": fallback_used,
        })
        return SendResult(wamid, attempts, fallback_used, sent)

    async def mark_read(self, message_id: str, *, typing: bool = False) -> None:
        """Blue ticks (and optionally the typing indicator) on an inbound message, paced as urgent."""
        await self._urgent_token()
        await self.gate.acquire(True)
        try:
            if typing:
                await self.client.typing(message_id)
            else:
                await self.client.mark_read(message_id)
        finally:
            self.gate.release(True)

    async def aclose(self) -> None:
        """Stop the token pump and write the events still queued."""
        if self._pump is not None:
            self._pump.cancel()
            await asyncio.gather(self._pump, return_exceptions=True)
        await self.admission.aclose()
        await self._events.aclose()
        await self.redis.aclose()

    async def _deliver(self, wa_id: str, body: Dict[str, Any], urgent: bool) -> "tuple[str, int]":
        """Send with retries. The first urgent attempt's token was reserved by ``send``."""
        attempt = 0
        ambiguous = 0
        while True:
            attempt += 1
            if urgent:
                if attempt > 1:
                    await self._urgent_token()
                await self.gate.acquire(True)
            else:
                # Campaigns hold their slot while they wait for a token, so they never hoard tokens.
                await self.gate.acquire(False)
                try:
                    await self._campaign_token()
                except BaseException:
                    self.gate.release(False)
                    raise
            try:
                return await self.client.send_message(body), attempt
            except WhatsAppError as error:
                if isinstance(error, TransportError) and error.ambiguous:
                    ambiguous += 1
                delay = self.retry.delay(error, attempt, ambiguous, self._rng)
                if delay is None:
                    error.attempts = attempt  # type: ignore[attr-defined]
                    raise
                log.info("send to %s failed (%s), attempt %d; retrying in %.2fs", wa_id, error, attempt, delay)
            finally:
                self.gate.release(urgent)
            await self._sleep(delay)

    async def _urgent_token(self) -> None:
        _, wait = await self.admission.admit("", check_window=False, pair=False)
        if wait > 0:
            await self._sleep(wait)

    async def _campaign_token(self) -> None:
        """Wait for a token from the pump (one task per process polls Redis for all campaigns)."""
        if self._bucket is None:
            return
        waiter = asyncio.get_running_loop().create_future()
        self._token_waiters.append(waiter)
        if self._pump is None or self._pump.done():
            self._pump = asyncio.get_running_loop().create_task(self._pump_tokens())
        await waiter

    async def _pump_tokens(self) -> None:
        assert self._bucket is not None
        try:
            while True:
                while self._token_waiters and self._token_waiters[0].done():
                    self._token_waiters.popleft()
                if not self._token_waiters:
                    return
                wanted = sum(1 for waiter in self._token_waiters if not waiter.done())
                granted, wait = await self._bucket.take_up_to(wanted, floor=self.limits.conversation_reserve)
                while granted > 0 and self._token_waiters:
                    waiter = self._token_waiters.popleft()
                    if not waiter.done():
                        waiter.set_result(None)
                        granted -= 1
                if wait > 0:
                    await self._sleep(wait)
        except Exception as exc:  # noqa: BLE001 - Redis down: the waiting sends fail, not hang
            while self._token_waiters:
                waiter = self._token_waiters.popleft()
                if not waiter.done():
                    waiter.set_exception(exc)

    async def _emit_failed(self, wa_id: str, payload: Mapping[str, Any], error: WhatsAppError, *, by: str,
                           purpose: Purpose, callback_data: Optional[str]) -> None:
        await self._emit(events.MESSAGE_FAILED, f"send-{uuid.uuid4().hex}:failed", {
            "wamid": None, "wa_id": wa_id, "status": "failed", "timestamp": str(int(self.clock())),
            "phone_number_id": self.phone_number_id, "errors": [error.to_dict()],
            "biz_opaque_callback_data": callback_data, "pricing": None,
            "by": by, "purpose": purpose.value, "local": error.local, "payload": dict(payload),
        })

    async def _emit(self, kind: str, event_id: str, data: Dict[str, Any]) -> None:
        fields = events.Event(kind, event_id, data, ts=self.clock()).to_fields()
        try:
            await self._events.submit(list(fields.values()))  # type, id, data, ts(, trace): see the Lua
        except Exception:  # noqa: BLE001 - the message's fate is decided; a lost record must not resend it
            log.exception("could not record %s %s", kind, event_id)
