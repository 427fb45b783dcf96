"""The tenant file: the packaged one is what the README promises; a broken one is refused
clearly."""

import re

import pytest
from werkzeug.security import generate_password_hash

from authserver.tenant import TenantError, hash_client_secret, load_tenant
from tests.authserver.helpers import (
    ALICE_PERMISSIONS,
    API_AUDIENCE,
    M2M_SECRET,
    SPA_CALLBACK,
    SPA_ORIGIN,
    TEST_TENANT,
    WEBAPP_SECRET,
    tenant_text,
)


def test_packaged_tenant():
    tenant = load_tenant()
    api = tenant.find_api(API_AUDIENCE)
    assert set(api.scopes) == {
        "read:messages",
        "write:messages",
        "import:data",
        "read:imports",
        "read:stats",
    }
    assert (api.token_lifetime, api.token_lifetime_for_web) == (86400, 7200)
    assert api.enable_rbac and api.add_permissions_in_the_access_token and api.allow_offline_access
    spa, native, m2m, partner = (
        tenant.applications[c] for c in ("spa-demo", "native-demo", "m2m-demo", "partner-app")
    )
    assert spa.allowed_callback_urls == (SPA_CALLBACK,) and spa.allowed_web_origins == (SPA_ORIGIN,)
    assert spa.allowed_logout_urls == ("http://localhost:3000/",)
    assert spa.grant_types == {"implicit", "authorization_code", "refresh_token"} and spa.is_public
    assert native.allowed_callback_urls == ("http://127.0.0.1/callback",) and native.is_public
    assert not m2m.is_public and m2m.grant_types == {"client_credentials"}
    assert tenant.find_client_grant("m2m-demo", API_AUDIENCE).scope == (
        "import:data",
        "read:imports",
        "read:messages",
    )
    assert not partner.is_first_party and partner.is_public
    users = {user.email: user for user in tenant.users}
    assert list(users["alice@flowlab.test"].permissions[API_AUDIENCE]) == ALICE_PERMISSIONS
    assert users["bob@flowlab.test"].permissions[API_AUDIENCE] == ("read:messages",)


DUPLICATE_CLIENT = (
    '[[applications]]\nclient_id = "spa-demo"\nname = "Again"\napplication_type = "spa"\n'
)
ORIGIN_WITH_PATH = 'allowed_web_origins = ["http://localhost:3000/app"]'
LOOPBACK_CALLBACKS = 'allowed_callback_urls = ["http://127.0.0.1/callback"]'


@pytest.mark.parametrize(
    ("replacements", "append", "message"),
    [
        (
            [('application_type = "non_interactive"', 'application_type = "robot"')],
            "",
            "unknown application_type",
        ),
        (
            [('grant_types = ["client_credentials"]', 'grant_types = ["implicit"]')],
            "",
            "not allowed for",
        ),
        (
            [('client_secret_hash = "hmac-sha256', 'comment = "hmac-sha256')],
            "",
            "need client_secret_hash",
        ),
        (
            [
                (
                    '"https://api.flowlab.local" = ["read:messages"]',
                    '"https://api.flowlab.local" = ["fly"]',
                )
            ],
            "",
            "fly",
        ),
        ([('scope = ["import:data"', 'scope = ["launch:rockets"')], "", "launch:rockets"),
        (
            [("authorization_code_lifetime = 60", "authorization_code_lifetime = -1")],
            "",
            "must be positive",
        ),
        (
            [("session_lifetime = 604800", 'session_lifetime = "a week"')],
            "",
            "must be a whole number",
        ),
        (
            [('allowed_web_origins = ["http://localhost:3000"]', ORIGIN_WITH_PATH)],
            "",
            "must be an origin",
        ),
        ([(LOOPBACK_CALLBACKS, 'allowed_callback_urls = ["/cb"]')], "", "absolute http(s) URL"),
        ([], DUPLICATE_CLIENT, "duplicate client_id 'spa-demo'"),
        ([], "this is = not [toml", "cannot read tenant file"),
    ],
)
def test_a_broken_tenant_file_is_refused_with_the_entry_named(
    tmp_path, replacements, append, message
):
    path = tmp_path / "tenant.toml"
    path.write_text(tenant_text(*replacements, append=append))
    with pytest.raises(TenantError) as raised:
        load_tenant(path)
    assert message in str(raised.value)


M2M_HASH = re.search(r'client_secret_hash = "([^"]+)"', TEST_TENANT).group(1)
METHOD, KEY, DIGEST = M2M_HASH.split("$")
#: The packaged tenant's m2m-demo hash before client secrets were HMAC-SHA256 digests.
SCRYPT_HASH = (
    "scrypt:32768:8:1$H3d0lQBZ3Dm2Fbjb$97c48a93b03757aec832bfbe75f9c54b7f72505eb97b140811110f25324de7829"
    "3c1e83c2d90d181046f6984c8a442b40b1e93c88573316505c9a40f273c8b4f"
)


