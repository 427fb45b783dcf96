"""What the authorization endpoint and the pages that continue it (login, consent) share.

An authorization request travels in the query string: ``/authorize?...`` sends the browser to
``/u/login?...`` or ``/u/consent?...`` with the same parameters, and those pages send it back to
``/authorize?...`` once the prompt is satisfied.
"""

from urllib.parse import urlencode

from authlib.oauth2 import OAuth2Error
from flask import request, url_for

from .server import current_server
from .web import error_page


def authorization_request_url(endpoint: str, *, satisfied_prompt: str | None = None) -> str:
    """``endpoint`` with this request's authorization parameters, minus a prompt now satisfied."""
    parameters = [(key, value) for key, value in request.args.items(multi=True) if key != "prompt"]
    prompts = [p for p in request.args.get("prompt", "").split() if p != satisfied_prompt]
    if prompts:
        parameters.append(("prompt", " ".join(prompts)))
    return f"{url_for(endpoint)}?{urlencode(parameters)}"


def silent() -> bool:
    """``prompt=none``: the application wants an answer without any page shown."""
    return "none" in request.args.get("prompt", "").split()


def authorization_error(error: OAuth2Error):
    """Redirect the error to the application when its redirect URI is known, else show it."""
    if error.redirect_uri:
        return current_server().create_authorization_error_response(error)
    return error_page(error.error, error.get_error_description())
