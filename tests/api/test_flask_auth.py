"""``shared.flask_auth`` on an app of its own: it refuses to be set up in ways that would weaken or
break its checks, and its 403 challenge names every required scope."""

import pytest
from flask import Flask, g

from shared import flask_auth
from shared.token_validation import RefusalCode, TokenValidationError, TokenValidator


def test_scopes_given_as_one_string_are_refused():
    """``scopes="read:messages"`` would otherwise be read as thirteen one-letter scopes."""
    with pytest.raises(TypeError):
        flask_auth.require_auth(scopes="read:messages")
    with pytest.raises(TypeError):
        flask_auth.require_auth(permissions="read:stats")


def test_a_view_cannot_be_user_only_and_machine_only():
    with pytest.raises(ValueError, match="both user_only and machine_only"):
        flask_auth.require_auth(user_only=True, machine_only=True)


@pytest.mark.parametrize("realm", ["", 'api"x', "api\\x", "api\nx"])
def test_a_realm_that_would_break_the_challenge_header_is_refused(issuer, audience, realm):
    with pytest.raises(ValueError, match="realm must be a non-empty string"):
        flask_auth.init_app(Flask(__name__), TokenValidator(issuer, audience), realm=realm)


def test_each_protected_view_carries_its_requirements():
    @flask_auth.require_auth(scopes=["import:data"], machine_only=True)
    def view():
        return {}

    assert view.auth_requirements == flask_auth.AuthRequirements(
        scopes=("import:data",), machine_only=True
    )
    assert view.__name__ == "view"


@pytest.fixture
def two_scope_client(issuer, audience, jwks_server):
    """A Flask app of its own: one view needing two scopes and a permission."""
    app = Flask(__name__)
    flask_auth.init_app(
        app, TokenValidator(issuer, audience, jwks_url=jwks_server.jwks_url), realm="flowlab"
    )

    @app.get("/report")
    @flask_auth.require_auth(scopes=["read:messages", "read:imports"], permissions=["read:stats"])
    def report():
        return {"sub": g.claims.subject}

    return app.test_client()


