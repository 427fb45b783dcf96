"""The verified-token cache of ``TokenValidator.validate`` (module docstring, "The
verified-token cache"): one test per rule, each failing when its rule is removed.

Signature checks are counted by wrapping the verify of every accepted algorithm, so "served from
the cache" and "verified afresh" are observed, not inferred from timings. Time passes by moving
the ``clock`` fixture; nothing sleeps."""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from shared import token_validation
from shared.token_validation import (
    DEFAULT_VERIFIED_CACHE_SIZE,
    InvalidToken,
    KeysUnavailable,
    RefusalCode,
    TokenValidator,
)
from tests.support.keys import rsa_signing_key

LEEWAY = 30  # the validators' default leeway
COOLDOWN = 0.2  # their jwks_cooldown (tests/validator/conftest.py)
WAIT = 10.0  # bound on a wait that only ends early when the code under test is right


@pytest.fixture
def make_validator(make_validator):
    """The conftest's factory with a longer HTTP timeout: these tests count downloads and
    verifications, so a download timing out on a loaded machine must not change the outcome."""
    return lambda **options: make_validator(**{"http_timeout": 5.0, **options})


@pytest.fixture
def validator(make_validator) -> TokenValidator:
    return make_validator()


@pytest.fixture
def verifications(monkeypatch) -> list[str]:
    """The algorithms of the signature checks made during the test, one entry per check."""
    calls: list[str] = []
    for name, algorithm in token_validation._ASYMMETRIC_ALGORITHMS.items():
        original = algorithm.implementation.verify

        def counting(signing_input, key, signature, name=name, original=original) -> bool:
            calls.append(name)
            return original(signing_input, key, signature)

        monkeypatch.setattr(algorithm.implementation, "verify", counting)
    return calls


def now(clock) -> int:
    return int(clock.time())


def cached(validator: TokenValidator, token: str):
    """Validate ``token`` twice, which caches it (a token enters the cache at its second
    validation); the claims of the second."""
    validator.validate(token)
    claims = validator.validate(token)
    assert token in validator._verified
    return claims


# -- hits ----------------------------------------------------------------------------------------


def test_a_repeated_token_is_verified_twice_then_served_from_the_cache(
    token_factory, validator, verifications
) -> None:
    token = token_factory()
    validator.validate(token)
    second = validator.validate(token)
    for _ in range(5):
        assert validator.validate(token) is second
    assert verifications == ["RS256", "RS256"]
    assert validator.verified_cache_size == DEFAULT_VERIFIED_CACHE_SIZE == 10_000


def test_distinct_tokens_are_distinct_entries(token_factory, validator, verifications) -> None:
    tokens = [token_factory({"jti": f"token-{index}"}) for index in range(3)]
    for token in tokens + tokens + tokens:
        assert validator.validate(token)["jti"] == f"token-{tokens.index(token)}"
    assert len(verifications) == 6
    assert len(validator._verified) == 3


# -- admission: the second validation ------------------------------------------------------------


def test_a_token_validated_once_takes_no_entry(token_factory, validator, verifications) -> None:
    token = token_factory()
    validator.validate(token)
    assert len(validator._verified) == 0
    validator.validate(token)
    assert list(validator._verified) == [token]
    assert len(verifications) == 2


def test_tokens_used_once_never_evict_a_reused_token(
    token_factory, make_validator, verifications
) -> None:
    validator = make_validator(verified_cache_size=3)
    reused = token_factory({"jti": "reused"})
    claims = cached(validator, reused)
    for index in range(10):
        validator.validate(token_factory({"jti": f"once-{index}"}))
    assert validator.validate(reused) is claims
    assert list(validator._verified) == [reused]
    assert len(verifications) == 2 + 10


def test_the_tokens_seen_once_are_bounded_too(token_factory, make_validator) -> None:
    validator = make_validator(verified_cache_size=3)
    for index in range(10):
        validator.validate(token_factory({"jti": f"once-{index}"}))
        assert len(validator._seen_once) <= 3


# -- time window on every hit ----------------------------------------------------------------------


def test_expiry_is_checked_on_every_hit_and_drops_the_entry(
    token_factory, validator, clock, verifications, assert_rejected
) -> None:
    token = token_factory({"exp": now(clock) + 60})
    cached(validator, token)
    clock.advance(60 + LEEWAY - 1)
    validator.validate(token)  # still within the leeway: a hit
    assert len(verifications) == 2
    clock.advance(2)
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.EXP, claim="exp")
    assert token not in validator._verified
    clock.advance(-10)  # back within the window: the dropped entry is verified afresh
    validator.validate(token)
    assert len(verifications) == 3


