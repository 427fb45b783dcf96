"""Discovery: ``/.well-known/openid-configuration`` (OpenID Connect Discovery 1.0, RFC 8414)
and the JWKS, ``/.well-known/jwks.json`` (RFC 7517), as an Auth0 tenant publishes them."""

from flask import Blueprint, jsonify

from . import keys
from .clock import now
from .server import current_server
from .tenant import CLIENT_AUTH_METHODS, OIDC_SCOPES

bp = Blueprint("discovery", __name__)

# Auth0 lets clients cache both documents briefly; the next signing key is published in advance.
CACHE_CONTROL = "public, max-age=15"
CLAIMS_SUPPORTED = [
    "aud",
    "auth_time",
    "email",
    "email_verified",
    "exp",
    "iat",
    "iss",
    "name",
    "nickname",
    "nonce",
    "picture",
    "sid",
    "sub",
    "updated_at",
]


def openid_configuration(issuer: str) -> dict:
    return {
        "issuer": issuer,
        "authorization_endpoint": f"{issuer}authorize",
        "token_endpoint": f"{issuer}oauth/token",
        "userinfo_endpoint": f"{issuer}userinfo",
        "revocation_endpoint": f"{issuer}oauth/revoke",
        # OpenID Connect RP-Initiated Logout 1.0 §2.1: "end_session_endpoint REQUIRED. URL at the
        # OP to which an RP can perform a redirect to request that the End-User be logged out at
        # the OP." Auth0's path.
        "end_session_endpoint": f"{issuer}oidc/logout",
        "jwks_uri": f"{issuer}.well-known/jwks.json",
        "scopes_supported": list(OIDC_SCOPES),
        "response_types_supported": ["code", "token", "id_token", "id_token token"],
        # OAuth 2.0 Authorization Server Metadata (RFC 8414 §2): "response_modes_supported
        # OPTIONAL. JSON array containing a list of the OAuth 2.0 "response_mode" values that this
        # authorization server supports". web_message is Auth0's (auth0-spa-js uses it).
        "response_modes_supported": ["query", "fragment", "web_message"],
        "grant_types_supported": [
            "authorization_code",
            "implicit",
            "refresh_token",
            "client_credentials",
        ],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": [keys.ALGORITHM],
        "token_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "revocation_endpoint_auth_methods_supported": list(CLIENT_AUTH_METHODS),
        "code_challenge_methods_supported": ["S256"],
        "claims_supported": CLAIMS_SUPPORTED,
        "request_uri_parameter_supported": False,
        "authorization_response_iss_parameter_supported": True,
        # OpenID Connect Back-Channel Logout 1.0 §2.1: "backchannel_logout_supported OPTIONAL.
        # Boolean value specifying whether the OP supports back-channel logout, with true
        # indicating support." "backchannel_logout_session_supported OPTIONAL. Boolean value
        # specifying whether the OP can pass a sid (session ID) Claim in the Logout Token to
        # identify the RP session with the OP."
        "backchannel_logout_supported": True,
        "backchannel_logout_session_supported": True,
    }


@bp.get("/.well-known/openid-configuration")
def configuration():
    response = jsonify(openid_configuration(current_server().issuer))
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response


@bp.get("/.well-known/jwks.json")
def jwks():
    response = jsonify(keys.published_jwks(current_server().storage(), now()))
    response.headers["Cache-Control"] = CACHE_CONTROL
    return response
