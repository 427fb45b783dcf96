"""``shared.flask_auth`` refuses to be set up in ways that would weaken or break its checks."""

import pytest
from flask import Flask

from shared import flask_auth
from shared.token_validation import TokenValidator


def test_scopes_given_as_one_string_are_refused():
    """``scopes="read:messages"`` would otherwise be read as thirteen one-letter scopes."""
    with pytest.raises(TypeError):
        flask_auth.require_auth(scopes="read:messages")
    with pytest.raises(TypeError):
        flask_auth.require_auth(permissions="read:stats")


def test_a_view_cannot_be_user_only_and_machine_only():
    with pytest.raises(ValueError):
        flask_auth.require_auth(user_only=True, machine_only=True)


@pytest.mark.parametrize("realm", ["", 'api"x', "api\\x", "api\nx"])
def test_a_realm_that_would_break_the_challenge_header_is_refused(issuer, audience, realm):
    with pytest.raises(ValueError):
        flask_auth.init_app(Flask(__name__), TokenValidator(issuer, audience), realm=realm)


def test_each_protected_view_carries_its_requirements():
    @flask_auth.require_auth(scopes=["import:data"], machine_only=True)
    def view():
        return {}

    assert view.auth_requirements == flask_auth.AuthRequirements(scopes=("import:data",), machine_only=True)
    assert view.__name__ == "view"
