"""The m2m daemon's cycles, state and process behaviour (signals, exit status, one-line logs)."""

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from m2m_demo.backoff import RetryPolicy
from m2m_demo.feed import read_feed
from m2m_demo.state import SourceState, StateFile
from tests.demos.conftest import M2M_SECRET
from tests.demos.scripted_server import Reply

PROJECT_ROOT = Path(__file__).resolve().parents[2]
FAST_FAILURE = RetryPolicy(max_attempts=2, base_delay=0.5, max_delay=8.0)
UNAVAILABLE = Reply(503, {"error": "temporarily_unavailable"})


def posts(m2m):
    return m2m.server.requests_to("POST", "/api/imports")


def state_of(m2m):
    return StateFile(m2m.state_path).load("feed.json")


def write_feed(m2m, count):
    m2m.feed_path.write_text(json.dumps([{"external_id": f"a-{n}", "n": n} for n in range(1, count + 1)]))


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
    m2m.feed_path.write_text(json.dumps([{"external_id": "a-1", "n": 10}, {"external_id": "a-2", "n": 20}]))
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


@pytest.mark.parametrize(
    "reply, status", [(Reply(201, {"created": 2}), 0), (UNAVAILABLE, 1)], ids=["delivered", "failed"]
)
def test_once_exits_0_when_delivered_and_1_when_not(m2m, reply, status):
    m2m.server.script("POST", "/api/imports", reply)
    assert m2m.daemon(policy=FAST_FAILURE).run(once=True, interval=60) == status


# -- the real process -------------------------------------------------------------------------

LOG_LINE = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ (INFO|WARNING|ERROR) m2m_demo \S.*")


def start_daemon(m2m, *arguments, **environ):
    env = {
        **os.environ,
        "AUTH_ISSUER": m2m.server.issuer,
        "API_URL": m2m.server.base_url,
        "PYTHONUNBUFFERED": "1",
        **environ,
    }
    command = [
        sys.executable,
        "-m",
        "m2m_demo",
        "--source",
        str(m2m.feed_path),
        "--state",
        str(m2m.state_path),
        *arguments,
    ]
    return subprocess.Popen(
        command, cwd=PROJECT_ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def wait_for(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_a_signal_during_backoff_exits_0_promptly_and_keeps_the_batch_pending(m2m, signal_number):
    m2m.server.script("POST", "/api/imports", UNAVAILABLE)
    process = start_daemon(m2m, "--interval", "60", "--backoff-base", "30", "--backoff-max", "60")
    wait_for(lambda: len(posts(m2m)) == 1)
    time.sleep(0.2)
    process.send_signal(signal_number)
    started = time.monotonic()
    _, log = process.communicate(timeout=10)
    assert process.returncode == 0
    assert time.monotonic() - started < 5
    assert state_of(m2m).pending_end == 2
    assert "batch left pending for the next start" in log
    assert len(posts(m2m)) == 1


def test_a_signal_between_cycles_exits_0_after_the_delivered_batch(m2m):
    process = start_daemon(m2m, "--interval", "60")
    wait_for(lambda: state_of(m2m) == SourceState(position=2))
    process.send_signal(signal.SIGTERM)
    _, log = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "stopped by signal; exiting" in log


def test_logs_are_one_line_per_event_and_never_show_the_secret(m2m):
    m2m.server.script(
        "POST",
        "/api/imports",
        Reply(
            422,
            {
                "error": "invalid_request",
                "error_description": "line one\nFORGED 2099-01-01T00:00:00Z INFO m2m_demo batch delivered",
            },
        ),
    )
    process = start_daemon(m2m, "--once")
    stdout, log = process.communicate(timeout=20)
    assert process.returncode == 1
    lines = log.splitlines()
    assert len(lines) >= 8
    assert [line for line in lines if not LOG_LINE.fullmatch(line)] == []
    assert not any(line.startswith("FORGED") for line in lines)
    assert M2M_SECRET not in log + stdout
    assert (
        "Step 1. The Application authenticates" in log
        and "Step 3. The Application can use the Access Token" in log
    )


def test_a_damaged_state_file_stops_the_daemon_with_status_2(m2m):
    m2m.state_path.write_text("{half")
    process = start_daemon(m2m, "--once")
    _, log = process.communicate(timeout=20)
    assert process.returncode == 2
    assert "state file error" in log and "not valid JSON" in log
    assert posts(m2m) == []


def test_a_remote_issuer_without_a_client_secret_stops_the_daemon_with_status_2(m2m):
    process = start_daemon(m2m, "--once", AUTH_ISSUER="", AUTH0_DOMAIN="flowlab.eu.auth0.com")
    _, log = process.communicate(timeout=20)
    assert process.returncode == 2
    assert log.strip().endswith(
        "configuration error: AUTH_CLIENT_SECRET is required for the client credentials grant"
    )


def test_an_unusable_setting_stops_the_daemon_with_status_2(m2m):
    process = start_daemon(m2m, "--once", AUTH_ISSUER="http://tenant.example/")
    _, log = process.communicate(timeout=20)
    assert process.returncode == 2
    assert log.strip().endswith(
        "configuration error: AUTH_ISSUER must use https (plain http only for localhost)"
    )
    assert m2m.server.received == []
