"""What the examples' views do not use, through the copied adapters all the same: a user-only
view (``user_only=True``, as the Flowlab API's profile) and a form body on another method than
POST (Django parses the form of a POST only). Each example is copied with one more module of
views, ``more.py``, as a service of a learner adds its own."""

import textwrap

import pytest
import requests

from tests.authserver.helpers import ALICE_SUB, API_AUDIENCE
from tests.examples.conftest import FRAMEWORKS, VALIDATOR, copy_package

REALM_CHALLENGE = f'Bearer realm="{API_AUDIENCE}"'
MORE_VIEWS = {
    "flask": """
        from flask import g

        from . import flask_auth
        from .app import app


        @app.get("/api/profile")
        @flask_auth.require_auth(user_only=True)
        def profile():
            return {"subject": g.claims.subject}


        @app.put("/api/notes")
        @flask_auth.require_auth(scopes=["read:messages"])
        def put_note():
            return {"saved": True}
        """,
    "fastapi": """
        from typing import Annotated

        from fastapi import Depends

        from .app import app, auth
        from .token_validation import Claims


        @app.get("/api/profile")
        def profile(claims: Annotated[Claims, Depends(auth.require(user_only=True))]):
            return {"subject": claims.subject}


        @app.put("/api/notes")
        def put_note(claims: Annotated[Claims, Depends(auth.require(scopes=["read:messages"]))]):
            return {"saved": True}
        """,
    "django": """
        from django.http import JsonResponse

        from .views import auth


        @auth.require(user_only=True)
        def profile(request):
            return JsonResponse({"subject": request.claims.subject})


        @auth.require(scopes=["read:messages"])
        def put_note(request):
            return JsonResponse({"saved": True})
        """,
}
DJANGO_MORE_URLS = """
from . import more

urlpatterns += [path("api/profile", more.profile), path("api/notes", more.put_note)]
"""


@pytest.fixture(scope="module", params=sorted(FRAMEWORKS))
def service(request, authserver, serve_copy, tmp_path_factory):
    """The example of one framework with ``more.py``, copied and served, trusting ``authserver``."""
    files, command = FRAMEWORKS[request.param]
    directory = tmp_path_factory.mktemp(f"{request.param}-more")
    package = copy_package(directory, VALIDATOR, *files)
    (package / "more.py").write_text(textwrap.dedent(MORE_VIEWS[request.param]))
    if request.param == "django":
        with open(package / "urls.py", "a") as urls:
            urls.write(DJANGO_MORE_URLS)
    else:
        command = [part.replace("yourservice.app:app", "yourservice.more:app") for part in command]
    served = serve_copy(
        f"{request.param}-more",
        directory,
        command,
        AUTH_ISSUER=authserver.issuer,
        AUTH_AUDIENCE=API_AUDIENCE,
    )
    yield served
    served.stop()


def call(service, method, path, token, **kwargs):
    return requests.request(
        method,
        service.base_url + path,
        headers={"Authorization": f"Bearer {token}"},
        timeout=30,
        **kwargs,
    )


def test_a_user_only_view_serves_a_user_token(service, user_token):
    response = call(service, "GET", "/api/profile", user_token)

    assert response.status_code == 200, response.text
    assert response.json() == {"subject": ALICE_SUB}


def test_a_user_only_view_refuses_a_machine_token(service, machine_token):
    response = call(service, "GET", "/api/profile", machine_token())

    assert response.status_code == 403, response.text
    assert response.json()["error"] == "insufficient_scope"
    assert response.headers["WWW-Authenticate"] == (
        f'{REALM_CHALLENGE}, error="insufficient_scope", '
        'error_description="This endpoint accepts user access tokens only."'
    )


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda token: {"data": {"access_token": token}}, id="urlencoded"),
        pytest.param(lambda token: {"files": {"access_token": (None, token)}}, id="multipart"),
    ],
)
def test_a_token_in_the_form_body_of_a_put_is_a_malformed_request(service, machine_token, form):
    token = machine_token()

    response = call(service, "PUT", "/api/notes", token, **form(token))

    assert response.status_code == 400, response.text
    assert response.json()["error"] == "invalid_request"
    assert 'error="invalid_request"' in response.headers["WWW-Authenticate"]


def test_a_form_body_of_a_put_without_a_token_is_served(service, machine_token):
    response = call(service, "PUT", "/api/notes", machine_token(), data={"text": "hi"})

    assert response.status_code == 200, response.text
