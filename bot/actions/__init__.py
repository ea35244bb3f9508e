"""Paidal Shoes custom actions (rasa_sdk): `rasa run actions --actions bot.actions`.

One module per concern: orders, products (sizes, stock, delivery), consent, handoff, session,
inform (routing bare entities). Settings come from the environment once (settings.py); Redis and
MongoDB clients are shared per process (clients.py).
"""
from observability.logs import install as _install_logging

from . import consent, handoff, inform, orders, products, session  # noqa: F401  (registers actions)
from . import tracing as _tracing
from .settings import get_settings as _get_settings

_tracing.install()  # each action's log lines carry its message's trace id

# rasa_sdk configures its logging before it imports this package, so this is the action server's
# entrypoint for Parley's log format and masking (devstack and docker-compose set the variable).
if _get_settings().log_format:
    _install_logging("actions", _get_settings().log_format)
