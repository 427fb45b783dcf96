"""One row per attack on the access-token validator: each must be refused for its own reason.

Every row asserts the refusal code, and where several checks share a code the reason logged, so
removing the rule that catches an attack fails its row even where a later check would also have
refused the token.
"""

from __future__ import annotations

import base64
import datetime
import json
import sys

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509.oid import NameOID

from shared.token_validation import InvalidToken, RefusalCode, TokenValidator
from tests.support.jwks_server import JWKS_PATH
from tests.support.keys import b64url


def self_signed_certificate_der(key) -> bytes:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "attacker")])
    moment = datetime.datetime.now(datetime.UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key)
        .serial_number(1)
        .not_valid_before(moment - datetime.timedelta(days=1))
        .not_valid_after(moment + datetime.timedelta(days=1))
        .sign(key.private_key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.DER)


def replace_segment(token: str, index: int, segment: str) -> str:
    parts = token.split(".")
    parts[index] = segment
    return ".".join(parts)


def non_canonical(token: str, index: int) -> str:
    """The token with segment ``index`` spelled differently but decoding to the same bytes: the
    unused low bits of its last base64url character set."""
    segment = token.split(".")[index]
    assert len(segment) % 4 in (2, 3)
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet[alphabet.index(segment[-1]) | 1]
    altered = segment[:-1] + last
    assert base64.urlsafe_b64decode(altered + "==") == base64.urlsafe_b64decode(segment + "==")
    return replace_segment(token, index, altered)


def nested_header(depth: int, note: str = "x") -> bytes:
    """A header that is fine but for an ``x-note`` and an array nested ``depth`` deep."""
    return (
        b'{"alg":"RS256","typ":"JWT","kid":"rsa-key-1","x-note":"'
        + note.encode()
        + b'","x-deep":'
        + b"[" * depth
        + b"]" * depth
        + b"}"
    )


