"""The SPA server's own behaviour: the page, its settings, its security headers, its errors.

The browser-side flows are tested end to end in tests/e2e/test_spa_*.py; here the Flask app
is driven through its test client, and `python -m spa_demo` once as a real process.
"""

import html.parser
import re
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from shared.settings import ConfigurationError
from spa_demo import create_app
from spa_demo.config import SCOPE, SpaConfig
from tests.support.processes import Service, service_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
STATIC = PROJECT_ROOT / "spa_demo" / "static"
SCRIPTS = sorted(STATIC.glob("*.js"))

LOCAL_SETTINGS = {}
TENANT_SETTINGS = {
    "AUTH0_DOMAIN": "flowlab.eu.auth0.com",
    "AUTH_AUDIENCE": "https://api.example.com",
    "AUTH_CLIENT_ID": "abc123",
    "API_URL": "https://api.example.com:8443",
}


@pytest.fixture
def client():
    return create_app(LOCAL_SETTINGS).test_client()


def csp_directives(response):
    policy = response.headers["Content-Security-Policy"]
    return {
        name: values for name, *values in (directive.split() for directive in policy.split(";"))
    }


SERVED_PATHS = [
    "/",
    "/callback",
    "/config.json",
    "/static/main.js",
    "/static/style.css",
    "/no-such-page",
    "/static/missing.js",
]


@pytest.mark.parametrize("path", SERVED_PATHS)
def test_every_response_carries_the_security_headers(client, path):
    response = client.get(path)
    assert response.headers["Referrer-Policy"] == "no-referrer"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "Content-Security-Policy" in response.headers


def test_csp_allows_only_this_origin_the_issuer_and_the_api(client):
    directives = csp_directives(client.get("/"))
    assert directives == {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "worker-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'", "data:"],
        "connect-src": ["'self'", "http://localhost:9000", "http://localhost:3010"],
        "frame-src": ["'self'", "http://localhost:9000"],
        "frame-ancestors": ["'self'"],
        "base-uri": ["'none'"],
        "form-action": ["'none'"],
        "require-trusted-types-for": ["'script'"],
        # The SDK mode's one policy: its refresh-token worker's URL (static/sdk_mode.js).
        "trusted-types": ["auth0-spa-js-worker"],
    }


def test_csp_follows_the_configured_issuer_and_api():
    directives = csp_directives(create_app(TENANT_SETTINGS).test_client().get("/"))
    assert directives["connect-src"] == [
        "'self'",
        "https://flowlab.eu.auth0.com",
        "https://api.example.com:8443",
    ]
    assert directives["frame-src"] == ["'self'", "https://flowlab.eu.auth0.com"]


