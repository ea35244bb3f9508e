"""The HTTP and websocket adapter of the handoff service."""
from handoff.api.app import create_app

__all__ = ["create_app"]
