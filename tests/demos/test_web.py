"""shared/web.py: the JSON errors and security headers of the API, the SPA server and, later,
the authorization server, on a bare Flask app."""

import logging
import sqlite3

import pytest
from flask import Flask, Response, after_this_request, request

from shared.web import (
    HEALTHCHECK_USER_AGENT,
    STORAGE_RETRY_AFTER_SECONDS,
    init_json_errors,
    init_request_log,
    init_security_headers,
    json_error,
)

POLICY = {"X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"}


def make_app(**config):
    app = Flask("web_test")
    app.config.update(config)

    @app.get("/fails")
    @app.get("/fails/<path:rest>")
    def fails(rest=""):
        raise RuntimeError("detail for the log only")

    @app.get("/cached")
    def cached():
        return Response("cacheable", headers={"Cache-Control": "max-age=60"})

    @app.get("/healthz")
    def healthz():
        return {"status": "ok"}

    return app


@pytest.fixture
def client():
    app = make_app()
    init_json_errors(app)
    init_security_headers(app, POLICY)
    return app.test_client()


def test_an_http_error_is_json_with_its_headers(client):
    response = client.post("/cached")
    assert response.status_code == 405
    assert response.get_json()["error"] == "method_not_allowed"
    assert set(response.get_json()) == {"error", "error_description"}
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}


def test_an_unexpected_error_is_a_generic_500_logged_on_one_escaped_line(client, caplog):
    with caplog.at_level(logging.ERROR, logger="web_test"):
        response = client.get("/fails/x%0DINFO forged")

    assert response.status_code == 500
    assert response.get_json()["error"] == "internal_server_error"
    assert b"detail for the log only" not in response.data
    (record,) = [record for record in caplog.records if record.name == "web_test"]
    assert record.getMessage() == "unexpected error on GET /fails/x%0DINFO%20forged"
    assert "detail for the log only" in caplog.text


def test_under_testing_an_unexpected_error_reaches_the_test():
    app = make_app(TESTING=True)
    init_json_errors(app)
    with pytest.raises(RuntimeError, match="detail for the log only"):
        app.test_client().get("/fails")


def test_an_app_may_answer_some_errors_otherwise():
    def respond(error):
        if request.path.startswith("/api/"):
            return json_error(error)
        return f"<p>{error.code}</p>", error.code

    app = make_app()
    init_json_errors(app, respond)
    client = app.test_client()

    assert client.get("/api/missing").get_json()["error"] == "not_found"
    assert client.get("/missing").data == b"<p>404</p>"
    assert client.get("/fails").data == b"<p>500</p>"


@pytest.fixture
def database(tmp_path):
    """An SQLite file with one table, and ``database.lock()``: another connection takes its write
    lock (the apps' connections wait 50 ms for it)."""
    path = tmp_path / "web.sqlite3"
    connection = sqlite3.connect(path)
    connection.execute("CREATE TABLE notes (text)")
    connection.close()
    return path


def database_app(database, **config):
    app = make_app(**config)

    @app.post("/notes/<path:rest>")
    def add_note(rest):
        connection = sqlite3.connect(database, timeout=0.05, isolation_level=None)
        try:
            connection.execute("INSERT INTO notes VALUES (?)", (rest,))
        finally:
            connection.close()
        return {"added": rest}

    @app.post("/notes-after/<path:rest>")
    def add_note_after_the_view(rest):
        # Written once the view has answered, as a server-side session is saved (and not again
        # with the error's answer, as such a session is not).
        @after_this_request
        def write(response):
            if response.status_code < 500:
                add_note(rest)
            return response

        return {"adding": rest}

    @app.get("/broken-query")
    def broken_query():
        connection = sqlite3.connect(database)
        try:
            connection.execute("SELECT * FROM missing_table")
        finally:
            connection.close()

    init_json_errors(app)
    return app


def held_write_lock(database):
    holder = sqlite3.connect(database, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


@pytest.mark.parametrize("testing", [False, True], ids=["served", "testing"])
def test_a_storage_fault_is_a_503_with_retry_after_and_one_escaped_warning(
    database, caplog, testing
):
    client = database_app(database, TESTING=testing).test_client()
    holder = held_write_lock(database)
    try:
        with caplog.at_level(logging.WARNING, logger="web_test"):
            response = client.post("/notes/x%0DINFO forged")
    finally:
        holder.execute("ROLLBACK")
        holder.close()

    assert response.status_code == 503
    assert response.get_json()["error"] == "service_unavailable"
    assert set(response.get_json()) == {"error", "error_description"}
    assert response.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    (record,) = [record for record in caplog.records if record.name == "web_test"]
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "the database refused POST /notes/x%0DINFO%20forged for now (SQLITE_BUSY): "
        "database is locked"
    )
    # Nothing was written, and the same request succeeds once the lock is released.
    assert client.post("/notes/again").status_code == 200
    assert sqlite3.connect(database).execute("SELECT text FROM notes").fetchall() == [("again",)]


