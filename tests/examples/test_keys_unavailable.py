"""No signing key to be had (the issuer's JWKS answers 500): every example answers 503
``temporarily_unavailable`` with ``Retry-After`` and no challenge (the client's token is not at
fault), and logs why."""

import pytest
import requests

from tests.authserver.helpers import API_AUDIENCE
from tests.examples.conftest import FRAMEWORKS, VALIDATOR, copy_package


@pytest.mark.parametrize("framework", sorted(FRAMEWORKS))
def test_no_signing_key_is_a_503_with_retry_after(
    framework, tmp_path, serve_copy, jwks_server, token_factory
):
    files, command = FRAMEWORKS[framework]
    copy_package(tmp_path, VALIDATOR, *files)
    service = serve_copy(
        f"{framework}-no-keys",
        tmp_path,
        command,
        AUTH_ISSUER=jwks_server.issuer,
        AUTH_AUDIENCE=API_AUDIENCE,
        AUTH_JWKS_URL=jwks_server.jwks_url,
    )
    jwks_server.misbehave("500")

    response = requests.get(
        service.base_url + "/api/messages",
        headers={"Authorization": f"Bearer {token_factory({'scope': 'read:messages'})}"},
        timeout=30,
    )

    assert response.status_code == 503, response.text
    assert response.json()["error"] == "temporarily_unavailable"
    assert int(response.headers["Retry-After"]) > 0
    assert "WWW-Authenticate" not in response.headers
    service.wait_for_log(
        lambda log: "access token not verifiable (jwks_unavailable)" in log,
        timeout=30,
        what="why no key could be had",
    )
