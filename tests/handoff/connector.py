"""The connector's inbound routing (the real `connectors.routing.Router`) with a stand-in bot,
for tests that need "a customer message reaches the bot, or the agent, never both" without
Rasa. It runs in a thread with its own event loop, so sync (Playwright) tests can use it."""
from __future__ import annotations

import asyncio
import threading
from typing import Any, List

import redis.asyncio as aioredis

from connectors.mapping import BotInput
from connectors.routing import Router
from connectors.webhook import parse

BOT_PREFIX = "bot: "


class RoutedCustomers:
    """`says(wa_id, text)`: the sandbox delivers the signed webhook to `receiver`; the body is
    parsed and routed like the connector does. The stand-in bot records what reaches it in
    `bot_inputs` and answers "bot: <text>" through the sandbox."""

    def __init__(self, redis_url: str, sandbox: Any, receiver: Any) -> None:
        self.sandbox, self.receiver = sandbox, receiver
        self.bot_inputs: List[BotInput] = []
        sandbox.configure(webhook_url=receiver.url)
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._redis = self._call(self._connect(redis_url))
        self._router = Router(self._redis, self._bot)

    async def _connect(self, redis_url: str) -> Any:
        return aioredis.from_url(redis_url)

    async def _bot(self, message: BotInput) -> None:
        self.bot_inputs.append(message)
        reply = {"messaging_product": "whatsapp", "to": message.sender_id, "type": "text",
                 "text": {"body": BOT_PREFIX + message.text}}
        await asyncio.to_thread(self.sandbox.send, reply)

    def says(self, wa_id: str, text: str, name: str = "Frank") -> str:
        wamid = self.sandbox.customer_sends(wa_id, {"type": "text", "text": {"body": text}},
                                            name=name)
        self.receiver.wait_until(lambda r: any(m.get("id") == wamid for m in r.messages()),
                                 timeout=10)
        body = next(req.body for req in self.receiver.requests if wamid.encode() in req.body)
        for message in parse(body).messages:
            self._call(self._router.handle_message(message, token=wamid))
        return wamid

    def bot_replies(self, wa_id: str) -> List[str]:
        texts = [m["payload"].get("text", {}).get("body", "") for m in self.sandbox.outbox(to=wa_id)]
        return [t for t in texts if t.startswith(BOT_PREFIX)]

    def close(self) -> None:
        self._call(self._redis.aclose())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()

    def _call(self, coro: Any) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self._loop).result(timeout=15)
