"""Shared fixtures. The suite runs twice: in the services env (everything but the bot's own
tests) and in the bot env (connectors, which must work on both, and the bot)."""
from __future__ import annotations

import importlib.util

pytest_plugins = ["tests.plugins.stores", "tests.plugins.sandbox", "tests.plugins.browser",
                  "tests.plugins.platform"]

IN_BOT_ENV = importlib.util.find_spec("rasa") is not None

if IN_BOT_ENV:
    collect_ignore = ["sandbox", "handoff", "broadcasts", "devstack", "integration"]
else:
    collect_ignore = ["bot"]