# Attack rows: (build(kit) -> token, refusal code, the fragment of the logged reason that pins
# which check of that code fired, or None where the code alone names the rule). All expect
# InvalidToken.
ATTACKS = [
    # RFC 9068 4 / RFC 7518 3.6: unsecured tokens, in every casing a sloppy comparison might miss.
    *[
        pytest.param(
            lambda kit, casing=casing: kit.token(header={"alg": casing}),
            RefusalCode.ALG_NOT_ALLOWED,
            None,
            id=f"alg-{casing}",
        )
        for casing in ("none", "None", "NONE", "nOnE")
    ],
    pytest.param(
        lambda kit: kit.token(header={"alg": "none"}, alg="RS256"),
        RefusalCode.ALG_NOT_ALLOWED,
        None,
        id="alg-none-with-a-real-signature",
    ),
    # RFC 8725 2.1: algorithm confusion, the RSA public key used as an HMAC secret.
    pytest.param(
        lambda kit: kit.token(header={"alg": "HS256"}, key=kit.rsa_key.public_pem),
        RefusalCode.ALG_NOT_ALLOWED,
        None,
        id="hs256-signed-with-public-key-pem",
    ),
    pytest.param(
        lambda kit: kit.token(header={"alg": "HS256"}, key=json.dumps(kit.rsa_key.jwk).encode()),
        RefusalCode.ALG_NOT_ALLOWED,
        None,
        id="hs256-signed-with-public-key-jwk",
    ),
    pytest.param(
        lambda kit: kit.token(header={"alg": "ES256", "kid": kit.ec_key.kid}, key=kit.ec_key),
        RefusalCode.ALG_NOT_ALLOWED,
        None,
        id="es256-when-only-rs256-is-configured",
    ),
    pytest.param(
        lambda kit: kit.token(drop_header=("alg",)),
        RefusalCode.ALG_NOT_ALLOWED,
        None,
        id="alg-missing",
    ),
    # Key lookup.
    pytest.param(
        lambda kit: kit.token(header={"kid": "no-such-key"}, key=kit.second_rsa_key),
        RefusalCode.KID_UNKNOWN,
        None,
        id="unknown-kid",
    ),
    pytest.param(
        lambda kit: kit.token(header={"kid": "../../../../etc/passwd"}, key=kit.second_rsa_key),
        RefusalCode.KID_UNKNOWN,
        None,
        id="kid-path-traversal",
    ),
    pytest.param(
        lambda kit: kit.token(header={"kid": ["rsa-key-1"]}),
        RefusalCode.MALFORMED,
        "kid ['rsa-key-1'] is not a string",
        id="kid-not-a-string",
    ),
    pytest.param(
        lambda kit: kit.token(header={"kid": kit.ec_key.kid}, key=kit.rsa_key),
        RefusalCode.KEY_MISMATCH,
        None,
        id="rs256-token-naming-an-ec-key",
    ),
    # RFC 7515 4.1.11: critical extensions nobody here understands.
    pytest.param(
        lambda kit: kit.token(header={"crit": ["exp"], "exp": kit.now() + 60}),
        RefusalCode.CRIT,
        None,
        id="crit-unknown-extension",
    ),
    pytest.param(
        lambda kit: kit.token(header={"crit": ["b64"], "b64": True}),
        RefusalCode.CRIT,
        None,
        id="crit-b64",
    ),
    # RFC 7519 4.1.4 / 4.1.5 / 4.1.6: time claims.
    pytest.param(
        lambda kit: kit.token({"exp": kit.now() - 3600}), RefusalCode.EXP, None, id="expired"
    ),
    pytest.param(
        lambda kit: kit.token({"exp": kit.now() - 31}),
        RefusalCode.EXP,
        None,
        id="expired-just-beyond-leeway",
    ),
    pytest.param(
        lambda kit: kit.token({"nbf": kit.now() + 3600}),
        RefusalCode.NBF,
        None,
        id="nbf-in-the-future",
    ),
    pytest.param(
        lambda kit: kit.token({"iat": kit.now() + 3600}),
        RefusalCode.IAT,
        None,
        id="iat-in-the-future",
    ),
    pytest.param(
        lambda kit: kit.token({"exp": str(kit.now() + 3600)}),
        RefusalCode.CLAIM_INVALID,
        "claim exp is",
        id="exp-as-string",
    ),
    pytest.param(
        lambda kit: kit.token({"exp": True}),
        RefusalCode.CLAIM_INVALID,
        "claim exp is True",
        id="exp-as-boolean",
    ),
    pytest.param(
        lambda kit: kit.token({"iat": str(kit.now())}),
        RefusalCode.CLAIM_INVALID,
        "claim iat is",
        id="iat-as-string",
    ),
    pytest.param(
        lambda kit: kit.token({"nbf": [kit.now()]}),
        RefusalCode.CLAIM_INVALID,
        "claim nbf is",
        id="nbf-as-array",
    ),
    pytest.param(
        lambda kit: kit.token.raw(
            kit.token.header(),
            json.dumps(kit.token.claims())
            .replace(str(kit.token.claims()["exp"]), "1e999")
            .encode(),
        ),
        RefusalCode.CLAIM_INVALID,
        "claim exp is inf",
        id="exp-infinite",
    ),
    pytest.param(
        lambda kit: kit.token.raw(
            kit.token.header(),
            json.dumps(kit.token.claims()).replace(str(kit.token.claims()["exp"]), "NaN").encode(),
        ),
        RefusalCode.MALFORMED,
        "payload is not valid JSON",
        id="exp-nan",
    ),
    # RFC 9068 2.2: required claims.
    *[
        pytest.param(
            lambda kit, name=name: kit.token(drop_claims=(name,)),
            RefusalCode.CLAIM_MISSING,
            f"required claim {name} is missing",
            id=f"missing-{name}",
        )
        for name in ("exp", "iat", "iss", "aud", "sub")
    ],
    # RFC 9068 4: issuer compared exactly.
    pytest.param(
        lambda kit: kit.token({"iss": "https://evil.example/"}),
        RefusalCode.ISS,
        None,
        id="wrong-iss",
    ),
    pytest.param(
        lambda kit: kit.token({"iss": kit.issuer.rstrip("/")}),
        RefusalCode.ISS,
        None,
        id="iss-without-trailing-slash",
    ),
    pytest.param(
        lambda kit: kit.token({"iss": kit.issuer.upper()}),
        RefusalCode.ISS,
        None,
        id="iss-different-case",
    ),
    # RFC 7519 4.1.3: audience.
    pytest.param(
        lambda kit: kit.token({"aud": "https://other-api.example"}),
        RefusalCode.AUD,
        None,
        id="wrong-aud",
    ),
    pytest.param(
        lambda kit: kit.token({"aud": ["https://other-api.example", kit.issuer + "userinfo"]}),
        RefusalCode.AUD,
        None,
        id="aud-array-without-ours",
    ),
    pytest.param(
        lambda kit: kit.token({"aud": kit.audience + "/"}),
        RefusalCode.AUD,
        None,
        id="aud-with-extra-slash",
    ),
    pytest.param(
        lambda kit: kit.token({"aud": {"aud": kit.audience}}),
        RefusalCode.CLAIM_INVALID,
        "neither a string nor an array",
        id="aud-as-object",
    ),
    pytest.param(
        lambda kit: kit.token({"aud": [kit.audience, 7]}),
        RefusalCode.CLAIM_INVALID,
        "neither a string nor an array",
        id="aud-array-with-number",
    ),
    pytest.param(
        lambda kit: kit.token({"sub": 12345}),
        RefusalCode.CLAIM_INVALID,
        "sub 12345",
        id="sub-as-number",
    ),
    pytest.param(
        lambda kit: kit.token({"sub": ""}), RefusalCode.CLAIM_INVALID, "sub ''", id="sub-empty"
    ),
    # Claim types the Claims helpers rely on.
    pytest.param(
        lambda kit: kit.token({"scope": ["read:messages"]}),
        RefusalCode.CLAIM_INVALID,
        "claim scope is",
        id="scope-as-array",
    ),
    pytest.param(
        lambda kit: kit.token({"permissions": "read:stats"}),
        RefusalCode.CLAIM_INVALID,
        "permissions 'read:stats'",
        id="permissions-as-string",
    ),
    pytest.param(
        lambda kit: kit.token({"azp": 1}),
        RefusalCode.CLAIM_INVALID,
        "claim azp is",
        id="azp-as-number",
    ),
    pytest.param(
        lambda kit: kit.token({"gty": ["client-credentials"]}),
        RefusalCode.CLAIM_INVALID,
        "claim gty is",
        id="gty-as-array",
    ),
    # RFC 8725 3.12: an ID token is not an access token, even when it names our audience.
    pytest.param(
        lambda kit: kit.token.id_token(
            client_id="spa-demo",
            nonce="n-0S6_WzA2Mj",
            claims={"aud": ["spa-demo", kit.audience], "azp": "spa-demo"},
        ),
        RefusalCode.TOKEN_KIND,
        "an ID token (claim nonce)",
        id="id-token-as-access-token",
    ),
    pytest.param(
        lambda kit: kit.token({"at_hash": "77QmUPtjPfzWtF2AnpK9RQ"}),
        RefusalCode.TOKEN_KIND,
        "an ID token (claim at_hash)",
        id="id-token-with-at-hash-as-access-token",
    ),
    pytest.param(
        lambda kit: kit.token.id_token(client_id="spa-demo", nonce="n"),
        RefusalCode.AUD,
        None,
        id="id-token-for-the-client-audience",
    ),
    # RFC 9068 4: typ of another kind of JWT.
    pytest.param(
        lambda kit: kit.token(header={"typ": "dpop+jwt"}),
        RefusalCode.TYP,
        None,
        id="typ-dpop-proof",
    ),
    pytest.param(
        lambda kit: kit.token(header={"typ": "logout+jwt"}),
        RefusalCode.TYP,
        None,
        id="typ-logout-token",
    ),
    pytest.param(
        lambda kit: kit.token(header={"typ": 1}),
        RefusalCode.MALFORMED,
        "typ 1 is not a string",
        id="typ-not-a-string",
    ),
    # Signatures.
    pytest.param(
        lambda kit: replace_segment(
            kit.token(), 1, b64url(json.dumps({**kit.token.claims(), "scope": "read:stats"}))
        ),
        RefusalCode.SIGNATURE,
        None,
        id="payload-tampered",
    ),
    pytest.param(
        lambda kit: replace_segment(kit.token(), 2, ""),
        RefusalCode.SIGNATURE,
        None,
        id="signature-stripped",
    ),
    pytest.param(
        lambda kit: replace_segment(kit.token(), 2, b64url(b"\0" * 256)),
        RefusalCode.SIGNATURE,
        None,
        id="signature-zeroes",
    ),
    pytest.param(
        lambda kit: kit.token(key=kit.second_rsa_key.with_kid(kit.rsa_key.kid)),
        RefusalCode.SIGNATURE,
        None,
        id="forged-with-another-key-under-our-kid",
    ),
    # RFC 8725 3.10: key-carrying headers are never followed or trusted.
    pytest.param(
        lambda kit: kit.token(header={"jku": kit.attacker.jwks_url}, key=kit.second_rsa_key),
        RefusalCode.KID_UNKNOWN,
        None,
        id="jku-injection",
    ),
    pytest.param(
        lambda kit: kit.token(
            header={"jku": kit.attacker.jwks_url}, key=kit.second_rsa_key.with_kid(kit.rsa_key.kid)
        ),
        RefusalCode.SIGNATURE,
        None,
        id="jku-injection-under-our-kid",
    ),
    pytest.param(
        lambda kit: kit.token(
            header={"x5u": kit.attacker.base_url + "/certificate.pem"}, key=kit.second_rsa_key
        ),
        RefusalCode.KID_UNKNOWN,
        None,
        id="x5u-injection",
    ),
    pytest.param(
        lambda kit: kit.token(header={"jwk": kit.second_rsa_key.jwk}, key=kit.second_rsa_key),
        RefusalCode.KID_UNKNOWN,
        None,
        id="jwk-injection",
    ),
    pytest.param(
        lambda kit: kit.token(
            header={"jwk": kit.second_rsa_key.jwk, "kid": kit.rsa_key.kid},
            key=kit.second_rsa_key.with_kid(kit.rsa_key.kid),
        ),
        RefusalCode.SIGNATURE,
        None,
        id="jwk-injection-under-our-kid",
    ),
    pytest.param(
        lambda kit: kit.token(
            header={
                "x5c": [base64.b64encode(self_signed_certificate_der(kit.second_rsa_key)).decode()],
                "kid": kit.rsa_key.kid,
            },
            key=kit.second_rsa_key.with_kid(kit.rsa_key.kid),
        ),
        RefusalCode.SIGNATURE,
        None,
        id="x5c-injection",
    ),
    # Another issuer publishing a key under the same kid: its tokens are not ours.
    pytest.param(
        lambda kit: kit.token(
            {"iss": kit.attacker.issuer}, key=kit.second_rsa_key.with_kid(kit.rsa_key.kid)
        ),
        RefusalCode.SIGNATURE,
        None,
        id="other-issuer-same-kid",
    ),
    pytest.param(
        lambda kit: kit.token(
            key=kit.second_rsa_key.with_kid(kit.rsa_key.kid), claims={"iss": kit.issuer}
        ),
        RefusalCode.SIGNATURE,
        None,
        id="other-issuer-key-claiming-our-iss",
    ),
    # RFC 7518 3.3: RSA keys under 2048 bits are not trusted even when the issuer publishes them.
    pytest.param(
        lambda kit: kit.token(key=kit.weak_rsa_key),
        RefusalCode.KID_UNKNOWN,
        None,
        id="rsa-1024-key",
    ),
    # Malformed encodings (RFC 7515 2 and 7.1).
    pytest.param(
        lambda kit: "!!!." + kit.token().split(".", 1)[1],
        RefusalCode.MALFORMED,
        "not a compact JWS",
        id="malformed-base64-header",
    ),
    pytest.param(
        lambda kit: replace_segment(kit.token(), 1, "eyJzdWIiOiJ4In0="),
        RefusalCode.MALFORMED,
        "not a compact JWS",
        id="base64-padding",
    ),
    pytest.param(
        lambda kit: replace_segment(kit.token(), 1, "eyJ+c3ViIjoieCJ9"),
        RefusalCode.MALFORMED,
        "not a compact JWS",
        id="base64-standard-alphabet",
    ),
    pytest.param(
        lambda kit: replace_segment(kit.token(), 0, "eyJhbGciOiJSUzI1NiJ9X"),
        RefusalCode.MALFORMED,
        "header segment is not canonical",
        id="base64-impossible-length",
    ),
    pytest.param(
        lambda kit: non_canonical(kit.token(header={"kid": "rsa-key-1x"}), 0),
        RefusalCode.MALFORMED,
        "header segment is not canonical",
        id="base64-non-canonical-header",
    ),
    pytest.param(
        lambda kit: non_canonical(kit.token(), 2),
        RefusalCode.MALFORMED,
        "signature segment is not canonical",
        id="base64-non-canonical-signature",
    ),
    pytest.param(
        lambda kit: b64url(b'{"alg":"RS256"') + "." + kit.token().split(".", 1)[1],
        RefusalCode.MALFORMED,
        "header is not valid JSON",
        id="malformed-json-header",
    ),
    pytest.param(
        lambda kit: kit.token.raw(kit.token.header(), b'{"sub": "x",'),
        RefusalCode.MALFORMED,
        "payload is not valid JSON",
        id="malformed-json-payload",
    ),
    pytest.param(
        lambda kit: kit.token.raw(
            kit.token.header(),
            json.dumps(kit.token.claims()).encode().replace(b"auth0|", b"auth0\xff"),
        ),
        RefusalCode.MALFORMED,
        "payload is not valid JSON: 'utf-8' codec",
        id="payload-not-utf8",
    ),
    pytest.param(
        lambda kit: kit.token.raw(
            kit.token.header(),
            json.dumps({**kit.token.claims(), "name": "x"}).replace('"x"', '"\\ud800"').encode(),
        ),
        RefusalCode.MALFORMED,
        "payload has a string with an unpaired surrogate",
        id="payload-lone-surrogate",
    ),
    pytest.param(
        lambda kit: kit.token.raw(
            json.dumps({**kit.token.header(), "x-note": "x"}).replace('"x"', '"\\udead"').encode(),
            kit.token.claims(),
        ),
        RefusalCode.MALFORMED,
        "header has a string with an unpaired surrogate",
        id="header-lone-surrogate",
    ),
    pytest.param(
        lambda kit: b64url(b'["RS256"]') + "." + kit.token().split(".", 1)[1],
        RefusalCode.MALFORMED,
        "header is not a JSON object",
        id="header-json-array",
    ),
    pytest.param(
        lambda kit: kit.token.raw(kit.token.header(), b'"sub"'),
        RefusalCode.MALFORMED,
        "payload is not a JSON object",
        id="payload-json-string",
    ),
    pytest.param(
        lambda kit: kit.token.raw(kit.token.header(), b"[" * 2000 + b"]" * 2000),
        RefusalCode.MALFORMED,
        "payload is not valid JSON",
        id="payload-deeply-nested",
    ),
    pytest.param(
        lambda kit: kit.token.raw(nested_header(700), kit.token.claims()),
        RefusalCode.MALFORMED,
        "header nests too deeply",
        id="header-too-deep-to-freeze",
    ),
    pytest.param(
        lambda kit: kit.token().rsplit(".", 1)[0],
        RefusalCode.MALFORMED,
        "(2 segments)",
        id="two-segments",
    ),
    pytest.param(
        lambda kit: kit.token() + "." + b64url(b"extra"),
        RefusalCode.MALFORMED,
        "(4 segments)",
        id="four-segments",
    ),
    pytest.param(lambda kit: "", RefusalCode.MALFORMED, "(1 segments)", id="empty-token"),
    pytest.param(
        lambda kit: kit.token() + "\n",
        RefusalCode.MALFORMED,
        "not a compact JWS",
        id="trailing-newline",
    ),
    pytest.param(
        lambda kit: "é" + kit.token(), RefusalCode.MALFORMED, "not a compact JWS", id="non-ascii"
    ),
    pytest.param(
        lambda kit: kit.token().encode(),
        RefusalCode.MALFORMED,
        "token is a bytes",
        id="token-as-bytes",
    ),
    # RFC 7515 4 / RFC 7519 4: duplicate member names.
    pytest.param(
        lambda kit: kit.token.raw(
            b'{"alg":"RS256","typ":"JWT","kid":"rsa-key-1","kid":"rsa-key-2"}', kit.token.claims()
        ),
        RefusalCode.MALFORMED,
        "header is not valid JSON: duplicate",
        id="duplicate-keys-in-header",
    ),
    pytest.param(
        lambda kit: kit.token.raw(
            kit.token.header(),
            json.dumps(kit.token.claims())[:-1].encode() + b', "aud": "https://other-api.example"}',
        ),
        RefusalCode.MALFORMED,
        "payload is not valid JSON: duplicate",
        id="duplicate-keys-in-payload",
    ),
    # Local policy: tokens over 8 KiB are refused before any parsing.
    pytest.param(
        lambda kit: kit.token({"padding": "x" * 9 * 1024}),
        RefusalCode.TOO_LARGE,
        None,
        id="9-KiB-token",
    ),
]


