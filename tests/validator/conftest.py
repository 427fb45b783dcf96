"""Fixtures for the validator tests: validators wired to the local JWKS server with short
timeouts and cooldowns so that the suite stays fast, and a checker for rejections."""

from __future__ import annotations

import logging
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from shared.token_validation import TokenValidationError, TokenValidator

LOGGER = "shared.token_validation"
FAST_CACHE = {"http_timeout": 0.5, "jwks_cooldown": 0.2}


@pytest.fixture
def make_validator(issuer: str, audience: str, jwks_server) -> Callable[..., TokenValidator]:
    """``make_validator(**options)``: a TokenValidator for ``issuer``/``audience`` reading
    ``jwks_server``'s JWKS, with a 0.5 s HTTP timeout and a 0.2 s cooldown unless overridden."""

    def make(**options) -> TokenValidator:
        settings = {"jwks_url": jwks_server.jwks_url, **FAST_CACHE, **options}
        return TokenValidator(issuer, audience, **settings)

    return make


@pytest.fixture
def validator(make_validator) -> TokenValidator:
    return make_validator()


@pytest.fixture
def kit(token_factory, jwks_server, make_jwks_server, issuer, audience, rsa_key, second_rsa_key, ec_key, weak_rsa_key):
    """Everything an attack row needs to build its token."""
    return SimpleNamespace(
        token=token_factory,
        server=jwks_server,
        make_server=make_jwks_server,
        issuer=issuer,
        audience=audience,
        rsa_key=rsa_key,
        second_rsa_key=second_rsa_key,
        ec_key=ec_key,
        weak_rsa_key=weak_rsa_key,
    )


@pytest.fixture
def assert_rejected(caplog) -> Callable[..., TokenValidationError]:
    """``assert_rejected(call, error_class, reason)``: ``call()`` raises exactly
    ``error_class`` whose logged reason contains ``reason`` (or one of a tuple of reasons, for
    races with a single outcome but two wordings) while its public description stays the
    generic one of the class."""

    def check(
        call: Callable[[], object], error_class: type[TokenValidationError], reason: str | tuple[str, ...]
    ) -> TokenValidationError:
        caplog.clear()
        with caplog.at_level(logging.INFO, logger=LOGGER):
            with pytest.raises(TokenValidationError) as raised:
                call()
        error = raised.value
        assert type(error) is error_class, f"{type(error).__name__}: {error.reason}"
        reasons = (reason,) if isinstance(reason, str) else reason
        assert any(fragment in error.reason for fragment in reasons), error.reason
        assert error.reason in caplog.text
        assert error.description == error_class.description
        assert not any(fragment in error.description for fragment in reasons)
        return error

    return check
