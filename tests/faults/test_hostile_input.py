"""Hostile input to the parts as shipped: bodies and parameters built to break the parsers.

``python -m authserver`` (gunicorn, the packaged tenant, a temporary database) and ``python -m
api`` (gunicorn, trusting that authserver, with its machine token) run as real processes. Every
request is written byte for byte on a socket, so nothing in between repairs it: bodies nested
30,000 deep, chunked bodies whose framing is broken, bodies shorter than their Content-Length,
Content-Lengths of a petabyte, invalid UTF-8, JSON that is not an object; parameters malformed,
repeated, 100 KB long or not UTF-8, from a table and from hypothesis; requests gunicorn itself
refuses. Each answer is a 4xx in the part's own error form (an OAuth error code at the OAuth
endpoints, the error page on pages, the API's JSON error), or an authorization error sent back to
the application's registered redirect URI; never a 5xx, never a traceback; and neither part logs
an unexpected error.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote_from_bytes, urlencode, urlsplit

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.api.conftest import APIProcess
from tests.authserver.helpers import (
    API_AUDIENCE,
    NATIVE_CALLBACK,
    PKCE,
    SPA_CALLBACK,
    ServerProcess,
    UserAgent,
    code_request,
)

#: RFC 6749 §4.1.2.1, §5.2 and RFC 7009 §2.2.1: every error code the OAuth endpoints may answer.
OAUTH_ERROR_CODES = frozenset(
    {
        "invalid_request",
        "invalid_client",
        "invalid_grant",
        "unauthorized_client",
        "unsupported_grant_type",
        "invalid_scope",
        "access_denied",
        "unsupported_response_type",
        "unsupported_token_type",
        "server_error",
        "temporarily_unavailable",
        "login_required",
        "consent_required",
        "interaction_required",
        "invalid_request_uri",
        "invalid_request_object",
        "request_not_supported",
        "request_uri_not_supported",
        "registration_not_supported",
        "account_selection_required",
        "too_many_attempts",
    }
)
#: What no answer may contain: a Python traceback, or the frames of one.
TRACEBACK = re.compile(rb"Traceback \(most recent call last\)|File \"[^\"]+\", line \d+")
#: The error page's code (authserver/templates/error.html).
ERROR_PAGE_CODE = re.compile(rb'<p class="error" role="alert"><code>([a-z_]+)</code></p>')
KILOBYTES_100 = 100 * 1024
JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
M2M_SECRET = "m2m-demo-local-secret"


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes

    @property
    def json(self):
        return json.loads(self.body)


def exchange(base_url: str, request: bytes, *, half_close: bool = False) -> Answer:
    """Send ``request`` as it is on a new connection; with ``half_close``, end the sending side
    right after it (the body the request announced never comes)."""
    address = urlsplit(base_url)
    with socket.create_connection((address.hostname, address.port), timeout=30) as connection:
        connection.sendall(request)
        if half_close:
            connection.shutdown(socket.SHUT_WR)
        response = http.client.HTTPResponse(connection)
        response.begin()
        return Answer(response.status, dict(response.getheaders()), response.read())


def head(method: str, target: bytes, headers: list[tuple[str, str]]) -> bytes:
    lines = [method.encode() + b" " + target + b" HTTP/1.1", b"Host: 127.0.0.1"]
    lines += [f"{name}: {value}".encode("latin-1") for name, value in headers]
    lines.append(b"Connection: close")
    return b"\r\n".join(lines) + b"\r\n\r\n"


def post(target: str, body: bytes, content_type: str, headers=()) -> bytes:
    fields = [("Content-Type", content_type), ("Content-Length", str(len(body))), *headers]
    return head("POST", target.encode(), fields) + body


# --- the parts -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def authserver(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServerProcess]:
    server = ServerProcess(tmp_path_factory.mktemp("authserver"))
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def api(
    tmp_path_factory: pytest.TempPathFactory, authserver: ServerProcess
) -> Iterator[APIProcess]:
    directory: Path = tmp_path_factory.mktemp("api")
    process = APIProcess(
        directory,
        AUTH_ISSUER=authserver.issuer,
        AUTH_AUDIENCE=API_AUDIENCE,
        DATABASE_URL=f"sqlite:///{directory / 'api.sqlite3'}",
    )
    process.start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def machine_token(authserver: ServerProcess) -> str:
    """A real client-credentials token of the m2m demo for the API, from the real authserver."""
    response = authserver.client_credentials(audience=API_AUDIENCE)
    assert response.status_code == 200, response.text
    return response.json()["access_token"]


def assert_no_unexpected_error_logged(*parts) -> None:
    for part in parts:
        log = part.logs()
        assert "Traceback" not in log and "unexpected error" not in log, log[-5000:]


# --- bodies --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class BodyFault:
    """One broken body: its own header fields and bytes, the status it must get, and whether the
    client then stops sending (``half_close``: the rest of the body never comes)."""

    name: str
    fields: tuple[tuple[str, str], ...]
    body: bytes
    status: int = 400
    half_close: bool = False

    def request(self, path: str, headers) -> bytes:
        return head("POST", path.encode(), [*self.fields, *headers]) + self.body


def sized(name: str, body: bytes, content_type: str = JSON, **options) -> BodyFault:
    """A body with its Content-Length."""
    fields = (("Content-Type", content_type), ("Content-Length", str(len(body))))
    return BodyFault(name, fields, body, **options)


def chunked(name: str, chunks: bytes, content_type: str = JSON, **options) -> BodyFault:
    """A body in chunks (RFC 9112 §7.1: ``chunk-size [ chunk-ext ] CRLF chunk-data CRLF``)."""
    fields = (("Content-Type", content_type), ("Transfer-Encoding", "chunked"))
    return BodyFault(name, fields, chunks, **options)


def announced(name: str, length: int, body: bytes, **options) -> BodyFault:
    """A body whose Content-Length says ``length``, whatever is sent."""
    fields = (("Content-Type", JSON), ("Content-Length", str(length)))
    return BodyFault(name, fields, body, **options)


BODY_FAULTS = [
    sized("30,000 nested arrays", b"[" * 30_000 + b"]" * 30_000),
    sized("10,000 nested objects", b'{"a":' * 10_000 + b"1" + b"}" * 10_000),
    chunked("chunk size not hexadecimal", b"zz\r\n{}\r\n0\r\n\r\n"),
    chunked("chunk size not hexadecimal, form", b"zz\r\na=b\r\n0\r\n\r\n", FORM),
    chunked("chunk size over 2^64", b"1" + b"0" * 17 + b"\r\n{}", half_close=True),
    chunked("chunk without its CRLF", b"2\r\n{}XX0\r\n\r\n"),
    chunked("chunked body cut short", b"10\r\n{}", half_close=True),
    announced("body shorter than its Content-Length", 100, b'{"a": ', half_close=True),
    announced("Content-Length of a petabyte", 10**15, b"{}", status=413),
    sized("invalid UTF-8 in JSON", b'{"grant_type": "\xff\xfe", "source": "\xc3"}'),
    sized("UTF-16 JSON", '{"grant_type": "x"}'.encode("utf-16")),
    sized("a lone surrogate in JSON", b'{"grant_type": "\\ud800", "batch_id": "\\udfff"}'),
    sized("JSON array", b'["grant_type"]'),
    sized("JSON string", b'"grant_type"'),
    sized("JSON null", b"null"),
    sized("JSON cut short", b'{"grant_type": '),
    sized("empty JSON body", b""),
]


def authorization_request(**changes: str) -> dict[str, str]:
    """A valid code + PKCE request of the SPA, with ``changes``."""
    return code_request("spa-demo", SPA_CALLBACK, PKCE.new(), **changes)


@dataclass(frozen=True)
class BodyReader:
    """A part's endpoint that reads a body, and how its errors look."""

    name: str
    path: str
    form: str  # "oauth", "page" or "api"


