"""Client authentication at the token and revocation endpoints, and unrepeated parameters.

* One authentication method per request (RFC 6749 §2.3), a body client_id naming the Basic one.
* No parameter more than once (RFC 6749 §3.1, §3.2): token and revocation bodies (form or JSON),
  the authorization request's query string.
* Client secrets are HMAC-SHA256 digests under a random key; every presented secret costs one
  digest, whether its client exists, is public or confidential.
"""

import base64
import hashlib
import hmac
import json
import re

import pytest
import requests

from authserver import tenant as tenant_module
from authserver.tenant import load_tenant
from tests.authserver.helpers import (
    API_AUDIENCE,
    M2M_SECRET,
    NATIVE_CALLBACK,
    PACKAGED_TENANT,
    SPA_CALLBACK,
    WEBAPP_SECRET,
    code_request,
    redirect_parameters,
)

CLIENT_CREDENTIALS = {"grant_type": "client_credentials", "audience": API_AUDIENCE}


def assert_invalid_request(response):
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert "access_token" not in response.json()


@pytest.mark.parametrize(
    ("basic_secret", "body_secret"),
    [("wrong-secret", M2M_SECRET), (M2M_SECRET, M2M_SECRET), (M2M_SECRET, "wrong-secret")],
    ids=["basic wrong, body right", "both right", "basic right, body wrong"],
)
def test_more_than_one_client_authentication_method_is_refused(
    authserver, basic_secret, body_secret
):
    form = {**CLIENT_CREDENTIALS, "client_id": "m2m-demo", "client_secret": body_secret}
    assert_invalid_request(authserver.token(form, auth=("m2m-demo", basic_secret)))


def test_a_body_client_id_must_name_the_client_of_the_basic_credentials(authserver):
    other = authserver.token(
        {**CLIENT_CREDENTIALS, "client_id": "spa-demo"}, auth=("m2m-demo", M2M_SECRET)
    )
    assert_invalid_request(other)
    same = authserver.token(
        {**CLIENT_CREDENTIALS, "client_id": "m2m-demo"}, auth=("m2m-demo", M2M_SECRET)
    )
    assert same.status_code == 200, same.text


def test_a_public_client_presenting_basic_credentials_does_not_fall_back_to_none(authserver):
    revoke = authserver.url("/oauth/revoke")
    body = {"token": "no-such-token", "client_id": "spa-demo"}
    assert requests.post(revoke, data=body, timeout=10).status_code == 200
    response = requests.post(revoke, data=body, auth=("spa-demo", "a-secret"), timeout=10)
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


TOKEN_FORM = [
    ("grant_type", "client_credentials"),
    ("audience", API_AUDIENCE),
    ("client_secret", M2M_SECRET),
]


@pytest.mark.parametrize(
    ("path", "body"),
    [
        ("/oauth/token", [*TOKEN_FORM, ("client_id", "m2m-demo"), ("client_id", "m2m-demo")]),
        ("/oauth/token", [*TOKEN_FORM, ("client_id", "m2m-demo"), ("audience", API_AUDIENCE)]),
        ("/oauth/token", [*TOKEN_FORM, ("client_id", "spa-demo"), ("client_id", "m2m-demo")]),
        ("/oauth/revoke", [("client_id", "spa-demo"), ("token", "a"), ("token", "b")]),
    ],
    ids=[
        "token: same client_id twice",
        "token: audience twice",
        "token: two client_ids",
        "revoke: token twice",
    ],
)
def test_repeated_parameters_in_a_form_body_are_refused(authserver, path, body):
    assert_invalid_request(requests.post(authserver.url(path), data=body, timeout=10))


def test_repeated_members_of_a_json_body_are_refused(authserver):
    # json.loads would keep the last of the two members; the server sees both and refuses.
    pairs = [*TOKEN_FORM, ("client_id", "x"), ("client_id", "m2m-demo")]
    body = (
        "{" + ", ".join(f"{json.dumps(name)}: {json.dumps(value)}" for name, value in pairs) + "}"
    )
    headers = {"Content-Type": "application/json"}
    response = requests.post(authserver.url("/oauth/token"), data=body, headers=headers, timeout=10)
    assert_invalid_request(response)


def test_repeated_parameters_of_an_authorization_request_are_refused(user_agent, pkce):
    request = code_request("spa-demo", SPA_CALLBACK, pkce, audience=API_AUDIENCE)
    query = [*request.items(), ("audience", "https://other.example")]
    response = user_agent.session.get(
        user_agent.server.url("/authorize"), params=query, allow_redirects=False, timeout=10
    )
    assert response.status_code == 400
    assert "Location" not in response.headers
    assert "<code>invalid_request</code>" in response.text


