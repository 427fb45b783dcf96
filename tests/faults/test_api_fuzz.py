"""The API's own OpenAPI document, fuzzed against ``python -m api`` with schemathesis.

schemathesis reads ``/openapi.json`` from the running API (gunicorn, its workers, a temporary
database, trusting the shared test issuer's JWKS over HTTP) and, for every operation, generates
requests that follow the document (positive) and requests that break it (negative). Each answer
goes through schemathesis's checks: no 5xx, a status, content type, headers and body the
document names, schema-valid data accepted, invalid data refused. Run once without a valid token
(schemathesis makes up the ``Authorization`` header itself) and once with real signed tokens of
the kind and scopes each operation asks for.

Two things the document cannot state, and the fuzz is told instead:

* RFC 6750 §2.1: a bearer credential is ``b64token`` (``1*( ALPHA / DIGIT / "-" / "." / "_" / "~"
  / "+" / "/" ) *"="``), which OpenAPI's ``http bearer`` scheme has no way to say: a made-up
  token outside that syntax is a malformed request, answered 400 ``invalid_request`` (RFC 6750
  §3.1) rather than 401.
* Records of one batch have distinct ``external_id``\\ s (uniqueness by a member is beyond JSON
  Schema): generated batches get distinct ones. A batch whose key (its ``batch_id``) was already
  used for another body is 422, as the Idempotency-Key draft says and the document names.
"""

from __future__ import annotations

import contextlib
import sys
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import PositiveDataAcceptanceConfig
from schemathesis.generation import GenerationMode

from api.openapi import BLANK_CHARACTERS
from tests.api.conftest import PROTECTED_ENDPOINTS, APIProcess, Tokens, bearer

#: Generated requests per operation and mode: with ~10 operations, two modes and two runs, about
#: 1,000 requests in all, well within the suite's time.
EXAMPLES = 25
POSITIVE_DATA_ACCEPTED = ["2xx", "401", "403", "404", "409", "422", "429"]


@pytest.fixture
def api(tmp_path, issuer: str, audience: str) -> Iterator[APIProcess]:
    process = APIProcess(
        tmp_path,
        AUTH_ISSUER=issuer,
        AUTH_AUDIENCE=audience,
        DATABASE_URL=f"sqlite:///{tmp_path / 'api.sqlite3'}",
    )
    try:
        process.start()
        yield process
    finally:
        process.stop()


@pytest.fixture
def tokens(token_factory: Any) -> Tokens:
    return Tokens(token_factory)


def load_schema(api: APIProcess, accepted: list[str]) -> Any:
    schema = schemathesis.openapi.from_url(api.base_url + "/openapi.json", timeout=10)
    schema.config.checks.positive_data_acceptance = PositiveDataAcceptanceConfig(
        expected_statuses=accepted
    )
    return schema


def distinct_external_ids(case: Any) -> Any:
    """A schema-valid batch whose records repeat an external_id gets distinct ones instead (see
    the module docstring); ``r<position>`` is as valid an external_id as any."""
    records = case.body.get("records") if isinstance(case.body, dict) else None
    if isinstance(records, list):
        external_ids = [record["external_id"] for record in records]
        if len(set(external_ids)) != len(external_ids):
            for position, record in enumerate(records):
                record["external_id"] = f"r{position}"
    return case


class Fuzz:
    """Every answer's status and every check that failed, over all the operations."""

    def __init__(self, api: APIProcess) -> None:
        self.api = api
        self.statuses: Counter[int] = Counter()
        self.failures: list[str] = []

    def run(self, schema: Any, headers_for) -> None:
        for result in schema.get_all_operations():
            operation = result.ok()
            headers = headers_for(operation)
            positive = operation.as_strategy(generation_mode=GenerationMode.POSITIVE)
            self._exercise(positive.map(distinct_external_ids), headers)
            self._exercise(operation.as_strategy(generation_mode=GenerationMode.NEGATIVE), headers)

    def _exercise(self, strategy: Any, headers: dict[str, str]) -> None:
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            # The same examples on every run: make test is a gate, not a search; widen the search by
            # raising the examples count locally.
            derandomize=True,
            database=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
        )
        @given(case=strategy)
        def exercise(case: Any) -> None:
            response = case.call(base_url=self.api.base_url, headers=headers, timeout=30)
            self.statuses[response.status_code] += 1
            try:
                case.validate_response(response, headers=headers)
            except BaseException as failure:  # schemathesis's FailureGroup is a BaseExceptionGroup
                self.failures.append(f"{case.operation.label} {response.status_code}: {failure}")

        # Unsatisfiable: nothing in the operation can break the document (GET /healthz: no
        # parameter, no body), so there is no negative request to make.
        with contextlib.suppress(Unsatisfiable):
            exercise()

    def report(self, figures) -> None:
        figures(
            requests=sum(self.statuses.values()),
            failures=len(self.failures),
            five_xx=sum(count for status, count in self.statuses.items() if status >= 500),
            statuses=dict(sorted(self.statuses.items())),
        )


def test_without_a_valid_token_every_answer_follows_the_document(api, figures):
    # RFC 6750 §3.1: "invalid_request [...] The resource server SHOULD respond with the HTTP 400
    # (Bad Request) status code": a made-up credential outside b64token (module docstring).
    schema = load_schema(api, [*POSITIVE_DATA_ACCEPTED, "400"])
    fuzz = Fuzz(api)

    fuzz.run(schema, lambda operation: {})

    fuzz.report(figures)
    assert fuzz.failures == [], "\n\n".join(fuzz.failures[:5])
    assert not [status for status in fuzz.statuses if status >= 500]
    assert "Traceback" not in api.logs()


def test_with_real_tokens_every_answer_follows_the_document(api, tokens: Tokens, figures):
    schema = load_schema(api, POSITIVE_DATA_ACCEPTED)
    endpoints = {(endpoint.method, endpoint.path): endpoint for endpoint in PROTECTED_ENDPOINTS}
    headers = {key: bearer(tokens.for_endpoint(endpoint)) for key, endpoint in endpoints.items()}
    fuzz = Fuzz(api)

    fuzz.run(schema, lambda operation: headers.get((operation.method.upper(), operation.path), {}))

    fuzz.report(figures)
    assert fuzz.failures == [], "\n\n".join(fuzz.failures[:5])
    assert fuzz.statuses[201] > 0 and fuzz.statuses[200] > 0
    assert "Traceback" not in api.logs()


def test_the_documents_blank_characters_are_the_ones_the_api_strips():
    assert set(BLANK_CHARACTERS) == {
        chr(code) for code in range(sys.maxunicode + 1) if chr(code).isspace()
    }
