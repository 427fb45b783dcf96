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
and the median round of each is reported. Within a round the cases take turns every
``SLICE`` tokens (each case's time is summed over its turns): on these shared VMs the host
slows a core down for tens to hundreds of milliseconds at a time, longer than a turn, so
every case gets its share of a slow spell. Timing only ours and PyJWT cold, four times each way
on one machine: with whole rounds as turns (a case's 1,000 tokens at once) their ratio read 1.97
to 2.42; with turns of 50 tokens, 2.20 to 2.30.
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
#: Tokens per turn of a case within a round (see the module docstring).
SLICE = 50
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
        warm_validator.validate(one)  # its second validation puts it in the cache

        public_key = key.public_key
        private_key = key.private_key
        pkcs1, sha256 = padding.PKCS1v15(), hashes.SHA256()
        # Each case times one turn: the tokens (and their signed parts) from ``start`` to ``stop``.
        Case = Callable[[int, int], float]
        fresh: list[TokenValidator] = []  # the cold case's validator of the current round

        def ours_cold(start: int, stop: int) -> float:
            validate = fresh[0].validate
            started = time.perf_counter()
            for token in distinct[start:stop]:
                validate(token)
            return time.perf_counter() - started

        def cold_run(validate: Callable[[str], Any]) -> Case:
            def run(start: int, stop: int) -> float:
                return _timed(lambda: [validate(token) for token in distinct[start:stop]])

            return run

        def warm_run(validate: Callable[[str], Any]) -> Case:
            def run(start: int, stop: int) -> float:
                return _timed(lambda: [validate(one) for _ in range(start, stop)])

            return run

        def floor(start: int, stop: int) -> float:
            return _timed(
                lambda: [
                    public_key.verify(sig, data, pkcs1, sha256) for data, sig in signed[start:stop]
                ]
            )

        def signing(start: int, stop: int) -> float:
            return _timed(
                lambda: [private_key.sign(data, pkcs1, sha256) for data, _ in signed[start:stop]]
            )

        cases: dict[tuple[str, str], Case] = {
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
            # A fresh validator per round: its verified-token cache holds none of the tokens.
            validator, _ = make_validator(server.issuer, server.jwks_url)
            validator.validate(priming)
            fresh[:] = [validator]
            spent = dict.fromkeys(cases, 0.0)
            for start in range(0, tokens, SLICE):
                stop = min(start + SLICE, tokens)
                for case, run in cases.items():
                    spent[case] += run(start, stop)
            for case, total in spent.items():
                seconds[case].append(total)
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
