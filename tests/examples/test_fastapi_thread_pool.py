"""The FastAPI example validates in the thread pool: while one request waits for the issuer's
JWKS (a download the test holds open), the same uvicorn worker goes on serving other requests,
and the waiting request is served once the keys arrive."""

import threading
import time

import requests

from tests.authserver.helpers import API_AUDIENCE
from tests.examples.conftest import FRAMEWORKS, VALIDATOR, copy_package


def wait_until(condition, timeout=30.0, what="the condition"):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"no {what} within {timeout:g}s"
        time.sleep(0.02)


def test_a_request_waiting_for_the_jwks_blocks_no_other_request(
    tmp_path, serve_copy, jwks_server, token_factory
):
    files, command = FRAMEWORKS["fastapi"]
    copy_package(tmp_path, VALIDATOR, *files)
    service = serve_copy(
        "fastapi-held-jwks",
        tmp_path,
        command,
        AUTH_ISSUER=jwks_server.issuer,
        AUTH_AUDIENCE=API_AUDIENCE,
        AUTH_JWKS_URL=jwks_server.jwks_url,
    )
    token = token_factory({"scope": "read:messages"}, machine=True)
    jwks_server.hold()
    answers = {}

    def protected_request():
        answers["protected"] = requests.get(
            service.base_url + "/api/messages",
            headers={"Authorization": f"Bearer {token}"},
            timeout=30,
        )

    waiting = threading.Thread(target=protected_request)
    waiting.start()
    wait_until(lambda: jwks_server.count() == 1, what="JWKS download")

    # Validated on the event loop, this request would wait until the held download gave up
    # (http_timeout), and the protected one would then be refused with 503.
    public = requests.get(service.base_url + "/api/public", timeout=30)
    jwks_server.answer_held()
    waiting.join(timeout=30)

    assert public.status_code == 200
    assert answers["protected"].status_code == 200, answers["protected"].text
    assert answers["protected"].json()["subject"] == "m2m-demo@clients"
