"""Step 3: deliver a batch to ``POST /api/imports`` with the access token and an idempotency key.

The API answers ``201`` when it imports the batch and ``200`` with ``"replayed": true`` when it has
seen the key before (a retry of a batch whose first answer was lost). Both mean "delivered".

On ``401`` the token may have been revoked or the API's keys rotated: the daemon throws its cached
token away, fetches one fresh token and retries once. A second ``401`` is a configuration problem
(wrong audience, wrong issuer) that more tokens will not fix.
"""

from collections.abc import Callable

import requests

from m2m_demo.backoff import RetryPolicy, send_with_retries
from m2m_demo.client_credentials import ClientCredentials
from m2m_demo.feed import Batch
from shared.oidc_client import HTTP_TIMEOUT, Narrator, OIDCClientError, json_object

DELIVERED_STATUSES = frozenset({200, 201})


class DeliveryRejected(OIDCClientError):
    """The API answered the batch with an error that retrying in this cycle will not change."""

    def __init__(self, response: requests.Response):
        body = json_object(response) or {}
        description = body.get("error_description", "")
        super().__init__(
            f"API answered {response.status_code} {body.get('error', response.reason)}: {description}"
        )


class ImportsClient:
    def __init__(
        self,
        api_url: str,
        session: requests.Session,
        narrator: Narrator,
        tokens: ClientCredentials,
        policy: RetryPolicy,
        wait: Callable[[float], bool],
    ):
        self.url = f"{api_url}/api/imports"
        self.session = session
        self.narrator = narrator
        self.tokens = tokens
        self.policy = policy
        self.wait = wait

    def deliver(self, batch: Batch) -> dict:
        """Send ``batch``; return the API's answer, or raise why it was not delivered."""
        response = self._post(batch, self.tokens.access_token())
        if response.status_code == 401:
            self.narrator.warning(
                "the API refused the token; fetching one fresh token and retrying once",
                www_authenticate=response.headers.get("WWW-Authenticate", ""),
            )
            self.tokens.invalidate()
            response = self._post(batch, self.tokens.access_token())
        if response.status_code not in DELIVERED_STATUSES:
            raise DeliveryRejected(response)
        answer = json_object(response)
        if answer is None:
            raise OIDCClientError(f"API answered {response.status_code} without a JSON object")
        return answer

    def _post(self, batch: Batch, access_token: str) -> requests.Response:
        self.narrator.step(
            "3", "The Application can use the Access Token to call the Resource Server on behalf of itself."
        )
        headers = {"Authorization": f"Bearer {access_token}", "Idempotency-Key": batch.idempotency_key}
        summary = {
            "batch_id": batch.batch_id,
            "source": batch.source,
            "records": f"{len(batch.records)} records",
        }

        def send() -> requests.Response:
            self.narrator.request("POST", self.url, headers=headers, fields=summary)
            # Never followed: a redirect would take the access token and the batch to another address.
            response = self.session.post(
                self.url, json=batch.body(), headers=headers, timeout=HTTP_TIMEOUT, allow_redirects=False
            )
            self.narrator.response(response)
            return response

        return send_with_retries(send, self.policy, self.wait, self._on_retry)

    def _on_retry(self, attempt: int, reason: str, delay: float) -> None:
        self.narrator.warning(
            "delivery failed; retrying", attempt=attempt, reason=reason, retry_in_seconds=round(delay, 2)
        )
