"""Commands: the template library (list, create + submit, sync from Meta, per-contact preview)."""
from __future__ import annotations

from .commands import Arg, Command, Resource, json_object
from .output import rows_of

RESOURCES = (
    Resource("templates", "message templates", (
        Command("list", "GET", "/api/templates", "list templates",
                table=rows_of("templates", [("id", "_id"), ("name", "name"), ("language", "language"),
                                            ("category", "category"), ("status", "status")])),
        Command("create", "POST", "/api/templates", "create a template and submit it for review",
                (Arg("spec", type=json_object, metavar="JSON",
                     help='{"name", "language", "category", "components"}: inline JSON, @file or -'),),
                body=lambda a: a.spec),
        Command("sync", "POST", "/api/templates/sync", "sync the library from WhatsApp now"),
        Command("preview", "POST", "/api/templates/{id}/preview", "what one contact would receive",
                (Arg("--phone", required=True),
                 Arg("--variables", type=json_object, metavar="JSON", default={},
                     help='{"var": {"attr": "first_name", "default": "there"} | {"value": "20%%"}}')),
                body=lambda a: {"phone": a.phone, "variables": a.variables},
                table=lambda data: str(data.get("text", ""))),
    )),
)
