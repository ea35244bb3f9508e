"""The send flow of ``POST /{phone_number_id}/messages`` (framework-free).

Order of checks: chaos 5xx, payload validation, template checks (132001/132015/132016/
132000/132012), recipient, throughput (130429), pair rate (131056). An accepted message is
stored, its statuses are planned and scheduled, and the success body of reference 4.1 is
returned. Asynchronous failures (131047 window, 131026 unreachable, 131050 marketing opt-out,
131049 ecosystem limit, 131053 unknown media id) arrive as a ``failed`` status.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from . import envelopes, ids
from .errors import GraphError
from .state import Sandbox
from .statuses import PlannedStatus, plan, pricing_category, status_object
from .store import OutboundMessage
from .templates import Template
from .template_rules import check_send
from .validation import MEDIA_TYPES, ReadReceipt, SendRequest, validate_send

SUCCESS = {"success": True}


@dataclass(frozen=True)
class SendOutcome:
    """The response body, and how long to stall before answering (chaos ``send_timeout``)."""

    body: dict[str, Any]
    stall_s: float = 0.0


def send(sandbox: Sandbox, payload: Any, api_version: str) -> SendOutcome:
    """Validate and accept one send; raise GraphError for synchronous errors."""
    config = sandbox.config
    rng = sandbox.rng
    if config.chaos.send_5xx and rng.random() < config.chaos.send_5xx:
        raise GraphError(131000) if rng.random() < 0.5 else GraphError(2)
    request = validate_send(payload)
    if isinstance(request, ReadReceipt):
        mark_read(sandbox, request)
        return SendOutcome(SUCCESS)
    template = _template(sandbox, request) if request.type == "template" else None
    if request.to == sandbox.settings.display_phone_number:
        raise GraphError(131021)
    phone_id = sandbox.settings.phone_number_id
    if not sandbox.throughput.allow(phone_id, config.throughput_mps, sandbox.monotonic()):
        raise GraphError(130429, http_status=config.rate_limit_http_status)
    if config.pair_rate and not sandbox.pairs.allow(
        phone_id, request.to, config.pair_burst, config.pair_interval_ms / 1000, sandbox.monotonic()
    ):
        raise GraphError(131056)
    message = _accept(sandbox, request, template, api_version)
    body: dict[str, Any] = {
        "messaging_product": "whatsapp",
        "contacts": [{"input": request.to_input, "wa_id": request.to}],
        "messages": [{"id": message.wamid, "message_status": "accepted"} if template else {"id": message.wamid}],
    }
    stall = 0.0
    if config.chaos.send_timeout and rng.random() < config.chaos.send_timeout:
        stall = config.chaos_timeout_ms / 1000
    return SendOutcome(body, stall)


def mark_read(sandbox: Sandbox, receipt: ReadReceipt) -> None:
    """Blue ticks on the customer's message (and the typing indicator, if asked)."""
    message = sandbox.store.inbound.get(receipt.message_id)
    if message is not None:
        message.read = True
        message.typing = receipt.typing
        sandbox.store.version += 1


def _template(sandbox: Sandbox, request: SendRequest) -> Template:
    body = request.payload["template"]
    name, code = body["name"], body["language"]["code"]
    template = sandbox.templates.find(name, code)
    if template is None:
        raise GraphError(132001, f"template name ({name}) does not exist in {code}")
    if template.status == "PAUSED":
        raise GraphError(132015, f"Template {name} ({code}) is paused.")
    if template.status == "DISABLED":
        raise GraphError(132016, f"Template {name} ({code}) is disabled.")
    if template.status != "APPROVED":
        raise GraphError(132001, f"template name ({name}) in {code} is not approved (status {template.status})")
    check_send(template.slots, template.named, body.get("components", []))
    return template


def _accept(sandbox: Sandbox, request: SendRequest, template: Template | None, api_version: str) -> OutboundMessage:
    now = sandbox.now()
    phone_id = sandbox.settings.phone_number_id
    window_open = sandbox.windows.is_open(phone_id, request.to, now, sandbox.config.window_seconds)
    message = OutboundMessage(
        wamid=ids.wamid(request.to), to=request.to, type=request.type, payload=request.payload, at=now,
        phone_number_id=phone_id, api_version=api_version,
        pricing_category=pricing_category(template.category if template else None, window_open),
        template_components=template.components if template else None,
        template_named=template.named if template else False,
    )
    sandbox.store.add_outbound(message)
    failure = _failure(sandbox, request, template, window_open)
    generation = sandbox.generation
    for planned in plan(message, failure, sandbox.config, sandbox.rng):
        sandbox.timers.call_later(planned.emit_after_s, _emit, sandbox, message, planned, generation)
    return message


def _failure(sandbox: Sandbox, request: SendRequest, template: Template | None, window_open: bool) -> int | None:
    config = sandbox.config
    marketing = template is not None and template.category == "MARKETING"
    if request.to in config.unreachable:
        return 131026
    if marketing and request.to in config.marketing_opted_out:
        return 131050
    if marketing and request.to in config.ecosystem_limited:
        return 131049
    if template is None and not window_open:
        return 131047
    if request.type in MEDIA_TYPES:
        media_id = request.payload[request.type].get("id")
        if media_id is not None and media_id not in sandbox.store.media:
            return 131053
    return None


def _emit(sandbox: Sandbox, message: OutboundMessage, planned: PlannedStatus, generation: int) -> None:
    if generation != sandbox.generation:
        return
    status = status_object(message, planned)
    message.apply_status(planned.status, sandbox.now(), status.get("errors"))
    sandbox.store.version += 1
    sandbox.webhooks.notify(envelopes.statuses(sandbox.metadata, status))
