"""The broadcasts REST API (Sanic adapter over the framework-free core)."""
from .app import create_app

__all__ = ["create_app"]
