"""The JWKS cache against a real local HTTP server: fetch counts, rotation, cooldown, single
flight, bounded caching, and every way the endpoint can fail, with the time each call takes.

Cache ages and cooldowns pass by moving the validators' clock (the ``clock`` fixture), never by
sleeping. Concurrency is shown with real threads against an endpoint that holds its answer until
the test releases it, so what a test asserts happens while a download is provably in flight;
wall-clock bounds are only used for "nothing waits past the timeout", with room for a loaded
machine."""

from __future__ import annotations

import ssl
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait

import pytest

from shared.token_validation import (
    InvalidToken,
    JWKSCache,
    KeysUnavailable,
    RefusalCode,
    TokenValidator,
)
from tests.support.fixtures import TokenFactory
from tests.support.jwks_server import DISCOVERY_PATH, JWKS_PATH, JWKSServer
from tests.support.keys import b64url
from tests.support.tls import self_signed_tls_files

TIMEOUT = 0.5  # the validators' http_timeout in these tests (tests/validator/conftest.py)
COOLDOWN = 0.2  # and their jwks_cooldown
SLACK = 1.0  # scheduling slack on a busy 2-core machine; a hanging endpoint never answers at all
GENEROUS = 10.0  # bound on waits that only end early if the code under test is right


def timed(call):
    """``call()``'s result and the seconds it took."""
    started = time.monotonic()
    result = call()
    return result, time.monotonic() - started


def wait_until(condition, seconds: float = 3.0) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def refresh_threads(ignore: frozenset[threading.Thread] = frozenset()) -> list[threading.Thread]:
    """The running JWKS downloads, except those in ``ignore`` (left over from earlier tests)."""
    return [
        thread
        for thread in threading.enumerate()
        if thread.name == "jwks-refresh" and thread not in ignore
    ]


def downloads_ended(ignore: frozenset[threading.Thread] = frozenset()) -> bool:
    """Whether every JWKS download but those in ``ignore`` has ended, waiting for them a while:
    a download reads the clock when it ends, so a test lets it end before moving the clock."""
    return wait_until(lambda: not refresh_threads(ignore))


def waiting_for_a_download() -> int:
    """How many threads are parked in ``JWKSCache.key_for``'s wait for the download in flight
    (a thread there has passed the point where it could start a download of its own)."""
    return sum(waits_in_key_for(frame) for frame in sys._current_frames().values())


def waits_in_key_for(frame) -> bool:
    while frame is not None and frame.f_code is not threading.Event.wait.__code__:
        frame = frame.f_back
    return frame is not None and frame.f_back.f_code is JWKSCache.key_for.__code__


# -- caching and rotation -------------------------------------------------------------------------


def test_cache_hit_makes_zero_fetches(
    token_factory, jwks_server, validator: TokenValidator
) -> None:
    validator.validate(token_factory())
    assert jwks_server.count() == 1
    for index in range(50):
        validator.validate(token_factory({"jti": f"token-{index}"}))
    assert jwks_server.count() == 1


def test_rotation_is_picked_up_with_one_fetch(
    token_factory, jwks_server, validator, clock, rsa_key, second_rsa_key
) -> None:
    validator.validate(token_factory())
    jwks_server.publish(rsa_key, second_rsa_key)
    clock.advance(COOLDOWN + 0.05)
    claims = validator.validate(token_factory(key=second_rsa_key))
    assert claims.header["kid"] == "rsa-key-2"
    assert jwks_server.count() == 2
    validator.validate(token_factory())
    validator.validate(token_factory(key=second_rsa_key))
    assert jwks_server.count() == 2


def test_unknown_kid_within_cooldown_makes_no_fetch(
    token_factory, jwks_server, make_validator, second_rsa_key, assert_rejected
) -> None:
    validator = make_validator(jwks_cooldown=30)
    validator.validate(token_factory())
    for index in range(20):
        token = token_factory(header={"kid": f"unknown-{index}"}, key=second_rsa_key)
        assert_rejected(
            lambda token=token: validator.validate(token), InvalidToken, RefusalCode.KID_UNKNOWN
        )
    assert jwks_server.count() == 1


