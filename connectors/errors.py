"""Cloud API errors, classified once, and the retry policy that follows from them.

Every failure a send can meet, whether Meta answered it, the network lost it or Parley refused
it locally, is one of these classes. Meta's error codes (reference §5) are mapped in ``_BY_CODE``
below and nowhere else; callers branch on the class or on ``is_transient``, never on a number.

    WhatsAppError                  code, title, details, http_status, fbtrace_id, is_transient
    ├── RateLimited              * 130429, 4, 80007 (throughput / app / WABA rate limits)
    ├── PairRateLimited          * 131056 (too many to one recipient: wait 4^X s, that recipient only)
    ├── ServiceUnavailable       * 131000, 131016, 1, 2, 133004, 131057 (131057: maintenance, ~1 min)
    ├── TransportError           * timeouts, refused or reset connections (local, no Meta code)
    ├── WindowClosed               131047, or refused locally before sending (24 h window closed)
    ├── TemplateError              132000, 132001, 132005, 132007, 132012, 132015, 132016, 132018
    ├── Undeliverable              131026, 130472, 130403 (recipient can't get it)
    ├── MarketingOptedOut          131050 (user stopped marketing messages)
    ├── EcosystemLimited           131049 (per-user marketing limit: wait >= 24 h)
    ├── AuthError                  190, 0, 3, 10, 200-299, 131005 (token / permission)
    ├── AccountBlocked             368, 131031, 131042, 130497, 131048, 131064, 131045, 133010, ...
    ├── InvalidRequest             100, 131008, 131009, 131021, 131030, 131051, 131053, 135000, ...
    │                              (also raised locally by connectors.payloads before any call)
    ├── ConsentRefused             local only: the contact opted out of this kind of message
    └── UnknownError               any code not listed above (never a crash)

    (* = ``is_transient``: the sender retries the same request with backoff)
"""
from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Dict, Iterable, Mapping, Optional, Type


