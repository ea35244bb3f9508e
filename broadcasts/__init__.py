"""Parley broadcasts: contacts, consent, segments, templates, campaigns and follow-ups.

Public surface: ``Settings``, ``Context`` (clients and stores), ``Runtime`` (consumer, workers,
scheduler) and ``create_app`` (REST API). See broadcasts/README.md.
"""
from .context import Context
from .errors import BroadcastsError
from .runtime import Runtime
from .settings import Settings

__all__ = ["Context", "Runtime", "Settings", "BroadcastsError"]
