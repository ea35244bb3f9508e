"""Runtime configuration: the part of the settings a test may change with PATCH /_sandbox/config.

It starts as a copy of ``Settings`` and goes back to it on reset. ``apply_patch`` validates
every key and type first and only then applies the whole patch, so a bad patch changes
nothing.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import AdminError
from .settings import Settings

CHAOS_KEYS = ("duplicate", "reorder", "batch", "send_5xx", "send_timeout")


@dataclass
class Chaos:
    """Probabilities (0..1) of each kind of misbehaviour."""

    duplicate: float = 0.0
    reorder: float = 0.0
    batch: float = 0.0
    send_5xx: float = 0.0
    send_timeout: float = 0.0

    def to_dict(self) -> dict[str, float]:
        return {key: getattr(self, key) for key in CHAOS_KEYS}


@dataclass
class RuntimeConfig:
    """Mutable knobs; see sandbox/README.md for their meaning."""

    webhook_url: str
    app_secret: str
    verify_token: str
    access_token: str
    throughput_mps: float
    rate_limit_http_status: int
    pair_rate: bool
    pair_burst: int
    pair_interval_ms: int
    status_delays_ms: tuple[int, int, int]
    read_probability: float
    window_seconds: int
    unreachable: frozenset[str]
    marketing_opted_out: frozenset[str]
    ecosystem_limited: frozenset[str]
    chaos: Chaos = field(default_factory=Chaos)
    chaos_timeout_ms: int = 15000
    webhook_retry_base_ms: int = 500
    webhook_retry_cap_ms: int = 60000
    webhook_max_attempts: int = 12
    template_review_ms: int = 300
    template_auto_approve: bool = True

    @classmethod
    def from_settings(cls, settings: Settings) -> RuntimeConfig:
        return cls(
            webhook_url=settings.webhook_url,
            app_secret=settings.app_secret,
            verify_token=settings.verify_token,
            access_token=settings.access_token,
            throughput_mps=settings.throughput_mps,
            rate_limit_http_status=settings.rate_limit_http_status,
            pair_rate=settings.pair_rate,
            pair_burst=settings.pair_burst,
            pair_interval_ms=settings.pair_interval_ms,
            status_delays_ms=settings.status_delays_ms,
            read_probability=settings.read_probability,
            window_seconds=settings.window_seconds,
            unreachable=frozenset(settings.unreachable),
            marketing_opted_out=frozenset(settings.marketing_opted_out),
            ecosystem_limited=frozenset(settings.ecosystem_limited),
            chaos=Chaos(
                duplicate=settings.chaos_duplicate,
                reorder=settings.chaos_reorder,
                batch=settings.chaos_batch,
                send_5xx=settings.chaos_send_5xx,
                send_timeout=settings.chaos_send_timeout,
            ),
            chaos_timeout_ms=settings.chaos_timeout_ms,
            webhook_retry_base_ms=settings.webhook_retry_base_ms,
            webhook_retry_cap_ms=settings.webhook_retry_cap_ms,
            webhook_max_attempts=settings.webhook_max_attempts,
            template_review_ms=settings.template_review_ms,
            template_auto_approve=settings.template_auto_approve,
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON view (secrets included: this is a local test double)."""
        out: dict[str, Any] = {}
        for key in _PARSERS:
            value = getattr(self, key)
            if isinstance(value, frozenset):
                value = sorted(value)
            elif isinstance(value, tuple):
                value = list(value)
            elif isinstance(value, Chaos):
                value = value.to_dict()
            out[key] = value
        return out

    def apply_patch(self, patch: Any) -> list[str]:
        """Validate then apply ``patch``; return the changed keys. Raises AdminError (400)."""
        if not isinstance(patch, Mapping):
            raise AdminError("config patch must be a JSON object")
        parsed: dict[str, Any] = {}
        for key, raw in patch.items():
            parser = _PARSERS.get(key)
            if parser is None:
                raise AdminError(f"unknown config key {key!r}; known: {', '.join(sorted(_PARSERS))}")
            try:
                parsed[key] = parser(raw, self)
            except (TypeError, ValueError) as exc:
                raise AdminError(f"bad value for {key!r}: {exc}") from None
        for key, value in parsed.items():
            setattr(self, key, value)
        return list(parsed)


def _text(raw: Any, _: RuntimeConfig) -> str:
    if not isinstance(raw, str):
        raise TypeError("expected a string")
    return raw.strip()


def _secret(raw: Any, config: RuntimeConfig) -> str:
    value = _text(raw, config)
    if not value:
        raise ValueError("must not be empty")
    return value


def _bool(raw: Any, _: RuntimeConfig) -> bool:
    if not isinstance(raw, bool):
        raise TypeError("expected true or false")
    return raw


def _number(raw: Any, _: RuntimeConfig) -> float:
    if isinstance(raw, bool) or not isinstance(raw, (int, float)) or raw < 0:
        raise ValueError("expected a number >= 0")
    return float(raw)


def _probability(raw: Any, config: RuntimeConfig) -> float:
    value = _number(raw, config)
    if value > 1:
        raise ValueError("expected a probability between 0 and 1")
    return value


def _count(raw: Any, _: RuntimeConfig) -> int:
    if isinstance(raw, bool) or not isinstance(raw, int) or raw < 0:
        raise ValueError("expected an integer >= 0")
    return raw


def _http_status(raw: Any, config: RuntimeConfig) -> int:
    value = _count(raw, config)
    if not 400 <= value <= 599:
        raise ValueError("expected an HTTP error status (400..599)")
    return value


def _delays(raw: Any, config: RuntimeConfig) -> tuple[int, int, int]:
    if not isinstance(raw, list) or len(raw) != 3:
        raise ValueError("expected [sent_ms, delivered_ms, read_ms]")
    first, second, third = (_count(item, config) for item in raw)
    return (first, second, third)


def _ids(raw: Any, _: RuntimeConfig) -> frozenset[str]:
    if not isinstance(raw, list) or not all(isinstance(item, str) for item in raw):
        raise TypeError("expected a list of wa_id strings")
    return frozenset(item.strip().lstrip("+") for item in raw)


def _chaos(raw: Any, config: RuntimeConfig) -> Chaos:
    if not isinstance(raw, Mapping):
        raise TypeError("expected an object")
    merged = config.chaos.to_dict()
    for key, value in raw.items():
        if key not in CHAOS_KEYS:
            raise ValueError(f"unknown chaos key {key!r}; known: {', '.join(CHAOS_KEYS)}")
        merged[key] = _probability(value, config)
    return Chaos(**merged)


_PARSERS: dict[str, Callable[[Any, RuntimeConfig], Any]] = {
    "webhook_url": _text,
    "app_secret": _secret,
    "verify_token": _secret,
    "access_token": _secret,
    "throughput_mps": _number,
    "rate_limit_http_status": _http_status,
    "pair_rate": _bool,
    "pair_burst": _count,
    "pair_interval_ms": _count,
    "status_delays_ms": _delays,
    "read_probability": _probability,
    "window_seconds": _count,
    "unreachable": _ids,
    "marketing_opted_out": _ids,
    "ecosystem_limited": _ids,
    "chaos": _chaos,
    "chaos_timeout_ms": _count,
    "webhook_retry_base_ms": _count,
    "webhook_retry_cap_ms": _count,
    "webhook_max_attempts": _count,
    "template_review_ms": _count,
    "template_auto_approve": _bool,
}
