"""The bearer-request part of the validator (RFC 6750) that every framework adapter calls:
``bearer_token`` (the Authorization header to its token, or the refusal), ``check_realm`` and
``authorize`` with ``AuthRequirements``. The adapters' own tests (tests/api, tests/examples) check
the same rules through each framework; these check them without one."""

from __future__ import annotations

import pytest

from shared.token_validation import (
    AuthRequirements,
    Claims,
    InsufficientScope,
    InvalidRequest,
    InvalidToken,
    MissingCredentials,
    RefusalCode,
    WrongTokenKind,
    authorize,
    bearer_token,
    check_realm,
)

TOKEN = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"
USER = Claims({"sub": "auth0|alice", "azp": "spa-demo", "scope": "openid read:messages"})
MACHINE = Claims({"sub": "m2m-demo@clients", "gty": "client-credentials", "azp": "m2m-demo"})


@pytest.mark.parametrize(
    "authorization",
    [
        pytest.param(f"Bearer {TOKEN}", id="bearer"),
        pytest.param(f"bearer {TOKEN}", id="scheme-lower-case"),
        pytest.param(f"BEARER {TOKEN}", id="scheme-upper-case"),
        pytest.param(f"Bearer   {TOKEN}", id="several-spaces"),
    ],
)
def test_the_token_is_the_one_word_after_the_scheme(authorization: str) -> None:
    """RFC 6750 2.1: credentials = "Bearer" 1*SP b64token; RFC 9110 11.1: the scheme is
    case-insensitive."""
    assert bearer_token(authorization) == TOKEN


@pytest.mark.parametrize("token", ["abc", "a-b.c_d~e+f/g", "abc==", "A1=", "~"])
def test_every_b64token_is_a_token(token: str) -> None:
    assert bearer_token(f"Bearer {token}") == token


@pytest.mark.parametrize(
    ("authorization", "refusal", "code"),
    [
        pytest.param(None, MissingCredentials, RefusalCode.CREDENTIALS_MISSING, id="no-header"),
        pytest.param("", MissingCredentials, RefusalCode.CREDENTIALS_MISSING, id="empty"),
        pytest.param(
            "Basic Zm9vOmJhcg==",
            MissingCredentials,
            RefusalCode.CREDENTIALS_MISSING,
            id="another-scheme",
        ),
        pytest.param(
            f"Bearerx {TOKEN}",
            MissingCredentials,
            RefusalCode.CREDENTIALS_MISSING,
            id="scheme-prefix",
        ),
        pytest.param("Bearer", InvalidRequest, RefusalCode.REQUEST_MALFORMED, id="no-word"),
        pytest.param("Bearer ", InvalidRequest, RefusalCode.REQUEST_MALFORMED, id="empty-word"),
        pytest.param(
            f"Bearer {TOKEN} extra", InvalidRequest, RefusalCode.REQUEST_MALFORMED, id="two-words"
        ),
        pytest.param(
            f"Bearer {TOKEN}, Bearer {TOKEN}",
            InvalidRequest,
            RefusalCode.REQUEST_MALFORMED,
            id="two-headers-joined",
        ),
        pytest.param(f"Bearer\t{TOKEN}", InvalidRequest, RefusalCode.REQUEST_MALFORMED, id="tab"),
        pytest.param(
            f"Bearer {TOKEN} ", InvalidRequest, RefusalCode.REQUEST_MALFORMED, id="trailing-space"
        ),
        pytest.param("Bearer <script>", InvalidToken, RefusalCode.MALFORMED, id="no-b64token"),
        pytest.param("Bearer abc=def", InvalidToken, RefusalCode.MALFORMED, id="inner-padding"),
        pytest.param("Bearer =", InvalidToken, RefusalCode.MALFORMED, id="padding-only"),
        pytest.param("Bearer tökén", InvalidToken, RefusalCode.MALFORMED, id="non-ascii"),
    ],
)
def test_each_faulty_header_gets_its_refusal(
    authorization: str | None, refusal: type, code: RefusalCode
) -> None:
    """RFC 6750 3.1: no credentials get no error code, a malformed request invalid_request (400),
    a word that is no b64token invalid_token (401)."""
    with pytest.raises(refusal) as raised:
        bearer_token(authorization)
    assert raised.value.code is code


def test_a_malformed_token_is_not_quoted_in_the_reason() -> None:
    with pytest.raises(InvalidToken) as raised:
        bearer_token("Bearer <secret-ish>")
    assert "secret" not in raised.value.reason
    assert raised.value.reason == "Bearer token of 12 characters is not a b64token"


