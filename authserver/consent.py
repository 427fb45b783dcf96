"""The consent page, ``/u/consent``: a third-party application asks the user for scopes.

Consent is asked for third-party applications (and whenever ``prompt=consent``), lists exactly
what the application's token would carry (its scopes, and with RBAC the same permissions), and
is remembered per user, application and API: a later request for the same or fewer scopes goes
through without asking. A third-party application without a stored consent of the user for that
API is always asked, whatever it asks for (no scope, unknown scopes, ``openid`` alone). "Deny"
answers ``access_denied`` to the application; both answers are sent with 303 (See Other) after
the POST.
"""

from authlib.oauth2 import OAuth2Error
from authlib.oauth2.rfc6749 import scope_to_list
from flask import Blueprint, redirect, render_template, request

from . import sessions
from .clock import now
from .flow import authorization_error, authorization_request_url
from .server import current_server
from .tenant import OIDC_SCOPES
from .tokens import token_permissions
from .web import error_page

bp = Blueprint("consent", __name__)


def consent_required(grant, user) -> bool:
    """Whether the user must be asked before ``grant``'s application gets what it asks for."""
    client = grant.request.client
    if grant.prompt == "consent":
        return True
    if client.is_first_party:
        return False
    api = grant.request.resource_server
    consented = (
        current_server().storage().consented_scopes(user.id, client.client_id, api.identifier)
    )
    # OIDC Core §3.1.2.4: "Once the End-User is authenticated, the Authorization Server MUST
    # obtain an authorization decision before releasing information to the Relying Party."
    # No stored decision of this user for this application and API: ask, even when the request
    # names no scope the API knows (the token would still say who the user is, for this API).
    if consented is None:
        return True
    scopes = set(scope_to_list(grant.granted_scope(user, grant.request.scope)))
    return not scopes <= consented


def _scope_descriptions(api, scope: str) -> list[tuple[str, str]]:
    descriptions = {**OIDC_SCOPES, **api.scopes}
    return [(value, descriptions[value]) for value in scope_to_list(scope)]


@bp.route("/u/consent", methods=("GET", "POST"))
def consent():
    server = current_server()
    user = sessions.signed_in_user()
    if user is None:
        return redirect(authorization_request_url("authorize.authorize"), 303)
    try:
        grant = server.get_consent_grant(end_user=user)
    except OAuth2Error as error:
        return authorization_error(error)
    api = grant.request.resource_server
    scope = grant.granted_scope(user, grant.request.scope)
    if request.method == "GET":
        return render_template(
            "consent.html",
            application=grant.request.client,
            user=user,
            api=api,
            scopes=_scope_descriptions(api, scope),
            permissions=token_permissions(api, grant.request.client, user, scope),
            csrf_token=sessions.csrf_token(),
        )
    if not sessions.csrf_token_valid(request.form):
        return error_page("invalid_request", "The form expired. Go back and try again.")
    decision = request.form.get("decision")
    if decision == "allow":
        client_id = grant.request.client.client_id
        server.storage().save_consent(
            user.id, client_id, api.identifier, scope_to_list(scope), now()
        )
        return redirect(
            authorization_request_url("authorize.authorize", satisfied_prompt="consent"), 303
        )
    if decision == "deny":
        # RFC 6749 §4.1.2.1: "access_denied: The resource owner or authorization server denied
        # the request."
        response = server.create_authorization_response(grant=grant, grant_user=None)
        if response.status_code == 302:
            # A redirect after the POST is a 303; a web message page (web_message) stays 200.
            response.status_code = 303
        return response
    return error_page("invalid_request", "Choose Allow or Deny.")
