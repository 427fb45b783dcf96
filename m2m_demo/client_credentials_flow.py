"""The client credentials grant (RFC 6749 §4.4), the article's steps in order.

  1. The Application authenticates with the Authorization Server using its Client ID and Client
     Secret.
  2. The Authorization Server validates this information and returns an Access Token.
  3. The Application can use the Access Token to call the Resource Server on behalf of itself.

Step 1 is a form POST (RFC 6749 §4.4.2) to the token endpoint named by the issuer's discovery
document. Auth0 picks the API by the ``audience`` parameter; providers that follow RFC 8707 use
``resource`` instead, sent as well when ``AUTH_RESOURCE_INDICATOR=1``.

Step 2: "Client can use received token until it expires and after that can just repeat the
authorization procedure". The token is reused until shortly before it expires (a tenth of its
lifetime, at most a minute, before ``expires_in`` runs out), so a daemon running every minute
asks for one token a day, not 1440: Auth0 counts and rate-limits machine-to-machine tokens.
Every delivery narrates the three steps: steps 1 and 2 as they happen, or one line saying the
cached token is reused (and for how long), or why a new one is requested.

Step 3 delivers a batch to ``POST /api/imports`` with the token and an idempotency key. The API
answers ``201`` when it imports the batch and ``200`` with ``"replayed": true`` when it has seen
the key before (a retry of a batch whose first answer was lost): both mean "delivered". On
``401`` the token may have been revoked or the API's keys rotated: the cached token is dropped,
steps 1 and 2 run once more and the batch is sent once more. A second ``401`` is a
configuration problem (wrong audience, wrong issuer) that more tokens will not fix.

Every request is retried on transient failures (``backoff``); the schedule, the signals and the
position in the source are the daemon's (``daemon``, ``state``, ``feed``).
"""

import time
from collections.abc import Callable
from http import HTTPStatus

import requests

from m2m_demo.backoff import RetryPolicy, send_with_retries
from m2m_demo.feed import Batch
from shared.oidc_client import (
    HTTP_TIMEOUT,
    ClientConfig,
    Narrator,
    TokenEndpoint,
    fetch_provider_metadata,
    json_object,
)
from shared.settings import ConfigurationError

RENEW_MARGIN_SECONDS = 60
RENEW_MARGIN_FRACTION = 0.1
IMPORTS_PATH = "/api/imports"
DELIVERED_STATUSES = frozenset({200, 201})


class ApiError(Exception):
    """The API's answer to a call is not one the daemon can use; the message says it in one line."""


class DeliveryRejected(ApiError):
    """The API answered the batch with an error that retrying in this cycle will not change."""

    def __init__(self, response: requests.Response):
        self.status = response.status_code
        body = json_object(response) or {}
        description = body.get("error_description", "")
        super().__init__(
            f"API answered {self.status} {body.get('error', response.reason)}: {description}"
        )

    @property
    def too_large(self) -> bool:
        """The API refused the body as larger than it accepts."""
        return self.status == HTTPStatus.REQUEST_ENTITY_TOO_LARGE