def test_nbf_is_checked_on_every_hit(
    token_factory, validator, clock, verifications, assert_rejected
) -> None:
    token = token_factory({"iat": now(clock) - 1000, "nbf": now(clock)})
    cached(validator, token)
    clock.advance(-(LEEWAY + 1))  # the clock is set back: the token is not valid yet
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.NBF, claim="nbf")
    assert len(verifications) == 2


def test_iat_is_checked_on_every_hit(
    token_factory, validator, clock, verifications, assert_rejected
) -> None:
    token = token_factory({"iat": now(clock)})
    cached(validator, token)
    clock.advance(-(LEEWAY + 1))
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.IAT, claim="iat")
    assert len(verifications) == 2


# -- keys --------------------------------------------------------------------------------------------


def force_refresh(validator, clock, token_factory, key, assert_rejected) -> None:
    """Make the validator download the JWKS now and wait for it: a token with an unknown kid,
    after the cooldown."""
    clock.advance(COOLDOWN + 0.05)
    unknown = token_factory(header={"kid": "not-published"}, key=key)
    assert_rejected(lambda: validator.validate(unknown), InvalidToken, RefusalCode.KID_UNKNOWN)


def test_a_key_that_left_the_jwks_refuses_its_cached_tokens(
    token_factory, jwks_server, validator, clock, ec_key, second_rsa_key, assert_rejected
) -> None:
    token = token_factory()
    cached(validator, token)
    jwks_server.publish(ec_key)  # rsa-key-1 is rotated out
    force_refresh(validator, clock, token_factory, second_rsa_key, assert_rejected)
    assert jwks_server.count() == 2
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.KID_UNKNOWN)


def test_a_kid_whose_key_changed_refuses_its_cached_tokens(
    token_factory, jwks_server, validator, clock, ec_key, second_rsa_key, assert_rejected
) -> None:
    token = token_factory()
    cached(validator, token)
    jwks_server.publish(rsa_signing_key("rsa-key-1"), ec_key)  # the same kid, another key
    force_refresh(validator, clock, token_factory, second_rsa_key, assert_rejected)
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.SIGNATURE)


def test_a_key_kept_across_a_refresh_keeps_its_entries(
    token_factory,
    jwks_server,
    validator,
    clock,
    rsa_key,
    second_rsa_key,
    verifications,
    assert_rejected,
) -> None:
    token = token_factory()
    claims = cached(validator, token)
    jwks_server.publish(rsa_key, second_rsa_key)
    force_refresh(validator, clock, token_factory, second_rsa_key, assert_rejected)
    assert validator.validate(token) is claims
    assert verifications == ["RS256", "RS256"]


def test_a_stale_key_set_is_refreshed_by_hits_too(
    token_factory, jwks_server, make_validator, clock, ec_key, assert_rejected
) -> None:
    validator = make_validator(jwks_max_age=60)
    token = token_factory()
    cached(validator, token)
    jwks_server.publish(ec_key)
    clock.advance(61)
    old_keys = validator.jwks._state[0]
    validator.validate(token)  # stale: served, and a background download starts
    flight = validator.jwks._in_flight
    assert flight is None or flight.wait(WAIT)
    assert validator.jwks._state[0] is not old_keys
    assert jwks_server.count() == 2
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.KID_UNKNOWN)


def test_a_hit_needs_a_usable_key_set(
    token_factory, jwks_server, make_validator, clock, assert_rejected
) -> None:
    validator = make_validator(jwks_max_age=10, jwks_stale_if_error=10)
    token = token_factory()
    cached(validator, token)
    jwks_server.misbehave("500")
    clock.advance(25)  # past fresh and stale-if-error: the keys may no longer be used
    assert_rejected(
        lambda: validator.validate(token), KeysUnavailable, RefusalCode.JWKS_UNAVAILABLE
    )


# -- what is cached ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("make_token", "code"),
    [
        (lambda factory, key: factory(key=key, header={"kid": "rsa-key-1"}), RefusalCode.SIGNATURE),
        (lambda factory, key: factory({"aud": "https://other.example"}), RefusalCode.AUD),
        (lambda factory, key: factory({"nonce": "n"}), RefusalCode.TOKEN_KIND),
    ],
    ids=["signature", "aud", "id-token-claims"],
)
def test_a_refused_token_is_never_cached(
    token_factory, validator, second_rsa_key, verifications, assert_rejected, make_token, code
) -> None:
    token = make_token(token_factory, second_rsa_key)
    for _ in range(3):
        assert_rejected(lambda: validator.validate(token), InvalidToken, code)
    assert len(verifications) == 3


