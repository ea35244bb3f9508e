"""Shared fixtures. The suite runs twice: in the services env (everything but the bot's own
tests) and in the bot env (connectors, which must work on both, and the bot)."""
from __future__ import annotations

import importlib.util

pytest_plugins = ["tests.plugins.stores", "tests.plugins.sandbox", "tests.plugins.browser",
                  "tests.plugins.platform"]

IN_BOT_ENV = importlib.util.find_spec("rasa") is not None


def _import_hypothesis_early() -> None:
    """hypothesis' pytest plugin imports hypothesis lazily in its terminal summary, at the end of a
    deep pluggy call stack, and there CPython 3.11.7 can fail with "SystemError: AST constructor
    recursion depth mismatch" while pytest rewrites it (python/cpython#106905), hiding the run's
    real result. Importing it here, near the bottom of the stack, makes that a no-op."""
    try:
        import hypothesis  # noqa: F401
    except ImportError:  # the bot env has no hypothesis
        pass


_import_hypothesis_early()

if IN_BOT_ENV:
    collect_ignore = ["sandbox", "handoff", "broadcasts", "devstack", "integration"]
else:
    collect_ignore = ["bot"]
