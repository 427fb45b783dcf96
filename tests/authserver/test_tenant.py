"""The tenant file: the packaged one is what the README promises; a broken one is refused clearly."""

import pytest

from authserver.tenant import TenantError, load_tenant
from tests.authserver.helpers import (
    ALICE_PERMISSIONS,
    API,
    SPA_CALLBACK,
    SPA_ORIGIN,
    tenant_text,
)


def test_packaged_tenant():
    tenant = load_tenant()
    api = tenant.find_api(API)
    assert set(api.scopes) == {"read:messages", "write:messages", "import:data", "read:imports", "read:stats"}
    assert (api.token_lifetime, api.token_lifetime_for_web) == (86400, 7200)
    assert api.enable_rbac and api.add_permissions_in_the_access_token and api.allow_offline_access
    spa, native, m2m, partner = (tenant.applications[c] for c in ("spa-demo", "native-demo", "m2m-demo", "partner-app"))
    assert spa.allowed_callback_urls == (SPA_CALLBACK,) and spa.allowed_web_origins == (SPA_ORIGIN,)
    assert spa.allowed_logout_urls == ("http://localhost:3000/",)
    assert spa.grant_types == {"implicit", "authorization_code", "refresh_token"} and spa.is_public
    assert native.allowed_callback_urls == ("http://127.0.0.1/callback",) and native.is_public
    assert not m2m.is_public and m2m.grant_types == {"client_credentials"}
    assert tenant.find_client_grant("m2m-demo", API).scope == ("import:data", "read:imports", "read:messages")
    assert not partner.is_first_party and partner.is_public
    users = {user.email: user for user in tenant.users}
    assert list(users["alice@flowlab.test"].permissions[API]) == ALICE_PERMISSIONS
    assert users["bob@flowlab.test"].permissions[API] == ("read:messages",)


DUPLICATE_CLIENT = '[[applications]]\nclient_id = "spa-demo"\nname = "Again"\napplication_type = "spa"\n'
ORIGIN_WITH_PATH = 'allowed_web_origins = ["http://localhost:3000/app"]'
LOOPBACK_CALLBACKS = 'allowed_callback_urls = ["http://127.0.0.1/callback"]'


@pytest.mark.parametrize(
    "replacements, append, message",
    [
        ([('application_type = "non_interactive"', 'application_type = "robot"')], "", "unknown application_type"),
        ([('grant_types = ["client_credentials"]', 'grant_types = ["implicit"]')], "", "not allowed for"),
        ([('client_secret_hash = "scrypt', 'comment = "scrypt')], "", "need client_secret_hash"),
        ([('"https://api.flowlab.local" = ["read:messages"]', '"https://api.flowlab.local" = ["fly"]')], "", "fly"),
        ([('scope = ["import:data"', 'scope = ["launch:rockets"')], "", "launch:rockets"),
        ([("authorization_code_lifetime = 60", "authorization_code_lifetime = -1")], "", "must be positive"),
        ([("session_lifetime = 604800", 'session_lifetime = "a week"')], "", "must be a whole number"),
        ([('allowed_web_origins = ["http://localhost:3000"]', ORIGIN_WITH_PATH)], "", "must be an origin"),
        ([(LOOPBACK_CALLBACKS, 'allowed_callback_urls = ["/cb"]')], "", "absolute http(s) URL"),
        ([], DUPLICATE_CLIENT, "duplicate client_id 'spa-demo'"),
        ([], "this is = not [toml", "cannot read tenant file"),
    ],
)
def test_a_broken_tenant_file_is_refused_with_the_entry_named(tmp_path, replacements, append, message):
    path = tmp_path / "tenant.toml"
    path.write_text(tenant_text(*replacements, append=append))
    with pytest.raises(TenantError) as raised:
        load_tenant(path)
    assert message in str(raised.value)
