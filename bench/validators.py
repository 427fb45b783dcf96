"""Validations per second, in this process: the project's validator beside four JWT libraries.

Every validator gets the same RS256 tokens (Auth0-shaped claims, minted by ``tests.support``)
and the same checks asked of it: signature with the issuer's key, exact ``iss``, ``aud``
containing the API, ``exp``/``nbf``/``iat``. The libraries get their best case, the public key
preloaded as their own key object; ours fetches its JWKS once from a real local server before
timing starts.

- *cold*: every token distinct (a fresh validator each round, so its verified-token cache, when
  there is one, holds none of them and pays its own bookkeeping);
- *warm*: one token validated again and again (a client reusing its token, the common case);
- *floor*: the raw RSA-2048 ``verify()`` of each token's signature, nothing else (OpenSSL's cost,
  which no validator can go below);
- *signing*: RSA-2048 signatures per second in one process (each grant signs one JWT).

The cases run interleaved in rounds (A B C ... A B C ...) so that machine noise hits each alike,
and the median round of each is reported.
"""

from __future__ import annotations

import base64
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import jwt
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding

from shared.token_validation import TokenValidator
from tests.support.fixtures import API_AUDIENCE, TokenFactory
from tests.support.jwks_server import JWKSServer
from tests.support.keys import rsa_signing_key

#: The verified-token cache bound asked of the validator (the issue's default).
CACHE_SIZE = 10_000
OURS = "shared.token_validation"
LIBRARIES = ("PyJWT", "python-jose", "joserfc", "authlib.jose")


@dataclass
class ValidatorFigures:
    """Operations per second (median round) by name, and what was measured."""

    tokens: int
    rounds: int
    token_bytes: int
    has_cache: bool
    cold: dict[str, float] = field(default_factory=dict)
    warm: dict[str, float] = field(default_factory=dict)
    verify_floor: float = 0.0
    signing_rate: float = 0.0


def _b64decode(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def make_validator(issuer: str, jwks_url: str) -> tuple[TokenValidator, bool]:
    """Our validator with its verified-token cache on, and whether it has one (an older
    ``shared/token_validation.py`` has no ``verified_cache_size`` option)."""
    try:
        return (
            TokenValidator(issuer, API_AUDIENCE, jwks_url=jwks_url, verified_cache_size=CACHE_SIZE),
            True,
        )
    except TypeError:
        return TokenValidator(issuer, API_AUDIENCE, jwks_url=jwks_url), False


def _library_validators(issuer: str, key: Any) -> dict[str, Callable[[str], Any]]:
    """One ``validate(token)`` per library, each with its key object preloaded."""
    from jose import jwk as jose_jwk
    from jose import jwt as jose_jwt
    from joserfc import jwt as joserfc_jwt
    from joserfc.jwk import RSAKey

    # authlib.jose announces its deprecation (for joserfc) with a filter of its own: recorded.
    with warnings.catch_warnings(record=True):
        from authlib.jose import JsonWebKey, JsonWebToken

    public_key = key.public_key
    jose_key = jose_jwk.construct(key.jwk, "RS256")
    joserfc_key = RSAKey.import_key(key.jwk)
    joserfc_claims = joserfc_jwt.JWTClaimsRegistry(
        iss={"essential": True, "value": issuer},
        aud={"essential": True, "value": API_AUDIENCE},
        exp={"essential": True},
    )
    authlib_key = JsonWebKey.import_key(key.jwk)
    authlib_jwt = JsonWebToken(["RS256"])
    authlib_options = {
        "iss": {"essential": True, "value": issuer},
        "aud": {"essential": True, "value": API_AUDIENCE},
        "exp": {"essential": True},
    }

    def pyjwt(token: str) -> Any:
        return jwt.decode(
            token, public_key, algorithms=["RS256"], audience=API_AUDIENCE, issuer=issuer
        )

    def python_jose(token: str) -> Any:
        return jose_jwt.decode(
            token, jose_key, algorithms=["RS256"], audience=API_AUDIENCE, issuer=issuer
        )

    def joserfc(token: str) -> Any:
        decoded = joserfc_jwt.decode(token, joserfc_key, algorithms=["RS256"])
        joserfc_claims.validate(decoded.claims)
        return decoded.claims

    def authlib(token: str) -> Any:
        claims = authlib_jwt.decode(token, authlib_key, claims_options=authlib_options)
        claims.validate()
        return claims

    return dict(zip(LIBRARIES, (pyjwt, python_jose, joserfc, authlib), strict=True))


def _timed(run: Callable[[], None]) -> float:
    started = time.perf_counter()
    run()
    return time.perf_counter() - started


def measure(tokens: int = 1000, rounds: int = 15) -> ValidatorFigures:
    key = rsa_signing_key("bench-key")
    server = JWKSServer().start()
    try:
        server.publish(key)
        factory = TokenFactory(server.issuer, API_AUDIENCE, key)
        distinct = [factory({"jti": f"token-{index}"}) for index in range(tokens)]
        priming = factory({"jti": "priming"})  # loads a fresh validator's JWKS, not timed
        one = distinct[0]
        signed = [
            (".".join(token.split(".")[:2]).encode(), _b64decode(token.split(".")[2]))
            for token in distinct
        ]
        libraries = _library_validators(server.issuer, key)
        warm_validator, has_cache = make_validator(server.issuer, server.jwks_url)
        warm_validator.validate(priming)
        for validate in (warm_validator.validate, *libraries.values()):
            validate(one)  # every library accepts the tokens before anything is timed

        public_key = key.public_key
        private_key = key.private_key
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()

        def ours_cold() -> float:
            validator, _ = make_validator(server.issuer, server.jwks_url)
            validator.validate(priming)
            started = time.perf_counter()
            for token in distinct:
                validator.validate(token)
            return time.perf_counter() - started

        def cold_run(validate: Callable[[str], Any]) -> Callable[[], float]:
            def run() -> float:
                return _timed(lambda: [validate(token) for token in distinct])

            return run

        def warm_run(validate: Callable[[str], Any]) -> Callable[[], float]:
            def run() -> float:
                return _timed(lambda: [validate(one) for _ in range(tokens)])

            return run

        def floor() -> float:
            return _timed(
                lambda: [public_key.verify(sig, data, pkcs1, sha256) for data, sig in signed]
            )

        def signing() -> float:
            return _timed(lambda: [private_key.sign(data, pkcs1, sha256) for data, _ in signed])

        cases: dict[tuple[str, str], Callable[[], float]] = {
            ("cold", OURS): ours_cold,
            ("warm", OURS): warm_run(warm_validator.validate),
            ("floor", ""): floor,
            ("signing", ""): signing,
        }
        for name, validate in libraries.items():
            cases["cold", name] = cold_run(validate)
            cases["warm", name] = warm_run(validate)
        seconds: dict[tuple[str, str], list[float]] = {case: [] for case in cases}
        for _ in range(rounds):
            for case, run in cases.items():
                seconds[case].append(run())
    finally:
        server.close()

    rate = {case: tokens / statistics.median(times) for case, times in seconds.items()}
    figures = ValidatorFigures(tokens, rounds, len(one), has_cache)
    for name in (OURS, *LIBRARIES):
        figures.cold[name] = rate["cold", name]
        figures.warm[name] = rate["warm", name]
    figures.verify_floor = rate["floor", ""]
    figures.signing_rate = rate["signing", ""]
    return figures
