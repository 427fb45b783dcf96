"""The implicit grant (RFC 6749 §4.2): ``response_type=token``, and OpenID Connect's
``id_token token`` and ``id_token`` (OIDC Core §3.2, nonce required). No refresh tokens.

The order in which authlib calls the hooks, all at the authorization endpoint (``/authorize``,
and the login and consent pages that continue it). ``server.get_consent_grant`` calls
``validate_consent_request`` (:mod:`.base`):

1. ``validate_authorization_request`` (:mod:`.base`, around authlib's):
   ``authenticate_token_endpoint_client`` (the ``client_id`` alone: authlib's ``["none"]``),
   :meth:`~.base.Auth0AuthorizationMixin.validate_authorization_redirect_uri`,
   ``client.check_response_type``, ``validate_requested_scope``, ``client.get_allowed_scope``
   (``request.scope``); for :class:`OpenIDImplicitGrant` then the ``openid`` scope and the
   nonce (:meth:`~authserver.oidc.Auth0IDToken.exists_nonce`); then the response mode and the
   API (``request.resource_server``).
2. ``validate_request_prompt``.

The view then decides on login and consent (``granted_scope``), and
``server.create_authorization_response`` calls ``validate_authorization_request`` again (same
grant, same request) and ``create_authorization_response``: the stored grant (:mod:`.base`),
then ``generate_token`` and ``save_token`` (for ``id_token`` alone there is no access token to
save), and for :class:`OpenIDImplicitGrant` the ID token (with ``at_hash`` beside an access token).
"""

from authlib.oauth2.rfc6749 import grants
from authlib.oidc import core as oidc

from ..oidc import Auth0IDToken
from .base import Auth0AuthorizationMixin


class ImplicitGrant(Auth0AuthorizationMixin, grants.ImplicitGrant):
    RESPONSE_MODE = "fragment"
    # RFC 6749 §4.2.2: "The authorization server MUST NOT issue a refresh token."
    ISSUES_REFRESH_TOKENS = False


class OpenIDImplicitGrant(Auth0AuthorizationMixin, Auth0IDToken, oidc.OpenIDImplicitGrant):
    RESPONSE_MODE = "fragment"
    ISSUES_REFRESH_TOKENS = ImplicitGrant.ISSUES_REFRESH_TOKENS