BODY_READERS = [
    BodyReader("authserver token endpoint", "/oauth/token", "oauth"),
    BodyReader("authserver revocation endpoint", "/oauth/revoke", "oauth"),
    # The login form posted for a valid authorization request, so the body is read.
    BodyReader("authserver login page", "/u/login?" + urlencode(authorization_request()), "page"),
    BodyReader("API imports", "/api/imports", "api"),
]


def problems_with(answer: Answer, status: int, form: str) -> list[str]:
    """What is wrong with ``answer`` to a request that must be refused with ``status``."""
    problems = []
    if answer.status != status:
        problems.append(f"status {answer.status}, not {status}")
    if TRACEBACK.search(answer.body):
        problems.append("a traceback in the body")
    content_type = answer.headers.get("Content-Type", "")
    if form == "page":
        match = ERROR_PAGE_CODE.search(answer.body)
        if not content_type.startswith("text/html") or match is None:
            problems.append(f"not the error page: {answer.body[:200]!r}")
    elif not content_type.startswith(JSON):
        problems.append(f"not JSON: {content_type} {answer.body[:200]!r}")
    else:
        body = answer.json
        if set(body) != {"error", "error_description"}:
            problems.append(f"not an error body: {body}")
        elif form == "oauth" and body["error"] != "invalid_request":
            problems.append(f"error {body['error']}, not invalid_request")
    return problems


