"""The client credentials grant (RFC 6749 §4.4), limited as Auth0 limits it: to the APIs and
scopes of the application's client grants.

The order in which authlib calls the hooks, at the token endpoint
(``grant_type=client_credentials``):

1. ``validate_token_request``: ``authenticate_token_endpoint_client``
   (``TOKEN_ENDPOINT_AUTH_METHODS``: a secret), ``client.check_grant_type``,
   ``validate_requested_scope``; then the API (``audience`` or ``resource``, required), the
   client grant for it and the scopes it allows (``request.scope``).
2. :meth:`ClientCredentialsGrant.create_token_response` (replacing authlib's): ``generate_token``
   and ``save_token``, which stores nothing for a machine's token (it belongs to no user's grant).
"""

from authlib.oauth2.rfc6749 import AccessDeniedError, grants, list_to_scope, scope_to_list

from ..tenant import CONFIDENTIAL_CLIENT_AUTH_METHODS
from .base import Auth0GrantMixin


class ClientCredentialsGrant(Auth0GrantMixin, grants.ClientCredentialsGrant):
    TOKEN_ENDPOINT_AUTH_METHODS = CONFIDENTIAL_CLIENT_AUTH_METHODS

    def validate_token_request(self) -> None:
        super().validate_token_request()
        client = self.request.client
        api = self.requested_api()
        if api is None:
            raise AccessDeniedError("No audience parameter was provided.", status_code=403)
        # Auth0: an application gets client credentials tokens for an API only through a
        # "client grant" that authorizes it, and only the scopes that grant lists.
        client_grant = self.server.tenant.find_client_grant(client.client_id, api.identifier)
        if client_grant is None:
            raise AccessDeniedError(
                "Client is not authorized to access this API. "
                "You need to create a client-grant associated to this API.",
                status_code=403,
            )
        requested = scope_to_list(self.request.payload.scope) or list(client_grant.scope)
        if not set(requested) <= set(client_grant.scope):
            raise AccessDeniedError(
                "Client has not been granted all the requested scopes.", status_code=403
            )
        self.request.scope = list_to_scope(requested)
        self.request.resource_server = api

    def create_token_response(self):
        # authlib issues the raw requested scope; Auth0 issues the scope the client grant allows.
        token = self.generate_token(scope=self.request.scope, include_refresh_token=False)
        self.save_token(token)
        return 200, token, self.TOKEN_RESPONSE_HEADER
