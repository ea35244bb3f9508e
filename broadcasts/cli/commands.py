"""The command table: one `Command` per API operation. `register` turns resources into argparse
subparsers (``{placeholders}`` of the path become positional arguments); `execute` runs any of
them the same way: fill the path, build the body and query, call, print."""
from __future__ import annotations

import argparse
import json
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional, Sequence, Tuple, Union

from .client import Api, segment
from .output import print_json

Namespace = argparse.Namespace


class Arg:
    """One argparse argument: ``Arg("--state", help=...)``."""

    def __init__(self, *flags: str, **options: Any) -> None:
        self.flags, self.options = flags, options


@dataclass(frozen=True)
class OneOf:
    """Mutually exclusive arguments (``required``: exactly one)."""

    args: Tuple[Arg, ...]
    required: bool = False


@dataclass(frozen=True)
class Command:
    verb: str
    method: str
    path: str
    help: str
    args: Tuple[Union[Arg, OneOf], ...] = ()
    body: Optional[Callable[[Namespace], Any]] = None             # JSON body from the arguments
    query: Optional[Callable[[Namespace], Dict[str, Any]]] = None
    table: Optional[Callable[[Any], str]] = None                  # human-readable rendering
    readable: bool = False                                        # the table is the default (--json: raw)
    run: Optional[Callable[[Api, Namespace], int]] = None         # custom steps instead of one call
    aliases: Tuple[str, ...] = ()

    @property
    def placeholders(self) -> List[str]:
        return re.findall(r"{(\w+)}", self.path)


@dataclass(frozen=True)
class Resource:
    name: str
    help: str
    commands: Tuple[Command, ...]


# -- argument types ------------------------------------------------------------------------

def json_value(text: str) -> Any:
    """Inline JSON, ``@file`` / an existing file path, or ``-`` for stdin."""
    source = text
    try:
        if text == "-":
            source, text = "stdin", sys.stdin.read()
        elif text.startswith("@") or (text[:1] not in "{[\"" and Path(text).is_file()):
            source = text[1:] if text.startswith("@") else text
            text = Path(source).read_text(encoding="utf-8")
        return json.loads(text)
    except OSError as exc:
        raise argparse.ArgumentTypeError(f"cannot read {source}: {exc.strerror}") from None
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"{source!r} is not valid JSON (nor a file): {exc}") from None


def json_object(text: str) -> Dict[str, Any]:
    value = json_value(text)
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError("expected a JSON object")
    return value


def key_value(text: str) -> Tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def merged(spec: Optional[Dict[str, Any]], **flags: Any) -> Dict[str, Any]:
    """A JSON spec with the flags that were given laid over it."""
    body = dict(spec or {})
    body.update({k: v for k, v in flags.items() if v is not None})
    return body


# -- argparse ------------------------------------------------------------------------------

def _add(parser: Any, item: Union[Arg, OneOf]) -> None:
    if isinstance(item, OneOf):
        group = parser.add_mutually_exclusive_group(required=item.required)
        for arg in item.args:
            group.add_argument(*arg.flags, **arg.options)
    else:
        parser.add_argument(*item.flags, **item.options)


def register(sub: Any, resources: Sequence[Resource], common: argparse.ArgumentParser) -> None:
    """One subparser per resource, one per verb under it; ``common`` holds --url/--token."""
    for resource in resources:
        group = sub.add_parser(resource.name, help=resource.help, description=resource.help)
        verbs = group.add_subparsers(dest="verb", metavar="verb", required=True)
        for command in resource.commands:
            leaf = verbs.add_parser(command.verb, aliases=command.aliases, help=command.help,
                                    description=command.help, parents=[common])
            for name in command.placeholders:
                leaf.add_argument(name, metavar=name.upper())
            for item in command.args:
                _add(leaf, item)
            if command.table is not None:
                out = leaf.add_mutually_exclusive_group()
                out.add_argument("--json", dest="format", action="store_const", const="json",
                                 help="raw JSON" + ("" if command.readable else " (the default)"))
                out.add_argument("--table", dest="format", action="store_const", const="table",
                                 help="a readable table" + (" (the default)" if command.readable else ""))
            leaf.set_defaults(cli_command=command, format=None)


def execute(api: Api, command: Command, args: Namespace) -> int:
    if command.run is not None:
        return command.run(api, args)
    path = command.path.format(**{name: segment(getattr(args, name)) for name in command.placeholders})
    data = api.call(command.method, path, json=command.body(args) if command.body else None,
                    params=command.query(args) if command.query else None)
    wants_table = args.format == "table" or (args.format is None and command.readable)
    if command.table is not None and wants_table:
        sys.stdout.write(command.table(data) + "\n")
    else:
        print_json(data)
    return 0