def test_flood_of_unknown_kids_makes_at_most_one_fetch_per_cooldown(
    token_factory, jwks_server, make_validator, clock, second_rsa_key
) -> None:
    cooldown = 0.6
    validator = make_validator(jwks_cooldown=cooldown)
    validator.validate(token_factory())
    clock.advance(cooldown + 0.05)
    tokens = [
        token_factory(header={"kid": f"flood-{index}"}, key=second_rsa_key) for index in range(200)
    ]

    def attempt(token: str) -> type:
        try:
            validator.validate(token)
        except InvalidToken as error:
            return type(error)
        return object

    with ThreadPoolExecutor(max_workers=16) as pool:
        outcomes = list(pool.map(attempt, tokens))
    assert outcomes == [InvalidToken] * len(tokens)
    assert jwks_server.count() == 2, "one fetch for the whole flood, within one cooldown"
    clock.advance(cooldown - 0.05)
    assert attempt(tokens[0]) is InvalidToken
    assert jwks_server.count() == 2
    clock.advance(cooldown)
    assert attempt(tokens[0]) is InvalidToken
    assert jwks_server.count() == 3


def test_single_flight_one_fetch_however_many_threads_wait(
    token_factory, jwks_server, make_validator
) -> None:
    """24 threads need the keys at once while the endpoint holds its answer: one download, and
    every thread gets its key when that download lands."""
    jwks_server.hold()
    validator = make_validator(http_timeout=GENEROUS)
    tokens = [token_factory({"jti": f"concurrent-{index}"}) for index in range(24)]
    earlier_downloads = frozenset(refresh_threads())

    with ThreadPoolExecutor(max_workers=len(tokens)) as pool:
        futures = [
            pool.submit(lambda token=token: validator.validate(token).subject) for token in tokens
        ]
        try:
            assert wait_until(
                lambda: waiting_for_a_download() == len(tokens) and jwks_server.count() >= 1,
                GENEROUS,
            )
            assert len(refresh_threads(earlier_downloads)) == 1, (
                "one download started, held by the endpoint"
            )
            assert jwks_server.count() == 1
            assert not any(future.done() for future in futures)
        finally:
            jwks_server.answer_held()
        done, _ = wait(futures, timeout=GENEROUS)
    assert [future.result() for future in done] == [token_factory.claims()["sub"]] * len(tokens)
    assert jwks_server.count() == 1


def test_slow_refresh_does_not_block_requests_whose_key_is_cached(
    token_factory, jwks_server, make_validator, clock, rsa_key, ec_key, second_rsa_key
) -> None:
    """While a refresh is held at the endpoint, requests whose key is cached complete in other
    threads; a request for an unknown kid waits for that same download (no second one) and
    gets its key when the download lands."""
    jwks_server.cache_control = "max-age=0"  # the keys are stale at once: each request may refresh
    validator = make_validator(jwks_cooldown=0.05, http_timeout=GENEROUS)
    validator.validate(token_factory())
    earlier_downloads = frozenset(refresh_threads())
    jwks_server.hold()
    clock.advance(0.1)  # past the cooldown: the next request refreshes the stale keys
    assert validator.validate(token_factory()).subject
    assert wait_until(lambda: jwks_server.count() == 2, GENEROUS)
    assert refresh_threads(earlier_downloads), "a refresh is in flight, held by the endpoint"

    with ThreadPoolExecutor(max_workers=9) as pool:
        rotated_in = pool.submit(validator.validate, token_factory(key=second_rsa_key))
        cached = [
            pool.submit(validator.validate, token_factory({"jti": f"cached-{index}"}))
            for index in range(200)
        ]
        try:
            done, not_done = wait(cached, timeout=GENEROUS)
            assert not not_done, (
                f"{len(not_done)} requests with a cached key waited for the download"
            )
            assert all(future.result().header["kid"] == "rsa-key-1" for future in done)
            assert not rotated_in.done(), "the unknown kid waits for the download in flight"
            assert refresh_threads(earlier_downloads), "the download was in flight all along"
            assert jwks_server.count() == 2
            jwks_server.publish(rsa_key, ec_key, second_rsa_key)
        finally:
            jwks_server.answer_held()
        assert rotated_in.result(timeout=GENEROUS).header["kid"] == "rsa-key-2"
    assert jwks_server.count() == 2