def test_missing_credentials_get_a_bare_challenge() -> None:
    """RFC 6750 3.1: "the resource server SHOULD NOT include an error code or other error
    information"."""
    with pytest.raises(MissingCredentials) as raised:
        bearer_token(None)
    assert raised.value.www_authenticate("flowlab") == 'Bearer realm="flowlab"'
    assert raised.value.status_code == 401


@pytest.mark.parametrize("realm", ["flowlab", "https://api.flowlab.test", "a realm with spaces"])
def test_a_realm_fit_for_the_challenge_is_kept(realm: str) -> None:
    assert check_realm(realm) == realm


@pytest.mark.parametrize("realm", ["", 'api"x', "api\\x", "api\nx", "api\x00x", "api\x7fx"])
def test_a_realm_that_would_break_the_challenge_header_is_refused(realm: str) -> None:
    with pytest.raises(ValueError, match="realm must be a non-empty string"):
        check_realm(realm)


def test_requirements_are_built_from_lists_of_names() -> None:
    assert AuthRequirements.of(["read:messages"], iter(["read:stats"]), user_only=True) == (
        AuthRequirements(("read:messages",), ("read:stats",), user_only=True)
    )
    assert AuthRequirements.of() == AuthRequirements()


def test_requirements_given_as_one_string_are_refused() -> None:
    """``scopes="read:messages"`` would otherwise be read as thirteen one-letter scopes."""
    with pytest.raises(TypeError):
        AuthRequirements.of(scopes="read:messages")
    with pytest.raises(TypeError):
        AuthRequirements.of(permissions="read:stats")


def test_requirements_cannot_be_user_only_and_machine_only() -> None:
    with pytest.raises(ValueError, match="both user_only and machine_only"):
        AuthRequirements.of(user_only=True, machine_only=True)


@pytest.mark.parametrize(
    ("claims", "requirements"),
    [
        pytest.param(USER, AuthRequirements(), id="nothing-required"),
        pytest.param(USER, AuthRequirements(("read:messages",), user_only=True), id="user"),
        pytest.param(MACHINE, AuthRequirements(machine_only=True), id="machine"),
        pytest.param(
            Claims({"sub": "auth0|bob", "scope": "a b", "permissions": ["p", "q"]}),
            AuthRequirements(("b", "a"), ("q",)),
            id="scopes-and-permissions",
        ),
    ],
)
def test_claims_that_meet_the_requirements_are_returned(
    claims: Claims, requirements: AuthRequirements
) -> None:
    assert authorize(claims, requirements) is claims


def test_a_machine_token_is_refused_where_only_users_are_accepted() -> None:
    with pytest.raises(WrongTokenKind) as raised:
        authorize(MACHINE, AuthRequirements(user_only=True))
    error = raised.value
    assert (error.code, error.status_code, error.error) == (
        RefusalCode.SUBJECT_KIND,
        403,
        "insufficient_scope",
    )
    assert error.description == "This endpoint accepts user access tokens only."
    assert "'m2m-demo'" in error.reason
    assert "scope=" not in error.www_authenticate("flowlab")


def test_a_user_token_is_refused_where_only_machines_are_accepted() -> None:
    with pytest.raises(WrongTokenKind) as raised:
        authorize(USER, AuthRequirements(machine_only=True))
    assert raised.value.description == "This endpoint accepts machine access tokens only."
    assert "'auth0|alice'" in raised.value.reason


def test_the_kind_is_checked_before_the_scopes() -> None:
    with pytest.raises(WrongTokenKind):
        authorize(MACHINE, AuthRequirements(("read:messages",), user_only=True))


@pytest.mark.parametrize(
    ("requirements", "named", "reason"),
    [
        pytest.param(
            AuthRequirements(("read:messages", "write:messages")),
            ("read:messages", "write:messages"),
            "token lacks required scopes ['read:messages', 'write:messages']",
            id="scope",
        ),
        pytest.param(
            AuthRequirements(("read:messages",), ("read:stats",)),
            ("read:stats",),
            "token lacks required permissions ['read:stats']",
            id="permission",
        ),
    ],
)
def test_a_missing_scope_or_permission_is_insufficient_scope(
    requirements: AuthRequirements, named: tuple[str, ...], reason: str
) -> None:
    """RFC 6750 3.1 insufficient_scope; the 403 challenge's "scope" names what is required."""
    with pytest.raises(InsufficientScope) as raised:
        authorize(USER, requirements)
    assert raised.value.required == named
    assert raised.value.reason == reason
    assert raised.value.www_authenticate("flowlab").endswith(f'scope="{" ".join(named)}"')
