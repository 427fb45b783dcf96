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


@require_POST
@auth.require(scopes=["import:data"])
def import_data(request: HttpRequest) -> JsonResponse:
    """Needs the ``import:data`` scope (a machine client's, by client credentials)."""
    return JsonResponse({"imported_by": request.claims.client_id}, status=201)  # type: ignore[attr-defined]
