"""The template registry: what ``/{waba_id}/message_templates`` manages (reference 7.1, 7.2).

Pure state: no scheduling and no webhooks (``template_admin`` adds those). Seed templates
(docs/contracts.md) get fixed ids so tests can address them after every reset.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from . import ids
from .template_rules import Definition, Slots, slots

STATUSES = (
    "APPROVED", "PENDING", "REJECTED", "PAUSED", "DISABLED", "IN_APPEAL", "REINSTATED", "FLAGGED",
    "PENDING_DELETION", "DELETED", "LIMIT_EXCEEDED", "ARCHIVED", "UNARCHIVED", "LOCKED",
)
ALL_FIELDS = ("name", "language", "status", "category", "parameter_format", "components", "rejected_reason", "id")


@dataclass
class Template:
    """One name+language pair."""

    id: str
    name: str
    language: str
    category: str
    parameter_format: str
    components: list[dict[str, Any]]
    status: str = "PENDING"
    rejected_reason: str = "NONE"
    slots: Slots = field(default_factory=Slots)

    @property
    def named(self) -> bool:
        return self.parameter_format == "NAMED"

    def define(self, definition: Definition) -> None:
        """Replace category/format/components (a new list: outbox snapshots keep the old one)."""
        self.category = definition.category
        self.parameter_format = definition.parameter_format
        self.components = [dict(component) for component in definition.components]
        self.slots = slots(self.components)

    def to_graph(self, fields: Iterable[str] | None = None) -> dict[str, Any]:
        wanted = set(fields or ALL_FIELDS) | {"id"}
        return {key: getattr(self, key) for key in ALL_FIELDS if key in wanted}


SEEDS: tuple[Definition, ...] = (
    Definition("hello_world", "en_US", "UTILITY", "POSITIONAL", [
        {"type": "HEADER", "format": "TEXT", "text": "Hello World"},
        {"type": "BODY", "text": "Welcome and congratulations!! This message demonstrates your ability to send a "
         "WhatsApp message notification from the Cloud API, hosted by Meta. Thank you for taking the time to "
         "test with us."},
        {"type": "FOOTER", "text": "WhatsApp Business Platform sample message"},
    ]),
    Definition("order_update", "en", "UTILITY", "POSITIONAL", [
        {"type": "BODY", "text": "Hi {{1}}, your order {{2}} is {{3}}.",
         "example": {"body_text": [["Ana", "A-1001", "on its way"]]}},
    ]),
    Definition("reengage", "en", "UTILITY", "POSITIONAL", [
        {"type": "BODY", "text": "Hi {{1}}, we have an update on your conversation. Reply to continue.",
         "example": {"body_text": [["Ana"]]}},
    ]),
    Definition("spring_sale", "en", "MARKETING", "NAMED", [
        {"type": "BODY", "text": "Hi {{first_name}}, our spring sale is on: {{discount}} off everything this week!",
         "example": {"body_text_named_params": [{"param_name": "first_name", "example": "Ana"},
                                                {"param_name": "discount", "example": "20%"}]}},
        {"type": "FOOTER", "text": "Tap Stop promotions to opt out"},
        {"type": "BUTTONS", "buttons": [{"type": "QUICK_REPLY", "text": "Interested"},
                                        {"type": "QUICK_REPLY", "text": "Stop promotions"}]},
    ]),
)
SEED_ID_BASE = 300000000000001


class TemplateRegistry:
    """Templates of the sandbox's one WABA, by id and by (name, language)."""

    def __init__(self) -> None:
        self._by_id: dict[str, Template] = {}
        self._by_key: dict[tuple[str, str], str] = {}
        self.seed()

    def seed(self) -> None:
        """Forget everything and load the seed templates, APPROVED, with fixed ids."""
        self._by_id.clear()
        self._by_key.clear()
        for offset, definition in enumerate(SEEDS):
            template = self.add(definition, template_id=str(SEED_ID_BASE + offset))
            template.status = "APPROVED"

    def add(self, definition: Definition, template_id: str | None = None) -> Template:
        template = Template(
            id=template_id or ids.numeric_id(), name=definition.name, language=definition.language,
            category=definition.category, parameter_format=definition.parameter_format, components=[],
        )
        template.define(definition)
        self._by_id[template.id] = template
        self._by_key[(template.name, template.language)] = template.id
        return template

    def exists(self, name: str, language: str) -> bool:
        return (name, language) in self._by_key

    def find(self, name: str, language: str) -> Template | None:
        template_id = self._by_key.get((name, language))
        return None if template_id is None else self._by_id.get(template_id)

    def get(self, template_id: str) -> Template | None:
        return self._by_id.get(template_id)

    def all(self) -> list[Template]:
        return list(self._by_id.values())

    def search(self, *, name: str | None = None, status: set[str] | None = None,
               category: set[str] | None = None, language: str | None = None) -> list[Template]:
        """Meta's list filters: ``name`` matches a substring; the others match exactly."""
        return [
            template for template in self._by_id.values()
            if (name is None or name.lower() in template.name)
            and (status is None or template.status in status)
            and (category is None or template.category in category)
            and (language is None or template.language == language)
        ]

    def remove(self, template: Template) -> None:
        self._by_id.pop(template.id, None)
        self._by_key.pop((template.name, template.language), None)

    def named(self, name: str) -> list[Template]:
        return [template for template in self._by_id.values() if template.name == name]
