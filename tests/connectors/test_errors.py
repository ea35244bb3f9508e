"""Cloud API error classification and the retry policy."""
from __future__ import annotations

import random

import pytest

from connectors import errors
from connectors.errors import (AccountBlocked, AuthError, ConsentRefused, EcosystemLimited, InvalidRequest,
                               MarketingOptedOut, PairRateLimited, RateLimited, RetryPolicy, ServiceUnavailable,
                               TemplateError, TransportError, Undeliverable, UnknownError, WhatsAppError,
                               WindowClosed)

META_BODY = {"error": {"message": "(#130429) Rate limit hit", "type": "OAuthException", "code": 130429,
                       "error_data": {"messaging_product": "whatsapp",
                                      "details": "Cloud API message throughput has been reached."},
                       "error_subcode": 2494055, "fbtrace_id": "Az8or2yhqkZfEZ-_4Qn_Bam"}}


@pytest.mark.parametrize("code, cls, transient", [
    (130429, RateLimited, True), (4, RateLimited, True), (80007, RateLimited, True),
    (131056, PairRateLimited, True),
    (131000, ServiceUnavailable, True), (131016, ServiceUnavailable, True), (1, ServiceUnavailable, True),
    (2, ServiceUnavailable, True), (133004, ServiceUnavailable, True), (131057, ServiceUnavailable, True),
    (131047, WindowClosed, False),
    (132000, TemplateError, False), (132001, TemplateError, False), (132015, TemplateError, False),
    (132016, TemplateError, False), (132018, TemplateError, False),
    (131026, Undeliverable, False), (131050, MarketingOptedOut, False), (131049, EcosystemLimited, False),
    (190, AuthError, False), (0, AuthError, False), (10, AuthError, False), (200, AuthError, False),
    (250, AuthError, False), (299, AuthError, False),
    (368, AccountBlocked, False), (131031, AccountBlocked, False), (131042, AccountBlocked, False),
    (130497, AccountBlocked, False),
    (100, InvalidRequest, False), (131008, InvalidRequest, False), (131009, InvalidRequest, False),
    (987654, UnknownError, False), (300, UnknownError, False),
])
def test_codes_map_to_classes(code: int, cls: type, transient: bool) -> None:
    error = errors.from_graph_error({"error": {"code": code, "message": f"(#{code}) Something"}}, http_status=400)
    assert type(error) is cls
    assert error.is_transient is transient
    assert isinstance(error, WhatsAppError)
    assert error.code == code and error.http_status == 400


def test_meta_body_fields_are_kept() -> None:
    error = errors.from_graph_error(META_BODY, http_status=429)
    assert isinstance(error, RateLimited)
    assert error.title == "Rate limit hit"
    assert error.details == "Cloud API message throughput has been reached."
    assert error.fbtrace_id == "Az8or2yhqkZfEZ-_4Qn_Bam"
    assert error.to_dict() == {"code": 130429, "title": "Rate limit hit",
                               "details": "Cloud API message throughput has been reached."}
    assert "(#130429)" in str(error)


@pytest.mark.parametrize("body", [None, "oops", [], {"error": "text"}, {"error": {"code": "x"}}, {}])
def test_malformed_bodies_never_crash(body: object) -> None:
    assert isinstance(errors.from_graph_error(body, http_status=400), UnknownError)


def test_5xx_without_code_is_transient() -> None:
    error = errors.from_graph_error({"error": {"message": "bad gateway"}}, http_status=502)
    assert isinstance(error, ServiceUnavailable) and error.is_transient


def test_status_errors_use_the_first_item() -> None:
    status_errors = [{"code": 131049, "title": "This message was not delivered to maintain healthy ecosystem engagement.",
                      "message": "same", "error_data": {"details": "In order to maintain"}}]
    error = errors.from_status_errors(status_errors)
    assert isinstance(error, EcosystemLimited)
    assert error.title.startswith("This message was not delivered")
    assert error.details == "In order to maintain"
    assert isinstance(errors.from_status_errors([]), UnknownError)
    assert isinstance(errors.from_status_errors(None), UnknownError)


def test_local_errors() -> None:
    assert ConsentRefused().local and not ConsentRefused().is_transient
    assert TransportError("Timeout").ambiguous and TransportError().is_transient
    assert not TransportError(ambiguous=False).ambiguous


class FixedRandom:
    def __init__(self, value: float) -> None:
        self.value = value

    def random(self) -> float:
        return self.value


def test_pair_rate_backs_off_4_to_the_x() -> None:
    policy = RetryPolicy(max_attempts=5, pair_base=1.0)
    delays = [policy.delay(PairRateLimited(code=131056), attempt) for attempt in (1, 2, 3, 4)]
    assert delays == [1.0, 4.0, 16.0, 64.0]
    assert policy.delay(PairRateLimited(code=131056), 5) is None


def test_jittered_exponential_backoff() -> None:
    policy = RetryPolicy(base_delay=0.5, max_delay=3.0, max_attempts=10)
    low = [policy.delay(RateLimited(code=130429), a, rng=FixedRandom(0.0)) for a in (1, 2, 3, 4, 5)]
    high = [policy.delay(RateLimited(code=130429), a, rng=FixedRandom(0.999999)) for a in (1, 2, 3, 4, 5)]
    assert low == [0.25, 0.5, 1.0, 1.5, 1.5]
    assert high == pytest.approx([0.5, 1.0, 2.0, 3.0, 3.0], rel=1e-5)
    spread = {policy.delay(ServiceUnavailable(code=131000), 3, rng=random.Random(seed)) for seed in range(20)}
    assert len(spread) > 10 and all(1.0 <= d <= 2.0 for d in spread)  # type: ignore[operator]


def test_permanent_errors_and_timeouts_are_bounded() -> None:
    policy = RetryPolicy(ambiguous_retries=1)
    assert policy.delay(TemplateError(code=132001), 1) is None
    assert policy.delay(WindowClosed(code=131047), 1) is None
    assert policy.delay(TransportError("Timeout"), 1, ambiguous_so_far=1) is not None
    assert policy.delay(TransportError("Timeout"), 2, ambiguous_so_far=2) is None
    assert policy.delay(TransportError("refused", ambiguous=False), 2, ambiguous_so_far=0) is not None
    assert policy.delay(ServiceUnavailable(code=131057), 1) == policy.maintenance_delay
