"""Real signing keys for tests and a signer that, unlike a JWT library, signs anything.

The signer deliberately supports what a validator must refuse (``none``, HMAC with a public key
as the secret) so that tests can build the attacks.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm, RSAPSSAlgorithm

ASYMMETRIC_SIGNERS = {
    "RS256": RSAAlgorithm(RSAAlgorithm.SHA256),
    "PS256": RSAPSSAlgorithm(RSAPSSAlgorithm.SHA256),
    "ES256": ECAlgorithm(ECAlgorithm.SHA256),
}
HMAC_HASHES = {"HS256": hashlib.sha256}


def b64url(data: bytes | str) -> str:
    """Unpadded base64url (RFC 7515 section 2) of bytes, or of a str's UTF-8."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class SigningKey:
    """A private key with its public JWK (``kid``, ``alg``, ``use`` set) and PEM."""

    kid: str
    alg: str
    private_key: Any

    @property
    def public_key(self) -> Any:
        return self.private_key.public_key()

    @property
    def public_pem(self) -> bytes:
        return self.public_key.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    @property
    def jwk(self) -> dict[str, Any]:
        """The public JWK as a JWKS publishes it."""
        signer = ASYMMETRIC_SIGNERS[self.alg]
        return {
            **signer.to_jwk(self.public_key, as_dict=True),
            "kid": self.kid,
            "alg": self.alg,
            "use": "sig",
        }

    def with_kid(self, kid: str) -> SigningKey:
        """The same key material published under another kid."""
        return SigningKey(kid, self.alg, self.private_key)


def rsa_signing_key(kid: str, *, bits: int = 2048, alg: str = "RS256") -> SigningKey:
    """An RSA key (public exponent 65537) for RS256 or PS256."""
    return SigningKey(kid, alg, rsa.generate_private_key(public_exponent=65537, key_size=bits))


def ec_signing_key(kid: str) -> SigningKey:
    """An EC P-256 key for ES256."""
    return SigningKey(kid, "ES256", ec.generate_private_key(ec.SECP256R1()))


def sign(signing_input: bytes, alg: str, key: SigningKey | bytes | None) -> bytes:
    """Signature bytes for ``alg``: asymmetric with a SigningKey, HMAC with a bytes secret,
    empty for ``none`` in any casing."""
    if alg.lower() == "none":
        return b""
    if alg in HMAC_HASHES:
        if not isinstance(key, bytes):
            raise TypeError("HMAC signing needs a bytes secret")
        return hmac.new(key, signing_input, HMAC_HASHES[alg]).digest()
    if not isinstance(key, SigningKey):
        raise TypeError(f"{alg} signing needs a SigningKey")
    return ASYMMETRIC_SIGNERS[alg].sign(signing_input, key.private_key)


def compact(
    header: dict[str, Any] | bytes,
    payload: dict[str, Any] | bytes,
    key: SigningKey | bytes | None,
    alg: str,
) -> str:
    """A compact JWS: each part given as a dict (serialised as JSON) or as raw bytes."""
    header_segment = b64url(
        header if isinstance(header, bytes) else json.dumps(header, separators=(",", ":"))
    )
    payload_segment = b64url(
        payload if isinstance(payload, bytes) else json.dumps(payload, separators=(",", ":"))
    )
    signing_input = f"{header_segment}.{payload_segment}"
    return f"{signing_input}.{b64url(sign(signing_input.encode('ascii'), alg, key))}"
