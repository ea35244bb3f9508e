"""``python -m broadcasts <resource> <verb> ...``: every broadcasts REST API operation from a
shell, over HTTP (so it works against a remote server and obeys its auth).

Base URL: ``--url`` / ``BROADCASTS_URL`` (default http://127.0.0.1:8789); token: ``--token`` /
``PARLEY_API_TOKEN`` (a handoff API token). Output: JSON, or a table where a command has one
(``--table``; ``campaigns analytics`` defaults to its funnel table, ``--json`` for the raw answer).
Exit status: 0 ok, 1 API or connection error (one line on stderr), 2 usage.
"""
from __future__ import annotations

import argparse
import os
import sys
from typing import Any, Mapping, Tuple

from . import campaigns, contacts, segments, templates, webhooks
from .client import Api, CliError, Target
from .commands import Resource, execute, register

RESOURCES: Tuple[Resource, ...] = (*contacts.RESOURCES, *segments.RESOURCES, *templates.RESOURCES,
                                   *campaigns.RESOURCES, *webhooks.RESOURCES)


def connection_options(parser: argparse.ArgumentParser, default: Any = None) -> None:
    parser.add_argument("--url", default=default, help="the broadcasts API (else $BROADCASTS_URL, "
                                                        "else http://127.0.0.1:8789)")
    parser.add_argument("--token", default=default, help="API bearer token (else $PARLEY_API_TOKEN)")


def add_commands(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the resource commands to ``sub`` (the subparsers of ``parent``, which gets --url/--token;
    each command accepts them too, after its verb)."""
    connection_options(parent)
    common = argparse.ArgumentParser(add_help=False)
    connection_options(common, default=argparse.SUPPRESS)
    register(sub, RESOURCES, common)


def run(args: argparse.Namespace, environ: Mapping[str, str]) -> int:
    """Run the command parsed into ``args`` (``args.cli_command``); returns the exit status."""
    try:
        with Api(Target.from_env(environ, args.url, args.token)) as api:
            return execute(api, args.cli_command, args)
    except CliError as exc:
        sys.stderr.write(f"broadcasts: {exc}\n")
        return exc.code
    except KeyboardInterrupt:
        sys.stderr.write("\ninterrupted\n")
        return 130
    except BrokenPipeError:  # the reader went away (`... | head`): nothing left to tell anyone
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0


__all__ = ["RESOURCES", "add_commands", "run", "Api", "Target", "CliError"]
