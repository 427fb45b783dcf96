"""The external data source: a JSON or CSV feed file, read in batches.

A feed is an ordered list of records. Each record has an ``external_id`` (its identity in the
source system) and any other fields, which become the record's ``data``:

- JSON: an array of objects, e.g. ``[{"external_id": "sku-1001", "name": "Tent", "quantity": 4}]``;
- CSV: a header row with an ``external_id`` column, one record per row.

The daemon reads the feed anew every cycle (the source may grow) and sends the next batch after the
position it has already delivered. A batch's idempotency key is derived from the source name, its
position and a hash of its content, so the same batch always gets the same key: a retry after a
lost response is recognised by the API as a replay and never imported twice.
"""

import csv
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

SAMPLE_FEED = Path(__file__).with_name("sample_feed.json")


class FeedError(Exception):
    """The feed file cannot be read or holds an invalid record; the message says where."""


@dataclass(frozen=True)
class Batch:
    """Records ``start`` (inclusive) to ``end`` (exclusive) of one source."""

    source: str
    start: int
    records: tuple[dict, ...]

    @property
    def end(self) -> int:
        return self.start + len(self.records)

    @property
    def batch_id(self) -> str:
        return f"{self.source}:{self.start}-{self.end}"

    @property
    def content_hash(self) -> str:
        canonical = json.dumps(
            self.records, sort_keys=True, separators=(",", ":"), ensure_ascii=False
        )
        return hashlib.sha256(canonical.encode()).hexdigest()

    @property
    def idempotency_key(self) -> str:
        """Deterministic: same source, position and content give the same key, on any run."""
        material = f"{self.source}\n{self.start}\n{self.content_hash}"
        return "m2m-" + hashlib.sha256(material.encode()).hexdigest()

    def body(self) -> dict:
        """The JSON body of ``POST /api/imports``."""
        return {"batch_id": self.batch_id, "source": self.source, "records": list(self.records)}


@dataclass(frozen=True)
class Feed:
    """All records of one source file, in order."""

    source: str
    records: tuple[dict, ...]

    def batch(self, start: int, end: int) -> Batch:
        return Batch(self.source, start, self.records[start:end])


def read_feed(path: Path) -> Feed:
    """Read a ``.json`` or ``.csv`` feed file into records ``{"external_id", "data"}``."""
    try:
        if path.suffix.lower() == ".json":
            rows = _json_rows(path)
        elif path.suffix.lower() == ".csv":
            rows = _csv_rows(path)
        else:
            raise FeedError(f"{path}: the source must be a .json or .csv file")
    except OSError as error:
        raise FeedError(f"{path}: cannot read the source ({error.strerror})") from error
    records = tuple(_record(path, number, row) for number, row in enumerate(rows, start=1))
    seen: set[str] = set()
    for number, record in enumerate(records, start=1):
        if record["external_id"] in seen:
            raise FeedError(
                f"{path}: record {number} repeats external_id {record['external_id']!r}"
            )
        seen.add(record["external_id"])
    return Feed(source=path.name, records=records)


def _json_rows(path: Path) -> list:
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as error:
        raise FeedError(f"{path}: not valid JSON ({error})") from error
    if not isinstance(rows, list):
        raise FeedError(f"{path}: a JSON feed must be an array of records")
    return rows


def _csv_rows(path: Path) -> list:
    try:
        with path.open(encoding="utf-8", newline="") as file:
            reader = csv.DictReader(file, strict=True)
            if "external_id" not in (reader.fieldnames or ()):
                raise FeedError(f"{path}: a CSV feed needs an external_id column")
            return list(reader)
    except (csv.Error, UnicodeDecodeError) as error:
        raise FeedError(f"{path}: not valid CSV ({error})") from error


def _record(path: Path, number: int, row: object) -> dict:
    if not isinstance(row, dict):
        raise FeedError(f"{path}: record {number} is not an object")
    if None in row:
        raise FeedError(f"{path}: record {number} has more values than the header has columns")
    external_id = row.get("external_id")
    if not isinstance(external_id, str) or not external_id.strip():
        raise FeedError(f"{path}: record {number} needs a non-empty string external_id")
    data = {name: value for name, value in row.items() if name != "external_id"}
    return {"external_id": external_id, "data": data}
