"""The m2m daemon's cycles, state and process behaviour (signals, exit status, one-line logs)."""

import json
import re
import signal
from pathlib import Path

import pytest

from api import create_app
from m2m_demo.backoff import RetryPolicy
from m2m_demo.daemon import API_MAX_BATCH_RECORDS, build_parser
from m2m_demo.feed import read_feed
from m2m_demo.state import SourceState, StateFile
from tests.demos.conftest import M2M_SECRET
from tests.demos.scripted_server import Reply
from tests.e2e.demo_process import DemoProcess
from tests.support.processes import service_environment

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FAST_FAILURE = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=8.0)
UNAVAILABLE = Reply(503, {"error": "temporarily_unavailable"})


def posts(m2m):
    return m2m.server.requests_to("POST", "/api/imports")


def state_of(m2m):
    return StateFile(m2m.state_path).load("feed.json")


def write_feed(m2m, count):
    m2m.feed_path.write_text(
        json.dumps([{"external_id": f"a-{n}", "n": n} for n in range(1, count + 1)])
    )


def test_a_cycle_delivers_the_next_batch_and_advances_the_position(m2m):
    assert m2m.daemon().run_cycle() is True
    assert state_of(m2m) == SourceState(position=2)
    assert posts(m2m)[0].json == read_feed(m2m.feed_path).batch(0, 2).body()


def test_a_cycle_without_new_records_sends_nothing(m2m):
    daemon = m2m.daemon()
    daemon.run_cycle()
    assert daemon.run_cycle() is True
    assert len(posts(m2m)) == 1


def test_batches_follow_each_other(m2m):
    write_feed(m2m, 5)
    daemon = m2m.daemon(batch_size=2)
    for _ in range(4):
        daemon.run_cycle()
    assert [post.json["batch_id"] for post in posts(m2m)] == [
        "feed.json:0-2",
        "feed.json:2-4",
        "feed.json:4-5",
    ]
    assert state_of(m2m) == SourceState(position=5)


def test_a_failed_batch_stays_pending_and_is_resent_with_the_same_key(m2m):
    m2m.server.script("POST", "/api/imports", UNAVAILABLE)
    daemon = m2m.daemon(policy=FAST_FAILURE)
    assert daemon.run_cycle() is False
    failed_key = posts(m2m)[0].headers["Idempotency-Key"]
    assert state_of(m2m) == SourceState(position=0, pending_end=2, idempotency_key=failed_key)

    m2m.server.script("POST", "/api/imports", Reply(201, {"created": 2, "replayed": False}))
    assert daemon.run_cycle() is True
    assert posts(m2m)[-1].headers["Idempotency-Key"] == failed_key
    assert posts(m2m)[-1].json == posts(m2m)[0].json
    assert state_of(m2m) == SourceState(position=2)


def test_a_pending_batch_keeps_its_records_when_the_feed_grows(m2m):
    m2m.server.script("POST", "/api/imports", UNAVAILABLE)
    daemon = m2m.daemon(policy=FAST_FAILURE)
    daemon.run_cycle()
    failed = posts(m2m)[0]
    write_feed(m2m, 4)
    m2m.server.script("POST", "/api/imports", Reply(201, {"created": 2, "replayed": False}))
    daemon.run_cycle()
    daemon.run_cycle()
    resent, following = posts(m2m)[-2:]
    assert (resent.headers["Idempotency-Key"], resent.json) == (
        failed.headers["Idempotency-Key"],
        failed.json,
    )
    assert following.json["batch_id"] == "feed.json:2-4"


def test_a_pending_batch_whose_records_changed_is_sent_under_a_new_key(m2m):
    m2m.server.script("POST", "/api/imports", UNAVAILABLE)
    daemon = m2m.daemon(policy=FAST_FAILURE)
    daemon.run_cycle()
    m2m.feed_path.write_text(
        json.dumps([{"external_id": "a-1", "n": 10}, {"external_id": "a-2", "n": 20}])
    )
    m2m.server.script("POST", "/api/imports", Reply(201, {"created": 2, "replayed": False}))
    assert daemon.run_cycle() is True
    assert posts(m2m)[-1].headers["Idempotency-Key"] != posts(m2m)[0].headers["Idempotency-Key"]
    assert posts(m2m)[-1].json["records"][0]["data"] == {"n": 10}


