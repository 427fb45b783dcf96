"""``/api/imports``: a retried batch never creates duplicates, a reused key with another body is
refused, concurrent deliveries store one batch, a failed request changes nothing, and each client
owns its records: no client can poison or block another's."""

import copy
import json
import sqlite3
import threading

import pytest
from werkzeug.exceptions import InternalServerError

from api import create_app
from api import db as api_db
from tests.api.conftest import assert_json_error, bearer, dump_database

READ_IMPORTS = ("read:imports",)
# Two machine clients, each with its own real signed client-credentials tokens.
CLIENT_A = "m2m-demo"
CLIENT_B = "partner-daemon"


def batch(batch_id="batch-1", source="crm", external_ids=("c-1", "c-2"), data=None):
    return {
        "batch_id": batch_id,
        "source": source,
        "records": [
            {"external_id": external_id, "data": data or {"name": f"contact {external_id}"}}
            for external_id in external_ids
        ],
    }


def records(database):
    """Every imported record as ``(client_id, source, external_id, data)``, in insertion order."""
    return [(row[1], row[2], row[3], json.loads(row[4])) for row in database()["imported_records"]]


@pytest.fixture
def importer(client, tokens):
    """``importer(body, key=None, client_id="m2m-demo", raw=None)`` posts a batch as a machine
    client, with an Idempotency-Key header when ``key`` is given."""

    def post(body=None, key=None, client_id="m2m-demo", raw=None):
        headers = bearer(
            tokens.machine(("import:data",), azp=client_id, sub=f"{client_id}@clients")
        )
        if key is not None:
            headers["Idempotency-Key"] = key
        if raw is not None:
            return client.post(
                "/api/imports", data=raw, content_type="application/json", headers=headers
            )
        return client.post("/api/imports", json=body, headers=headers)

    return post


def test_first_delivery_stores_the_records(importer, database):
    response = importer(batch(), key="key-1")

    assert response.status_code == 201
    assert response.get_json() == {
        "batch_id": "batch-1",
        "source": "crm",
        "received": 2,
        "created": 2,
        "replayed": False,
    }
    rows = database()
    assert len(rows["import_batches"]) == 1
    assert records(database) == [
        ("m2m-demo", "crm", "c-1", {"name": "contact c-1"}),
        ("m2m-demo", "crm", "c-2", {"name": "contact c-2"}),
    ]


@pytest.mark.parametrize("key", ["key-1", None], ids=["idempotency-key-header", "batch-id"])
def test_a_replay_returns_the_original_answer_and_writes_nothing(importer, database, key):
    first = importer(batch(), key=key).get_json()
    after_first = database()

    replay = importer(batch(), key=key)

    assert replay.status_code == 200
    assert replay.get_json() == {**first, "replayed": True}
    assert database() == after_first


def test_a_replay_may_format_the_same_json_differently(importer, database):
    body = batch()
    importer(body, key="key-1")
    after_first = database()
    reordered = json.dumps(
        {"records": body["records"], "source": "crm", "batch_id": "batch-1"}, indent=4
    )

    replay = importer(raw=reordered, key="key-1")

    assert replay.status_code == 200
    assert replay.get_json()["replayed"] is True
    assert database() == after_first


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(
            lambda body: body["records"].append({"external_id": "c-3", "data": {}}),
            id="extra-record",
        ),
        pytest.param(
            lambda body: body["records"][0]["data"].update(name="changed"), id="changed-data"
        ),
        pytest.param(lambda body: body.update(source="erp"), id="other-source"),
        pytest.param(lambda body: body.update(batch_id="batch-2"), id="other-batch-id"),
    ],
)
def test_the_same_key_with_a_different_body_is_422_and_writes_nothing(importer, database, change):
    importer(batch(), key="key-1")
    after_first = database()
    different = copy.deepcopy(batch())
    change(different)

    response = importer(different, key="key-1")

    body = assert_json_error(response, 422, "unprocessable_entity")
    assert "different batch" in body["error_description"]
    assert database() == after_first


def test_records_are_never_duplicated_across_batches(importer, database):
    importer(batch("batch-1", external_ids=("c-1", "c-2")))

    response = importer(batch("batch-2", external_ids=("c-2", "c-3")))

    assert response.status_code == 201
    assert response.get_json()["received"] == 2
    assert response.get_json()["created"] == 1
    assert [record[2] for record in records(database)] == ["c-1", "c-2", "c-3"]


def test_the_same_external_id_in_another_source_is_another_record(importer, database):
    importer(batch("batch-1", source="crm", external_ids=("x",)))

    response = importer(batch("batch-2", source="erp", external_ids=("x",)))

    assert response.get_json()["created"] == 1
    assert [record[1:3] for record in records(database)] == [("crm", "x"), ("erp", "x")]


