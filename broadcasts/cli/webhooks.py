"""Commands: CRM webhook subscriptions, secret rotation, recent deliveries (`broadcasts.crm`)."""
from __future__ import annotations

from typing import Any, Dict

from .commands import Arg, Command, Namespace, OneOf, Resource, json_object, merged
from .output import rows_of

SPEC_ARGS = (
    Arg("--endpoint", metavar="URL", help="the subscriber's URL, where Parley POSTs the events"),
    Arg("--event", action="append", metavar="TYPE",
        help="event type or prefix wildcard (campaign.*, message.delivered, *); repeatable"),
    Arg("--description"),
    OneOf((Arg("--active", dest="active", action="store_const", const=True),
           Arg("--inactive", dest="active", action="store_const", const=False))),
    Arg("--spec", type=json_object, metavar="JSON",
        help='{"url", "events", "description", "active"}: inline JSON, @file or -'),
)


def _spec(args: Namespace) -> Dict[str, Any]:
    return merged(args.spec, url=args.endpoint, events=args.event, description=args.description, active=args.active)


def _deliveries(args: Namespace) -> Dict[str, Any]:
    return merged(None, state=args.state, limit=args.limit)


RESOURCES = (
    Resource("webhooks", "CRM webhook subscriptions (signed POSTs of campaign and message events)", (
        Command("list", "GET", "/api/webhooks", "list subscriptions (without their secrets)",
                table=rows_of("webhooks", [("id", "_id"), ("url", "url"), ("events", "events"),
                                           ("active", "active"), ("description", "description")])),
        Command("get", "GET", "/api/webhooks/{id}", "one subscription"),
        Command("create", "POST", "/api/webhooks", "subscribe a URL; the answer holds the signing secret (once)",
                SPEC_ARGS, body=_spec),
        Command("patch", "PATCH", "/api/webhooks/{id}", "edit a subscription", SPEC_ARGS, body=_spec),
        Command("delete", "DELETE", "/api/webhooks/{id}", "delete a subscription and its deliveries (pending ones are not sent)"),
        Command("rotate-secret", "POST", "/api/webhooks/{id}/rotate-secret", "a new signing secret (shown once)"),
        Command("deliveries", "GET", "/api/webhooks/{id}/deliveries", "recent delivery attempts, newest first",
                (Arg("--state", choices=["pending", "delivered", "failed", "dead"]),
                 Arg("--limit", type=int, default=50)),
                query=_deliveries,
                table=rows_of("deliveries", [("id", "_id"), ("type", "type"), ("state", "state"),
                                             ("attempts", "attempts"), ("status", "last_status"),
                                             ("error", "last_error"), ("created", "created_at")])),
    )),
)