def test_a_pending_batch_whose_records_vanished_sends_nothing(m2m):
    StateFile(m2m.state_path).save(
        "feed.json", SourceState(position=2, pending_end=4, idempotency_key="m2m-k")
    )
    assert m2m.daemon().run_cycle() is True
    assert posts(m2m) == []


def test_a_replayed_answer_counts_as_delivered(m2m):
    m2m.server.script("POST", "/api/imports", Reply(200, {"created": 0, "replayed": True}))
    assert m2m.daemon().run_cycle() is True
    assert state_of(m2m) == SourceState(position=2)


def test_a_feed_shorter_than_the_position_sends_nothing(m2m):
    StateFile(m2m.state_path).save("feed.json", SourceState(position=7))
    assert m2m.daemon().run_cycle() is False
    assert posts(m2m) == []


def test_an_unreadable_feed_fails_the_cycle_and_changes_nothing(m2m):
    m2m.feed_path.write_text("[{broken")
    assert m2m.daemon().run_cycle() is False
    assert posts(m2m) == [] and not m2m.state_path.exists()


def test_a_batch_too_large_for_the_api_says_what_to_do_and_is_cut_after_a_smaller_batch_size(
    m2m, caplog
):
    m2m.server.script("POST", "/api/imports", Reply(413, {"error": "request_entity_too_large"}))
    assert m2m.daemon().run_cycle() is False
    assert state_of(m2m).pending_end == 2
    assert "restart with a smaller --batch-size" in caplog.text

    m2m.server.script("POST", "/api/imports", Reply(201, {"created": 1, "replayed": False}))
    daemon = m2m.daemon(batch_size=1)
    assert daemon.run_cycle() is True
    assert state_of(m2m) == SourceState(position=1)
    assert daemon.run_cycle() is True
    assert [post.json["batch_id"] for post in posts(m2m)] == [
        "feed.json:0-2",
        "feed.json:0-1",
        "feed.json:1-2",
    ]
    assert "the pending batch has more records than --batch-size" in caplog.text


@pytest.mark.parametrize(
    ("reply", "status"),
    [(Reply(201, {"created": 2}), 0), (UNAVAILABLE, 1)],
    ids=["delivered", "failed"],
)
def test_once_exits_0_when_delivered_and_1_when_not(m2m, reply, status):
    m2m.server.script("POST", "/api/imports", reply)
    assert m2m.daemon(policy=FAST_FAILURE).run(once=True, interval=60) == status


# -- the real process -------------------------------------------------------------------------

HUMAN_LINE = re.compile(r"\d\d:\d\d:\d\d ((WARNING|ERROR) )?[^\s].*")
JSON_FIELDS = {"time", "level", "logger", "message"}


def is_json_line(line):
    entry = json.loads(line)
    return isinstance(entry, dict) and entry.keys() >= JSON_FIELDS


LOG_LINES = {"human": HUMAN_LINE.fullmatch, "json": is_json_line}


def start_daemon(m2m, *arguments, **environ):
    env = service_environment(
        **{"AUTH_ISSUER": m2m.server.issuer, "API_URL": m2m.server.base_url, **environ}
    )
    return DemoProcess(
        "m2m_demo",
        "--source",
        str(m2m.feed_path),
        "--state",
        str(m2m.state_path),
        *arguments,
        env=env,
        cwd=PROJECT_ROOT,
    )


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_during_backoff_exits_0_at_once_and_keeps_the_batch_pending(m2m, signal_number):
    m2m.server.script("POST", "/api/imports", UNAVAILABLE)
    # The first retry would wait 300 to 600 s; finish() gives up after 60.
    process = start_daemon(
        m2m, "--interval", "600", "--backoff-base", "600", "--backoff-max", "1200"
    )
    try:
        process.wait_for_line(r"delivery failed; retrying")
        process.deliver_signal(signal_number)
        assert process.finish(timeout=60) == 0
    finally:
        process.kill()
    assert state_of(m2m).pending_end == 2
    assert "batch left pending for the next start" in process.stderr
    assert len(posts(m2m)) == 1