def test_broken_bodies_are_refused_with_400_by_every_part_that_reads_one(
    authserver, api, machine_token, figures
):
    bases = {"oauth": authserver.issuer, "page": authserver.issuer, "api": api.base_url}
    extra = {"api": [("Authorization", f"Bearer {machine_token}")]}
    failures, five_xx, sent = [], 0, 0

    for reader in BODY_READERS:
        for fault in BODY_FAULTS:
            answer = exchange(
                bases[reader.form],
                fault.request(reader.path, extra.get(reader.form, [])),
                half_close=fault.half_close,
            )
            sent += 1
            five_xx += answer.status >= 500
            failures += [
                f"{reader.name}, {fault.name}: {problem}"
                for problem in problems_with(answer, fault.status, reader.form)
            ]

    figures(requests=sent, failures=len(failures), five_xx=five_xx)
    assert failures == [], "\n".join(failures)
    assert_no_unexpected_error_logged(authserver, api)


def test_a_broken_body_on_the_consent_page_of_a_signed_in_user_is_the_error_page(
    authserver, consent_page, figures
):
    target, cookie = consent_page
    failures, five_xx = [], 0

    for fault in BODY_FAULTS:
        answer = exchange(
            authserver.issuer,
            fault.request(target, [("Cookie", cookie)]),
            half_close=fault.half_close,
        )
        five_xx += answer.status >= 500
        failures += [
            f"{fault.name}: {problem}" for problem in problems_with(answer, fault.status, "page")
        ]

    figures(requests=len(BODY_FAULTS), failures=len(failures), five_xx=five_xx)
    assert failures == [], "\n".join(failures)
    assert_no_unexpected_error_logged(authserver)


# --- parameters ----------------------------------------------------------------------------------

Parameters = list[tuple[bytes, bytes]]


@pytest.fixture(scope="module")
def consent_page(authserver: ServerProcess) -> tuple[str, str]:
    """Alice signed in, on the consent page of the third-party partner app: its path and query,
    and the Cookie header of her session."""
    user_agent = UserAgent(authserver)
    login = user_agent.authorize(**consent_request())
    consent = user_agent.sign_in(login)
    assert consent.status_code == 200 and 'name="decision"' in consent.text, consent.text
    address = urlsplit(consent.url)
    cookie = "; ".join(f"{c.name}={c.value}" for c in user_agent.session.cookies)
    return f"{address.path}?{address.query}", cookie


def encoded(parameters: Parameters) -> bytes:
    """``name=value&...``, every byte not unreserved percent-encoded (so any bytes can travel)."""
    return b"&".join(
        quote_from_bytes(name, safe="").encode() + b"=" + quote_from_bytes(value, safe="").encode()
        for name, value in parameters
    )


