"""The web app's OpenID Connect client: authlib's Flask client for the requests, the shared
validator (shared/token_validation.py) for every token the web app reads.

authlib's client (``authlib.integrations.flask_client``, as in Auth0's Python web-app
quickstart) reads the endpoints from the issuer's discovery document, builds the authorization
request with ``state``, ``nonce`` and PKCE (S256) and keeps them in the (server-side) session,
and authenticates to the token endpoint with the client secret in the body
(``client_secret_post``). The ID token is not checked by authlib but by the shared validator,
whose checks (signature with the issuer's JWKS, ``iss``, ``aud``, ``azp``, ``exp``, ``iat``,
``nonce``) are quoted from OpenID Connect Core 3.1.3.7 where they are enforced.

At logout the refresh token is revoked (RFC 7009) at the issuer's ``revocation_endpoint``,
authenticated as at the token endpoint; best effort, within :data:`REVOCATION_TIMEOUT` seconds.
"""

from collections.abc import Callable
from typing import Any

import requests
from authlib.integrations.flask_client import OAuth
from flask import Flask

from shared.token_validation import Claims, TokenValidator

from .config import SCOPE, WebAppConfig

CLIENT_NAME = "flowlab"
HTTP_TIMEOUT = 10
REVOCATION_TIMEOUT = 3
# The namespaced claim the tenant (an Auth0 Action: api.idToken.setCustomClaim) adds to ID
# tokens with the user's permissions for the API named by `audience`.
PERMISSIONS_CLAIM = "https://flowlab.local/permissions"


class OidcClient:
    """authlib's registered client, and the validator of this client's ID tokens."""

    def __init__(self, app: Flask, config: WebAppConfig, clock: Callable[[], float]) -> None:
        self.config = config
        self.remote = OAuth(app).register(
            CLIENT_NAME,
            client_id=config.client_id,
            client_secret=config.client_secret,
            server_metadata_url=config.discovery_url,
            access_token_url=config.token_url,
            client_kwargs={
                "scope": SCOPE,
                "code_challenge_method": "S256",
                "token_endpoint_auth_method": "client_secret_post",
                "timeout": HTTP_TIMEOUT,
            },
        )
        # OpenID Connect Core 3.1.3.7 (3): the ID token's audience is this client's id.
        self.validator = TokenValidator(
            config.issuer, config.client_id, jwks_url=config.jwks_url, clock=clock
        )

    def metadata(self) -> dict[str, Any]:
        return self.remote.load_server_metadata()

    def authorization_redirect(self):
        """The redirect to the authorization endpoint; authlib saves state, nonce and verifier."""
        return self.remote.authorize_redirect(
            self.config.callback_url, audience=self.config.audience
        )

    def state_data(self, session, state: str | None) -> dict[str, Any] | None:
        """What authlib saved for ``state`` (single use: removed from the session)."""
        if not state:
            return None
        data = self.remote.framework.get_state_data(session, state)
        self.remote.framework.clear_state_data(session, state)
        return data

    def exchange_code(self, code: str, state_data: dict[str, Any]) -> dict[str, Any]:
        return dict(
            self.remote.fetch_access_token(
                code=code,
                redirect_uri=state_data["redirect_uri"],
                code_verifier=state_data["code_verifier"],
            )
        )

    def refresh(self, refresh_token: str) -> dict[str, Any]:
        return dict(
            self.remote.fetch_access_token(grant_type="refresh_token", refresh_token=refresh_token)
        )

    def revoke(self, refresh_token: str) -> None:
        """Revoke ``refresh_token``; raises requests.RequestException (an answer other than
        200 too) or KeyError (no revocation endpoint in the discovery document)."""
        url = self.config.revocation_url or self.metadata()["revocation_endpoint"]
        # RFC 7009 2.1: "token REQUIRED. The token that the client wants to get revoked."; the
        # client authenticates "as described in Section 2.3 of [RFC6749]" (client_secret_post).
        answer = requests.post(
            url,
            data={
                "token": refresh_token,
                "token_type_hint": "refresh_token",
                "client_id": self.config.client_id,
                "client_secret": self.config.client_secret,
            },
            timeout=REVOCATION_TIMEOUT,
            allow_redirects=False,
        )
        # RFC 7009 2.2: "The authorization server responds with HTTP status code 200 if the
        # token has been revoked successfully or if the client submitted an invalid token."
        if answer.status_code != 200:
            raise requests.HTTPError(f"revocation answered {answer.status_code}")

    def id_token_claims(self, id_token: str, nonce: str) -> Claims:
        return self.validator.validate_id_token(id_token, nonce=nonce)

    def refreshed_id_token_claims(self, id_token: str, original: dict[str, Any]) -> Claims:
        return self.validator.validate_refreshed_id_token(id_token, original=Claims(original))