def test_idempotency_keys_are_scoped_to_the_client(importer, database):
    """Another client reusing a key gets its own batch, never the first client's stored answer."""
    importer(batch(), key="shared-key", client_id=CLIENT_A)

    response = importer(batch(), key="shared-key", client_id=CLIENT_B)

    assert response.status_code == 201
    assert response.get_json()["replayed"] is False
    assert response.get_json()["created"] == 2
    assert [row[3] for row in database()["import_batches"]] == [CLIENT_A, CLIENT_B]


# -- each client owns its records ----------------------------------------------------------------


def test_another_clients_record_neither_blocks_nor_replaces_this_clients_import(importer, database):
    """Client B imports sku-2 first; client A's sku-2 is still created, as A's record, and B's
    record stays exactly as B sent it."""
    first = importer(
        batch("b-1", source="shop", external_ids=("sku-2",), data={"price": 1}), client_id=CLIENT_B
    )
    assert first.status_code == 201
    body = batch("a-1", source="shop", external_ids=("sku-1", "sku-2"), data={"price": 99})

    response = importer(body, client_id=CLIENT_A)

    assert response.status_code == 201
    assert response.get_json()["created"] == 2
    assert records(database) == [
        (CLIENT_B, "shop", "sku-2", {"price": 1}),
        (CLIENT_A, "shop", "sku-1", {"price": 99}),
        (CLIENT_A, "shop", "sku-2", {"price": 99}),
    ]


def test_a_client_retrying_after_another_clients_import_still_creates_nothing_twice(
    importer, database
):
    importer(batch("b-1", external_ids=("c-2",)), client_id=CLIENT_B)
    importer(batch("a-1", external_ids=("c-1", "c-2")), client_id=CLIENT_A)

    again = importer(batch("a-2", external_ids=("c-1", "c-2", "c-3")), client_id=CLIENT_A)

    assert again.get_json()["created"] == 1
    assert sorted(record[:3] for record in records(database)) == [
        (CLIENT_A, "crm", "c-1"),
        (CLIENT_A, "crm", "c-2"),
        (CLIENT_A, "crm", "c-3"),
        (CLIENT_B, "crm", "c-2"),
    ]


def test_the_listing_tells_each_clients_batch_and_counts_every_clients_records(
    client, importer, tokens
):
    importer(batch("b-1", external_ids=("c-2",)), client_id=CLIENT_B)
    importer(batch("a-1", external_ids=("c-1", "c-2")), client_id=CLIENT_A)

    listing = client.get("/api/imports", headers=bearer(tokens.machine(READ_IMPORTS))).get_json()

    assert [
        (entry["client_id"], entry["batch_id"], entry["created"]) for entry in listing["imports"]
    ] == [
        (CLIENT_A, "a-1", 2),
        (CLIENT_B, "b-1", 1),
    ]
    assert listing["records"] == 3


def test_a_batch_holding_another_clients_external_id_is_still_all_or_nothing(
    app, importer, database
):
    """Client A's batch repeats B's sku-2 and then fails on its last record: nothing of A's batch
    is kept, and B's record is untouched."""
    importer(batch("b-1", external_ids=("sku-2",)), client_id=CLIENT_B)
    connection = sqlite3.connect(app.config["DATABASE_PATH"])
    connection.execute(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON imported_records WHEN NEW.external_id = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'poison record'); END"
    )
    connection.close()
    before = database()

    with pytest.raises(sqlite3.IntegrityError, match="poison record"):
        importer(batch("a-1", external_ids=("sku-1", "sku-2", "poison")), client_id=CLIENT_A)

    assert database() == before


def test_an_empty_batch_is_accepted_and_creates_nothing(importer, database):
    response = importer(batch(external_ids=()))

    assert response.status_code == 201
    assert response.get_json()["created"] == 0
    assert database()["imported_records"] == []


def test_a_batch_of_1000_records_is_accepted(importer, database):
    response = importer(batch(external_ids=[f"r-{number}" for number in range(1000)]))

    assert response.status_code == 201
    assert response.get_json()["created"] == 1000
    assert len(database()["imported_records"]) == 1000


def test_concurrent_deliveries_of_one_key_store_one_batch(app, tokens, database):
    token = tokens.machine(("import:data",))
    body = batch(external_ids=[f"r-{number}" for number in range(50)])
    workers = 8
    start = threading.Barrier(workers)
    answers = []

    def deliver():
        client = app.test_client()
        start.wait()
        response = client.post(
            "/api/imports", json=body, headers={**bearer(token), "Idempotency-Key": "concurrent"}
        )
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=deliver) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    statuses = sorted(status for status, _ in answers)
    assert statuses == [200] * (workers - 1) + [201]
    assert all(answer["created"] == 50 for _, answer in answers)
    assert sum(answer["replayed"] for _, answer in answers) == workers - 1
    rows = database()
    assert len(rows["import_batches"]) == 1
    assert len(rows["imported_records"]) == 50