def as_bytes(parameters: dict[str, str]) -> Parameters:
    return [(name.encode(), value.encode()) for name, value in parameters.items()]


@dataclass(frozen=True)
class Endpoint:
    """Where hostile parameters go: the query of a GET, or a POST body (a form or JSON)."""

    method: str
    path: str
    carrier: str  # "query", "form" or "json"
    form: str  # "oauth" or "page"

    def request(
        self, parameters: Parameters, cookie: str | None = None, query: bytes = b""
    ) -> bytes:
        headers = [("Cookie", cookie)] if cookie else []
        if self.carrier == "query":
            return head("GET", self.path.encode() + b"?" + encoded(parameters), headers)
        target = self.path + ("?" + query.decode() if query else "")
        if self.carrier == "form":
            return post(target, encoded(parameters), FORM, headers)
        body = (
            "{"
            + ", ".join(
                f"{json.dumps(name.decode(errors='surrogateescape'))}: {json.dumps(value.decode(errors='surrogateescape'))}"
                for name, value in parameters
            )
            + "}"
        )
        return post(target, body.encode("utf-8", "surrogateescape"), JSON, headers)


AUTHORIZE = Endpoint("GET", "/authorize", "query", "page")
TOKEN_FORM = Endpoint("POST", "/oauth/token", "form", "oauth")
TOKEN_JSON = Endpoint("POST", "/oauth/token", "json", "oauth")
LOGIN_PAGE = Endpoint("GET", "/u/login", "query", "page")
LOGIN_FORM = Endpoint("POST", "/u/login", "form", "page")
CONSENT_PAGE = Endpoint("GET", "/u/consent", "query", "page")
CONSENT_FORM = Endpoint("POST", "/u/consent", "form", "page")
#: The registered redirect URIs an authorization error may be sent back to.
CALLBACKS = (SPA_CALLBACK, NATIVE_CALLBACK)


def consent_request() -> dict[str, str]:
    """The partner app's request for Alice's consent (see ``consent_page``)."""
    return code_request(
        "partner-app",
        NATIVE_CALLBACK,
        PKCE.new(),
        audience=API_AUDIENCE,
        scope="openid read:messages",
    )


def token_request(**changes: str) -> dict[str, str]:
    return {
        "grant_type": "client_credentials",
        "client_id": "m2m-demo",
        "client_secret": M2M_SECRET,
        "audience": API_AUDIENCE,
        **changes,
    }


def repeated(parameters: dict[str, str], name: str, second: str) -> Parameters:
    return [*as_bytes(parameters), (name.encode(), second.encode())]


def replaced(parameters: dict[str, str], name: str, value: bytes) -> Parameters:
    return [(key, value if key == name.encode() else other) for key, other in as_bytes(parameters)]


LONG = b"x" * KILOBYTES_100
NOT_UTF_8 = b"\xff\xfe\xc3(\xa0\xa1\xed\xa0\x80"
CONTROL = b"\x00\r\nSet-Cookie: x=y\r\n\x1b[31m"