# -- Cache-Control and bounds ---------------------------------------------------------------------


def test_cache_control_max_age_shortens_the_cache(
    token_factory, jwks_server, make_validator, clock
) -> None:
    jwks_server.cache_control = "public, max-age=1, stale-if-error=86400"
    validator = make_validator(jwks_max_age=600, jwks_cooldown=0.1)
    validator.validate(token_factory())
    validator.validate(token_factory())
    assert jwks_server.count() == 1
    earlier_downloads = frozenset(refresh_threads())
    clock.advance(0.95)
    validator.validate(token_factory())
    assert not refresh_threads(earlier_downloads) and jwks_server.count() == 1, "still fresh"
    clock.advance(0.1)
    validator.validate(token_factory())
    assert wait_until(lambda: jwks_server.count() == 2)


def test_without_cache_control_keys_live_for_max_age(
    token_factory, jwks_server, make_validator, clock
) -> None:
    validator = make_validator(jwks_max_age=600, jwks_cooldown=0.1)
    validator.validate(token_factory())
    earlier_downloads = frozenset(refresh_threads())
    clock.advance(599)
    validator.validate(token_factory())
    assert not refresh_threads(earlier_downloads), "no refresh started within max_age"
    assert jwks_server.count() == 1
    clock.advance(2)
    validator.validate(token_factory())
    assert wait_until(lambda: jwks_server.count() == 2)


def test_cache_control_cannot_extend_beyond_max_age(
    token_factory, jwks_server, make_validator, clock
) -> None:
    jwks_server.cache_control = "max-age=86400"
    validator = make_validator(jwks_max_age=0.4, jwks_cooldown=0.1)
    validator.validate(token_factory())
    earlier_downloads = frozenset(refresh_threads())
    clock.advance(0.35)
    validator.validate(token_factory())
    assert not refresh_threads(earlier_downloads) and jwks_server.count() == 1, "still fresh"
    clock.advance(0.1)
    validator.validate(token_factory())
    assert wait_until(lambda: jwks_server.count() == 2)


@pytest.mark.parametrize("cache_control", ["max-age=0", "public, max-age=0, must-revalidate"])
def test_zero_max_age_refreshes_at_most_once_per_cooldown(
    token_factory, jwks_server, make_validator, clock, cache_control: str
) -> None:
    jwks_server.cache_control = cache_control
    validator = make_validator(jwks_max_age=600, jwks_cooldown=0.5)
    for index in range(20):
        validator.validate(token_factory({"jti": str(index)}))
    assert jwks_server.count() == 1
    earlier_downloads = frozenset(refresh_threads())
    clock.advance(0.45)
    validator.validate(token_factory())
    assert not refresh_threads(earlier_downloads) and jwks_server.count() == 1, (
        "within the cooldown"
    )
    clock.advance(0.1)
    validator.validate(token_factory())
    assert wait_until(lambda: jwks_server.count() == 2)