class ClientCredentialsFlow:
    """The daemon as an OAuth client: its own token, reused, and the batches it delivers with it."""

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
            raise ConfigurationError(
                "AUTH_CLIENT_SECRET is required for the client credentials grant"
            )
        self.config = config
        self.session = session
        self.narrator = narrator
        self.policy = policy
        self.wait = wait
        self.clock = clock
        self._token_endpoint: TokenEndpoint | None = None
        self._access_token: str | None = None
        self._received_at = 0.0
        self._renew_at = 0.0

    def authenticate(self) -> requests.Response:
        """Step 1: the client credentials token request."""
        endpoint = self.token_endpoint()
        self.narrator.step(
            "1",
            "The Application authenticates with the Authorization Server "
            "using its Client ID and Client Secret.",
        )
        form = {
            "grant_type": "client_credentials",
            "client_id": self.config.client_id,
            "client_secret": self.config.client_secret,
            "audience": self.config.audience,
        }
        if self.config.resource_indicator:
            form["resource"] = self.config.audience
        return send_with_retries(
            lambda: endpoint.post(form), self.policy, self.wait, self._retrying("token request")
        )

    def receive_access_token(self, response: requests.Response) -> str:
        """Step 2: the access token from the token response, kept for reuse."""
        self.narrator.step(
            "2", "The Authorization Server validates this information and returns an Access Token."
        )
        token = self.token_endpoint().read(response)
        self._access_token = token.access_token
        self._received_at = self.clock()
        self._renew_at = self._received_at + _reuse_seconds(token.expires_in)
        return token.access_token

    def call_api(self, batch: Batch, access_token: str) -> requests.Response:
        """Step 3: ``POST /api/imports`` with the access token and the batch's idempotency key."""
        self.narrator.step(
            "3",
            "The Application can use the Access Token to call the Resource Server on behalf of "
            "itself.",
        )
        url = self.config.api_url + IMPORTS_PATH
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Idempotency-Key": batch.idempotency_key,
        }
        summary = {
            "batch_id": batch.batch_id,
            "source": batch.source,
            "records": f"{len(batch.records)} records",
        }

        def send() -> requests.Response:
            self.narrator.request("POST", url, headers=headers, fields=summary)
            # Never followed: a redirect would take the access token and the batch elsewhere.
            response = self.session.post(
                url, json=batch.body(), headers=headers, timeout=HTTP_TIMEOUT, allow_redirects=False
            )
            self.narrator.response(response)
            return response

        return send_with_retries(send, self.policy, self.wait, self._retrying("delivery"))

    def access_token(self) -> str:
        """The cached access token while it is fresh; otherwise steps 1 and 2 for a new one."""
        now = self.clock()
        if self._access_token is not None and now < self._renew_at:
            self.narrator.info(
                f"Steps 1-2 skipped: reusing the cached access token received "
                f"{_duration(now - self._received_at)} ago; a new one is requested in "
                f"{_duration(self._renew_at - now)}, shortly before it expires",
                renews_in_seconds=round(self._renew_at - now),
            )
            return self._access_token
        if self._access_token is not None:
            self.narrator.info(
                "the cached access token is about to expire (or came without expires_in): "
                "steps 1-2 again for a new one"
            )
        return self.receive_access_token(self.authenticate())

    def deliver(self, batch: Batch) -> dict:
        """Steps 1 to 3 for ``batch``: the API's answer, or :class:`ApiError` saying why not."""
        response = self.call_api(batch, self.access_token())
        if response.status_code == 401:
            self.narrator.warning(
                "the API refused the token; fetching one fresh token and retrying once",
                www_authenticate=response.headers.get("WWW-Authenticate", ""),
            )
            self._access_token = None
            response = self.call_api(batch, self.access_token())
        if response.status_code not in DELIVERED_STATUSES:
            raise DeliveryRejected(response)
        answer = json_object(response)
        if answer is None:
            raise ApiError(f"API answered {response.status_code} without a JSON object")
        return answer

    def token_endpoint(self) -> TokenEndpoint:
        """``AUTH_TOKEN_URL``, or the issuer's discovery document's token endpoint (read once)."""
        if self._token_endpoint is None:
            url = self.config.token_url
            if url is None:
                self.narrator.info(
                    "reading the issuer's discovery document to find the token endpoint"
                )
                url = fetch_provider_metadata(
                    self.session, self.config, self.narrator
                ).token_endpoint
            self._token_endpoint = TokenEndpoint(self.session, url, self.narrator)
        return self._token_endpoint

    def _retrying(self, what: str) -> Callable[[int, str, float], None]:
        def on_retry(attempt: int, reason: str, delay: float) -> None:
            self.narrator.warning(
                f"{what} failed; retrying",
                attempt=attempt,
                reason=reason,
                retry_in_seconds=round(delay, 2),
            )

        return on_retry


def _duration(seconds: float) -> str:
    """``seconds`` for a person: ``45 s``, ``12 min``, ``23 h 59 min``."""
    whole = max(round(seconds), 0)
    if whole < 60:
        return f"{whole} s"
    hours, minutes = divmod(whole // 60, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min"


def _reuse_seconds(expires_in: int | None) -> float:
    """How long a token may be reused: until shortly before it expires (0: do not reuse)."""
    if expires_in is None:
        return 0.0
    return expires_in - min(RENEW_MARGIN_SECONDS, expires_in * RENEW_MARGIN_FRACTION)
