"""CSRF protection: a synchronizer token for the logout form, a custom header for the BFF.

OWASP's CSRF Prevention Cheat Sheet: "CSRF tokens should be generated on the server-side ...
once per user session"; the session's token is put in the logout form and compared in constant
time (as bytes: a non-ASCII token is refused, not a 500). The BFF's JavaScript calls carry the
header ``X-Flowlab-CSRF: 1`` instead: a cross-site form cannot set a header, and a cross-site
``fetch`` that sets one needs a CORS preflight the web app never answers (the BCP for
browser-based apps, 6.1.3.2: "the BFF ... requires a custom header"). The request must also be
same-origin by ``Sec-Fetch-Site`` and ``Origin`` when the browser sends them.
"""

import hmac
import secrets

from flask import request

from .sessions import ServerSession

FORM_FIELD = "csrf_token"
BFF_HEADER = "X-Flowlab-CSRF"
BFF_HEADER_VALUE = "1"


def new_token() -> str:
    return secrets.token_urlsafe(32)


def form_token_matches(session: ServerSession) -> bool:
    expected = session.get("csrf")
    sent = request.form.get(FORM_FIELD, "")
    return expected is not None and hmac.compare_digest(
        sent.encode("utf-8", "surrogateescape"), expected.encode()
    )


def bff_request_refusal(origin: str) -> str | None:
    """Why a BFF call is refused (for the log), or None when it may go on."""
    if request.headers.get(BFF_HEADER) != BFF_HEADER_VALUE:
        return f"no {BFF_HEADER}: {BFF_HEADER_VALUE} header"
    site = request.headers.get("Sec-Fetch-Site")
    if site is not None and site != "same-origin":
        return f"Sec-Fetch-Site {site}"
    sent_origin = request.headers.get("Origin")
    if sent_origin is not None and sent_origin != origin:
        return f"Origin {sent_origin}"
    return None
