"""Agent replies through the shared Sender: free text inside the 24-hour window, approved
templates outside it. Every refusal becomes a ReplyRefused/UpstreamError carrying a message the
console shows to the agent: never a silent failure."""
from __future__ import annotations

import re
import time
from typing import Any, Dict, List, Mapping, Optional, Sequence, Union

from connectors import errors as wa
from connectors import payloads
from connectors.sender import Purpose, Sender
from connectors.window import window_expires_at
from handoff.errors import BadRequest, ReplyRefused, UpstreamError

_EXPLAIN = {
    wa.WindowClosed: "The 24-hour window is closed: only an approved template can be sent now.",
    wa.TemplateError: "WhatsApp refused the template (unknown, paused or wrong parameters).",
    wa.ConsentRefused: "The customer opted out of this kind of message.",
    wa.MarketingOptedOut: "The customer opted out of marketing messages.",
    wa.Undeliverable: "WhatsApp cannot deliver to this customer.",
    wa.InvalidRequest: "WhatsApp refused the message as invalid.",
}
_VARIABLE = re.compile(r"\{\{\s*([A-Za-z0-9_]+)\s*\}\}")
Params = Union[Sequence[Any], Mapping[str, Any], None]


def refusal(error: wa.WhatsAppError) -> Exception:
    """The handoff error an agent sees for a failed send."""
    explain = next((text for cls, text in _EXPLAIN.items() if isinstance(error, cls)), None)
    details = {"code": error.code, "title": error.title, "details": error.details,
               "kind": type(error).__name__}
    if explain is None:
        return UpstreamError(f"Sending failed: {error}", **details)
    return ReplyRefused(explain, **details)


def template_summary(raw: Mapping[str, Any]) -> Dict[str, Any]:
    """What the template picker needs: name, language, category, body text and variables."""
    body = next((c.get("text", "") for c in raw.get("components", [])
                 if str(c.get("type", "")).upper() == "BODY"), "")
    variables = list(dict.fromkeys(_VARIABLE.findall(body)))
    return {"name": raw.get("name", ""), "language": raw.get("language", ""),
            "category": raw.get("category", ""), "body": body, "variables": variables,
            "named": str(raw.get("parameter_format", "")).upper() == "NAMED"
            or any(not v.isdigit() for v in variables)}


class Replies:
    def __init__(self, sender: Sender, redis: Any, *, cache_seconds: float = 300.0) -> None:
        self._sender = sender
        self._redis = redis
        self._cache_seconds = cache_seconds
        self._cache: Optional[List[Dict[str, Any]]] = None
        self._cached_at = 0.0

    async def window(self, wa_id: str) -> Dict[str, Any]:
        """The customer service window: open?, when it closes, seconds left."""
        expires = await window_expires_at(self._redis, self._sender.phone_number_id, wa_id)
        left = max(0, int(expires - time.time())) if expires else 0
        return {"open": left > 0, "expires_at": expires, "seconds_left": left}

    async def templates(self) -> List[Dict[str, Any]]:
        """Approved templates (from the Graph template API, cached for a few minutes)."""
        if self._cache is not None and time.monotonic() - self._cached_at < self._cache_seconds:
            return self._cache
        found: List[Dict[str, Any]] = []
        after: Optional[str] = None
        try:
            for _ in range(20):  # pages
                page = await self._sender.client.list_templates(status="APPROVED", after=after)
                found.extend(template_summary(t) for t in page.get("data", [])
                             if str(t.get("status", "APPROVED")).upper() == "APPROVED")
                after = ((page.get("paging") or {}).get("cursors") or {}).get("after")
                if not after or not (page.get("paging") or {}).get("next"):
                    break
        except (wa.WhatsAppError, ValueError) as exc:
            if self._cache is not None:
                return self._cache  # a stale list beats none
            raise UpstreamError(f"Could not load the templates: {exc}") from exc
        self._cache, self._cached_at = found, time.monotonic()
        return found

    async def send_text(self, wa_id: str, text: str, by: str) -> Dict[str, Any]:
        if not text.strip():
            raise BadRequest("the message is empty")
        try:
            body = payloads.text(text)
        except wa.WhatsAppError as exc:
            raise refusal(exc) from exc
        return await self._send(wa_id, body, by, "service")

    async def send_template(self, wa_id: str, name: str, language: str, params: Params,
                            by: str) -> Dict[str, Any]:
        known = {(t["name"], t["language"]): t for t in await self.templates()}
        template = known.get((name, language))
        if template is None:
            raise ReplyRefused(f"No approved template {name!r} in {language!r}.")
        values: Params = params or None
        if template["named"] and values is not None and not isinstance(values, Mapping):
            values = dict(zip(template["variables"], values))
        try:
            body = payloads.template(name, language, body=values)
        except wa.WhatsAppError as exc:
            raise refusal(exc) from exc
        category = str(template.get("category") or "utility").lower()
        return await self._send(wa_id, body, by, category)

    async def _send(self, wa_id: str, body: Mapping[str, Any], by: str,
                    category: str) -> Dict[str, Any]:
        try:
            result = await self._sender.send(wa_id, body, purpose=Purpose.AGENT,
                                             category=category, by=by)
        except wa.WhatsAppError as exc:
            raise refusal(exc) from exc
        return {"wamid": result.wamid, "payload": result.payload}
