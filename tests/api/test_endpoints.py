"""What each endpoint answers to a caller it accepts."""

import re

import pytest

from tests.api.conftest import assert_json_error, bearer

TIMESTAMP = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z")
WRITER = ("read:messages", "write:messages")


def test_healthz_answers_when_ready(client):
    response = client.get("/healthz")

    assert response.status_code == 200
    assert response.get_json() == {"status": "ok"}


def test_private_names_the_caller_its_client_and_scopes(client, tokens):
    response = client.get("/api/private", headers=bearer(tokens.machine(("import:data",))))

    assert response.get_json() == {
        "message": "Hello from a private endpoint! You need to be authenticated to see this.",
        "sub": "m2m-demo@clients",
        "client_id": "m2m-demo",
        "scopes": ["import:data"],
    }


def test_a_posted_message_is_listed_with_its_author(client, tokens):
    token = tokens.user(WRITER, sub="auth0|alice")

    posted = client.post("/api/messages", json={"text": "Hello, Flowlab"}, headers=bearer(token))
    listed = client.get("/api/messages", headers=bearer(token))

    assert posted.status_code == 201
    message = posted.get_json()
    assert set(message) == {"id", "author", "text", "created_at"}
    assert message["author"] == "auth0|alice"
    assert message["text"] == "Hello, Flowlab"
    assert TIMESTAMP.fullmatch(message["created_at"])
    assert listed.get_json() == {"messages": [message]}


def test_messages_are_listed_newest_first(client, tokens):
    token = tokens.user(WRITER)
    for text in ("first", "second", "third"):
        client.post("/api/messages", json={"text": text}, headers=bearer(token))

    listed = client.get("/api/messages", headers=bearer(token)).get_json()["messages"]

    assert [message["text"] for message in listed] == ["third", "second", "first"]


def test_the_message_list_is_limited_to_the_latest_100(client, tokens):
    token = tokens.user(WRITER)
    for number in range(101):
        client.post("/api/messages", json={"text": f"message {number}"}, headers=bearer(token))

    listed = client.get("/api/messages", headers=bearer(token)).get_json()["messages"]

    assert len(listed) == 100
    assert listed[0]["text"] == "message 100"
    assert listed[-1]["text"] == "message 1"


@pytest.mark.parametrize(
    "text",
    [
        pytest.param("x", id="one-character"),
        pytest.param("x" * 500, id="500-characters"),
        pytest.param(
            "héllo wörld ✓ 🔐 مرحبا \U0001d518\U0001d52b\U0001d526\U0001d520\U0001d52c\U0001d521\U0001d522",
            id="unicode",
        ),
        pytest.param("🔐" * 500, id="500-astral-characters"),
        pytest.param("line one\nline two\ttabbed", id="whitespace-inside"),
    ],
)
def test_message_text_of_1_to_500_characters_round_trips_exactly(client, tokens, text):
    token = tokens.user(WRITER)

    posted = client.post("/api/messages", json={"text": text}, headers=bearer(token))

    assert posted.status_code == 201
    assert posted.get_json()["text"] == text
    assert (
        client.get("/api/messages", headers=bearer(token)).get_json()["messages"][0]["text"] == text
    )


def test_me_creates_the_local_profile_from_the_token_on_first_call(client, tokens, database):
    token = tokens.user(sub="auth0|new-user", email="new@flowlab.test", name="New User")

    response = client.get("/api/me", headers=bearer(token))

    assert response.status_code == 200
    profile = response.get_json()
    assert set(profile) == {"id", "sub", "email", "name", "created_at", "last_seen_at"}
    assert profile["sub"] == "auth0|new-user"
    assert profile["email"] == "new@flowlab.test"
    assert profile["name"] == "New User"
    assert TIMESTAMP.fullmatch(profile["created_at"])
    assert profile["last_seen_at"] == profile["created_at"]
    assert [row[1] for row in database()["users"]] == ["auth0|new-user"]


def test_me_leaves_email_and_name_null_when_the_token_has_none(client, tokens):
    profile = client.get("/api/me", headers=bearer(tokens.user(sub="auth0|anonymous"))).get_json()

    assert profile["email"] is None
    assert profile["name"] is None


def test_me_keeps_one_profile_per_sub_across_calls(client, tokens, database):
    token = tokens.user(sub="auth0|returning")

    first = client.get("/api/me", headers=bearer(token)).get_json()
    second = client.get("/api/me", headers=bearer(token)).get_json()

    assert second["id"] == first["id"]
    assert second["created_at"] == first["created_at"]
    assert len(database()["users"]) == 1


def test_each_user_gets_their_own_profile(client, tokens):
    alice = client.get("/api/me", headers=bearer(tokens.user(sub="auth0|alice"))).get_json()
    bob = client.get("/api/me", headers=bearer(tokens.user(sub="auth0|bob"))).get_json()

    assert alice["sub"] == "auth0|alice"
    assert bob["sub"] == "auth0|bob"
    assert alice["id"] != bob["id"]


def test_posting_a_message_links_it_to_the_authors_profile(client, tokens, database):
    client.post(
        "/api/messages",
        json={"text": "hi"},
        headers=bearer(tokens.user(WRITER, sub="auth0|poster")),
    )

    rows = database()

    assert [row[1] for row in rows["users"]] == ["auth0|poster"]
    assert [row[1] for row in rows["messages"]] == ["auth0|poster"]


def test_admin_stats_count_every_table(client, tokens):
    client.post("/api/messages", json={"text": "hi"}, headers=bearer(tokens.user(WRITER)))
    client.post(
        "/api/imports",
        json={
            "batch_id": "b",
            "source": "crm",
            "records": [{"external_id": "1", "data": {}}, {"external_id": "2", "data": {}}],
        },
        headers=bearer(tokens.machine(("import:data",))),
    )

    response = client.get(
        "/api/admin/stats",
        headers=bearer(tokens.user(scopes=("read:stats",), permissions=("read:stats",))),
    )

    assert response.status_code == 200
    assert response.get_json() == {
        "users": 1,
        "messages": 1,
        "import_batches": 1,
        "imported_records": 2,
    }


def test_responses_are_not_cached_and_not_sniffed(client, tokens):
    response = client.get("/api/private", headers=bearer(tokens.user()))

    assert response.headers["Cache-Control"] == "no-store"
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_request_log_has_one_line_per_request_without_the_query_string(client, tokens, caplog):
    token = tokens.user()

    with caplog.at_level("INFO", logger="api.requests"):
        client.get("/api/private", headers=bearer(token))
        client.get("/api/private", query_string={"access_token": token})

    lines = [record.getMessage() for record in caplog.records if record.name == "api.requests"]
    assert len(lines) == 2
    assert lines[0].startswith("GET /api/private 200 ")
    assert "sub='auth0|5f7c8ec7c33c6c004bbafe82' client='spa-demo'" in lines[0]
    assert lines[1].startswith("GET /api/private 400 ")
    assert "refused='access_token in the query string'" in lines[1]
    assert token not in caplog.text


def test_a_hostile_path_cannot_forge_log_lines(client, caplog):
    with caplog.at_level("INFO", logger="api.requests"):
        response = client.get("/api/%0A200 GET /api/admin/stats")

    assert_json_error(response, 404, "not_found")
    (line,) = [record.getMessage() for record in caplog.records if record.name == "api.requests"]
    assert "\n" not in line
    assert line.startswith("GET /api/%0A200%20GET%20/api/admin/stats 404 ")
