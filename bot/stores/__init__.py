"""Rasa stores for Parley: a tracker store that keeps only the live session in Redis.

Configured in bot/endpoints.yml (``tracker_store: type: bot.stores.tracker_store.LiveSessionTrackerStore``).
"""
