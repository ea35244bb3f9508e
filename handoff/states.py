"""The handoff ticket state machine: the one transition table.

A conversation is owned by the bot until a handoff is requested; from then on it has one open
ticket that moves through the statuses below, and the ownership record follows it::

    (bot) --request--> queued --claim/assign--> assigned --resolve--> resolved --> (bot)
                         |  ^                    |   ^  |
                         |  +------requeue-------+   +--+ transfer (to another agent)
                         +--time_out--> timed_out --claim (follow-up)--> assigned

``resolved`` and ``timed_out`` are closed: the bot owns the conversation again. A timed-out
ticket stays on the follow-up list, where an agent may still claim it (templates only if the
24-hour window has closed meanwhile).
"""
from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Dict, FrozenSet, Optional

from connectors.ownership import Owner


class Status(str, enum.Enum):
    QUEUED = "queued"
    ASSIGNED = "assigned"
    RESOLVED = "resolved"
    TIMED_OUT = "timed_out"

    @property
    def is_open(self) -> bool:
        """An open ticket means a human (or the queue) owns the conversation."""
        return self in OPEN_STATUSES

    @property
    def owner(self) -> Owner:
        """The ownership record a ticket in this status implies."""
        return _OWNER[self]


OPEN_STATUSES: FrozenSet[Status] = frozenset({Status.QUEUED, Status.ASSIGNED})

_OWNER: Dict[Status, Owner] = {
    Status.QUEUED: Owner.QUEUED,
    Status.ASSIGNED: Owner.ASSIGNED,
    Status.RESOLVED: Owner.BOT,
    Status.TIMED_OUT: Owner.BOT,
}


class Action(str, enum.Enum):
    REQUEST = "request"
    CLAIM = "claim"
    ASSIGN = "assign"
    TRANSFER = "transfer"
    REQUEUE = "requeue"
    RESOLVE = "resolve"
    TIME_OUT = "time_out"


@dataclass(frozen=True)
class Transition:
    action: Action
    sources: FrozenSet[Optional[Status]]  # None: no open ticket (the bot owns the chat)
    target: Status
    event: str  # the connectors.events type emitted


#: The one transition table. Nothing else decides which moves are legal.
TRANSITIONS: Dict[Action, Transition] = {
    t.action: t
    for t in (
        Transition(Action.REQUEST, frozenset({None}), Status.QUEUED, "handoff.requested"),
        Transition(Action.CLAIM, frozenset({Status.QUEUED, Status.TIMED_OUT}), Status.ASSIGNED,
                   "handoff.assigned"),
        Transition(Action.ASSIGN, frozenset({Status.QUEUED}), Status.ASSIGNED, "handoff.assigned"),
        Transition(Action.TRANSFER, frozenset({Status.ASSIGNED}), Status.ASSIGNED,
                   "handoff.transferred"),
        Transition(Action.REQUEUE, frozenset({Status.ASSIGNED}), Status.QUEUED,
                   "handoff.transferred"),
        Transition(Action.RESOLVE, frozenset({Status.ASSIGNED, Status.QUEUED}), Status.RESOLVED,
                   "handoff.resolved"),
        Transition(Action.TIME_OUT, frozenset({Status.QUEUED}), Status.TIMED_OUT,
                   "handoff.timed_out"),
    )
}


def transition(action: Action) -> Transition:
    return TRANSITIONS[action]


def allowed(action: Action, current: Optional[Status]) -> bool:
    """True when `action` may move a ticket in status `current` (None: no open ticket)."""
    return current in TRANSITIONS[action].sources
