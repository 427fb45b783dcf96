"""Fixtures for the validator tests: validators wired to the local JWKS server, with a short HTTP
timeout and a clock that moves only when the test moves it (so no test sleeps for time to pass),
and a checker for rejections."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from shared.token_validation import RefusalCode, TokenValidationError, TokenValidator

LOGGER = "shared.token_validation"
FAST_CACHE = {"http_timeout": 0.5, "jwks_cooldown": 0.2}
UNCHECKED = object()  # assert_rejected's claim when the test does not name one


class FakeClock:
    """Wall-clock and monotonic time, both starting at the real time and standing still until
    ``advance`` moves them together."""

    def __init__(self) -> None:
        self._wall = time.time()
        self._monotonic = time.monotonic()

    def time(self) -> float:
        return self._wall

    def monotonic(self) -> float:
        return self._monotonic

    def advance(self, seconds: float) -> None:
        self._wall += seconds
        self._monotonic += seconds


@pytest.fixture
def clock() -> FakeClock:
    """The clock of the validators that ``make_validator`` builds."""
    return FakeClock()


@pytest.fixture
def make_validator(issuer: str, audience: str, jwks_server, clock) -> Callable[..., TokenValidator]:
    """``make_validator(**options)``: a TokenValidator for ``issuer``/``audience`` reading
    ``jwks_server``'s JWKS and the ``clock`` fixture's time, with a 0.5 s HTTP timeout and a
    0.2 s cooldown unless overridden."""

    def make(**options) -> TokenValidator:
        clocks = {"clock": clock.time, "monotonic": clock.monotonic}
        settings = {"jwks_url": jwks_server.jwks_url, **FAST_CACHE, **clocks, **options}
        return TokenValidator(issuer, audience, **settings)

    return make


@pytest.fixture
def validator(make_validator) -> TokenValidator:
    return make_validator()


@pytest.fixture
def kit(
    token_factory,
    jwks_server,
    make_jwks_server,
    issuer,
    audience,
    clock,
    rsa_key,
    second_rsa_key,
    ec_key,
    weak_rsa_key,
):
    """Everything an attack row needs to build its token; ``now()`` is the validators' time in
    whole seconds."""
    return SimpleNamespace(
        token=token_factory,
        server=jwks_server,
        make_server=make_jwks_server,
        issuer=issuer,
        audience=audience,
        now=lambda: int(clock.time()),
        rsa_key=rsa_key,
        second_rsa_key=second_rsa_key,
        ec_key=ec_key,
        weak_rsa_key=weak_rsa_key,
    )


@pytest.fixture
def assert_rejected(caplog) -> Callable[..., TokenValidationError]:
    """``assert_rejected(call, error_class, code, reason=None, *, claim=...)``: ``call()`` raises
    exactly ``error_class`` with the refusal ``code`` (and ``claim``, when given), which the log
    names with the reason; when ``reason`` is given, the logged reason contains it (or one of a
    tuple of reasons, for races with a single outcome but two wordings), which pins the branch
    of a code that several checks share. The public description stays the generic one of the
    class and names neither the code nor the reason."""

    def check(
        call: Callable[[], object],
        error_class: type[TokenValidationError],
        code: RefusalCode,
        reason: str | tuple[str, ...] | None = None,
        *,
        claim: object = UNCHECKED,
    ) -> TokenValidationError:
        caplog.clear()
        with (
            caplog.at_level(logging.INFO, logger=LOGGER),
            pytest.raises(TokenValidationError) as raised,
        ):
            call()
        error = raised.value
        assert type(error) is error_class, f"{type(error).__name__}: {error.reason}"
        assert error.code is code, f"{error.code!r}: {error.reason}"
        if claim is not UNCHECKED:
            assert error.claim == claim, error.reason
        assert f"({code}): {error.reason}" in caplog.text
        assert error.description == error_class.description
        assert code not in error.description
        if reason is not None:
            reasons = (reason,) if isinstance(reason, str) else reason
            assert any(fragment in error.reason for fragment in reasons), error.reason
            assert not any(fragment in error.description for fragment in reasons)
        return error

    return check
