"""The example service's views, protected by the copied validator (see README.md here)."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.http import require_GET, require_POST

from .django_auth import BearerAuth
from .token_validation import TokenValidator

auth = BearerAuth(
    TokenValidator(settings.AUTH_ISSUER, settings.AUTH_AUDIENCE, jwks_url=settings.AUTH_JWKS_URL),
    realm=settings.AUTH_AUDIENCE,
)


@require_GET
def public(request: HttpRequest) -> JsonResponse:
    """No token needed."""
    return JsonResponse({"message": "Anyone may read this."})


@require_GET
@auth.require(scopes=["read:messages"])
def list_messages(request: HttpRequest) -> JsonResponse:
    """Needs the ``read:messages`` scope."""
    claims = request.claims  # type: ignore[attr-defined]
    return JsonResponse({"subject": claims.subject, "scopes": list(claims.scopes), "messages": []})


# A machine client's endpoint: with Auth0's RBAC off, a user is granted any scope the client
# asks for, import:data too, so the scope alone would let a person in.
@require_POST
@auth.require(scopes=["import:data"], machine_only=True)
def import_data(request: HttpRequest) -> JsonResponse:
    """Needs a machine token (by client credentials) with the ``import:data`` scope."""
    return JsonResponse({"imported_by": request.claims.client_id}, status=201)  # type: ignore[attr-defined]
