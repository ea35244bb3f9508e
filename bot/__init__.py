"""Parley's demo Rasa bot (Paidal Shoes): domain, data, configs, custom actions."""