@pytest.fixture
def attack_kit(kit, rsa_key, ec_key, weak_rsa_key, second_rsa_key):
    """The kit plus an attacker's server publishing ``second_rsa_key``, and the issuer also
    publishing an RSA-1024 key (which must be ignored)."""
    kit.attacker = kit.make_server(second_rsa_key, second_rsa_key.with_kid(rsa_key.kid))
    kit.server.publish(rsa_key, ec_key, weak_rsa_key)
    return kit


@pytest.mark.parametrize(("build", "code", "reason"), ATTACKS)
def test_attack_is_refused(
    build, code, reason, attack_kit, validator: TokenValidator, assert_rejected
) -> None:
    token = build(attack_kit)
    assert_rejected(lambda: validator.validate(token), InvalidToken, code, reason)
    assert attack_kit.attacker.total_requests == 0, attack_kit.attacker.paths
    assert set(attack_kit.server.paths) <= {JWKS_PATH}


def test_the_attack_kit_server_publishes_a_working_key(
    attack_kit, validator: TokenValidator
) -> None:
    """The rows above are refused for their attack, not because the setup is broken."""
    assert validator.validate(attack_kit.token()).subject == "auth0|5f7c8ec7c33c6c004bbafe82"


def test_no_nesting_depth_of_a_header_escapes_as_an_exception(
    kit, validator: TokenValidator
) -> None:
    """A header whose JSON is parsed just below the recursion limit must not fail further on (a
    RecursionError is a 500): neither re-encoding it to look for unpaired surrogates (a \\u
    escape asks for that) nor freezing it for the cache. The depth at which parsing ends depends
    on the stack, so every depth up to the recursion limit is tried."""
    for depth in range(1, sys.getrecursionlimit()):
        token = kit.token.raw(nested_header(depth, note="\\u0041"), kit.token.claims())
        with pytest.raises(InvalidToken):
            validator.validate(token.rsplit(".", 1)[0] + ".AAAA")


