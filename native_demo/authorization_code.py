"""The messages of the authorization code grant with PKCE, which ``native_app`` sends and reads.

The authorization request of step 1; the checks on the authorization response that the browser
delivered to the loopback listener (step 2); the token requests of step 3 and of a refresh.
Each check on the response is a rule from a specification, quoted above the line enforcing it.
"""

import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlencode

from native_demo.pkce import code_challenge_s256, new_code_verifier
from shared.oidc_client import OIDCClientError, ProviderMetadata, random_url_safe

DEFAULT_SCOPE = ("openid", "profile", "email", "offline_access", "read:messages")
MAX_SHOWN_ERROR_LENGTH = 200


class AuthorizationResponseError(OIDCClientError):
    """The authorization response was an error, or failed a check; nothing was exchanged."""


@dataclass(frozen=True)
class AuthorizationRequest:
    """One login attempt: what is sent to the authorization endpoint and what must come back."""

    client_id: str
    redirect_uri: str
    scope: str
    audience: str
    resource_indicator: bool
    state: str
    nonce: str
    code_verifier: str

    @classmethod
    def new(
        cls,
        *,
        client_id: str,
        redirect_uri: str,
        scope: str,
        audience: str,
        resource_indicator: bool,
    ) -> "AuthorizationRequest":
        return cls(
            client_id=client_id,
            redirect_uri=redirect_uri,
            scope=scope,
            audience=audience,
            resource_indicator=resource_indicator,
            state=random_url_safe(),
            nonce=random_url_safe(),
            code_verifier=new_code_verifier(),
        )

    def parameters(self) -> dict[str, str]:
        """The query of the authorization request (RFC 6749 §4.1.1, RFC 7636 §4.3)."""
        parameters = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": self.redirect_uri,
            "scope": self.scope,
            # Auth0 picks the API the access token is for by "audience".
            "audience": self.audience,
            "state": self.state,
            "nonce": self.nonce,
            "code_challenge": code_challenge_s256(self.code_verifier),
            "code_challenge_method": "S256",
        }
        if self.resource_indicator:
            parameters["resource"] = self.audience
        return parameters

    def url(self, authorization_endpoint: str) -> str:
        separator = "&" if "?" in authorization_endpoint else "?"
        return authorization_endpoint + separator + urlencode(self.parameters())

    def code_exchange_form(self, code: str) -> dict[str, str]:
        """Step 3: the token request (RFC 6749 §4.1.3, RFC 7636 §4.5)."""
        return {
            "grant_type": "authorization_code",
            "code": code,
            "code_verifier": self.code_verifier,
            "redirect_uri": self.redirect_uri,
            "client_id": self.client_id,
        }


def refresh_form(client_id: str, refresh_token: str) -> dict[str, str]:
    """The refresh request of a public client (RFC 6749 §6)."""
    return {"grant_type": "refresh_token", "refresh_token": refresh_token, "client_id": client_id}


def authorization_code_from(
    response: Mapping[str, str], request: AuthorizationRequest, metadata: ProviderMetadata
) -> str:
    """Check the authorization response (step 2) and return the code, or raise why it is refused."""
    issuer = response.get("iss")
    # RFC 9207 §2.4: "Clients that support this specification MUST extract the value of the iss
    # parameter from authorization responses they receive if the parameter is present. Clients
    # MUST then decode the value [...] and compare the result to the issuer identifier of the
    # authorization server where the authorization request was sent to. [...] If the value does
    # not match the expected issuer identifier, clients MUST reject the authorization response"
    if issuer is not None and issuer != metadata.issuer:
        raise AuthorizationResponseError(
            f"login refused: the response names issuer {_shown(issuer)}, not {metadata.issuer} "
            "(RFC 9207 mix-up protection)"
        )
    # RFC 9207 §2.4: "If clients interact with both authorization servers supporting this
    # specification and authorization servers not supporting this specification, clients MUST
    # retain state about whether each authorization server supports the iss parameter. Clients
    # MUST reject authorization responses without the iss parameter from authorization servers
    # that do support the parameter"
    if issuer is None and metadata.authorization_response_iss_parameter_supported:
        raise AuthorizationResponseError(
            "login refused: the response has no iss although the server promises one (RFC 9207)"
        )
    # RFC 6749 §10.12: the client "MUST implement CSRF protection for its redirection URI", by
    # binding the response to the user agent's authenticated state with "state".
    if not hmac.compare_digest(response.get("state", "").encode(), request.state.encode()):
        raise AuthorizationResponseError(
            "login refused: the state in the response does not match this login (possible CSRF)"
        )
    if "error" in response:
        error = _shown(response["error"])
        description = _shown(response.get("error_description", ""))
        if response["error"] == "access_denied":
            raise AuthorizationResponseError(
                "login denied: the user or the authorization server refused access "
                f"(access_denied: {description})"
            )
        raise AuthorizationResponseError(
            f"login failed: the authorization server answered {error}: {description}"
        )
    code = response.get("code")
    if not code:
        raise AuthorizationResponseError(
            "login failed: the response carries neither a code nor an error"
        )
    return code


def _shown(text: str) -> str:
    """A value from the redirect, made safe for one terminal line: printable and short."""
    printable = "".join(character for character in text if character.isprintable())
    return printable[:MAX_SHOWN_ERROR_LENGTH]