def test_stale_keys_are_served_only_for_stale_if_error(
    token_factory, jwks_server, make_validator, clock, assert_rejected
) -> None:
    """Fresh for 0.2 s, then usable for 0.6 s more while refreshes fail, then unavailable."""
    validator = make_validator(jwks_max_age=0.2, jwks_cooldown=0.1, jwks_stale_if_error=0.6)
    validator.validate(token_factory())
    earlier_downloads = frozenset(refresh_threads())
    jwks_server.misbehave("500")
    clock.advance(0.3)
    assert validator.validate(token_factory()).subject  # stale, refresh failing: still served
    assert downloads_ended(earlier_downloads)
    clock.advance(0.45)
    assert validator.validate(token_factory()).subject  # 0.75 s: still within stale-if-error
    assert downloads_ended(earlier_downloads)
    clock.advance(0.15)
    assert_rejected(
        lambda: validator.validate(token_factory()),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        "no usable JWKS",
    )
    jwks_server.publish(*jwks_server.keys)
    clock.advance(0.15)  # past the cooldown that followed the failed download
    assert validator.validate(token_factory()).subject  # recovers once the endpoint does


# -- failing endpoints ---------------------------------------------------------------------------

# (behaviour, what the failed refresh logs). A hanging or trickling endpoint races the caller's
# own time bound: the caller reports either the download's failure or that it "took longer".
FAILURES = [
    pytest.param("500", ("HTTP 500",), id="http-500"),
    pytest.param("garbage", ("did not return JSON",), id="garbage"),
    pytest.param("oversized", ("declared a body of '2",), id="2-MiB-declared"),
    pytest.param("oversized-undeclared", ("more than 1048576 bytes",), id="2-MiB-undeclared"),
    pytest.param("no-keys", ("no usable signature key",), id="no-keys"),
    pytest.param("hang", ("Read timed out", "took longer"), id="hanging"),
    pytest.param("trickle", ("took longer",), id="trickling"),
]


@pytest.mark.parametrize(("behaviour", "logged"), FAILURES)
def test_failing_endpoint_keeps_known_keys_and_bounds_unknown_ones(
    token_factory,
    jwks_server,
    make_validator,
    clock,
    second_rsa_key,
    assert_rejected,
    caplog,
    behaviour: str,
    logged: tuple[str, ...],
) -> None:
    validator = make_validator()
    validator.validate(token_factory())
    jwks_server.misbehave(behaviour)
    clock.advance(COOLDOWN + 0.05)  # past the cooldown: an unknown kid may refetch

    unknown = token_factory(header={"kid": "rotated-in"}, key=second_rsa_key)
    error, seconds = timed(
        lambda: assert_rejected(
            lambda: validator.validate(unknown),
            KeysUnavailable,
            RefusalCode.JWKS_UNAVAILABLE,
            ("rotated-in", "took longer"),
        )
    )
    assert seconds < TIMEOUT + SLACK, f"{behaviour}: waited {seconds:.2f}s"
    assert error.status_code == 503
    assert jwks_server.count() == 2
    assert wait_until(
        lambda: "JWKS refresh" in caplog.text and any(text in caplog.text for text in logged),
        2 * TIMEOUT + SLACK,
    )

    claims, seconds = timed(lambda: validator.validate(token_factory()))
    assert claims.subject and seconds < 0.2


@pytest.mark.parametrize(("behaviour", "logged"), FAILURES)
def test_failing_endpoint_without_cached_keys_gives_keys_unavailable(
    token_factory,
    jwks_server,
    make_validator,
    assert_rejected,
    behaviour: str,
    logged: tuple[str, ...],
) -> None:
    validator = make_validator(jwks_cooldown=30)
    jwks_server.misbehave(behaviour)

    def refused() -> object:
        return assert_rejected(
            lambda: validator.validate(token_factory()),
            KeysUnavailable,
            RefusalCode.JWKS_UNAVAILABLE,
            logged,
        )

    _, seconds = timed(refused)
    assert seconds < TIMEOUT + SLACK, f"{behaviour}: waited {seconds:.2f}s"
    # Within the cooldown no second download starts: requests fail within the time bound.
    _, seconds = timed(refused)
    assert seconds < TIMEOUT + SLACK
    assert jwks_server.count() == 1