@pytest.mark.parametrize("path", ["/", "/callback"])
def test_the_page_and_the_callback_are_the_same_html_page(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response.mimetype == "text/html"
    assert response.data == (STATIC / "index.html").read_bytes()


@pytest.mark.parametrize("script", [path.name for path in SCRIPTS])
def test_scripts_are_served_as_javascript(client, script):
    # With nosniff, a module script with another type would not run at all.
    response = client.get(f"/static/{script}")
    assert response.status_code == 200
    assert response.mimetype in ("text/javascript", "application/javascript")


SDK_DIST = PROJECT_ROOT / "node_modules" / "@auth0" / "auth0-spa-js" / "dist"
SDK_MODULE = "auth0-spa-js.production.esm.js"
SDK_WORKER = "auth0-spa-js.worker.production.js"


@pytest.mark.parametrize("name", [SDK_MODULE, SDK_WORKER])
def test_the_sdk_is_served_from_the_npm_install_as_javascript(tmp_path, name):
    (tmp_path / name).write_text("export {};")
    client = create_app({"AUTH0_SPA_JS_DIST": str(tmp_path)}).test_client()
    response = client.get(f"/vendor/auth0-spa-js/{name}")
    assert response.status_code == 200
    assert response.mimetype == "text/javascript"
    assert response.data == b"export {};"
    assert "Content-Security-Policy" in response.headers


def test_the_sdk_files_default_to_the_projects_node_modules():
    assert SpaConfig.from_env({}).sdk_dist == SDK_DIST


@pytest.mark.parametrize(
    "path",
    [
        f"/vendor/auth0-spa-js/{SDK_MODULE}",
        "/vendor/auth0-spa-js/auth0-spa-js.development.js",
        "/vendor/auth0-spa-js/../package.json",
        "/vendor/auth0-spa-js/%2e%2e%2fpackage.json",
        "/vendor/browser-tabs-lock/index.js",
    ],
)
def test_without_the_npm_install_or_outside_the_sdks_files_it_is_a_json_404(tmp_path, path):
    (tmp_path / "package.json").write_text("{}")
    (tmp_path / "dist").mkdir()
    (tmp_path / "dist" / "auth0-spa-js.development.js").write_text("")
    client = create_app({"AUTH0_SPA_JS_DIST": str(tmp_path / "dist")}).test_client()
    response = client.get(path)
    assert response.status_code == 404
    assert response.mimetype == "application/json"


def test_config_json_with_local_defaults(client):
    response = client.get("/config.json")
    assert response.status_code == 200
    assert response.get_json() == {
        "issuer": "http://localhost:9000/",
        "audience": "https://api.flowlab.local",
        "clientId": "spa-demo",
        "apiUrl": "http://localhost:3010",
        "scope": SCOPE,
    }


def test_config_json_from_the_environment_never_carries_a_secret():
    settings = TENANT_SETTINGS | {"AUTH_CLIENT_SECRET": "must-never-reach-the-browser"}
    response = create_app(settings).test_client().get("/config.json")
    assert response.get_json() == {
        "issuer": "https://flowlab.eu.auth0.com/",
        "audience": "https://api.example.com",
        "clientId": "abc123",
        "apiUrl": "https://api.example.com:8443",
        "scope": SCOPE,
    }
    assert b"must-never-reach-the-browser" not in response.data


@pytest.mark.parametrize(
    ("path", "method", "status", "code"),
    [
        ("/no-such-page", "GET", 404, "not_found"),
        ("/static/missing.js", "GET", 404, "not_found"),
        ("/static/../config.py", "GET", 404, "not_found"),
        ("/", "POST", 405, "method_not_allowed"),
        ("/config.json", "DELETE", 405, "method_not_allowed"),
    ],
)
def test_errors_are_json_not_html(client, path, method, status, code):
    response = client.open(path, method=method)
    assert response.status_code == status
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == code
    assert set(response.get_json()) == {"error", "error_description"}


def test_method_not_allowed_names_the_allowed_methods(client):
    assert set(client.post("/callback").headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_an_unexpected_error_is_a_generic_json_500_with_the_detail_in_the_log(caplog):
    app = create_app(LOCAL_SETTINGS)

    @app.get("/fails")
    def fails():
        raise RuntimeError("detail for the log only")

    response = app.test_client().get("/fails")
    assert response.status_code == 500
    assert response.mimetype == "application/json"
    assert response.get_json()["error"] == "internal_server_error"
    assert b"detail for the log only" not in response.data
    assert "detail for the log only" in caplog.text


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"AUTH_ISSUER": "https://evil.example;script-src 'unsafe-inline'/"}, "AUTH_ISSUER"),
        ({"AUTH_ISSUER": "https://evil.example 'unsafe-eval'/"}, "AUTH_ISSUER"),
        ({"AUTH_ISSUER": "ftp://tenant.example/"}, "AUTH_ISSUER"),
        ({"AUTH_ISSUER": "http://tenant.example/"}, "AUTH_ISSUER"),
        ({"AUTH0_DOMAIN": "https://tenant.eu.auth0.com"}, "AUTH0_DOMAIN"),
        ({"API_URL": "javascript:alert(1)"}, "API_URL"),
        ({"API_URL": "https://api.example;frame-ancestors *"}, "API_URL"),
        ({"SPA_PORT": "http"}, "SPA_PORT"),
        ({"SPA_PORT": "70000"}, "SPA_PORT"),
    ],
)
def test_unusable_settings_are_refused_naming_the_setting(settings, named):
    with pytest.raises(ConfigurationError, match=named):
        SpaConfig.from_env(settings)


