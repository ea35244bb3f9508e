"""Commands: attribute schema, contacts (incl. CSV import), consent, business events."""
from __future__ import annotations

from typing import Any, Dict

from .commands import Arg, Command, Namespace, Resource, json_object, json_value, key_value, merged
from .imports import import_csv
from .output import fields, rows_of

CATEGORY = Arg("--category", choices=["marketing", "utility"], default="marketing")


def _schema(args: Namespace) -> Dict[str, Any]:
    value = args.schema
    return value if isinstance(value, dict) else {"attributes": value}


def _contact(args: Namespace) -> Dict[str, Any]:
    body = merged(args.spec, phone=args.phone, name=args.name)
    if args.attr:
        body["attributes"] = {**(body.get("attributes") or {}), **dict(args.attr)}
    if args.tag:
        body["tags"] = list(body.get("tags") or []) + args.tag
    return body


def _consent(action: str) -> Command:
    return Command(action.replace("_", "-"), "POST", "/api/consent",
                   f"record an {action.replace('_', '-')} (source api)", (Arg("phone"), CATEGORY),
                   body=lambda a: {"phone": a.phone, "category": a.category, "action": action},
                   table=fields([("wa_id", "wa_id"), ("category", "category"), ("state", "state")]))


CONTACT_COLUMNS = rows_of("contacts", [("phone", "phone"), ("name", "name"), ("tags", "tags"),
                                       ("marketing", "consent.marketing.state"),
                                       ("utility", "consent.utility.state"),
                                       ("last inbound", "last_inbound_at")])

RESOURCES = (
    Resource("schema", "the contact attribute schema", (
        Command("get", "GET", "/api/schema", "show the attribute schema",
                table=rows_of("attributes", [("name", "name"), ("type", "type"), ("values", "values")])),
        Command("set", "PUT", "/api/schema", "replace the attribute schema",
                (Arg("schema", metavar="JSON", type=json_value,
                     help='[{"name", "type", ...}] or {"attributes": [...]}: inline, @file or -'),),
                body=_schema),
    )),
    Resource("contacts", "contacts: list, upsert, erase, export, CSV import", (
        Command("list", "GET", "/api/contacts", "list contacts (newest pages with --skip)",
                (Arg("--limit", type=int, default=50), Arg("--skip", type=int, default=0)),
                query=lambda a: {"limit": a.limit, "skip": a.skip}, table=CONTACT_COLUMNS),
        Command("get", "GET", "/api/contacts/{phone}", "one contact"),
        Command("upsert", "POST", "/api/contacts", "create or update one contact",
                (Arg("phone"), Arg("--name"),
                 Arg("--attr", type=key_value, action="append", metavar="KEY=VALUE",
                     help="an attribute (typed by the schema); repeatable"),
                 Arg("--tag", action="append", help="repeatable"),
                 Arg("--spec", type=json_object, metavar="JSON",
                     help='{"name", "attributes", "tags"}: inline, @file or -')),
                body=_contact),
        Command("erase", "DELETE", "/api/contacts/{phone}", "erase all data of a contact", aliases=("delete",)),
        Command("export", "GET", "/api/contacts/{phone}/export",
                "contact, consent ledger, campaign messages, business events"),
        Command("import", "POST", "/api/contacts/import",
                "upload a CSV with a progress bar; bad rows on stderr as `line N: reason`",
                (Arg("file"), Arg("--no-wait", action="store_true", help="print the job id and return")),
                run=import_csv),
        Command("import-status", "GET", "/api/imports/{job}", "progress and bad rows of an import job"),
    )),
    Resource("consent", "record consent (opt-in / opt-out)", (_consent("opt_in"), _consent("opt_out"))),
    Resource("events", "business events (upsert the contact, send a utility template once per id)", (
        Command("send", "POST", "/api/events", "ingest one business event",
                (Arg("event", metavar="JSON", type=json_object,
                     help='{"id", "type", "phone", "attributes", "opt_in"?, "template"?}: inline, @file or -'),),
                body=lambda a: a.event),
    )),
)
