"""The two state machines of a campaign, with their transition tables in one place.

Campaign:   draft -> scheduled -> running <-> paused -> completed | cancelled

    action      from                                  to
    schedule    draft                                 scheduled
    unschedule  scheduled                             draft
    start       draft, scheduled                      running
    pause       running                               paused
    resume      paused                                running
    complete    running                               completed
    retry       completed                             running   (retry-failed re-sends transient failures)
    cancel      draft, scheduled, running, paused     cancelled

Recipient (one per campaign and contact, id ``campaign:{id}:{wa_id}``):

    pending -> sending -> accepted -> sent -> delivered -> read        (rank only grows)
    pending|sending -> skipped (consent, window refusal)   any rank < delivered -> failed

``accepted`` = the Graph API answered 200 with a wamid; ``sent``/``delivered``/``read`` come
from status webhooks, which may arrive before the worker records ``accepted`` or out of order:
updates are conditional on ``rank < new rank``, so nothing regresses. Counters count funnel
levels (sent, delivered, read): each level is added to the record's ``reached`` set by one
conditional update, and only the update that added it increments the counter, so duplicates,
reordering and a worker racing the tracker never count twice.
"""
from __future__ import annotations

import enum
from typing import Dict, FrozenSet, List, Tuple

from ..errors import IllegalTransition


class CampaignState(str, enum.Enum):
    DRAFT = "draft"
    SCHEDULED = "scheduled"
    RUNNING = "running"
    PAUSED = "paused"
    COMPLETED = "completed"
    CANCELLED = "cancelled"


S = CampaignState
TRANSITIONS: Dict[str, Tuple[FrozenSet[CampaignState], CampaignState]] = {
    "schedule": (frozenset({S.DRAFT}), S.SCHEDULED),
    "unschedule": (frozenset({S.SCHEDULED}), S.DRAFT),
    "start": (frozenset({S.DRAFT, S.SCHEDULED}), S.RUNNING),
    "pause": (frozenset({S.RUNNING}), S.PAUSED),
    "resume": (frozenset({S.PAUSED}), S.RUNNING),
    "complete": (frozenset({S.RUNNING}), S.COMPLETED),
    "retry": (frozenset({S.COMPLETED}), S.RUNNING),
    "cancel": (frozenset({S.DRAFT, S.SCHEDULED, S.RUNNING, S.PAUSED}), S.CANCELLED),
}


def transition(action: str, current: CampaignState) -> CampaignState:
    """The state ``action`` leads to from ``current``; IllegalTransition if it may not."""
    if action not in TRANSITIONS:
        raise IllegalTransition(f"unknown action {action!r}")
    sources, target = TRANSITIONS[action]
    if current not in sources:
        raise IllegalTransition(f"cannot {action} a {current.value} campaign")
    return target


class RecipientState(str, enum.Enum):
    PENDING = "pending"
    SENDING = "sending"
    ACCEPTED = "accepted"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    FAILED = "failed"
    SKIPPED = "skipped"


R = RecipientState
#: Progress order; ``failed``/``skipped`` are terminal and keep the rank they were reached at.
RANK: Dict[RecipientState, int] = {R.PENDING: 0, R.SENDING: 1, R.ACCEPTED: 2, R.SENT: 3, R.DELIVERED: 4, R.READ: 5}
TERMINAL = frozenset({R.FAILED, R.SKIPPED})
#: A failure may replace any state below this rank (Meta may fail a message it had sent).
FAIL_BELOW = RANK[R.DELIVERED]
#: The funnel counters a rank reaches: ``stats.<name>`` counts recipients that got at least there.
FUNNEL = (("sent", RANK[R.ACCEPTED]), ("delivered", RANK[R.DELIVERED]), ("read", RANK[R.READ]))


def funnel_levels(rank: int) -> List[str]:
    """The funnel levels a record at ``rank`` has reached (read implies delivered implies sent)."""
    return [name for name, level in FUNNEL if level <= rank]
