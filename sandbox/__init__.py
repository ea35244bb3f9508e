"""Parley's WhatsApp Cloud API sandbox: a local fake of the Graph API and its webhooks.

Run it with ``python -m sandbox``; build it in-process with ``create_app(Settings.from_env())``.
"""
from .app import create_app
from .settings import Settings, SettingsError
from .state import Sandbox

__all__ = ["Sandbox", "Settings", "SettingsError", "create_app"]