def parameter_cases() -> list[tuple[str, Endpoint, Parameters]]:
    """(what, where, parameters): each a request the part must refuse."""
    token = token_request()
    login = {"username": "alice@flowlab.test", "password": "alice-password", "csrf_token": "x"}
    cases = []
    for endpoint, request in (
        (AUTHORIZE, authorization_request()),
        (LOGIN_PAGE, authorization_request()),
        (CONSENT_PAGE, consent_request()),
    ):
        for name in ("client_id", "redirect_uri", "response_type", "code_challenge", "scope"):
            cases += [
                (f"{name} repeated", endpoint, repeated(request, name, "other")),
                (f"{name} of 100 KB", endpoint, replaced(request, name, LONG)),
            ]
        for name in ("client_id", "redirect_uri", "response_type", "code_challenge"):
            cases += [
                (f"{name} not UTF-8", endpoint, replaced(request, name, NOT_UTF_8)),
                (f"{name} with control characters", endpoint, replaced(request, name, CONTROL)),
            ]
        cases += [
            ("nothing", endpoint, []),
            ("a name of 100 KB", endpoint, [(LONG, b"x"), *as_bytes(request)]),
        ]
    for endpoint in (TOKEN_FORM, TOKEN_JSON):
        for name in ("grant_type", "client_id", "client_secret", "audience"):
            cases += [
                (f"{name} repeated", endpoint, repeated(token, name, "other")),
                (f"{name} of 100 KB", endpoint, replaced(token, name, LONG)),
                (f"{name} not UTF-8", endpoint, replaced(token, name, NOT_UTF_8)),
                (f"{name} with control characters", endpoint, replaced(token, name, CONTROL)),
            ]
        cases += [
            ("nothing", endpoint, []),
            ("a grant of another kind", endpoint, as_bytes(token_request(grant_type="password"))),
            (
                "a refresh token not UTF-8",
                endpoint,
                [
                    (b"grant_type", b"refresh_token"),
                    (b"client_id", b"spa-demo"),
                    (b"refresh_token", NOT_UTF_8),
                ],
            ),
            (
                "a code that was never issued",
                endpoint,
                as_bytes(
                    {
                        "grant_type": "authorization_code",
                        "code": "x",
                        "client_id": "spa-demo",
                        "redirect_uri": SPA_CALLBACK,
                        "code_verifier": "y" * 43,
                    }
                ),
            ),
        ]
    for endpoint in (LOGIN_FORM, CONSENT_FORM):
        for name in ("username", "password", "csrf_token"):
            cases += [
                (f"{name} repeated", endpoint, repeated(login, name, "other")),
                (f"{name} of 100 KB", endpoint, replaced(login, name, LONG)),
                (f"{name} not UTF-8", endpoint, replaced(login, name, NOT_UTF_8)),
            ]
        cases += [
            (
                "decision of another kind",
                endpoint,
                [(b"decision", b"maybe"), (b"csrf_token", b"x")],
            ),
            ("decision repeated", endpoint, [(b"decision", b"allow"), (b"decision", b"deny")]),
        ]
    return cases


#: RFC 6749 §3.1: "The authorization server MUST ignore unrecognized request parameters." These
#: are answered as the request without them (a code for the signed-in user, the consent page).
IGNORED_PARAMETER_CASES = [
    ("a name not UTF-8", [(NOT_UTF_8, b"x")]),
    ("an empty name", [(b"", b"x")]),
    ("a name with control characters", [(CONTROL, b"x")]),
]


def describe(parameters: Parameters) -> str:
    """The parameters, each value cut to 20 bytes and its length: readable in a failure."""
    return " ".join(f"{name[:20]!r}={value[:20]!r}({len(value)})" for name, value in parameters)


def problems_with_refusal(answer: Answer, form: str) -> list[str]:
    """What is wrong with ``answer`` to a request that must be refused: a 4xx in the endpoint's
    form (an OAuth error JSON at the token endpoint, the error page on pages), or, once the
    application and its redirect URI are known, the authorization error sent back to it."""
    if TRACEBACK.search(answer.body) or TRACEBACK.search(
        answer.headers.get("Location", "").encode()
    ):
        return ["a traceback in the answer"]
    if answer.status in (302, 303) and form == "page":
        location = answer.headers.get("Location", "")
        error = re.search(r"[?#&]error=([a-z_]+)", location)
        if location.startswith(CALLBACKS) and error and error.group(1) in OAUTH_ERROR_CODES:
            return []
        return [f"a redirect to {location[:200]}"]
    if not 400 <= answer.status < 500:
        return [f"status {answer.status}"]
    content_type = answer.headers.get("Content-Type", "")
    if form == "oauth":
        if not content_type.startswith(JSON) or answer.json.get("error") not in OAUTH_ERROR_CODES:
            return [f"not an OAuth error: {answer.body[:200]!r}"]
        return []
    code = ERROR_PAGE_CODE.search(answer.body)
    if not content_type.startswith("text/html") or code is None:
        return [f"not the error page: {answer.status} {answer.body[:200]!r}"]
    return []


