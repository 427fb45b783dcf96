"""Bad input at the web app's own endpoints: a clear 4xx (or 503), nothing changed."""

import pytest
import requests

from tests.support.processes import free_port
from tests.webapp.conftest import USERS
from webapp_demo import create_app


def test_a_callback_with_an_unknown_state_is_400_and_signs_nobody_in(visitor):
    visitor.get("/login")
    answer = visitor.get("/callback?code=made-up&state=made-up")
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"
    assert visitor.session()["signedIn"] is False


def test_a_replayed_callback_is_refused(visitor):
    callback = visitor.follow(
        visitor.get("/login"), USERS["alice"], stop_at=f"{visitor.webapp.url}/callback"
    )
    assert visitor.http.get(callback, allow_redirects=False, timeout=10).status_code == 302
    assert visitor.session()["signedIn"] is True
    replayed = visitor.http.get(callback, allow_redirects=False, timeout=10)
    assert replayed.status_code == 400  # authlib's state is single use
    assert visitor.session()["signedIn"] is True


def test_an_error_from_the_authorization_server_is_narrated_without_its_text(visitor):
    visitor.get("/login")
    answer = visitor.get("/callback?error=<script>alert(1)</script>&state=x")
    assert answer.status_code == 302
    (event,) = [e for e in visitor.session()["events"] if e["name"] == "callback"]
    assert "invalid_response" in event["detail"] and "<script>" not in event["detail"]
    visitor.get("/callback?error=access_denied&state=x")
    assert "access_denied" in visitor.session()["events"][-1]["detail"]


@pytest.mark.parametrize("path", ["../healthz", "messages/..", "a//b", "./messages"])
def test_a_bff_path_with_dot_segments_is_refused(visitor, path):
    visitor.login("alice")
    request = visitor.http.prepare_request(
        requests.Request("GET", f"{visitor.webapp.url}/bff/api/x", headers={"X-Flowlab-CSRF": "1"})
    )
    request.url = f"{visitor.webapp.url}/bff/api/{path}"  # as written: no client-side cleanup
    answer = visitor.http.send(request, timeout=10)
    assert answer.status_code == 404, answer.text


def test_login_without_a_reachable_authorization_server_is_503(tmp_path):
    app = create_app(
        {
            "AUTH_ISSUER": f"http://127.0.0.1:{free_port()}/",
            "WEBAPP_DB": str(tmp_path / "webapp.sqlite3"),
        }
    )
    answer = app.test_client().get("/login")
    assert answer.status_code == 503
    assert answer.json["error"] == "service_unavailable"
