"""Signing keys and their rotation, the way Auth0 does it.

There is always a *current* key (it signs every token) and a *next* key, and the JWKS publishes
both, so resource servers already know the next key before it signs anything. ``rotate-keys``
promotes next to current, makes a new next key, and keeps the old current key published as
*previous* until every token it signed has expired. Keys are RSA 2048 (RS256), their ``kid`` is
the RFC 7638 thumbprint, and they are generated on the first start.
"""

import functools

from joserfc.jwk import KeySet, RSAKey

from .storage import Storage

ALGORITHM = "RS256"
KEY_SIZE = 2048
NEXT, CURRENT, PREVIOUS = "next", "current", "previous"


@functools.lru_cache(maxsize=32)
def _import(kid: str, private_key: str) -> RSAKey:
    return RSAKey.import_key(private_key, parameters={"kid": kid, "use": "sig", "alg": ALGORITHM})


def _new_key(storage: Storage, state: str, now: int) -> str:
    key = RSAKey.generate_key(KEY_SIZE, private=True)
    kid = key.thumbprint()
    storage.insert_signing_key(kid, key.as_pem(private=True).decode(), state, now)
    return kid


def ensure_signing_keys(storage: Storage, now: int) -> None:
    """Create the current and the next key on the first start."""
    with storage.transaction():
        states = {row["state"] for row in storage.signing_keys()}
        for state in (CURRENT, NEXT):
            if state not in states:
                _new_key(storage, state, now)


def signing_key(storage: Storage) -> KeySet:
    """The current key, as the one-key set joserfc signs with (it puts the ``kid`` in headers)."""
    # One indexed row, read on every grant so that a ``rotate-keys`` of another process takes
    # effect at once; the parsed key itself is cached by kid (``_import``).
    row = storage.current_signing_key()
    return KeySet([_import(row["kid"], row["private_key"])])


def published_keys(storage: Storage, now: int) -> list[RSAKey]:
    """The published keys: current, next, and previous keys still covering unexpired tokens."""
    order = {CURRENT: 0, NEXT: 1, PREVIOUS: 2}
    rows = [
        row
        for row in storage.signing_keys()
        if row["state"] != PREVIOUS or row["published_until"] > now
    ]
    rows.sort(key=lambda row: order[row["state"]])
    return [_import(row["kid"], row["private_key"]) for row in rows]


def published_jwks(storage: Storage, now: int) -> dict:
    """The JWKS document: the public parts of :func:`published_keys`."""
    return {"keys": [key.as_dict(private=False) for key in published_keys(storage, now)]}


def rotate_signing_keys(storage: Storage, now: int, longest_token_lifetime: int) -> dict[str, str]:
    """Promote next to current, publish the old current until its tokens expire, add a new next.

    Returns the kids by state, for the operator.
    """
    with storage.transaction():
        kids = {
            row["state"]: row["kid"] for row in storage.signing_keys() if row["state"] != PREVIOUS
        }
        storage.set_signing_key_state(
            kids[CURRENT], PREVIOUS, published_until=now + longest_token_lifetime
        )
        storage.set_signing_key_state(kids[NEXT], CURRENT)
        new_next = _new_key(storage, NEXT, now)
    return {PREVIOUS: kids[CURRENT], CURRENT: kids[NEXT], NEXT: new_next}