def test_id_tokens_never_use_the_cache(
    token_factory, make_validator, verifications, assert_rejected
) -> None:
    validator = make_validator()
    client_audience = validator.audience  # the ID token is issued to this validator's audience
    id_token = token_factory.id_token(client_id=client_audience, nonce="n-1")
    for _ in range(3):
        validator.validate_id_token(id_token, nonce="n-1")
    assert len(verifications) == 3
    access_token = token_factory()
    cached(validator, access_token)
    # A cached access token is still refused as an ID token (and checked afresh).
    assert_rejected(
        lambda: validator.validate_id_token(access_token, nonce="n-1"),
        InvalidToken,
        RefusalCode.AZP,
    )
    assert len(verifications) == 6
    assert not validator._verified or id_token not in validator._verified


# -- bound and off switch ------------------------------------------------------------------------------


def test_the_cache_is_bounded_and_evicts_the_oldest(
    token_factory, make_validator, verifications
) -> None:
    validator = make_validator(verified_cache_size=3)
    tokens = [token_factory({"jti": f"token-{index}"}) for index in range(4)]
    for token in tokens:
        cached(validator, token)
    assert len(validator._verified) == 3
    assert len(verifications) == 8
    for token in tokens[1:]:
        validator.validate(token)  # the 3 newest: hits
    assert len(verifications) == 8
    validator.validate(tokens[0])  # the oldest was evicted: verified again
    assert len(verifications) == 9
    assert len(validator._verified) == 3


def test_verified_cache_size_0_turns_the_cache_off(
    token_factory, make_validator, verifications
) -> None:
    validator = make_validator(verified_cache_size=0)
    token = token_factory()
    for _ in range(3):
        validator.validate(token)
    assert len(verifications) == 3


@pytest.mark.parametrize("size", [-1, 1.5, "10", True])
def test_verified_cache_size_must_be_a_count(issuer, audience, size) -> None:
    with pytest.raises(ValueError, match="verified_cache_size"):
        TokenValidator(issuer, audience, verified_cache_size=size)


# -- threads -----------------------------------------------------------------------------------------------


def test_a_hit_takes_no_lock(token_factory, validator) -> None:
    token = token_factory()
    claims = cached(validator, token)
    with validator._verified_lock, ThreadPoolExecutor(1) as pool:
        # Were the lock taken on the hit path, this would wait until the test releases it.
        assert pool.submit(validator.validate, token).result(timeout=WAIT) is claims


@pytest.fixture
def switch_often():
    """Switch threads every microsecond (default 5 ms), so that races show up within a test."""
    previous = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    yield
    sys.setswitchinterval(previous)


@pytest.mark.parametrize("size", [1, 8, DEFAULT_VERIFIED_CACHE_SIZE])
def test_threads_validating_shared_and_distinct_tokens_get_correct_answers(
    token_factory, make_validator, second_rsa_key, switch_often, size
) -> None:
    validator = make_validator(verified_cache_size=size)  # small: evictions race with hits
    threads = 6
    shared = token_factory({"jti": "shared"})
    own = [
        [token_factory({"jti": f"t{thread}-{index}"}) for index in range(6)]
        for thread in range(threads)
    ]
    forged = token_factory({"jti": "forged"}, key=second_rsa_key, header={"kid": "rsa-key-1"})
    start = threading.Barrier(threads)

    def work(thread: int) -> list[str]:
        start.wait(WAIT)
        problems = []
        for _ in range(10):
            for index, token in enumerate(own[thread]):
                for candidate, jti in ((shared, "shared"), (token, f"t{thread}-{index}")):
                    got = validator.validate(candidate)["jti"]
                    if got != jti:
                        problems.append(f"{jti} gave {got}")
                try:
                    validator.validate(forged)
                    problems.append("forged token accepted")
                except InvalidToken as error:
                    if error.code is not RefusalCode.SIGNATURE:
                        problems.append(f"forged token refused with {error.code}")
        return problems

    with ThreadPoolExecutor(threads) as pool:
        results = [pool.submit(work, thread) for thread in range(threads)]
        problems = [problem for result in results for problem in result.result(timeout=60)]
    assert problems == []
    assert len(validator._verified) <= size
