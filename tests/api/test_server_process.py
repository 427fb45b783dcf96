"""``python -m api`` as a real process: gunicorn serves the API, validates real tokens against the
issuer's JWKS over HTTP, refuses hostile requests with JSON, and keeps imports idempotent across
its worker processes."""

import http.client
import json
import socket
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlsplit

import requests

from tests.api.conftest import REALM, bearer

INVALID_REQUEST_CHALLENGE = f'Bearer realm="{REALM}", error="invalid_request", error_description="The request is malformed."'


def raw_exchange(base_url, request: bytes):
    """Send ``request`` bytes as they are (repeated or malformed headers included, which
    requests cannot send); the status, headers and body of the answer."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as connection:
        connection.sendall(request)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return response.status, dict(response.getheaders()), response.read()


def raw_get(base_url, path, headers):
    """GET with exactly these header lines; the status, headers and JSON body of the answer."""
    lines = [f"GET {path} HTTP/1.1", "Host: api", *(f"{name}: {value}" for name, value in headers)]
    status, answer_headers, body = raw_exchange(
        base_url, ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
    )
    return status, answer_headers, json.loads(body)


def test_it_serves_real_tokens_and_logs_one_line_per_request(api_process, tokens, jwks_server):
    token = tokens.user(("read:messages",))

    health = requests.get(api_process.base_url + "/healthz", timeout=10)
    private = requests.get(api_process.base_url + "/api/private", headers=bearer(token), timeout=10)
    refused = requests.get(
        api_process.base_url + "/api/messages", params={"access_token": token}, timeout=10
    )

    assert health.json() == {"status": "ok"}
    assert private.status_code == 200
    assert private.json()["sub"] == "auth0|5f7c8ec7c33c6c004bbafe82"
    assert jwks_server.count() >= 1
    assert refused.status_code == 400
    assert refused.headers["WWW-Authenticate"] == INVALID_REQUEST_CHALLENGE
    assert [
        line.split("api.requests: ")[1].split()[:3]
        for line in api_process.request_lines(2, last_path="/api/messages")
    ] == [
        ["GET", "/api/private", "200"],
        ["GET", "/api/messages", "400"],
    ]
    assert token not in api_process.log()


def test_two_authorization_headers_are_invalid_request(api_process, tokens):
    token = tokens.user()

    status, headers, body = raw_get(
        api_process.base_url,
        "/api/private",
        [("Authorization", f"Bearer {token}"), ("Authorization", f"Bearer {token}")],
    )

    assert status == 400
    assert body["error"] == "invalid_request"
    assert headers["WWW-Authenticate"] == INVALID_REQUEST_CHALLENGE


def test_hostile_requests_get_json_errors(api_process, tokens):
    base = api_process.base_url
    writer = bearer(tokens.user(("write:messages",)))

    oversized_token = requests.get(
        base + "/api/private", headers={"Authorization": "Bearer " + "A" * 12_000}, timeout=10
    )
    unknown = requests.get(base + "/api/nope", timeout=10)
    wrong_method = requests.delete(base + "/api/messages", timeout=10)
    malformed = requests.post(
        base + "/api/messages",
        data=b'{"text": ',
        headers={**writer, "Content-Type": "application/json"},
        timeout=10,
    )
    not_json = requests.post(
        base + "/api/messages",
        data=b"text=hi",
        headers={**writer, "Content-Type": "text/plain"},
        timeout=10,
    )
    oversized_body = requests.post(
        base + "/api/messages", json={"text": "x" * 2_000_000}, headers=writer, timeout=10
    )

    answers = [
        (response.status_code, response.headers["Content-Type"], response.json()["error"])
        for response in (
            oversized_token,
            unknown,
            wrong_method,
            malformed,
            not_json,
            oversized_body,
        )
    ]
    assert answers == [
        (401, "application/json", "invalid_token"),
        (404, "application/json", "not_found"),
        (405, "application/json", "method_not_allowed"),
        (400, "application/json", "bad_request"),
        (415, "application/json", "unsupported_media_type"),
        (413, "application/json", "request_entity_too_large"),
    ]
    messages = requests.get(
        base + "/api/messages", headers=bearer(tokens.user(("read:messages",))), timeout=10
    )
    assert messages.json() == {"messages": []}


def test_concurrent_deliveries_across_workers_store_one_batch(api_process, tokens):
    url = api_process.base_url + "/api/imports"
    importer = {**bearer(tokens.machine(("import:data",))), "Idempotency-Key": "across-workers"}
    body = {
        "batch_id": "b-1",
        "source": "crm",
        "records": [{"external_id": f"r-{n}", "data": {"n": n}} for n in range(200)],
    }

    with ThreadPoolExecutor(max_workers=8) as pool:
        responses = list(
            pool.map(
                lambda _: requests.post(url, json=body, headers=importer, timeout=30), range(8)
            )
        )

    assert sorted(response.status_code for response in responses) == [200] * 7 + [201]
    listing = requests.get(
        url, headers=bearer(tokens.machine(("read:imports",))), timeout=10
    ).json()
    assert len(listing["imports"]) == 1
    assert listing["records"] == 200
    assert sum("Booting worker with pid" in line for line in api_process.log_lines) == 2


def test_sigterm_stops_it_cleanly(api_process):
    api_process.process.terminate()

    assert api_process.process.wait(timeout=15) == 0


# Requests gunicorn refuses before the app sees them, answered in the app's JSON form, not HTML:
# (what, request, status, error code). One process serves them all.
GUNICORN_REFUSALS = [
    (
        "request line over the limit",
        b"GET /api/" + b"a" * 10_000 + b" HTTP/1.1\r\nHost: api\r\n\r\n",
        414,
        "request_uri_too_long",
    ),
    (
        "Authorization over 16 KiB",
        b"GET /api/private HTTP/1.1\r\nHost: api\r\nAuthorization: Bearer "
        + b"A" * 20_000
        + b"\r\n\r\n",
        431,
        "request_header_fields_too_large",
    ),
    (
        "150 headers",
        b"GET /api/public HTTP/1.1\r\nHost: api\r\n"
        + b"".join(b"X-Filler-%d: x\r\n" % n for n in range(150))
        + b"\r\n",
        431,
        "request_header_fields_too_large",
    ),
    (
        "malformed request line",
        b"GET /api/public HTTP/1.1 extra\r\nHost: api\r\n\r\n",
        400,
        "bad_request",
    ),
    (
        "space in a header name",
        b"GET /api/public HTTP/1.1\r\nHost: api\r\nBad Header: x\r\n\r\n",
        400,
        "bad_request",
    ),
    (
        "two Content-Length headers",
        b"POST /api/messages HTTP/1.1\r\nHost: api\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\nhello",
        400,
        "bad_request",
    ),
]


def test_requests_gunicorn_refuses_get_json_errors(api_process):
    for what, request_bytes, status, error in GUNICORN_REFUSALS:
        answer_status, headers, body = raw_exchange(api_process.base_url, request_bytes)

        assert (answer_status, headers["Content-Type"], json.loads(body)["error"]) == (
            status,
            "application/json",
            error,
        ), what
        assert set(json.loads(body)) == {"error", "error_description"}, what
        assert headers["X-Content-Type-Options"] == "nosniff", what
        assert b"<html" not in body.lower() and b"AAAA" not in body and b"extra" not in body, what
    assert requests.get(api_process.base_url + "/api/public", timeout=10).status_code == 200
