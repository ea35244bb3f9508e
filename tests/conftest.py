"""Shared fixtures. The suite runs twice: in the services env (everything but the bot's own
tests) and in the bot env (connectors, which must work on both, and the bot)."""
from __future__ import annotations

import importlib.util

pytest_plugins = ["tests.plugins.stores", "tests.plugins.sandbox", "tests.plugins.browser",
                  "tests.plugins.platform"]

IN_BOT_ENV = importlib.util.find_spec("rasa") is not None


def _serialize_ast_parse() -> None:
    """CPython 3.11.7 keeps the AST constructor's recursion depth in interpreter-wide state, so a
    parse that starts inside another one fails the outer one with "SystemError: AST constructor
    recursion depth mismatch" (python/cpython#106905). It happens when the garbage collector runs
    during pytest's parse of a failing test's source and finalizes an asyncio task whose exception
    was never retrieved: the report formats a traceback, and 3.11's traceback module parses lines
    for its carets. The SystemError becomes an INTERNALERROR that ends the whole session and hides
    the real result (CI, stop 9). Here every ``ast.parse`` runs with the collector paused (no
    finalizer can start inside it) and under one lock (nor can another thread's parse)."""
    import ast
    import functools
    import gc
    import threading

    if getattr(ast.parse, "_parley_serialized", False):
        return
    lock = threading.RLock()
    unguarded = ast.parse

    @functools.wraps(unguarded)
    def parse(*args, **kwargs):
        with lock:
            collecting = gc.isenabled()
            gc.disable()
            try:
                return unguarded(*args, **kwargs)
            finally:
                if collecting:
                    gc.enable()

    parse._parley_serialized = True
    ast.parse = parse


def _import_hypothesis_early() -> None:
    """hypothesis' pytest plugin imports hypothesis lazily in its terminal summary; importing it here,
    before any fixture starts a thread, keeps pytest's rewrite of it out of that race."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:  # the bot env has no hypothesis
        pass


_serialize_ast_parse()
_import_hypothesis_early()

if IN_BOT_ENV:
    collect_ignore = ["sandbox", "handoff", "broadcasts", "devstack", "integration"]
else:
    collect_ignore = ["bot"]
