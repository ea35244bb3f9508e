"""Commands: segments (JSON filters) and live audience counts."""
from __future__ import annotations

from typing import Any, Dict

from .commands import Arg, Command, Namespace, Resource, json_object, merged
from .output import fields, rows_of

SPEC_HELP = "inline JSON, @file or -"


def _create(args: Namespace) -> Dict[str, Any]:
    return merged(args.spec, id=args.id, name=args.name, filter=args.filter)


def _count(args: Namespace) -> Dict[str, Any]:
    """A bare filter, or a whole segment spec (its ``filter``): the file given to `create` works too."""
    spec = args.filter
    return {"filter": spec["filter"] if "filter" in spec else spec}


RESOURCES = (
    Resource("segments", "segments: saved contact filters", (
        Command("list", "GET", "/api/segments", "list segments",
                table=rows_of("segments", [("id", "_id"), ("name", "name")])),
        Command("get", "GET", "/api/segments/{id}", "one segment with its live count",
                table=fields([("id", "_id"), ("name", "name"), ("count", "count")])),
        Command("create", "POST", "/api/segments", "create or replace a segment",
                (Arg("spec", nargs="?", type=json_object, metavar="JSON",
                     help='{"id"?, "name", "filter"}: ' + SPEC_HELP),
                 Arg("--id"), Arg("--name"),
                 Arg("--filter", type=json_object, metavar="JSON", help="the filter: " + SPEC_HELP)),
                body=_create),
        Command("count", "POST", "/api/segments/count", "count the contacts a filter matches now",
                (Arg("filter", type=json_object, metavar="JSON",
                     help="a filter, or a segment spec with one: " + SPEC_HELP),),
                body=_count, table=fields([("count", "count")])),
        Command("delete", "DELETE", "/api/segments/{id}", "delete a segment"),
    )),
)