def test_oversized_token_is_refused_before_any_key_lookup(
    kit, validator: TokenValidator, assert_rejected
) -> None:
    token = kit.token({"padding": "x" * 9 * 1024})
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.TOO_LARGE)
    assert kit.server.total_requests == 0


def test_token_just_under_8_KiB_is_accepted(kit, validator: TokenValidator) -> None:
    padding = "x" * ((8 * 1024 - len(kit.token({"padding": ""}))) * 3 // 4 - 6)
    while len(kit.token({"padding": padding + "x"})) <= 8 * 1024:
        padding += "x"
    token = kit.token({"padding": padding})
    assert 8 * 1024 - 4 <= len(token) <= 8 * 1024
    assert validator.validate(token)["padding"] == padding


def test_exp_within_leeway_is_accepted_and_zero_leeway_refuses_it(
    kit, make_validator, assert_rejected
) -> None:
    token = kit.token({"exp": kit.now() - 10})
    assert make_validator().validate(token).subject
    assert_rejected(lambda: make_validator(leeway=0).validate(token), InvalidToken, RefusalCode.EXP)


@pytest.mark.parametrize("claim", ["nbf", "iat"])
def test_future_time_within_leeway_is_accepted(kit, validator: TokenValidator, claim: str) -> None:
    assert validator.validate(kit.token({claim: kit.now() + 10})).subject


def test_exp_is_judged_by_the_validators_clock(
    kit, validator: TokenValidator, clock, assert_rejected
) -> None:
    """The ``clock`` given to TokenValidator decides expiry: moving it past ``exp`` plus the 30 s
    leeway expires a token that was valid."""
    token = kit.token({"exp": kit.now() + 60})
    clock.advance(80)
    assert validator.validate(token).subject
    clock.advance(11)
    assert_rejected(lambda: validator.validate(token), InvalidToken, RefusalCode.EXP, claim="exp")


@pytest.mark.parametrize(("claim", "code"), [("nbf", RefusalCode.NBF), ("iat", RefusalCode.IAT)])
def test_a_future_time_is_accepted_once_the_validators_clock_reaches_it(
    kit, validator: TokenValidator, clock, assert_rejected, claim: str, code: RefusalCode
) -> None:
    token = kit.token({claim: kit.now() + 100})
    assert_rejected(lambda: validator.validate(token), InvalidToken, code, claim=claim)
    clock.advance(71)  # 100 s less the 30 s leeway, and one more
    assert validator.validate(token).subject


@pytest.mark.parametrize(
    ("algorithms", "message"),
    [
        pytest.param(("RS256", "HS256"), "'HS256' is never accepted", id="rs256-and-hs256"),
        pytest.param(("hs384",), "'hs384' is never accepted", id="hs384-lowercase"),
        pytest.param(("RS256", "none"), "'none' is never accepted", id="rs256-and-none"),
        pytest.param(("None",), "'None' is never accepted", id="none-capitalised"),
        pytest.param(("RS256", "RS1024"), "unsupported algorithm 'RS1024'", id="unknown"),
        pytest.param((), "at least one", id="empty"),
    ],
)
def test_none_hmac_and_unknown_algorithms_cannot_be_configured(
    issuer, audience, algorithms, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        TokenValidator(issuer, audience, algorithms=algorithms)


def test_attacker_token_is_signed_correctly_for_its_own_key(attack_kit) -> None:
    """The injection rows use a token that the attacker's own JWKS really verifies."""
    attacker_validator = TokenValidator(
        attack_kit.issuer, attack_kit.audience, jwks_url=attack_kit.attacker.jwks_url
    )
    token = attack_kit.token(
        header={"jku": attack_kit.attacker.jwks_url}, key=attack_kit.second_rsa_key
    )
    assert attacker_validator.validate(token).subject