def send(
    authserver: ServerProcess, endpoint: Endpoint, parameters: Parameters, consent_page
) -> Answer:
    """``parameters`` to ``endpoint``; pages and /authorize with Alice's session, a page's form
    posted to the consent page's authorization request."""
    target, cookie = consent_page
    if endpoint.form == "oauth":
        return exchange(authserver.issuer, endpoint.request(parameters))
    query = urlsplit(target).query.encode() if endpoint.carrier == "form" else b""
    return exchange(authserver.issuer, endpoint.request(parameters, cookie, query))


def test_malformed_repeated_oversized_and_non_utf_8_parameters_are_refused(
    authserver, consent_page, figures
):
    failures, five_xx = [], 0
    cases = parameter_cases()

    for what, endpoint, parameters in cases:
        answer = send(authserver, endpoint, parameters, consent_page)
        five_xx += answer.status >= 500
        failures += [
            f"{endpoint.method} {endpoint.path} ({endpoint.carrier}), {what}: {problem}"
            for problem in problems_with_refusal(answer, endpoint.form)
        ]

    figures(requests=len(cases), failures=len(failures), five_xx=five_xx)
    assert failures == [], "\n".join(failures)
    assert_no_unexpected_error_logged(authserver)


PARAMETER_NAMES = st.sampled_from(
    [
        b"response_type",
        b"client_id",
        b"redirect_uri",
        b"scope",
        b"state",
        b"nonce",
        b"code_challenge",
        b"code_challenge_method",
        b"audience",
        b"prompt",
        b"max_age",
        b"response_mode",
        b"login_hint",
        b"grant_type",
        b"code",
        b"code_verifier",
        b"refresh_token",
        b"client_secret",
        b"token",
        b"username",
        b"password",
        b"csrf_token",
        b"decision",
    ]
) | st.binary(max_size=12)
PARAMETER_VALUES = (
    st.sampled_from(
        [
            b"code",
            b"token id_token",
            b"spa-demo",
            b"m2m-demo",
            SPA_CALLBACK.encode(),
            b"openid profile offline_access",
            b"S256",
            b"plain",
            b"none",
            b"login consent",
            b"client_credentials",
            b"authorization_code",
            b"refresh_token",
            API_AUDIENCE.encode(),
            b"-1",
            b"1e309",
            b"allow",
            b"deny",
            b"web_message",
            b"form_post",
        ]
    )
    | st.binary(max_size=64)
    | st.text(max_size=64).map(lambda text: text.encode("utf-8"))
    | st.just(LONG)
)
HOSTILE_PARAMETERS = st.lists(st.tuples(PARAMETER_NAMES, PARAMETER_VALUES), max_size=12)
FUZZED_ENDPOINTS = [
    AUTHORIZE,
    TOKEN_FORM,
    TOKEN_JSON,
    LOGIN_PAGE,
    LOGIN_FORM,
    CONSENT_PAGE,
    CONSENT_FORM,
]
EXAMPLES_PER_ENDPOINT = 40


def problems_with_any_answer(answer: Answer, form: str) -> list[str]:
    """Generated parameters may by chance make a request that is fine: any answer but a 5xx or a
    traceback will do, so long as a 4xx is in the endpoint's error form."""
    if answer.status >= 500:
        return [f"status {answer.status}: {answer.body[:200]!r}"]
    if TRACEBACK.search(answer.body):
        return ["a traceback in the answer"]
    if 400 <= answer.status < 500:
        return problems_with_refusal(answer, form)
    return []