def test_login_and_consent_pages_forward_the_authorization_request_unrepeated(user_agent, pkce):
    # /authorize -> login page -> /authorize -> consent page -> /authorize -> code: every hop
    # carries the parameters once (the satisfied prompt dropped), so none is refused as repeated.
    request = code_request(
        "partner-app", NATIVE_CALLBACK, pkce, audience=API_AUDIENCE, prompt="login consent"
    )
    consent = user_agent.sign_in(user_agent.authorize(**request))
    assert "decision" in consent.text
    authorization = redirect_parameters(user_agent.follow(user_agent.decide(consent, "allow")))
    assert "code" in authorization and authorization["state"] == request["state"]


HASH_FORMAT = re.compile(r"hmac-sha256\$([A-Za-z0-9_-]{43})\$([0-9a-f]{64})")


def test_client_secrets_are_hmac_sha256_digests_under_a_random_key():
    stored = load_tenant().applications["m2m-demo"].client_secret_hash
    assert f'client_secret_hash = "{stored}"' in PACKAGED_TENANT
    assert M2M_SECRET not in PACKAGED_TENANT and WEBAPP_SECRET not in PACKAGED_TENANT
    assert load_tenant().applications["webapp-demo"].check_client_secret(WEBAPP_SECRET)
    key, digest = HASH_FORMAT.fullmatch(stored).groups()
    raw_key = base64.urlsafe_b64decode(key + "=")
    assert len(raw_key) == 32
    assert hmac.new(raw_key, M2M_SECRET.encode(), hashlib.sha256).hexdigest() == digest
    assert load_tenant().applications["m2m-demo"].check_client_secret(M2M_SECRET)
    # A fresh random key each time: the same secret never gives the same hash twice.
    first, second = (tenant_module.hash_client_secret(M2M_SECRET) for _ in range(2))
    assert (
        first.split("$")[1] != second.split("$")[1] and first.split("$")[2] != second.split("$")[2]
    )


FAILED_AUTHENTICATIONS = {
    "wrong secret, body": ({"client_id": "m2m-demo", "client_secret": "wrong-1"}, None),
    "wrong secret, basic": ({}, ("m2m-demo", "wrong-2")),
    "unknown client, body": ({"client_id": "nobody", "client_secret": "wrong-3"}, None),
    "unknown client, basic": ({}, ("nobody", "wrong-4")),
    "public client with a secret, body": (
        {"client_id": "spa-demo", "client_secret": "wrong-5"},
        None,
    ),
    "public client with a secret, basic": ({}, ("spa-demo", "wrong-6")),
}


def test_every_presented_secret_costs_one_digest_and_gets_the_same_answer(authserver, digests):
    answers = set()
    for form, auth in FAILED_AUTHENTICATIONS.values():
        digests.clear()
        response = authserver.token({**CLIENT_CREDENTIALS, **form}, auth=auth)
        secret = form.get("client_secret") or auth[1]
        assert digests == [secret], (form, auth)
        answers.add((response.status_code, response.text, response.headers.get("WWW-Authenticate")))
    (answer,) = answers
    assert answer[0] == 401 and json.loads(answer[1])["error"] == "invalid_client"
    digests.clear()
    assert authserver.client_credentials(audience=API_AUDIENCE).status_code == 200
    assert digests == [M2M_SECRET]


def test_a_basic_header_with_a_tab_is_malformed_not_ignored(authserver):
    credentials = base64.b64encode(b"spa-demo:").decode()
    form = {
        "grant_type": "client_credentials",
        "audience": API_AUDIENCE,
        "client_id": "m2m-demo",
        "client_secret": M2M_SECRET,
    }
    response = authserver.token(form, headers={"Authorization": f"Basic\t{credentials}"})
    assert response.status_code == 401 and response.json()["error"] == "invalid_client"


@pytest.mark.parametrize("path", ["/oauth/token", "/oauth/revoke"])
def test_a_page_of_another_origin_can_neither_call_nor_lock_out_a_client(authserver, path):
    form = {"grant_type": "client_credentials", "client_id": "m2m-demo", "client_secret": "x"}
    for _ in range(12):
        refused = requests.post(
            authserver.url(path), data=form, headers={"Origin": "https://evil.example"}, timeout=10
        )
        assert refused.status_code == 403 and refused.json()["error"] == "access_denied"
    # Nothing was counted against the daemon, which sends no Origin from the same address.
    assert authserver.client_credentials(audience=API_AUDIENCE).status_code == 200
