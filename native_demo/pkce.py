"""Proof Key for Code Exchange (RFC 7636) with the S256 method.

The app makes a one-time secret, the ``code_verifier``, and sends only its SHA-256 hash, the
``code_challenge``, with the authorization request. At the token endpoint it sends the verifier
itself; the server hashes it and compares. Whoever intercepts the authorization code on its way
back (another app registered for the same redirect, a process listening on the loopback port)
cannot redeem it without the verifier, which never left this process.
"""

import base64
import hashlib
import re
import secrets

# RFC 7636 §4.1: code-verifier = 43*128unreserved,
# unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
VERIFIER_PATTERN = re.compile(r"[A-Za-z0-9\-._~]{43,128}")
# 64 random bytes give 86 base64url characters: 512 bits of entropy, inside the 43-128 range.
VERIFIER_BYTES = 64


def new_code_verifier() -> str:
    """A fresh verifier from the operating system's CSPRNG (RFC 7636 §7.1: at least 256 bits)."""
    return secrets.token_urlsafe(VERIFIER_BYTES)


def code_challenge_s256(code_verifier: str) -> str:
    """RFC 7636 §4.2: code_challenge = BASE64URL-ENCODE(SHA256(ASCII(code_verifier)))."""
    if not VERIFIER_PATTERN.fullmatch(code_verifier):
        raise ValueError("a code_verifier is 43 to 128 characters of A-Z a-z 0-9 - . _ ~")
    digest = hashlib.sha256(code_verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
