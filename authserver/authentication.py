"""Checking an email address and password, with Auth0's brute-force protection.

Auth0 (Security > Attack Protection > Brute-force Protection) counts consecutive failed logins
per account and IP address; at the threshold (10) that account is blocked for that address until
an administrator unblocks it (here: ``python -m authserver users unblock EMAIL``). Other
addresses can still log in. Unknown email addresses are counted and blocked the same way, and
cost the same password hashing work, so neither reveals which addresses are accounts.

Each attempt is counted before its password is checked, in one transaction with the check of
the block, so parallel attempts cannot get more than the threshold of passwords checked.
"""

import enum
import functools
import logging
import secrets

from werkzeug.security import check_password_hash, generate_password_hash

from shared.log_safety import escaped

from .models import User
from .storage import Storage

log = logging.getLogger(__name__)


class LoginOutcome(enum.Enum):
    SIGNED_IN = "signed in"
    WRONG_CREDENTIALS = "wrong email or password"
    BLOCKED_FROM_SOURCE = "blocked after too many failed attempts"
    USER_BLOCKED = "user blocked"


@functools.cache
def _unknown_user_password_hash() -> str:
    return generate_password_hash(secrets.token_urlsafe(32))


def authenticate(
    storage: Storage, email: str, password: str, source: str, threshold: int, now: int
):
    """Check the credentials at ``now``; returns the outcome and, when signed in, the user."""
    if not storage.count_login_attempt(email, source, threshold, now):
        return LoginOutcome.BLOCKED_FROM_SOURCE, None
    credentials = storage.find_credentials(email)
    password_hash = credentials[1] if credentials else _unknown_user_password_hash()
    password_matches = check_password_hash(password_hash, password)
    if credentials is None or not password_matches:
        if storage.block_failed_login(email, source, threshold, now):
            log.warning(
                "brute-force protection: %s blocked for %s after %d failed logins",
                escaped(email),
                escaped(source),
                threshold,
            )
        return LoginOutcome.WRONG_CREDENTIALS, None
    storage.clear_failed_logins(email, source)
    user: User = credentials[0]
    if user.blocked:
        return LoginOutcome.USER_BLOCKED, None
    return LoginOutcome.SIGNED_IN, user
