"""Hand-back: after resolve, tell the bot that the human stretch ended, so Rasa resumes the
conversation with the `handoff_ended` intent (the bot's rule answers it; the bot then answers
the customer's next message as usual). Two ways, chosen by HANDOFF_BOT_RESUME:

- ``rasa_api`` (default): ``POST {RASA_URL}/conversations/{wa_id}/trigger_intent
  ?output_channel=latest&token={RASA_TOKEN}`` with ``{"name": "handoff_ended"}``
  (rasa must run with ``--enable-api`` and ``--auth-token``).
- ``inbound_stream``: a synthetic inbound message on ``keys.INBOUND_STREAM``: a button reply
  whose payload is ``/handoff_ended`` (the connector passes button payloads to the bot as
  intent commands). Its timestamp is the customer's last inbound time, so it never extends the
  24-hour window; it is recorded like any inbound message.
- ``off``: nothing (the bot simply answers the next message).
"""
from __future__ import annotations

import json
import logging
from typing import Any, Dict, Optional, Protocol

from connectors import keys

log = logging.getLogger(__name__)
INTENT = "handoff_ended"


class BotResumer(Protocol):
    async def resume(self, wa_id: str, name: str, ticket_id: str) -> Dict[str, Any]:
        """Returns {"mode", "resumed": bool, "error"?}; never raises for a bot failure."""


class NoResume:
    async def resume(self, wa_id: str, name: str, ticket_id: str) -> Dict[str, Any]:
        return {"mode": "off", "resumed": False}


class RasaApiResumer:
    def __init__(self, http: Any, rasa_url: str, token: str = "", timeout: float = 10.0) -> None:
        self._http = http  # an httpx.AsyncClient
        self._url = rasa_url.rstrip("/")
        self._token = token
        self._timeout = timeout

    async def resume(self, wa_id: str, name: str, ticket_id: str) -> Dict[str, Any]:
        params = {"output_channel": "latest"}
        if self._token:
            params["token"] = self._token
        try:
            response = await self._http.post(f"{self._url}/conversations/{wa_id}/trigger_intent",
                                             params=params, json={"name": INTENT},
                                             timeout=self._timeout)
        except Exception as exc:  # network: report it to the agent, the resolve stands
            log.warning("rasa trigger_intent for %s failed: %r", wa_id, exc)
            return {"mode": "rasa_api", "resumed": False, "error": f"Rasa unreachable: {exc}"}
        if response.status_code >= 400:
            return {"mode": "rasa_api", "resumed": False,
                    "error": f"Rasa answered {response.status_code}: {response.text[:200]}"}
        return {"mode": "rasa_api", "resumed": True}


class InboundStreamResumer:
    def __init__(self, redis: Any, phone_number_id: str, waba_id: str = "") -> None:
        self._redis = redis
        self._phone_number_id = phone_number_id
        self._waba_id = waba_id

    async def resume(self, wa_id: str, name: str, ticket_id: str) -> Dict[str, Any]:
        last_inbound: Optional[bytes] = await self._redis.get(
            keys.window(self._phone_number_id, wa_id))
        message = {
            "from": wa_id, "id": f"parley.handoff_ended.{ticket_id}",
            "timestamp": (last_inbound or b"0").decode() if isinstance(last_inbound, bytes)
            else str(last_inbound or "0"),
            "type": "interactive",
            "interactive": {"type": "button_reply",
                            "button_reply": {"id": f"/{INTENT}", "title": "handoff ended"}},
        }
        value = {"messaging_product": "whatsapp",
                 "metadata": {"display_phone_number": "", "phone_number_id": self._phone_number_id},
                 "contacts": [{"profile": {"name": name}, "wa_id": wa_id}], "messages": [message]}
        body = {"object": "whatsapp_business_account",
                "entry": [{"id": self._waba_id, "changes": [{"field": "messages", "value": value}]}]}
        try:
            await self._redis.xadd(keys.INBOUND_STREAM, {"body": json.dumps(body)})
        except Exception as exc:
            return {"mode": "inbound_stream", "resumed": False, "error": f"Redis: {exc}"}
        return {"mode": "inbound_stream", "resumed": True}