def test_a_storage_fault_after_the_view_is_a_503_too(database):
    client = database_app(database).test_client()
    holder = held_write_lock(database)
    try:
        response = client.post("/notes-after/x")
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert response.status_code == 503
    assert response.headers["Retry-After"] == str(STORAGE_RETRY_AFTER_SECONDS)
    assert client.post("/notes-after/again").status_code == 200


def test_a_storage_fault_after_the_view_is_logged_once_escaped(database, caplog):
    client = database_app(database).test_client()
    holder = held_write_lock(database)
    try:
        with caplog.at_level(logging.INFO):
            assert client.post("/notes-after/x%0DINFO forged").status_code == 503
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    # Flask's own log line of an error after the view (unescaped, with a traceback) is not
    # written: only the app's warning, its path escaped.
    (record,) = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert record.getMessage() == (
        "the database refused POST /notes-after/x%0DINFO%20forged for now (SQLITE_BUSY): "
        "database is locked"
    )


def test_another_error_after_the_view_is_logged_escaped_with_its_traceback(caplog):
    app = make_app()

    @app.get("/late/<path:rest>")
    def late(rest):
        @after_this_request
        def fail(response):
            if response.status_code < 500:
                raise RuntimeError("after the view")
            return response

        return {}

    init_json_errors(app)
    assert app.test_client().get("/late/x%0DINFO forged").status_code == 500
    (record,) = [record for record in caplog.records if record.levelno >= logging.WARNING]
    assert record.getMessage() == "unexpected error on GET /late/x%0DINFO%20forged"
    assert record.exc_info[0] is RuntimeError


def test_another_database_error_is_a_program_error(database):
    assert database_app(database).test_client().get("/broken-query").status_code == 500
    with pytest.raises(sqlite3.OperationalError, match="no such table"):
        database_app(database, TESTING=True).test_client().get("/broken-query")


def test_the_policy_is_on_every_answer_unless_the_view_set_the_header(client):
    missing, cached = client.get("/missing"), client.get("/cached")
    assert missing.headers["Cache-Control"] == "no-store"
    assert missing.headers["X-Content-Type-Options"] == "nosniff"
    assert cached.headers["Cache-Control"] == "max-age=60"
    assert cached.headers["X-Content-Type-Options"] == "nosniff"


@pytest.mark.parametrize(
    ("method", "path", "headers", "remote_addr", "logged"),
    [
        ("GET", "/healthz", {}, "127.0.0.1", False),
        ("GET", "/healthz", {}, "::1", False),
        ("GET", "/healthz", {"User-Agent": "curl/8.5.0"}, "127.0.0.1", True),
        ("GET", "/healthz", {}, "172.18.0.1", True),
        ("GET", "/fails", {}, "127.0.0.1", True),
        ("POST", "/healthz", {}, "127.0.0.1", True),
        # The User-Agent is the client's to choose: it must not hide a request that reads data.
        ("GET", "/cached", {}, "127.0.0.1", True),
        ("GET", "/healthz", {"Authorization": "Bearer stolen"}, "127.0.0.1", True),
        ("GET", "/healthz?x=1", {}, "127.0.0.1", True),
    ],
    ids=[
        "healthcheck",
        "healthcheck-ipv6",
        "other-agent",
        "not-loopback",
        "failing",
        "not-get",
        "not-a-health-path",
        "with-credentials",
        "with-query",
    ],
)
def test_only_a_passing_healthcheck_from_loopback_is_left_out_of_the_request_log(
    caplog, method, path, headers, remote_addr, logged
):
    app = make_app()
    init_json_errors(app)
    init_request_log(app, logging.getLogger("web_test.requests"))
    caplog.set_level(logging.INFO, logger="web_test.requests")
    app.test_client().open(
        path,
        method=method,
        headers={"User-Agent": HEALTHCHECK_USER_AGENT, **headers},
        environ_base={"REMOTE_ADDR": remote_addr},
    )
    lines = [record for record in caplog.records if record.name == "web_test.requests"]
    assert len(lines) == (1 if logged else 0)
