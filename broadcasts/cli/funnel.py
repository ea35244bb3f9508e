"""`campaigns analytics` as text: the funnel (counts, rates, bars), states, stuck, failure reasons."""
from __future__ import annotations

from typing import Any, Dict, List, Mapping

from .output import table

#: Funnel stages and the count each rate is taken of (as in `tracker.analytics`).
STAGES = (("sent", "audience"), ("delivered", "sent"), ("read", "sent"), ("replied", "sent"),
          ("failed", "audience"), ("skipped", "audience"))
BAR = 24


def funnel(data: Mapping[str, Any]) -> str:
    counts: Dict[str, Any] = {"audience": data.get("audience", 0), **(data.get("counts") or {})}
    audience = int(counts["audience"] or 0)
    rows: List[Dict[str, Any]] = [{"stage": "audience", "count": audience, "bar": "#" * BAR if audience else ""}]
    for stage, base in STAGES:
        n, of = int(counts.get(stage) or 0), int(counts.get(base) or 0)
        rows.append({"stage": stage, "count": n, "rate": f"{n / of * 100:.1f}%" if of else "-",
                     "of": f"of {base}", "bar": "#" * round(BAR * n / audience) if audience else ""})
    lines = [f"campaign {data.get('campaign_id')}  state {data.get('state')}  audience {audience}", "",
             table(rows, [("stage", "stage"), ("count", "count"), ("rate", "rate"), ("", "of"), ("", "bar")])]
    states = data.get("states") or {}
    if states:
        lines += ["", "recipients by state: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items()))]
    if data.get("stuck"):
        lines.append(f"stuck (sent, no delivery yet): {data['stuck']}")
    reasons = data.get("failure_reasons") or []
    if reasons:
        lines += ["", "failure reasons:", table(reasons, [("code", "code"), ("title", "title"), ("count", "count")])]
    return "\n".join(lines)
