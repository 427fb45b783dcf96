"""The "what happened" panel: each step of the flow, recorded in the session as it is taken.

An event is the step's number and name (the numbered steps of the package's docstring), one
sentence of what happened, and the arrows of the SPA's live sequence diagram
(spa_demo/static/sequence_diagram.js, served to this page as it is): lanes ``browser`` (here the
"Browser / App" lane is the web app, browser and server together), ``issuer`` and ``api``.

Nothing secret is ever recorded: no token, no code, no client secret, no session id. A token
appears as its kind and, at most, the names and public values of a few of its claims.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from flask import current_app, g

from .sessions import ServerSession, best_effort

STEPS = {
    "request": (1, "Authorization request"),
    "authentication": (2, "The user authenticates"),
    "callback": (3, "Callback with the authorization code"),
    "token_request": (4, "Code exchange with the client secret"),
    "id_token": (5, "ID token checks"),
    "api_call": (6, "API call through the BFF"),
    "refresh": (7, "Refresh with the refresh token"),
    "logout": (8, "Logout"),
    "backchannel_logout": (9, "Back-channel logout"),
}


def arrow(source: str, target: str, label: str, kind: str = "request") -> dict[str, str]:
    return {"from": source, "to": target, "label": label, "kind": kind}


def record(
    session: ServerSession,
    step: str,
    detail: str,
    arrows: list[dict[str, str]],
    *,
    starts_flow: bool = False,
) -> None:
    """Add one step to the session's narration (its row is created if it has none yet)."""
    number, title = STEPS[step]
    interface = current_app.session_interface
    event = {
        "number": number,
        "name": step,
        "title": title,
        "detail": detail,
        "arrows": [{**a, "title": f"{number}. {title}"} for a in arrows],
        "startsFlow": starts_flow,
        "at": interface.now(),
    }
    deferred = g.get("deferred_events")
    if deferred is not None:
        deferred.append(event)
    else:
        _add(session, event)


@contextmanager
def in_flow_order(session: ServerSession) -> Iterator[None]:
    """Record the steps taken inside in the order of their numbers: the callback learns last
    whether step 2 was a login page or the SSO session."""
    g.deferred_events = []
    try:
        yield
    finally:
        events, g.deferred_events = g.deferred_events, None
        for event in sorted(events, key=lambda event: event["number"]):
            _add(session, event)


def _add(session: ServerSession, event: dict) -> None:
    """Store a step, best effort: a step is often recorded once what it tells is done (a call
    forwarded to the API, a refresh token rotated), which a store that refuses the write for now
    must not turn into an error inviting the browser to do it again."""
    if session.ended and session.session_id is None:
        return  # forgotten, its store refusing writes (SessionInterface.forget): nowhere to go
    interface = current_app.session_interface
    key = interface.ensure_saved(session)
    with best_effort(f"narration step {event['name']} not recorded"):
        interface.store.add_event(key, event)


def events(session: ServerSession) -> list[dict]:
    key = session.key
    return [] if key is None else current_app.session_interface.store.events(key)