@pytest.mark.parametrize("behaviour", ["hang", "trickle"])
def test_download_itself_ends_within_its_time_bound(
    token_factory, jwks_server, validator, behaviour: str
) -> None:
    """Not only callers: the background download of a hanging or trickling endpoint gives up
    (connect/read timeout plus a total deadline) instead of running forever."""
    earlier_downloads = frozenset(refresh_threads())
    jwks_server.misbehave(behaviour)
    with pytest.raises(KeysUnavailable):
        validator.validate(token_factory())
    assert wait_until(lambda: not refresh_threads(earlier_downloads), 2 * TIMEOUT + SLACK)


def test_caller_waits_at_most_http_timeout_even_while_the_download_goes_on(
    token_factory, jwks_server, make_validator
) -> None:
    """Each byte arrives well within the 2 s read timeout, so only the download's total deadline
    stops it, at the second byte (3 s); the request itself gives up at ``http_timeout`` (2 s)."""
    earlier_downloads = frozenset(refresh_threads())
    jwks_server.trickle_interval = 1.5
    jwks_server.misbehave("trickle")
    validator = make_validator(http_timeout=2.0)
    error, seconds = timed(
        lambda: pytest.raises(KeysUnavailable, validator.validate, token_factory()).value
    )
    assert error.code is RefusalCode.JWKS_UNAVAILABLE
    assert "took longer than 2.0s" in error.reason
    assert 2.0 <= seconds < 2.9
    assert refresh_threads(earlier_downloads), "the download is still reading"
    assert wait_until(lambda: not refresh_threads(earlier_downloads), 3.0)


def test_unreachable_endpoint_gives_keys_unavailable(
    token_factory, issuer, audience, assert_rejected
) -> None:
    validator = TokenValidator(
        issuer, audience, jwks_url="http://127.0.0.1:9/jwks.json", http_timeout=TIMEOUT
    )
    _, seconds = timed(
        lambda: assert_rejected(
            lambda: validator.validate(token_factory()),
            KeysUnavailable,
            RefusalCode.JWKS_UNAVAILABLE,
            "no usable JWKS",
        )
    )
    assert seconds < TIMEOUT + SLACK


def test_redirects_are_not_followed(
    token_factory, jwks_server, make_jwks_server, make_validator, assert_rejected
) -> None:
    """A JWKS address answering with a redirect is a failure, not a hop to another host."""
    validator = make_validator(jwks_url=jwks_server.base_url + "/redirect")
    jwks_server.serve_redirect("/redirect", make_jwks_server(*jwks_server.keys).jwks_url)
    assert_rejected(
        lambda: validator.validate(token_factory()),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        "HTTP 302",
    )


# -- keys the JWKS offers -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tweak", "logged"),
    [
        pytest.param({"use": "enc"}, "use is 'enc'", id="use-enc"),
        pytest.param({"key_ops": ["encrypt"]}, "key_ops", id="key-ops-without-verify"),
        pytest.param({"alg": "HS256"}, "alg 'HS256'", id="alg-hs256"),
        pytest.param({"d": "AQAB"}, "private key", id="private-key-published"),
        pytest.param({"kty": "oct", "k": "c2VjcmV0"}, "unsupported kty 'oct'", id="symmetric-key"),
        pytest.param({"n": "not base64!"}, "not base64url", id="modulus-not-base64"),
        pytest.param({"kid": 7}, "kid is not a string", id="kid-not-a-string"),
        pytest.param({"alg": ["RS256"]}, "alg ['RS256']", id="alg-not-a-string"),
        pytest.param({"e": 65537}, "member 'e' is not base64url", id="exponent-as-number"),
        pytest.param(
            {"kty": "EC", "crv": ["P-256"]}, "unsupported curve ['P-256']", id="curve-not-a-string"
        ),
        pytest.param(
            {"kty": "EC", "crv": "P-256K"}, "unsupported curve 'P-256K'", id="unsupported-curve"
        ),
    ],
)
def test_unusable_jwks_entries_are_ignored(
    token_factory,
    jwks_server,
    validator,
    rsa_key,
    second_rsa_key,
    assert_rejected,
    caplog,
    tweak,
    logged,
) -> None:
    bad = {**second_rsa_key.jwk, **tweak}
    jwks_server.serve_json(JWKS_PATH, {"keys": [rsa_key.jwk, bad]})
    assert validator.validate(token_factory()).subject
    assert logged in caplog.text
    assert_rejected(
        lambda: validator.validate(token_factory(key=second_rsa_key)),
        InvalidToken,
        RefusalCode.KID_UNKNOWN,
    )


