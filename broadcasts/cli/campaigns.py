"""Commands: campaigns, their actions, pre-flight, schedule, live analytics and recipients."""
from __future__ import annotations

import argparse
import re
from datetime import datetime
from typing import Any, Dict

from .commands import Arg, Command, Namespace, OneOf, Resource, json_object, merged
from .funnel import funnel
from .output import fields, rows_of

SPEC_HELP = "inline JSON, @file or -"


def window(text: str) -> Dict[str, str]:
    """``10:00-20:00`` -> ``{"start": "10:00", "end": "20:00"}`` (may cross midnight)."""
    match = re.fullmatch(r"(\d{1,2}:\d{2})-(\d{1,2}:\d{2})", text.strip())
    if not match:
        raise argparse.ArgumentTypeError(f"expected HH:MM-HH:MM, got {text!r}")
    return {"start": match.group(1), "end": match.group(2)}


def moment(text: str) -> str:
    try:
        datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an ISO date-time like 2025-06-01T10:00, got {text!r}") from None
    return text


SPEC_ARGS = (
    Arg("spec", nargs="?", type=json_object, metavar="JSON",
        help='{"name", "template_id", "variables", "segment", "rate", "priority", "followups", ...}: ' + SPEC_HELP),
    Arg("--name"), Arg("--template", help="template id"),
    Arg("--segment", help="segment id"),
    Arg("--variables", type=json_object, metavar="JSON", help="variable mapping: " + SPEC_HELP),
    Arg("--rate", type=float, help="messages per second (0: as fast as allowed)"),
    Arg("--priority"),
)


def _spec(args: Namespace) -> Dict[str, Any]:
    return merged(args.spec, name=args.name, template_id=args.template, variables=args.variables,
                  rate=args.rate, priority=args.priority,
                  segment={"segment_id": args.segment} if args.segment else None)


def _schedule(args: Namespace) -> Dict[str, Any]:
    return {"schedule": merged(None, at=args.at, cron=args.cron, timezone=args.timezone, window=args.window)}


def _action(verb: str, help: str) -> Command:
    return Command(verb, "POST", f"/api/campaigns/{{id}}/{verb}", help,
                   table=fields([("id", "_id"), ("state", "state"), ("reason", "state_reason")]))


CAMPAIGN = fields([("id", "_id"), ("name", "name"), ("state", "state"), ("template", "template_id"),
                   ("segment", "segment.segment_id"), ("next run", "next_run")])

RESOURCES = (
    Resource("campaigns", "campaigns: create, schedule, run, follow", (
        Command("list", "GET", "/api/campaigns", "list campaigns",
                (Arg("--state", help="only campaigns in this state"),),
                query=lambda a: {"state": a.state} if a.state else {},
                table=rows_of("campaigns", [("id", "_id"), ("name", "name"), ("state", "state"),
                                            ("template", "template_id"), ("audience", "stats.audience"),
                                            ("sent", "stats.sent"), ("created", "created_at")])),
        Command("get", "GET", "/api/campaigns/{id}", "one campaign (with its next scheduled run)", table=CAMPAIGN),
        Command("create", "POST", "/api/campaigns", "create a draft campaign", SPEC_ARGS, body=_spec,
                table=CAMPAIGN),
        Command("patch", "PATCH", "/api/campaigns/{id}", "edit a draft campaign", SPEC_ARGS, body=_spec,
                table=CAMPAIGN),
        Command("preflight", "POST", "/api/campaigns/{id}/preflight",
                "audience, exclusions, estimated cost and duration",
                table=fields([("audience", "audience"), ("eligible", "eligible"), ("excluded", "excluded"),
                              ("cost", lambda p: f"{p.get('estimated_cost')} {p.get('currency') or ''}"),
                              ("duration (s)", "estimated_duration_seconds")])),
        Command("schedule", "POST", "/api/campaigns/{id}/schedule", "schedule once (--at) or recurring (--cron)",
                (OneOf((Arg("--at", type=moment, help="ISO date-time (in --timezone when it has no offset)"),
                        Arg("--cron", help='crontab, e.g. "0 10 * * 1"')), required=True),
                 Arg("--timezone", help="IANA zone, e.g. Asia/Kolkata (default UTC)"),
                 Arg("--window", type=window, metavar="HH:MM-HH:MM", help="sending window, e.g. 10:00-20:00")),
                body=_schedule, table=CAMPAIGN),
        _action("start", "start sending now"),
        _action("pause", "pause sending"),
        _action("resume", "resume a paused campaign"),
        _action("cancel", "cancel for good"),
        _action("unschedule", "back to draft"),
        Command("retry-failed", "POST", "/api/campaigns/{id}/retry-failed", "re-send transiently failed recipients"),
        Command("analytics", "GET", "/api/campaigns/{id}/analytics", "live funnel, rates, failure reasons",
                table=funnel, readable=True),
        Command("recipients", "GET", "/api/campaigns/{id}/recipients", "recipient records",
                (Arg("--state", help="e.g. failed, pending, delivered"), Arg("--limit", type=int, default=100)),
                query=lambda a: merged(None, state=a.state, limit=a.limit),
                table=rows_of("recipients", [("wa_id", "wa_id"), ("state", "state"),
                                             ("error", "error.code"), ("reason", "error.title")])),
    )),
)
