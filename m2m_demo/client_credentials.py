"""Steps 1 and 2: obtain an access token with the client credentials grant, and reuse it.

The request (RFC 6749 §4.4.2) is a form POST to the token endpoint named by the issuer's discovery
document. Auth0 picks the API by the ``audience`` parameter; providers that follow RFC 8707 use
``resource`` instead, sent as well when ``AUTH_RESOURCE_INDICATOR=1``.

The token is cached and reused until shortly before it expires (a tenth of its lifetime, at most a
minute, before ``expires_in`` runs out), so a daemon running every minute asks for one token a day,
not 1440: Auth0 counts and rate-limits machine-to-machine token requests.
"""

import time
from collections.abc import Callable

import requests

from m2m_demo.backoff import RetryPolicy, send_with_retries
from shared.oidc_client import (
    ClientConfig,
    Narrator,
    TokenEndpoint,
    fetch_provider_metadata,
)
from shared.settings import ConfigurationError

RENEW_MARGIN_SECONDS = 60
RENEW_MARGIN_FRACTION = 0.1


class ClientCredentials:
    """Hands out a valid access token for the API, fetching a new one only when needed."""

    def __init__(
        self,
        config: ClientConfig,
        session: requests.Session,
        narrator: Narrator,
        policy: RetryPolicy,
        wait: Callable[[float], bool],
        clock: Callable[[], float] = time.monotonic,
    ):
        if not config.client_secret:
            raise ConfigurationError("AUTH_CLIENT_SECRET is required for the client credentials grant")
        self.config = config
        self.session = session
        self.narrator = narrator
        self.policy = policy
        self.wait = wait
        self.clock = clock
        self._endpoint: TokenEndpoint | None = None
        self._access_token: str | None = None
        self._renew_at = 0.0

    def access_token(self) -> str:
        if self._access_token is not None and self.clock() < self._renew_at:
            self.narrator.info(
                "reusing the cached access token (steps 1-2 skipped)",
                renews_in_seconds=round(self._renew_at - self.clock()),
            )
            return self._access_token
        return self._fetch()

    def invalidate(self) -> None:
        """Forget the cached token; the next call runs steps 1 and 2 again."""
        self._access_token = None

    def _fetch(self) -> str:
        endpoint = self._token_endpoint()
        self.narrator.step(
            "1",
            "The Application authenticates with the Authorization Server "
            "using its Client ID and Client Secret.",
        )
        response = send_with_retries(
            lambda: endpoint.post(self._form()), self.policy, self.wait, self._on_retry
        )
        self.narrator.step(
            "2", "The Authorization Server validates this information and returns an Access Token."
        )
        token = endpoint.read(response)
        self._access_token = token.access_token
        self._renew_at = self.clock() + _reuse_seconds(token.expires_in)
        return token.access_token

    def _form(self) -> dict[str, str]:
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "audience": self.config.audience,
        }
        if self.config.resource_indicator:
            form["resource"] = self.config.audience
        return form

    def _token_endpoint(self) -> TokenEndpoint:
        if self._endpoint is None:
            url = self.config.token_url
            if url is None:
                self.narrator.info("reading the issuer's discovery document to find the token endpoint")
                url = fetch_provider_metadata(self.session, self.config, self.narrator).token_endpoint
            self._endpoint = TokenEndpoint(self.session, url, self.narrator)
        return self._endpoint

    def _on_retry(self, attempt: int, reason: str, delay: float) -> None:
        self.narrator.warning(
            "token request failed; retrying", attempt=attempt, reason=reason, retry_in_seconds=round(delay, 2)
        )


def _reuse_seconds(expires_in: int | None) -> float:
    """How long a token may be reused: until shortly before it expires (0: do not reuse)."""
    if expires_in is None:
        return 0.0
    return expires_in - min(RENEW_MARGIN_SECONDS, expires_in * RENEW_MARGIN_FRACTION)