def test_a_signal_between_cycles_exits_0_after_the_delivered_batch(m2m):
    process = start_daemon(m2m, "--interval", "600")
    try:
        process.wait_for_line(r"batch delivered")
        process.deliver_signal(signal.SIGTERM)
        assert process.finish(timeout=60) == 0
    finally:
        process.kill()
    assert state_of(m2m) == SourceState(position=2)
    assert "stopped by signal; exiting" in process.stderr


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_logs_are_one_line_per_event_and_never_show_the_secret(m2m, log_format):
    m2m.server.script(
        "POST",
        "/api/imports",
        Reply(
            422,
            {
                "error": "invalid_request",
                "error_description": "line one\n"
                "FORGED 2099-01-01T00:00:00Z INFO m2m_demo batch delivered",
            },
        ),
    )
    process = start_daemon(m2m, "--once", "--log-format", log_format)
    assert process.finish() == 1
    log = process.stderr
    lines = log.splitlines()
    assert len(lines) >= 8
    assert [line for line in lines if not LOG_LINES[log_format](line)] == []
    assert not any(line.startswith("FORGED") for line in lines)
    assert M2M_SECRET not in process.output
    assert (
        "Step 1. The Application authenticates" in log
        and "Step 3. The Application can use the Access Token" in log
    )


def test_a_damaged_state_file_stops_the_daemon_with_status_2(m2m):
    m2m.state_path.write_text("{half")
    process = start_daemon(m2m, "--once")
    assert process.finish() == 2
    assert "state file error" in process.stderr and "not valid JSON" in process.stderr
    assert posts(m2m) == []


def test_a_remote_issuer_without_a_client_secret_stops_the_daemon_with_status_2(m2m):
    process = start_daemon(m2m, "--once", AUTH_ISSUER="", AUTH0_DOMAIN="flowlab.eu.auth0.com")
    assert process.finish() == 2
    assert process.stderr.strip().endswith(
        "configuration error: AUTH_CLIENT_SECRET is required for the client credentials grant"
    )


def test_an_unusable_setting_stops_the_daemon_with_status_2(m2m):
    process = start_daemon(m2m, "--once", AUTH_ISSUER="http://tenant.example/")
    assert process.finish() == 2
    assert process.stderr.strip().endswith(
        "configuration error: AUTH_ISSUER must use https (plain http only for localhost)"
    )
    assert m2m.server.received == []


@pytest.mark.parametrize("size", ["1", "1000"])
def test_a_batch_size_the_api_accepts_is_taken(size):
    assert build_parser().parse_args(["--batch-size", size]).batch_size == int(size)


@pytest.mark.parametrize("size", ["0", "1001"])
def test_a_batch_size_the_api_would_refuse_stops_the_daemon_before_it_starts(size, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--batch-size", size])
    assert exited.value.code == 2
    assert "--batch-size" in capsys.readouterr().err


def test_the_batch_limit_is_the_one_the_api_publishes(tmp_path):
    api = create_app({"DATABASE_URL": f"sqlite:///{tmp_path}/api.sqlite3"})
    document = api.test_client().get("/openapi.json").get_json()

    records = document["components"]["schemas"]["ImportBatch"]["properties"]["records"]
    assert records["maxItems"] == API_MAX_BATCH_RECORDS


def test_the_retry_options_default_to_the_retry_policy():
    args = build_parser().parse_args([])
    defaults = RetryPolicy()
    assert (args.max_attempts, args.backoff_base, args.backoff_max) == (
        defaults.max_attempts,
        defaults.base_delay,
        defaults.max_delay,
    )


@pytest.mark.parametrize("interval", ["0", "-1", "nan", "inf"])
def test_an_interval_that_is_no_positive_number_of_seconds_is_refused(interval, capsys):
    with pytest.raises(SystemExit) as exited:
        build_parser().parse_args(["--interval", interval])
    assert exited.value.code == 2
    assert "--interval: must be a number greater than 0" in capsys.readouterr().err