def test_imports_lists_batches_newest_first_with_the_record_count(client, importer, tokens):
    importer(batch("batch-1", external_ids=("c-1", "c-2")))
    importer(batch("batch-2", external_ids=("c-2", "c-3")))

    response = client.get("/api/imports", headers=bearer(tokens.machine(READ_IMPORTS)))

    assert response.status_code == 200
    listing = response.get_json()
    assert listing["records"] == 3
    assert [
        (entry["batch_id"], entry["received"], entry["created"], entry["client_id"])
        for entry in listing["imports"]
    ] == [
        ("batch-2", 2, 1, "m2m-demo"),
        ("batch-1", 2, 2, "m2m-demo"),
    ]
    assert all(
        entry["source"] == "crm" and entry["received_at"].endswith("Z")
        for entry in listing["imports"]
    )


def test_users_with_read_imports_may_list_imports(client, importer, tokens):
    importer(batch())

    response = client.get("/api/imports", headers=bearer(tokens.user(READ_IMPORTS)))

    assert response.status_code == 200
    assert response.get_json()["records"] == 2


def test_a_failure_inside_the_transaction_rolls_the_whole_batch_back(app, importer, database):
    """A real database failure on the last record (a trigger, not a mock) leaves no trace."""
    connection = sqlite3.connect(app.config["DATABASE_PATH"])
    connection.execute(
        "CREATE TRIGGER refuse_poison BEFORE INSERT ON imported_records WHEN NEW.external_id = 'poison'"
        " BEGIN SELECT RAISE(ABORT, 'poison record'); END"
    )
    connection.close()
    before = database()

    with pytest.raises(sqlite3.IntegrityError, match="poison record"):
        importer(batch(external_ids=("c-1", "c-2", "poison")))

    assert database() == before


def test_an_unexpected_failure_is_a_generic_json_500(app_config, tokens, caplog):
    """With exceptions no longer propagated to the test (production mode), the same failure is
    answered with a generic JSON 500 and logged; the batch is still rolled back."""
    app = create_app({**app_config, "TESTING": False})
    connection = sqlite3.connect(app.config["DATABASE_PATH"])
    connection.execute(
        "CREATE TRIGGER refuse_all BEFORE INSERT ON imported_records BEGIN SELECT RAISE(ABORT, 'no'); END"
    )
    connection.close()
    before = dump_database(app)

    response = app.test_client().post(
        "/api/imports", json=batch(), headers=bearer(tokens.machine(("import:data",)))
    )

    body = assert_json_error(response, 500, "internal_server_error")
    assert body["error_description"] == InternalServerError.description
    assert "sqlite" not in response.get_data(as_text=True).lower()
    assert dump_database(app) == before
    assert "IntegrityError: no" in caplog.text


def test_a_write_lock_not_had_in_time_is_a_503_with_retry_after_and_writes_nothing(
    app, importer, database, monkeypatch, caplog
):
    """Another writer holds SQLite's write lock past the busy timeout ("database is locked")."""
    monkeypatch.setattr(api_db, "BUSY_TIMEOUT_SECONDS", 0.05)
    before = database()
    writer = sqlite3.connect(app.config["DATABASE_PATH"], isolation_level=None)
    writer.execute("BEGIN IMMEDIATE")
    try:
        response = importer(batch(), key="locked-out")
    finally:
        writer.execute("ROLLBACK")
        writer.close()

    assert_json_error(response, 503, "service_unavailable")
    assert response.headers["Retry-After"] == str(api_db.RETRY_AFTER_SECONDS)
    assert database() == before
    assert "SQLITE_BUSY" in caplog.text
    assert importer(batch(), key="locked-out").status_code == 201


def test_a_database_that_cannot_grow_is_a_503_and_writes_nothing(
    app, importer, database, monkeypatch
):
    """SQLITE_FULL, the answer to a full disk: here SQLite's own page limit, set on each of the
    app's connections at the database's current size (the fault suite fills a real "disk")."""
    connect = api_db.connect

    def connect_at_full_size(path):
        connection = connect(path)
        (pages,) = connection.execute("PRAGMA page_count").fetchone()
        connection.execute(f"PRAGMA max_page_count = {pages}")
        return connection

    monkeypatch.setattr(api_db, "connect", connect_at_full_size)
    before = database()

    response = importer(batch(external_ids=[f"c-{n}" for n in range(500)]), key="full")

    assert_json_error(response, 503, "service_unavailable")
    assert database() == before