class WhatsAppError(Exception):
    """Base of every WhatsApp kit error; carries Meta's fields when Meta produced it."""

    is_transient: bool = False
    #: Title used when Meta gave none (local errors).
    default_title: str = "WhatsApp error"

    def __init__(
        self,
        title: str = "",
        *,
        code: Optional[int] = None,
        details: str = "",
        http_status: Optional[int] = None,
        fbtrace_id: str = "",
        local: bool = False,
        raw: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.code = code
        self.title = title or self.default_title
        self.details = details
        self.http_status = http_status
        self.fbtrace_id = fbtrace_id
        #: True when Parley refused or failed before Meta answered.
        self.local = local
        self.raw: Dict[str, Any] = dict(raw or {})
        prefix = f"(#{code}) " if code is not None else ""
        super().__init__(f"{prefix}{self.title}" + (f": {details}" if details else ""))

    def to_dict(self) -> Dict[str, Any]:
        """The ``errors[]`` item shape used by internal ``message.failed`` events."""
        return {"code": self.code, "title": self.title, "details": self.details}


class RateLimited(WhatsAppError):
    is_transient = True
    default_title = "Rate limit hit"


class PairRateLimited(WhatsAppError):
    is_transient = True
    default_title = "(Business, Consumer) pair rate limit hit"


class ServiceUnavailable(WhatsAppError):
    is_transient = True
    default_title = "Service temporarily unavailable"


class TransportError(WhatsAppError):
    """The request failed in the network. ``ambiguous``: it may have reached Meta (timeout,
    reset after sending), so a retry could deliver the message twice."""

    is_transient = True
    default_title = "Transport error"

    def __init__(self, title: str = "", *, ambiguous: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("local", True)
        super().__init__(title, **kwargs)
        self.ambiguous = ambiguous


class WindowClosed(WhatsAppError):
    default_title = "Re-engagement message"


class TemplateError(WhatsAppError):
    default_title = "Template error"


class Undeliverable(WhatsAppError):
    default_title = "Message undeliverable"


class MarketingOptedOut(WhatsAppError):
    default_title = "User has chosen to stop receiving marketing messages"


class EcosystemLimited(WhatsAppError):
    default_title = "Message not delivered to maintain healthy ecosystem engagement"


class AuthError(WhatsAppError):
    default_title = "Authorization error"


class AccountBlocked(WhatsAppError):
    default_title = "Account cannot send"


class InvalidRequest(WhatsAppError):
    default_title = "Invalid parameter"


class ConsentRefused(WhatsAppError):
    default_title = "Contact opted out"

    def __init__(self, title: str = "", **kwargs: Any) -> None:
        kwargs.setdefault("local", True)
        super().__init__(title, **kwargs)


class UnknownError(WhatsAppError):
    default_title = "Unknown WhatsApp error"


_BY_CODE: Dict[int, Type[WhatsAppError]] = {}


def _register(cls: Type[WhatsAppError], codes: Iterable[int]) -> None:
    for code in codes:
        _BY_CODE[code] = cls


_register(RateLimited, (130429, 4, 80007))
_register(PairRateLimited, (131056,))
_register(ServiceUnavailable, (131000, 131016, 1, 2, 133004, 131057))
_register(WindowClosed, (131047,))
_register(TemplateError, (132000, 132001, 132005, 132007, 132012, 132015, 132016, 132018))
_register(Undeliverable, (131026, 130472, 130403))
_register(MarketingOptedOut, (131050,))
_register(EcosystemLimited, (131049,))
_register(AuthError, (190, 0, 3, 10, 131005))
_register(AccountBlocked, (368, 131031, 131042, 130497, 131048, 131064, 131045, 131037, 131063, 133010))
_register(InvalidRequest, (100, 131008, 131009, 131021, 131030, 131051, 131052, 131053, 135000))


def error_class(code: Optional[int]) -> Type[WhatsAppError]:
    """The class of a Meta error code; UnknownError for anything unlisted."""
    if code is None:
        return UnknownError
    if code in _BY_CODE:
        return _BY_CODE[code]
    if 200 <= code <= 299:
        return AuthError
    return UnknownError


def _int(value: Any) -> Optional[int]:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def from_graph_error(body: Any, http_status: Optional[int] = None) -> WhatsAppError:
    """Build the error of a Graph API error response: ``{"error": {...}}`` or its inner dict.

    Never raises: a body of an unexpected shape becomes an UnknownError (or a
    ServiceUnavailable for a 5xx without a code, which is a proxy or server failure).
    """
    error = body.get("error", body) if isinstance(body, Mapping) else {}
    if not isinstance(error, Mapping):
        error = {"message": str(error)}
    code = _int(error.get("code"))
    data = error.get("error_data")
    details = data.get("details", "") if isinstance(data, Mapping) else str(data or "")
    title = str(error.get("title") or error.get("error_user_title") or _strip_code(error.get("message")) or "")
    cls = error_class(code)
    if code is None and http_status is not None and http_status >= 500:
        cls = ServiceUnavailable
    return cls(
        title,
        code=code,
        details=str(details or error.get("error_user_msg") or ""),
        http_status=http_status,
        fbtrace_id=str(error.get("fbtrace_id") or ""),
        raw=error,
    )


def from_status_errors(errors: Any) -> WhatsAppError:
    """The error of a ``failed`` status (or ``value.errors``): built from its first item."""
    if isinstance(errors, (list, tuple)) and errors:
        return from_graph_error(errors[0])
    return UnknownError("Failed without error details", raw={"errors": errors})


def _strip_code(message: Any) -> str:
    """``"(#130429) Rate limit hit"`` -> ``"Rate limit hit"``."""
    text = str(message or "")
    if text.startswith("(#") and ") " in text:
        return text.split(") ", 1)[1]
    return text


@dataclass(frozen=True)
class RetryPolicy:
    """When and after how long the sender repeats a failed request (reference §9).

    131056 waits ``pair_base * 4**X`` (1, 4, 16, ... s, Meta's advice); 131057 (maintenance)
    waits ``maintenance_delay``; other transient errors wait a jittered exponential delay
    ("equal jitter": half fixed, half random, so retries spread without collapsing to zero).
    An ambiguous transport error (the request may have reached Meta) is retried at most
    ``ambiguous_retries`` times, because the Cloud API has no idempotency key. A throughput
    rejection (130429, 4, 80007) is certain not to have been sent, so it may be retried for
    longer (``rate_limited_attempts``, about two minutes): a storm delays a reply, never drops it.
    """

    max_attempts: int = 5
    rate_limited_attempts: int = 12
    base_delay: float = 0.25
    max_delay: float = 30.0
    pair_base: float = 1.0
    pair_max_delay: float = 64.0
    maintenance_delay: float = 60.0
    ambiguous_retries: int = 1

    def delay(
        self, error: WhatsAppError, attempt: int, ambiguous_so_far: int = 0, rng: Any = random
    ) -> Optional[float]:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up.

        ``attempt`` is the number of attempts made so far (1 after the first failure);
        ``ambiguous_so_far`` counts ambiguous transport failures including this one.
        """
        limit = self.rate_limited_attempts if isinstance(error, RateLimited) else self.max_attempts
        if not error.is_transient or attempt >= limit:
            return None
        if isinstance(error, TransportError) and error.ambiguous and ambiguous_so_far > self.ambiguous_retries:
            return None
        if isinstance(error, PairRateLimited):
            return min(self.pair_max_delay, self.pair_base * 4 ** (attempt - 1))
        if error.code == 131057:
            return self.maintenance_delay
        ceiling = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return ceiling / 2 + rng.random() * ceiling / 2
