"""Signing keys and their rotation, the way Auth0 does it.

There is always a *current* key (it signs every token) and a *next* key, and the JWKS publishes
both, so resource servers already know the next key before it signs anything. ``rotate-keys``
promotes next to current, makes a new next key, and keeps the old current key published as
*previous* until every token it signed has expired. Keys are RSA 2048 (RS256), their ``kid`` is
the RFC 7638 thumbprint, and they are generated on the first start.

A resource server may go on using the JWKS it downloaded for a while (the response's max-age,
then its cooldown between downloads), so a next key published a moment ago may be unknown to it:
promoted then, every token it signs would be refused until that resource server downloads the
JWKS again. ``rotate_signing_keys`` therefore refuses to promote a next key published for less
than the safety period (``AUTHSERVER_ROTATION_SAFETY_PERIOD``) unless forced.
"""

import functools
import sqlite3

from joserfc.jwk import KeySet, RSAKey

from .storage import Storage

ALGORITHM = "RS256"
KEY_SIZE = 2048
NEXT, CURRENT, PREVIOUS = "next", "current", "previous"


class NextKeyTooNew(Exception):
    """The next key has not been published for the safety period: resource servers may not
    know it yet."""

    def __init__(self, kid: str, published_at: int, safe_at: int) -> None:
        super().__init__(f"next key {kid} published at {published_at}, safe from {safe_at}")
        self.kid = kid
        self.published_at = published_at
        self.safe_at = safe_at


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


def _check_published_for(upcoming: sqlite3.Row, now: int, safety_period: int) -> None:
    safe_at = upcoming["created_at"] + safety_period
    if now < safe_at:
        raise NextKeyTooNew(upcoming["kid"], upcoming["created_at"], safe_at)


def rotate_signing_keys(
    storage: Storage,
    now: int,
    longest_token_lifetime: int,
    *,
    safety_period: int,
    force: bool = False,
) -> dict[str, str]:
    """Promote next to current, publish the old current until its tokens expire, add a new next.

    Unless ``force``, raises :class:`NextKeyTooNew` (and changes nothing) when the next key has
    been published for less than ``safety_period`` seconds. Returns the kids by state, for the
    operator.
    """
    with storage.transaction():
        rows = {row["state"]: row for row in storage.signing_keys() if row["state"] != PREVIOUS}
        # OpenID Connect Core 1.0, 10.1.1: "The signer can begin using a new key at its
        # discretion and signals the change to the verifier using the kid value. The verifier
        # knows to go back to the jwks_uri location to re-retrieve the keys when it sees an
        # unfamiliar kid value." A verifier goes back at most once per cooldown, so the key must
        # have been published for longer than it may keep the JWKS it has.
        if not force:
            _check_published_for(rows[NEXT], now, safety_period)
        kids = {state: row["kid"] for state, row in rows.items()}
        storage.set_signing_key_state(
            kids[CURRENT], PREVIOUS, published_until=now + longest_token_lifetime
        )
        storage.set_signing_key_state(kids[NEXT], CURRENT)
        new_next = _new_key(storage, NEXT, now)
    return {PREVIOUS: kids[CURRENT], CURRENT: kids[NEXT], NEXT: new_next}