@pytest.mark.parametrize(
    ("scope", "permissions", "challenge_scope"),
    [
        pytest.param(
            "openid read:messages",
            ["read:stats"],
            "read:messages read:imports",
            id="one-scope-missing",
        ),
        pytest.param("openid", [], "read:messages read:imports", id="all-missing"),
        pytest.param("read:messages read:imports", [], "read:stats", id="permission-missing"),
    ],
)
def test_insufficient_scope_names_every_required_scope(
    two_scope_client, tokens, scope, permissions, challenge_scope
):
    """RFC 6750 3: the "scope" attribute is "a space-delimited list of case-sensitive scope values"."""
    token = tokens.factory({"scope": scope, "permissions": permissions})

    response = two_scope_client.get("/report", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 403
    assert response.headers["WWW-Authenticate"] == (
        'Bearer realm="flowlab", error="insufficient_scope", '
        f'error_description="The access token does not grant the required scope.", scope="{challenge_scope}"'
    )
    assert response.get_json() == {
        "error": "insufficient_scope",
        "error_description": "The access token does not grant the required scope.",
    }


def test_a_token_with_every_scope_and_permission_passes(two_scope_client, tokens):
    token = tokens.factory({"scope": "read:messages read:imports", "permissions": ["read:stats"]})

    response = two_scope_client.get("/report", headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == 200
    assert "WWW-Authenticate" not in response.headers


@pytest.fixture
def refusal_log(issuer, audience, jwks_server):
    """A Flask app of its own that keeps every request's ``g.auth_refusal``, as a request log
    would write it; returns (test client, the refusals kept)."""
    app = Flask(__name__)
    flask_auth.init_app(
        app, TokenValidator(issuer, audience, jwks_url=jwks_server.jwks_url), realm="flowlab"
    )
    refusals = []

    @app.get("/me")
    @flask_auth.require_auth(user_only=True)
    def me():
        return {}

    @app.get("/imports")
    @flask_auth.require_auth(machine_only=True)
    def imports():
        return {}

    @app.after_request
    def keep_refusal(response):
        refusals.append(g.get("auth_refusal"))
        return response

    return app.test_client(), refusals


@pytest.mark.parametrize(
    "line_break", ["\r\n", "\u2028", "\x85"], ids=["crlf", "line-separator", "next-line"]
)
@pytest.mark.parametrize(
    ("path", "make_token", "status"),
    [
        pytest.param(
            "/me",
            lambda tokens, text: tokens.factory({"azp": text}, machine=True),
            403,
            id="machine-client-id",
        ),
        pytest.param(
            "/imports", lambda tokens, text: tokens.factory({"sub": text}), 403, id="user-sub"
        ),
        pytest.param(
            "/me", lambda tokens, text: tokens.factory(header={"kid": text}), 401, id="kid"
        ),
    ],
)
def test_the_refusal_left_for_the_request_log_is_one_line(
    refusal_log, tokens, path, make_token, status, line_break
):
    """CWE-117: ``g.auth_refusal`` quotes values of the token; a line break in one of them must
    not start a forged line in the application's request log."""
    client, refusals = refusal_log
    token = make_token(tokens, f"auth0|x{line_break}INFO forged: admin logged in")

    response = client.get(path, headers={"Authorization": f"Bearer {token}"})

    assert response.status_code == status
    assert "forged" in refusals[-1]
    assert refusals[-1].isprintable(), repr(refusals[-1])


@pytest.fixture
def refused_with(issuer, audience, jwks_server):
    """A Flask app of its own whose error handler also keeps each refusal; returns (test client,
    the refusals kept)."""
    app = Flask(__name__)
    flask_auth.init_app(
        app, TokenValidator(issuer, audience, jwks_url=jwks_server.jwks_url), realm="flowlab"
    )
    refusals = []

    def keep_refusal(error):
        refusals.append(error)
        return flask_auth.bearer_error_response(error)

    app.register_error_handler(TokenValidationError, keep_refusal)

    @app.get("/me")
    @flask_auth.require_auth(scopes=["read:messages"], user_only=True)
    def me():
        return {}

    @app.get("/imports")
    @flask_auth.require_auth(machine_only=True)
    def imports():
        return {}

    return app.test_client(), refusals


@pytest.mark.parametrize(
    ("path", "make_request", "status", "code"),
    [
        pytest.param(
            "/me", lambda tokens: {}, 401, RefusalCode.CREDENTIALS_MISSING, id="no-credentials"
        ),
        pytest.param(
            "/me",
            lambda tokens: {"headers": {"Authorization": "Basic Zm9vOmJhcg=="}},
            401,
            RefusalCode.CREDENTIALS_MISSING,
            id="another-scheme",
        ),
        pytest.param(
            "/me",
            lambda tokens: {"query_string": {"access_token": tokens.user(("read:messages",))}},
            400,
            RefusalCode.REQUEST_MALFORMED,
            id="token-in-the-query",
        ),
        pytest.param(
            "/me",
            lambda tokens: {"headers": {"Authorization": "Bearer a b"}},
            400,
            RefusalCode.REQUEST_MALFORMED,
            id="two-words",
        ),
        pytest.param(
            "/me",
            lambda tokens: {"headers": {"Authorization": "Bearer <script>"}},
            401,
            RefusalCode.MALFORMED,
            id="no-b64token",
        ),
        pytest.param(
            "/me",
            lambda tokens: {
                "headers": {"Authorization": f"Bearer {tokens.user(('read:messages',), exp=1)}"}
            },
            401,
            RefusalCode.EXP,
            id="expired",
        ),
        pytest.param(
            "/me",
            lambda tokens: {
                "headers": {"Authorization": f"Bearer {tokens.machine(('read:messages',))}"}
            },
            403,
            RefusalCode.SUBJECT_KIND,
            id="machine-token-for-users",
        ),
        pytest.param(
            "/imports",
            lambda tokens: {"headers": {"Authorization": f"Bearer {tokens.user()}"}},
            403,
            RefusalCode.SUBJECT_KIND,
            id="user-token-for-machines",
        ),
        pytest.param(
            "/me",
            lambda tokens: {"headers": {"Authorization": f"Bearer {tokens.user()}"}},
            403,
            RefusalCode.INSUFFICIENT_SCOPE,
            id="scope-missing",
        ),
    ],
)
def test_each_refusal_carries_the_code_of_its_check(
    refused_with, tokens, path, make_request, status, code
):
    """The application's error handler can branch on ``error.code``; the client sees none of it."""
    client, refusals = refused_with

    response = client.get(path, **make_request(tokens))

    assert response.status_code == status
    assert [refusal.code for refusal in refusals] == [code]
    assert response.get_json() == {
        "error": refusals[0].error,
        "error_description": refusals[0].description,
    }
