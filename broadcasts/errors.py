"""The broadcasts error tree.

    BroadcastsError            status 500
    ├── NotFound               404  (contact, segment, template, campaign)
    ├── InvalidInput           400  (bad phone, bad attribute, bad filter, bad payload)
    ├── IllegalTransition      409  (campaign state machine refused the move)
    └── TemplateNotSendable    409  (template not APPROVED, or variables missing)
"""
from __future__ import annotations


class BroadcastsError(Exception):
    status = 500


class NotFound(BroadcastsError):
    status = 404


class InvalidInput(BroadcastsError):
    status = 400


class IllegalTransition(BroadcastsError):
    status = 409


class TemplateNotSendable(BroadcastsError):
    status = 409
