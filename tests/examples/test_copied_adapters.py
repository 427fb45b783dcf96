"""The README's copy rule, served: each example of ``examples/`` (Flask, FastAPI, Django) copied
with the validator into a package ``yourservice`` of a temporary folder, imported with the
project off ``sys.path``, served by a real server (gunicorn, uvicorn), and called with real
tokens from ``python -m authserver``: the same RFC 6750 answers from every framework."""

import http.client
import json
from urllib.parse import urlsplit

import pytest
import requests

from tests.authserver.helpers import ALICE_SUB, API_AUDIENCE
from tests.examples.conftest import FRAMEWORKS, VALIDATOR, copy_package

REALM_CHALLENGE = f'Bearer realm="{API_AUDIENCE}"'


@pytest.fixture(scope="module", params=sorted(FRAMEWORKS))
def service(request, authserver, serve_copy, tmp_path_factory):
    """The example of one framework, copied and served, trusting ``authserver``."""
    files, command = FRAMEWORKS[request.param]
    directory = tmp_path_factory.mktemp(request.param)
    copy_package(directory, VALIDATOR, *files)
    served = serve_copy(
        request.param,
        directory,
        command,
        AUTH_ISSUER=authserver.issuer,
        AUTH_AUDIENCE=API_AUDIENCE,
    )
    yield served
    served.stop()


def call(service, method, path, token=None, **kwargs):
    headers = kwargs.pop("headers", {})
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return requests.request(method, service.base_url + path, headers=headers, timeout=30, **kwargs)


def assert_refusal(response, status, error):
    """An RFC 6750 section 3 refusal: the status, a Bearer challenge, and the JSON body of the
    error alone (no framework wrapper such as FastAPI's ``{"detail": ...}``)."""
    assert response.status_code == status, response.text
    assert response.headers["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error", "error_description"}, body
    assert body["error"] == error
    assert response.headers["WWW-Authenticate"].startswith(REALM_CHALLENGE)
    return response.headers["WWW-Authenticate"]


def tampered(token):
    """``token`` with another signature: one character in the middle of it changed (the last
    one also carries padding bits, and changing it could make the segment non-canonical)."""
    middle = len(token) - len(token.rsplit(".", 1)[1]) // 2
    return token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]


def test_a_token_with_the_scope_reads_the_messages(service, machine_token):
    response = call(service, "GET", "/api/messages", machine_token())

    assert response.status_code == 200, response.text
    assert response.json()["subject"] == "m2m-demo@clients"
    assert "read:messages" in response.json()["scopes"]


def test_a_machine_token_with_the_scope_posts_an_import(service, machine_token):
    # Django: a bearer-protected view is CSRF exempt, or its CSRF middleware would refuse this.
    response = call(service, "POST", "/api/imports", machine_token(), json={"records": []})

    assert response.status_code == 201, response.text
    assert response.json() == {"imported_by": "m2m-demo"}


def test_a_user_token_with_the_scope_is_refused_on_the_machine_only_import(service, user_token):
    # Auth0 with RBAC off grants a user the import:data scope the SPA asks for; the scope alone
    # would let a person post imports meant for machine clients (the API's imports are
    # machine_only too).
    response = call(service, "POST", "/api/imports", user_token, json={"records": []})

    challenge = assert_refusal(response, 403, "insufficient_scope")
    assert challenge == (
        f'{REALM_CHALLENGE}, error="insufficient_scope", '
        'error_description="This endpoint accepts machine access tokens only."'
    )


def test_a_user_token_with_the_scope_reads_the_messages(service, user_token):
    response = call(service, "GET", "/api/messages", user_token)

    assert response.status_code == 200, response.text
    assert response.json()["subject"] == ALICE_SUB


def test_a_token_without_the_scope_is_refused_naming_the_scope(service, machine_token):
    response = call(service, "POST", "/api/imports", machine_token("read:messages"))

    challenge = assert_refusal(response, 403, "insufficient_scope")
    assert 'error="insufficient_scope"' in challenge
    assert challenge.endswith('scope="import:data"')


def test_a_request_without_a_token_gets_a_bare_challenge(service):
    response = call(service, "GET", "/api/messages")

    assert_refusal(response, 401, "unauthorized")
    # RFC 6750 3.1: no error code in the challenge of a request without credentials.
    assert response.headers["WWW-Authenticate"] == REALM_CHALLENGE


@pytest.mark.parametrize(
    ("credentials", "status", "error"),
    [
        pytest.param(lambda token: {"token": tampered(token)}, 401, "invalid_token", id="tampered"),
        pytest.param(lambda token: {"token": "not*a*b64token"}, 401, "invalid_token", id="no-b64"),
        pytest.param(
            lambda token: {"headers": {"Authorization": f"Bearer {token} {token}"}},
            400,
            "invalid_request",
            id="two-words",
        ),
        pytest.param(
            lambda token: {"params": {"access_token": token}, "token": token},
            400,
            "invalid_request",
            id="query-too",
        ),
    ],
)
def test_bad_credentials_are_refused(service, machine_token, credentials, status, error):
    response = call(service, "GET", "/api/messages", **credentials(machine_token()))

    challenge = assert_refusal(response, status, error)
    assert f'error="{error}"' in challenge


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda token: {"data": {"access_token": token}}, id="urlencoded"),
        pytest.param(lambda token: {"files": {"access_token": (None, token)}}, id="multipart"),
    ],
)
def test_a_token_in_a_form_body_too_is_a_malformed_request(service, machine_token, form):
    # RFC 6750 2: "Clients MUST NOT use more than one method to transmit the token in each
    # request."
    token = machine_token()

    response = call(service, "POST", "/api/imports", token, **form(token))

    challenge = assert_refusal(response, 400, "invalid_request")
    assert 'error="invalid_request"' in challenge


def test_a_form_body_that_cannot_be_parsed_is_no_server_error(service, machine_token):
    response = call(
        service,
        "POST",
        "/api/imports",
        machine_token(),
        headers={"Content-Type": "multipart/form-data"},
        data=b"no boundary, no parts",
    )

    # Django and Starlette answer 400; Werkzeug (Flask) reads no fields and the view serves it.
    assert response.status_code < 500, response.text


def test_a_form_body_without_a_token_is_served(service, machine_token):
    response = call(service, "POST", "/api/imports", machine_token(), data={"records": "[]"})

    assert response.status_code == 201, response.text


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_no_documentation_page_loads_scripts_from_a_cdn(service, page):
    response = call(service, "GET", page)

    assert response.status_code == 404


def test_two_authorization_headers_are_a_malformed_request(service, machine_token):
    token = machine_token()
    connection = http.client.HTTPConnection(urlsplit(service.base_url).netloc, timeout=30)
    connection.putrequest("GET", "/api/messages")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.putheader("Authorization", f"Bearer {token}")
    connection.endheaders()
    response = connection.getresponse()
    body = json.loads(response.read())
    connection.close()

    assert response.status == 400, body
    assert body["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.getheader("WWW-Authenticate")


def test_the_reason_of_a_rejection_reaches_the_log(service, machine_token):
    response = call(service, "GET", "/api/messages", tampered(machine_token()))

    assert response.status_code == 401
    # The one line of logging set-up each example has: the validator's INFO line is shown.
    service.wait_for_log(
        lambda log: "access token rejected (signature)" in log,
        timeout=30,
        what="the validator's rejection reason",
    )