def test_jwks_entries_that_are_not_objects_are_ignored(
    token_factory, jwks_server, validator, rsa_key, caplog
) -> None:
    jwks_server.serve_json(JWKS_PATH, {"keys": [1, "key", None, [rsa_key.jwk], rsa_key.jwk]})
    assert validator.validate(token_factory()).subject
    assert caplog.text.count("not a JSON object") == 4


@pytest.mark.parametrize(
    ("document", "logged"),
    [
        pytest.param([{"kty": "RSA"}], "not an object with a 'keys' array", id="array"),
        pytest.param(
            {"keys": {"kid": "rsa-key-1"}},
            "not an object with a 'keys' array",
            id="keys-not-an-array",
        ),
        pytest.param({"jwks": []}, "not an object with a 'keys' array", id="no-keys-member"),
    ],
)
def test_jwks_document_of_the_wrong_shape_is_unavailable(
    token_factory, jwks_server, validator, assert_rejected, document, logged
) -> None:
    jwks_server.serve_json(JWKS_PATH, document)
    assert_rejected(
        lambda: validator.validate(token_factory()),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        logged,
    )


def test_ec_key_off_the_curve_is_ignored(
    token_factory, jwks_server, validator, rsa_key, ec_key, caplog
) -> None:
    off_curve = {**ec_key.jwk, "y": ec_key.jwk["x"]}
    jwks_server.serve_json(JWKS_PATH, {"keys": [rsa_key.jwk, off_curve]})
    assert validator.validate(token_factory()).subject
    assert "ec-key-1" in caplog.text and "ignored" in caplog.text


def test_rsa_key_under_2048_bits_is_ignored(
    token_factory, jwks_server, validator, rsa_key, weak_rsa_key, caplog, assert_rejected
) -> None:
    jwks_server.publish(rsa_key, weak_rsa_key)
    assert validator.validate(token_factory()).subject
    assert "RSA key of 1024 bits is under 2048" in caplog.text
    assert_rejected(
        lambda: validator.validate(token_factory(key=weak_rsa_key)),
        InvalidToken,
        RefusalCode.KID_UNKNOWN,
    )


def public_rsa_jwk(kid: str, bits: int) -> dict:
    """A public RS256 JWK with a modulus of exactly ``bits`` bits. Any odd modulus with e = 65537
    is a valid public key for the size rule, and building one needs no slow key generation."""
    modulus = (1 << (bits - 1)) | 1
    return {
        "kty": "RSA",
        "kid": kid,
        "alg": "RS256",
        "use": "sig",
        "n": b64url(modulus.to_bytes((bits + 7) // 8, "big")),
        "e": "AQAB",
    }


@pytest.mark.parametrize("bits", [8193, 9216, 16384])
def test_rsa_key_over_8192_bits_is_ignored(
    token_factory, jwks_server, validator, rsa_key, second_rsa_key, caplog, assert_rejected, bits
) -> None:
    """Verifying with a huge modulus costs CPU per forged token: such a key is unusable."""
    jwks_server.serve_json(JWKS_PATH, {"keys": [rsa_key.jwk, public_rsa_jwk("rsa-huge", bits)]})
    assert validator.validate(token_factory()).subject
    assert f"RSA key of {bits} bits is over 8192" in caplog.text
    token = token_factory(key=second_rsa_key.with_kid("rsa-huge"))
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.KID_UNKNOWN)


def test_rsa_key_of_8192_bits_is_used(
    token_factory, jwks_server, validator, rsa_key, second_rsa_key, caplog, assert_rejected
) -> None:
    """The largest size allowed: the key is found (so a signature it did not make fails)."""
    jwks_server.serve_json(JWKS_PATH, {"keys": [rsa_key.jwk, public_rsa_jwk("rsa-8192", 8192)]})
    assert validator.validate(token_factory()).subject
    assert "ignored" not in caplog.text
    token = token_factory(key=second_rsa_key.with_kid("rsa-8192"))
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.SIGNATURE)


