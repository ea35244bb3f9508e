"""Parley's human-handoff service: the agent queue (MongoDB), named ticket transitions that
keep the Redis ownership record, and the live agent console.

Public surface: `create_app(settings)`, `Settings`, `HandoffService`, `Status`, the error tree.
"""
from handoff.errors import ConflictError, Forbidden, HandoffError, InvalidTransition, NotFound
from handoff.service import HandoffService
from handoff.settings import Settings
from handoff.states import Status


def create_app(settings: Settings):  # type: ignore[no-untyped-def]
    """The Sanic app (imported lazily so the domain core never needs Sanic)."""
    from handoff.api import create_app as factory

    return factory(settings)


__all__ = ["ConflictError", "Forbidden", "HandoffError", "HandoffService", "InvalidTransition",
           "NotFound", "Settings", "Status", "create_app"]
