"""Paidal Shoes custom actions (rasa_sdk): `rasa run actions --actions bot.actions`.

One module per concern: orders, products (sizes, stock, delivery), consent, handoff, session,
inform (routing bare entities). Settings come from the environment once (settings.py); Redis and
MongoDB clients are shared per process (clients.py).
"""
from . import consent, handoff, inform, orders, products, session  # noqa: F401  (registers actions)