@pytest.mark.parametrize(
    "secret_hash",
    [
        SCRYPT_HASH,
        generate_password_hash(M2M_SECRET, method="pbkdf2:sha256:1000"),
        f"hmac-sha1${KEY}${DIGEST}",
        f"{METHOD}${KEY}${DIGEST.upper()}",
        f"{METHOD}${KEY}${DIGEST[:-1]}",
        f"{METHOD}${KEY[:-1]}${DIGEST}",
        f"{METHOD}${KEY.replace(KEY[0], '+')}${DIGEST}",
        f"{METHOD}${DIGEST}",
        f"{METHOD}${KEY}${DIGEST}$",
        M2M_SECRET,
    ],
    ids=[
        "scrypt",
        "pbkdf2",
        "other method",
        "upper case",
        "short digest",
        "short key",
        "base64 key",
        "no key",
        "trailing part",
        "the secret itself",
    ],
)
def test_client_secret_hashes_in_another_format_are_refused(tmp_path, secret_hash):
    path = tmp_path / "tenant.toml"
    path.write_text(tenant_text((M2M_HASH, secret_hash)))
    with pytest.raises(TenantError) as raised:
        load_tenant(path)
    assert "applications[2]: 'client_secret_hash' must be an hmac-sha256 hash" in str(raised.value)
    assert "python -m authserver clients secret" in str(raised.value)


def test_a_client_secret_hash_in_the_format_is_accepted(tmp_path):
    path = tmp_path / "tenant.toml"
    path.write_text(tenant_text((M2M_HASH, hash_client_secret("another-secret"))))
    application = load_tenant(path).applications["m2m-demo"]
    assert application.check_client_secret(
        "another-secret"
    ) and not application.check_client_secret(M2M_SECRET)


WEBAPP_URI = 'backchannel_logout_uri = "http://localhost:3001/backchannel-logout"'


def test_the_packaged_web_app_is_a_confidential_client_with_back_channel_logout():
    webapp = load_tenant().applications["webapp-demo"]
    assert webapp.application_type == "regular_web" and not webapp.is_public
    assert webapp.is_first_party and webapp.check_client_secret(WEBAPP_SECRET)
    assert webapp.allowed_callback_urls == ("http://localhost:3001/callback",)
    assert webapp.allowed_logout_urls == ("http://localhost:3001/",)
    assert webapp.grant_types == {"authorization_code", "refresh_token"}
    assert webapp.backchannel_logout_uri == "http://localhost:3001/backchannel-logout"
    assert webapp.backchannel_logout_session_required and webapp.id_token_permissions_claim
    # Off unless the tenant says so.
    spa = load_tenant().applications["spa-demo"]
    assert spa.backchannel_logout_uri is None
    assert not (spa.backchannel_logout_session_required or spa.id_token_permissions_claim)


@pytest.mark.parametrize(
    "uri",
    [
        "https://app.example/backchannel-logout",
        "https://app.example:8443/logout?from=op",
        "http://127.0.0.1:3001/backchannel-logout",
        "http://[::1]:3001/backchannel-logout",
    ],
)
def test_back_channel_logout_uris_accepted(tmp_path, uri):
    path = tmp_path / "tenant.toml"
    path.write_text(tenant_text((WEBAPP_URI, f'backchannel_logout_uri = "{uri}"')))
    assert load_tenant(path).applications["webapp-demo"].backchannel_logout_uri == uri


@pytest.mark.parametrize(
    ("replacements", "message"),
    [
        (
            [(WEBAPP_URI, 'backchannel_logout_uri = "https://app.example/logout#end"')],
            "absolute http(s) URL without a fragment",
        ),
        (
            [(WEBAPP_URI, 'backchannel_logout_uri = "ftp://app.example/logout"')],
            "absolute http(s) URL without a fragment",
        ),
        (
            [(WEBAPP_URI, 'backchannel_logout_uri = "/backchannel-logout"')],
            "absolute http(s) URL without a fragment",
        ),
        (
            [(WEBAPP_URI, 'backchannel_logout_uri = "https://app.example/ logout"')],
            "white space",
        ),
        (
            [(WEBAPP_URI, 'backchannel_logout_uri = "http://app.example/logout"')],
            "must use https",
        ),
        (
            [(WEBAPP_URI, 'backchannel_logout_uri = "http://localhost.app.example/logout"')],
            "must use https",
        ),
        (
            [(WEBAPP_URI, "backchannel_logout_uri = true")],
            "'backchannel_logout_uri' must be a string",
        ),
        (
            # An SPA is a public client: http:// is for confidential applications only.
            [
                (
                    'allowed_logout_urls = ["http://localhost:3000/"]',
                    'allowed_logout_urls = ["http://localhost:3000/"]\n'
                    'backchannel_logout_uri = "http://localhost:3000/logout"',
                )
            ],
            "must use https",
        ),
        (
            [(WEBAPP_URI, "")],
            "'backchannel_logout_session_required' needs a backchannel_logout_uri",
        ),
        (
            [
                (
                    "backchannel_logout_session_required = true",
                    'backchannel_logout_session_required = "yes"',
                )
            ],
            "'backchannel_logout_session_required' must be true or false",
        ),
        (
            [("id_token_permissions_claim = true", "id_token_permissions_claim = 1")],
            "'id_token_permissions_claim' must be true or false",
        ),
    ],
)
def test_bad_back_channel_logout_and_claim_options_are_refused(tmp_path, replacements, message):
    path = tmp_path / "tenant.toml"
    path.write_text(tenant_text(*replacements))
    with pytest.raises(TenantError) as raised:
        load_tenant(path)
    assert message in str(raised.value)
    assert str(raised.value).startswith("applications[")