@pytest.mark.parametrize("exponent", [3, 65536, 2**256 + 1, 2**4096 + 1])
def test_rsa_key_with_an_exponent_out_of_range_is_ignored(
    token_factory, jwks_server, validator, rsa_key, caplog, exponent
) -> None:
    """A huge exponent makes every check of a token naming the key costly; a tiny one is weak."""
    odd_exponent = {
        **rsa_key.jwk,
        "kid": "rsa-odd-e",
        "e": b64url(exponent.to_bytes((exponent.bit_length() + 7) // 8, "big")),
    }
    jwks_server.serve_json(JWKS_PATH, {"keys": [rsa_key.jwk, odd_exponent]})
    assert validator.validate(token_factory()).subject
    assert "RSA exponent e is not an odd number between 2^16 and 2^256" in caplog.text


def test_jwks_of_only_unusable_keys_is_unavailable(
    token_factory, jwks_server, validator, weak_rsa_key, assert_rejected
) -> None:
    jwks_server.publish(weak_rsa_key)
    assert_rejected(
        lambda: validator.validate(token_factory(key=weak_rsa_key)),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        "no usable signature key",
    )


def test_duplicate_kid_keeps_the_first_key(
    token_factory, jwks_server, validator, rsa_key, second_rsa_key, caplog, assert_rejected
) -> None:
    jwks_server.publish(rsa_key, second_rsa_key.with_kid(rsa_key.kid))
    assert validator.validate(token_factory()).subject
    assert "appears twice" in caplog.text
    forged = token_factory(key=second_rsa_key.with_kid(rsa_key.kid))
    assert_rejected(lambda: validator.validate(forged), InvalidToken, RefusalCode.SIGNATURE)


def test_key_bound_to_one_algorithm_is_not_used_with_another(
    token_factory, jwks_server, make_validator, rsa_key, assert_rejected
) -> None:
    """RFC 8725 3.1: the JWK says RS256, so a PS256 signature by the same key is refused."""
    validator = make_validator(algorithms=("RS256", "PS256"))
    token = token_factory(header={"alg": "PS256"})
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.KEY_MISMATCH)
    unbound = {key: value for key, value in rsa_key.jwk.items() if key != "alg"}
    jwks_server.serve_json(JWKS_PATH, {"keys": [unbound]})
    assert make_validator(algorithms=("RS256", "PS256")).validate(token).subject


# -- discovery ------------------------------------------------------------------------------------


def test_jwks_url_comes_from_discovery_fetched_once(
    token_factory, jwks_server, make_validator, clock, rsa_key, second_rsa_key
) -> None:
    validator = make_validator(jwks_url=None)
    validator.validate(token_factory())
    jwks_server.publish(rsa_key, second_rsa_key)
    clock.advance(COOLDOWN + 0.05)
    validator.validate(token_factory(key=second_rsa_key))
    assert jwks_server.count(DISCOVERY_PATH) == 1
    assert jwks_server.count(JWKS_PATH) == 2


def test_discovery_naming_another_issuer_is_refused(
    token_factory, jwks_server, make_validator, assert_rejected
) -> None:
    jwks_server.serve_json(
        DISCOVERY_PATH, {"issuer": "https://evil.example/", "jwks_uri": jwks_server.jwks_url}
    )
    validator = make_validator(jwks_url=None)
    assert_rejected(
        lambda: validator.validate(token_factory()),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        "names issuer 'https://evil.example/'",
    )
    assert jwks_server.count(JWKS_PATH) == 0


@pytest.mark.parametrize("jwks_uri", [None, 42, "file:///etc/passwd", "ftp://127.0.0.1/jwks.json"])
def test_discovery_without_usable_jwks_uri_is_refused(
    token_factory, jwks_server, make_validator, assert_rejected, jwks_uri
) -> None:
    jwks_server.serve_json(DISCOVERY_PATH, {"issuer": jwks_server.issuer, "jwks_uri": jwks_uri})
    assert_rejected(
        lambda: make_validator(jwks_url=None).validate(token_factory()),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        "has no usable jwks_uri",
    )


@pytest.fixture
def https_server(tmp_path, monkeypatch, rsa_key) -> Iterator[JWKSServer]:
    """A JWKSServer publishing ``rsa_key`` behind TLS, with a certificate requests trusts for
    this test (REQUESTS_CA_BUNDLE); its https base URL is ``https_base_url(server)``."""
    certificate, key = self_signed_tls_files(tmp_path)
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(certificate))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(certificate, key)
    server = JWKSServer()
    server._httpd.socket = context.wrap_socket(server._httpd.socket, server_side=True)
    server.start().publish(rsa_key)
    yield server
    server.close()


