"""The m2m daemon's data source: JSON/CSV feeds, batches and their deterministic idempotency
keys."""

import json

import pytest

from m2m_demo.feed import SAMPLE_FEED, Batch, FeedError, read_feed


def write(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    return path


def test_bundled_sample_feed_is_a_valid_feed():
    feed = read_feed(SAMPLE_FEED)
    assert feed.source == "sample_feed.json"
    assert len(feed.records) == 5
    assert feed.records[0] == {
        "external_id": "sample-sku-1001",
        "data": {
            "name": "Trail running shoes",
            "warehouse": "Ljubljana",
            "quantity": 12,
            "unit_price": "89.90",
        },
    }


def test_json_and_csv_feeds_give_the_same_record_shape(tmp_path):
    json_feed = read_feed(
        write(tmp_path, "stock.json", json.dumps([{"external_id": "x-1", "qty": "3"}]))
    )
    csv_feed = read_feed(write(tmp_path, "stock.csv", "external_id,qty\nx-1,3\n"))
    assert json_feed.records == csv_feed.records == ({"external_id": "x-1", "data": {"qty": "3"}},)


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("feed.json", "{not json", "not valid JSON"),
        ("feed.json", '{"records": []}', "must be an array"),
        ("feed.json", '[{"external_id": "a"}, 3]', "record 2 is not an object"),
        ("feed.json", '[{"name": "no id"}]', "record 1 needs a non-empty string external_id"),
        ("feed.json", '[{"external_id": 7}]', "record 1 needs a non-empty string external_id"),
        (
            "feed.json",
            '[{"external_id": "a"}, {"external_id": "a"}]',
            "record 2 repeats external_id 'a'",
        ),
        ("feed.csv", "id,qty\n1,2\n", "needs an external_id column"),
        ("feed.csv", "external_id,qty\na,1,extra\n", "more values than the header"),
        ("feed.csv", "external_id,qty\n,1\n", "record 1 needs a non-empty string external_id"),
        ("feed.xml", "<feed/>", "must be a .json or .csv file"),
    ],
)
def test_invalid_feed_is_an_error_naming_the_place(tmp_path, name, content, message):
    with pytest.raises(FeedError, match=message):
        read_feed(write(tmp_path, name, content))


def test_unreadable_feed_is_an_error(tmp_path):
    with pytest.raises(FeedError, match="cannot read the source"):
        read_feed(tmp_path / "missing.json")


RECORDS = ({"external_id": "a", "data": {"n": 1}}, {"external_id": "b", "data": {"n": 2}})


def test_batch_body_and_id():
    batch = Batch("stock.json", 4, RECORDS)
    assert batch.end == 6
    assert batch.body() == {
        "batch_id": "stock.json:4-6",
        "source": "stock.json",
        "records": list(RECORDS),
    }


def test_idempotency_key_is_deterministic():
    assert (
        Batch("stock.json", 4, RECORDS).idempotency_key
        == Batch("stock.json", 4, tuple(dict(r) for r in RECORDS)).idempotency_key
    )


@pytest.mark.parametrize(
    "other",
    [
        Batch("other.json", 4, RECORDS),
        Batch("stock.json", 5, RECORDS),
        Batch(
            "stock.json",
            4,
            ({"external_id": "a", "data": {"n": 1}}, {"external_id": "b", "data": {"n": 3}}),
        ),
        Batch("stock.json", 4, RECORDS[:1]),
    ],
    ids=["source", "position", "content", "length"],
)
def test_idempotency_key_changes_with_source_position_and_content(other):
    assert other.idempotency_key != Batch("stock.json", 4, RECORDS).idempotency_key
