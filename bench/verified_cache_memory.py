"""The verified-token cache's memory and its warm vs cold rate (a benchmark, not a test).

    .venv/bin/python -m bench.verified_cache_memory

Prints the memory the cache retains at its default bound (10,000 access tokens of 1 KiB, RSA-2048,
Auth0-shaped claims padded to 1 KiB) with tracemalloc and as resident set growth, and the
validations per second of one token validated again and again (warm) against distinct tokens
(cold), with the cache on and off.
"""

from __future__ import annotations

import gc
import statistics
import time
import tracemalloc
from pathlib import Path

from shared.token_validation import DEFAULT_VERIFIED_CACHE_SIZE, TokenValidator
from tests.support.fixtures import API_AUDIENCE, TokenFactory
from tests.support.jwks_server import JWKSServer
from tests.support.keys import rsa_signing_key

TOKEN_BYTES = 1024


def rss_bytes() -> int:
    """This process's resident set size (Linux /proc)."""
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * 4096


def tokens_of_1_kib(factory: TokenFactory, count: int) -> list[str]:
    """``count`` distinct tokens of exactly TOKEN_BYTES characters."""
    probe = factory({"jti": "x" * 8, "pad": ""})
    pad = (TOKEN_BYTES - len(probe)) * 3 // 4
    tokens = []
    for index in range(count):
        token = factory({"jti": f"{index:08d}", "pad": "p" * pad})
        while len(token) < TOKEN_BYTES:  # base64 rounding: grow the padding a character
            pad += 1
            token = factory({"jti": f"{index:08d}", "pad": "p" * pad})
        tokens.append(token)
    return tokens


def rate(call, tokens: list[str]) -> float:
    started = time.perf_counter()
    for token in tokens:
        call(token)
    return len(tokens) / (time.perf_counter() - started)


def main() -> None:
    key = rsa_signing_key("rsa-key-1")
    server = JWKSServer().start()
    server.publish(key)
    try:
        factory = TokenFactory(server.issuer, API_AUDIENCE, key)
        count = DEFAULT_VERIFIED_CACHE_SIZE
        tokens = tokens_of_1_kib(factory, count)
        print(f"{count} tokens of {min(map(len, tokens))}-{max(map(len, tokens))} characters")

        def validator(size: int) -> TokenValidator:
            made = TokenValidator(
                server.issuer, API_AUDIENCE, jwks_url=server.jwks_url, verified_cache_size=size
            )
            made.validate(tokens[0])  # the JWKS download and the checked header, out of the way
            return made

        # Memory, resident: the growth of the RSS while a cache fills (nothing else traced).
        mib = 1024 * 1024
        # A token enters the cache at its second validation: two passes fill it.
        cached = validator(DEFAULT_VERIFIED_CACHE_SIZE)
        gc.collect()
        rss_before = rss_bytes()
        for token in tokens + tokens:
            cached.validate(token)
        gc.collect()
        rss_after = rss_bytes()
        assert len(cached._verified) == count
        print(f"cache entries: {len(cached._verified)}")
        print(f"RSS growth while filling the cache: {(rss_after - rss_before) / mib:.1f} MiB")
        print(f"RSS of the whole process now: {rss_after / mib:.1f} MiB")
        # Memory, traced: what a second full cache retains beyond the token strings the caller
        # already holds, and with them (the cache keeps them alive as its keys).
        traced = validator(DEFAULT_VERIFIED_CACHE_SIZE)
        tracemalloc.start()
        for token in tokens + tokens:
            traced.validate(token)
        retained, _ = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        token_strings = sum(len(token) + 49 for token in tokens)  # an ASCII str's header: 49
        print(f"tracemalloc, cache without the token strings: {retained / mib:.1f} MiB")
        print(f"token strings (kept alive as keys): {token_strings / mib:.1f} MiB")
        print(f"cache with its token strings: {(retained + token_strings) / mib:.1f} MiB")
        del traced
        gc.collect()

        # Throughput, in interleaved rounds (median): cold = distinct tokens, each validated
        # for the first time (signature verified, then its hash noted), and with the cache off;
        # warm = one token again and again.
        rounds: dict[str, list[float]] = {"cold": [], "cold_off": [], "warm": [], "warm_off": []}
        chunk = len(tokens) // 5
        for index in range(5):
            part = tokens[index * chunk : (index + 1) * chunk]
            rounds["cold"].append(rate(validator(DEFAULT_VERIFIED_CACHE_SIZE).validate, part))
            off = validator(0)
            rounds["cold_off"].append(rate(off.validate, part))
            rounds["warm"].append(rate(cached.validate, [tokens[5]] * 50_000))
            rounds["warm_off"].append(rate(off.validate, [tokens[5]] * 1_000))
        median = {name: statistics.median(values) for name, values in rounds.items()}
        print(f"cold (distinct tokens, cache on):  {median['cold']:10.0f} validations/s")
        print(f"cold (distinct tokens, cache off): {median['cold_off']:10.0f} validations/s")
        print(f"warm (one token, cache on):        {median['warm']:10.0f} validations/s")
        print(f"warm (one token, cache off):       {median['warm_off']:10.0f} validations/s")
        print(f"warm / cold: {median['warm'] / median['cold']:.1f}x")
        print(f"warm / cold, cache off: {median['warm_off'] / median['cold_off']:.2f}x")
    finally:
        server.close()


if __name__ == "__main__":
    main()