class PageParser(html.parser.HTMLParser):
    """Collects what the page loads and anything inline the CSP would have to allow."""

    def __init__(self):
        super().__init__()
        self.script_sources, self.stylesheets, self.inline = [], [], []
        self._open_script = False

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if "style" in attributes or any(name.startswith("on") for name in attributes):
            self.inline.append((tag, attributes))
        if tag == "style":
            self.inline.append((tag, attributes))
        if tag == "script":
            self.script_sources.append(attributes.get("src"))
            self._open_script = True
        if tag == "link":
            self.stylesheets.append(attributes["href"])

    def handle_endtag(self, tag):
        if tag == "script":
            self._open_script = False

    def handle_data(self, data):
        if self._open_script and data.strip():
            self.inline.append(("script", data))


def test_the_page_has_no_inline_code_and_loads_only_its_own_files():
    parser = PageParser()
    parser.feed((STATIC / "index.html").read_text())
    assert parser.inline == []
    assert parser.script_sources == ["/static/main.js"]
    assert all(
        href.startswith("/static/") or href.startswith("data:") for href in parser.stylesheets
    )


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_scripts_import_only_their_siblings_and_never_use_html_sinks_or_local_storage(script):
    source = "\n".join(
        line for line in script.read_text().splitlines() if not line.lstrip().startswith("//")
    )
    imports = re.findall(r"""^import\b[^;]*?from\s+["']([^"']+)["']""", source, flags=re.MULTILINE)
    assert all(re.fullmatch(r"\./[a-z_0-9]+\.js", target) for target in imports), imports
    for forbidden in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        "localStorage",
    ):
        assert forbidden not in source, forbidden


@pytest.fixture
def spa_process(tmp_path):
    """``python -m spa_demo`` (gunicorn) on the port the kernel gave it."""
    service = Service(
        "spa_demo",
        "spa_demo",
        service_environment(),
        "/",
        tmp_path / "spa.log",
        port_variable="SPA_PORT",
    )
    service.start()
    yield service
    service.stop()


def test_python_m_spa_demo_serves_the_page_with_a_production_server(spa_process):
    response = requests.get(spa_process.base_url + "/callback?code=secret-code&state=s", timeout=10)
    assert response.status_code == 200
    assert response.headers["Server"].startswith("gunicorn")
    assert response.headers["Referrer-Policy"] == "no-referrer"
    # The log shows the path, never the query string an authorization code travels in.
    spa_process.wait_for_log(lambda log: '"GET /callback" 200' in log, what="the request line")
    assert "secret-code" not in spa_process.logs()


def test_a_hostile_path_cannot_forge_a_line_of_the_spa_servers_log(spa_process):
    forged = "/x%0D%0A127.0.0.1%20%22GET%20/admin%22%20200%20-%0A"
    requests.get(spa_process.base_url + forged, timeout=10)
    spa_process.wait_for_log(
        lambda log: "/x%0D%0A127.0.0.1" in log, what="the hostile request's line"
    )
    assert not [line for line in spa_process.logs().splitlines() if line.startswith("127.0.0.1")]


def test_python_m_spa_demo_stops_with_one_line_naming_a_bad_setting():
    result = subprocess.run(
        [sys.executable, "-m", "spa_demo"],
        env=service_environment(API_URL="https://api.example;script-src *"),
        capture_output=True,
        text=True,
        timeout=15,
    )
    assert result.returncode != 0
    assert result.stdout == ""
    assert len(result.stderr.strip().splitlines()) == 1
    assert "API_URL" in result.stderr


def test_the_favicon_is_an_svg_file_of_this_origin(client):
    # Without one, the browser asks for /favicon.ico and the console shows a 404 on every load.
    parser = PageParser()
    parser.feed((STATIC / "index.html").read_text())
    assert "/static/favicon.svg" in parser.stylesheets
    response = client.get("/static/favicon.svg")
    assert response.status_code == 200
    assert response.mimetype == "image/svg+xml"