def test_unrecognized_parameters_are_ignored(authserver, consent_page, figures):
    answers = []
    for endpoint, request in (
        (AUTHORIZE, authorization_request()),
        (CONSENT_PAGE, consent_request()),
    ):
        for what, extra in IGNORED_PARAMETER_CASES:
            answer = send(authserver, endpoint, [*as_bytes(request), *extra], consent_page)
            answers.append((endpoint.path, what, answer))

    figures(
        requests=len(answers),
        failures=sum(answer.status not in (200, 302) for _, _, answer in answers),
        five_xx=sum(answer.status >= 500 for _, _, answer in answers),
    )
    assert [(path, what, answer.status) for path, what, answer in answers] == [
        (path, what, 302 if path == "/authorize" else 200) for path, what, _ in answers
    ]
    assert not [answer for _, _, answer in answers if TRACEBACK.search(answer.body)]


def fuzz(endpoint: Endpoint, check) -> None:
    """``check(parameters)`` on ``EXAMPLES_PER_ENDPOINT`` generated parameter lists."""

    @settings(
        max_examples=EXAMPLES_PER_ENDPOINT,
        deadline=None,
        # The same examples on every run: make test is a gate, not a search; widen the search by
        # raising the examples count locally.
        derandomize=True,
        database=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(parameters=HOSTILE_PARAMETERS)
    def exercise(parameters: Parameters) -> None:
        check(parameters)

    exercise()


def test_generated_parameters_never_get_a_5xx_or_a_traceback(authserver, consent_page, figures):
    failures, answers = [], []

    def check(endpoint: Endpoint, parameters: Parameters) -> None:
        answer = send(authserver, endpoint, parameters, consent_page)
        answers.append(answer.status)
        failures.extend(
            f"{endpoint.method} {endpoint.path} ({endpoint.carrier}) {describe(parameters)}: {problem}"
            for problem in problems_with_any_answer(answer, endpoint.form)
        )

    for endpoint in FUZZED_ENDPOINTS:
        fuzz(endpoint, lambda parameters, endpoint=endpoint: check(endpoint, parameters))

    figures(
        requests=len(answers),
        failures=len(failures),
        five_xx=sum(status >= 500 for status in answers),
        four_xx=sum(400 <= status < 500 for status in answers),
    )
    assert failures == [], "\n".join(failures)
    assert_no_unexpected_error_logged(authserver)


# Requests gunicorn refuses before the authserver sees them: (what, request, status).
GUNICORN_REFUSALS = [
    ("a request line of 100 KB", head("GET", b"/authorize?state=" + LONG, []), 414),
    ("a header of 100 KB", head("GET", b"/u/login", [("X-Filler", "x" * KILOBYTES_100)]), 431),
    ("a negative Content-Length", head("POST", b"/oauth/token", [("Content-Length", "-1")]), 400),
    (
        "Content-Length and Transfer-Encoding",
        head(
            "POST",
            b"/oauth/token",
            [("Content-Length", "2"), ("Transfer-Encoding", "chunked")],
        )
        + b"0\r\n\r\n",
        400,
    ),
    ("a space in a header name", head("GET", b"/authorize", [("Bad Header", "x")]), 400),
    ("a request line not HTTP", b"GET /authorize?\xff HTTP/1.1 extra\r\n\r\n", 400),
]


def test_requests_gunicorn_refuses_get_the_error_page_with_its_headers(authserver, figures):
    failures, five_xx = [], 0

    for what, request, status in GUNICORN_REFUSALS:
        answer = exchange(authserver.issuer, request)
        five_xx += answer.status >= 500
        failures += [f"{what}: {problem}" for problem in problems_with(answer, status, "page")]
        if answer.headers.get("Content-Security-Policy", "").find("frame-ancestors 'none'") < 0:
            failures.append(f"{what}: no Content-Security-Policy")
        if answer.headers.get("X-Content-Type-Options") != "nosniff":
            failures.append(f"{what}: no X-Content-Type-Options")
        if b"CONTENT-LENGTH" in answer.body or b"Bad Header" in answer.body:
            failures.append(f"{what}: the answer quotes the request")

    figures(requests=len(GUNICORN_REFUSALS), failures=len(failures), five_xx=five_xx)
    assert failures == [], "\n".join(failures)