def https_base_url(server: JWKSServer) -> str:
    return server.base_url.replace("http://", "https://", 1)


def test_https_issuer_naming_an_https_jwks_uri_is_used(https_server, audience, rsa_key) -> None:
    """The TLS setup of the next test works: discovery and JWKS over https are used."""
    issuer = https_base_url(https_server) + "/"
    https_server.serve_json(
        DISCOVERY_PATH, {"issuer": issuer, "jwks_uri": https_base_url(https_server) + JWKS_PATH}
    )
    validator = TokenValidator(issuer, audience, http_timeout=TIMEOUT, jwks_cooldown=0.2)
    assert validator.validate(TokenFactory(issuer, audience, rsa_key)()).subject
    assert https_server.count(JWKS_PATH) == 1


def test_https_issuer_naming_an_http_jwks_uri_is_refused(
    https_server, jwks_server, audience, rsa_key, assert_rejected
) -> None:
    """RFC 8414 2: the jwks_uri "MUST use the "https" scheme"; keys fetched in the clear could be
    anyone's. (A loopback http issuer may name an http jwks_uri: the discovery tests above.)"""
    issuer = https_base_url(https_server) + "/"
    https_server.serve_json(DISCOVERY_PATH, {"issuer": issuer, "jwks_uri": jwks_server.jwks_url})
    validator = TokenValidator(issuer, audience, http_timeout=TIMEOUT, jwks_cooldown=0.2)
    token = TokenFactory(issuer, audience, rsa_key)()
    assert_rejected(
        lambda: validator.validate(token),
        KeysUnavailable,
        RefusalCode.JWKS_UNAVAILABLE,
        f"jwks_uri {jwks_server.jwks_url!r}, not an https URL",
    )
    assert https_server.count(DISCOVERY_PATH) == 1
    assert jwks_server.total_requests == 0


def test_cache_defaults_are_the_documented_ones(issuer, audience) -> None:
    """10 min max age, 30 s cooldown, 3 s timeouts, 1 h stale-if-error, 30 s leeway, RS256, the
    real clocks; a JWKSCache of its own has the same defaults."""
    validator = TokenValidator(issuer, audience)
    assert (validator.leeway, validator.algorithms) == (30, ("RS256",))
    for cache in (validator.jwks, JWKSCache(issuer)):
        assert (cache.max_age, cache.cooldown, cache.timeout) == (600, 30, 3)
        assert cache.stale_if_error == 3600
        assert cache.monotonic is time.monotonic
    assert validator.clock is time.time
