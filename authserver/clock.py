"""The server's one clock: every issue time, expiry, session, grant and key rotation reads it.

``app.config["CLOCK"]`` is a callable returning seconds since the epoch: ``time.time``, unless
``create_app`` was given another as ``CLOCK`` (the tests give one they move instead of sleeping).
:func:`now` reads it; code that runs without the application (the admin commands, the start-up)
passes the clock itself. Stored times and JWT times (RFC 7519 §2 "NumericDate") are whole seconds.
"""

from collections.abc import Callable

from flask import current_app

#: Seconds since the epoch, as ``time.time`` returns them.
Clock = Callable[[], float]


def now(clock: Clock | None = None) -> int:
    """Whole seconds since the epoch by ``clock``, by default the application's ``CLOCK``."""
    return int((clock or current_app.config["CLOCK"])())
