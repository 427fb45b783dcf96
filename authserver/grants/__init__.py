"""The grants, as authlib's grant classes with Auth0's behaviour added, one module per grant.

* :mod:`.authorization_code`: :class:`AuthorizationCodeGrant` with :class:`S256CodeChallenge`
  (PKCE, S256 only, required for public clients) and :class:`~authserver.oidc.OpenIDCode`
  (ID tokens);
* :mod:`.implicit`: :class:`ImplicitGrant` (``response_type=token``) and
  :class:`OpenIDImplicitGrant` (``id_token token`` and ``id_token``, nonce required), no refresh
  tokens;
* :mod:`.client_credentials`: :class:`ClientCredentialsGrant`, limited to the application's client
  grant for the API;
* :mod:`.refresh_token`: :class:`RefreshTokenGrant` with rotation on every use and replay
  detection.

:mod:`.base` holds what they share: the API a token is for, the scope a user's token gets, and
the single-use rule of codes and refresh tokens. Each module's docstring gives the order in which
authlib calls its hooks.
"""

from .authorization_code import AuthorizationCodeGrant, S256CodeChallenge
from .client_credentials import ClientCredentialsGrant
from .implicit import ImplicitGrant, OpenIDImplicitGrant
from .refresh_token import RefreshTokenGrant

__all__ = [
    "AuthorizationCodeGrant",
    "ClientCredentialsGrant",
    "ImplicitGrant",
    "OpenIDImplicitGrant",
    "RefreshTokenGrant",
    "S256CodeChallenge",
]
