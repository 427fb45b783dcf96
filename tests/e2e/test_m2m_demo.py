"""The m2m daemon end to end: `python -m m2m_demo` as a real process against the real
authorization server and API; what was imported is read back from `GET /api/imports`.

Besides the issue's three scenarios (one import, nothing twice, an API outage), the daemon's
promises about a batch in flight are tested with the imports gate (tests/e2e/imports_gate.py)
holding the request: a signal lets the batch finish, and a `kill -9` loses nothing and
duplicates nothing, whether the API had imported the batch or not."""

import json
import re
import signal

import pytest
import requests

from m2m_demo.state import SourceState, StateFile
from tests.e2e.demo_process import DemoProcess
from tests.e2e.imports_gate import ImportsGate

M2M_CLIENT = {"client_id": "m2m-demo", "client_secret": "m2m-demo-local-secret"}
SAMPLE_BATCH = "sample_feed.json:0-5"
QUICK_RETRIES = ("--max-attempts", "2", "--backoff-base", "0.2", "--backoff-max", "1")


def machine_token(stack):
    """A client-credentials token of m2m-demo (it holds read:imports), as the daemon gets one."""
    token_endpoint = requests.get(
        stack.issuer + ".well-known/openid-configuration", timeout=5
    ).json()["token_endpoint"]
    answer = requests.post(
        token_endpoint,
        data={"grant_type": "client_credentials", "audience": stack.audience, **M2M_CLIENT},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()["access_token"]


def imports(stack):
    answer = requests.get(
        f"{stack.api_url}/api/imports",
        headers={"Authorization": f"Bearer {machine_token(stack)}"},
        timeout=5,
    )
    answer.raise_for_status()
    return answer.json()


def batches_named(listing, batch_id):
    return [batch for batch in listing["imports"] if batch["batch_id"] == batch_id]


def daemon(stack, tmp_path, *arguments, state="state.json", api_url=None):
    env = stack.client_env(**({"API_URL": api_url} if api_url else {}))
    return DemoProcess(
        "m2m_demo", "--state", str(tmp_path / state), *arguments, env=env, cwd=tmp_path
    )


def run_once(stack, tmp_path, *arguments, state="state.json"):
    process = daemon(stack, tmp_path, "--once", *QUICK_RETRIES, *arguments, state=state)
    return process.finish(), process


@pytest.fixture(scope="module")
def sample_import(stack, tmp_path_factory):
    """`python -m m2m_demo --once` with the bundled sample feed, run once for this module."""
    tmp_path = tmp_path_factory.mktemp("m2m")
    before = imports(stack)
    status, process = run_once(stack, tmp_path)
    return {
        "status": status,
        "process": process,
        "before": before,
        "after": imports(stack),
        "tmp_path": tmp_path,
    }


def test_once_imports_the_sample_batch(sample_import):
    assert sample_import["status"] == 0, sample_import["process"].output
    (batch,) = batches_named(sample_import["after"], SAMPLE_BATCH)
    assert (batch["client_id"], batch["received"], batch["created"]) == ("m2m-demo", 5, 5)
    assert sample_import["after"]["records"] == sample_import["before"]["records"] + 5


# The article's steps for a machine-to-machine application, word for word.
ARTICLE_STEPS = [
    "Step 1. The Application authenticates with the Authorization Server using its "
    "Client ID and Client Secret.",
    "Step 2. The Authorization Server validates this information and returns an Access Token.",
    "Step 3. The Application can use the Access Token to call the "
    "Resource Server on behalf of itself.",
]


def test_once_narrates_the_articles_three_steps_on_one_line_each(sample_import):
    log = sample_import["process"].stderr
    assert [line.split(" ", 1)[1] for line in log.splitlines() if " Step " in line] == ARTICLE_STEPS
    assert all(re.match(r"\d\d:\d\d:\d\d (WARNING )?\S", line) for line in log.splitlines())
    steps = [
        log.find(marker)
        for marker in (
            "Step 1. ",
            "Step 2. ",
            "access token (decoded for display)",
            "Step 3. ",
            "batch delivered",
        )
    ]
    assert -1 not in steps and steps == sorted(steps), log
    assert " sub=m2m-demo@clients " in log and " gty=client-credentials " in log
    assert M2M_CLIENT["client_secret"] not in sample_import["process"].output
    assert " client_secret=[redacted] " in log


def test_running_again_imports_nothing_twice(sample_import, stack):
    status, process = run_once(stack, sample_import["tmp_path"])
    assert status == 0, process.output
    assert "nothing new in the feed" in process.stderr and "Step 3." not in process.stderr
    assert imports(stack)["records"] == sample_import["after"]["records"]


def test_a_lost_state_file_is_answered_as_a_replay_not_a_second_import(sample_import, stack):
    status, process = run_once(stack, sample_import["tmp_path"], state="fresh-state.json")
    assert status == 0, process.output
    assert " replayed=true " in process.stderr
    listing = imports(stack)
    assert len(batches_named(listing, SAMPLE_BATCH)) == 1
    assert listing["records"] == sample_import["after"]["records"]


def write_feed(path, first, last):
    records = [
        {"external_id": f"outage-{number}", "quantity": number} for number in range(first, last + 1)
    ]
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(records))
    temporary.replace(path)


def test_a_batch_failing_while_the_api_is_down_is_delivered_once_when_it_is_back(stack, tmp_path):
    feed = tmp_path / "outage_feed.json"
    write_feed(feed, 1, 3)
    before = imports(stack)
    running = daemon(stack, tmp_path, "--source", str(feed), "--interval", "0.5", *QUICK_RETRIES)
    try:
        running.wait_for_line(r"batch delivered .*outage_feed\.json:0-3")
        stack.stop_api()
        try:
            write_feed(feed, 1, 5)
            running.wait_for_line(r"batch not delivered; it stays pending .*outage_feed\.json:3-5")
            pending = StateFile(tmp_path / "state.json").load("outage_feed.json")
            assert (pending.position, pending.pending_end) == (3, 5)
        finally:
            stack.start_api()
        running.wait_for_line(r"batch delivered .*outage_feed\.json:3-5")
        status = running.terminate()
    finally:
        running.kill()
    assert status == 0, running.output
    assert StateFile(tmp_path / "state.json").load("outage_feed.json") == SourceState(position=5)
    listing = imports(stack)
    assert len(batches_named(listing, "outage_feed.json:0-3")) == 1
    assert len(batches_named(listing, "outage_feed.json:3-5")) == 1
    assert listing["records"] == before["records"] + 5
    assert "stopped by signal; exiting" in running.stderr


@pytest.mark.parametrize(
    "signal_number", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"]
)
def test_a_signal_mid_delivery_lets_the_batch_finish_and_exits_0(stack, tmp_path, signal_number):
    feed = tmp_path / f"signal_{signal_number.name}_feed.json"
    write_feed(feed, 1, 4)
    before = imports(stack)
    with ImportsGate(stack.api_url, api_first=True) as gate:
        running = daemon(
            stack, tmp_path, "--source", str(feed), "--interval", "60", api_url=gate.url
        )
        try:
            assert gate.arrived.wait(30), running.output
            running.deliver_signal(signal_number)
            gate.release.set()
            status = running.finish()
        finally:
            running.kill()
    assert status == 0, running.output
    log = running.stderr
    assert log.index("batch delivered") < log.index("stopped by signal; exiting")
    assert StateFile(tmp_path / "state.json").load(feed.name) == SourceState(position=4)
    listing = imports(stack)
    assert len(batches_named(listing, f"{feed.name}:0-4")) == 1
    assert listing["records"] == before["records"] + 4


@pytest.mark.parametrize("api_first", [True, False], ids=["answer-lost", "request-lost"])
def test_a_crash_mid_delivery_loses_nothing_and_imports_nothing_twice(stack, tmp_path, api_first):
    feed = tmp_path / f"crash_{'answer' if api_first else 'request'}_lost_feed.json"
    write_feed(feed, 1, 3)
    before = imports(stack)
    with ImportsGate(stack.api_url, api_first=api_first) as gate:
        crashed = daemon(stack, tmp_path, "--source", str(feed), "--once", api_url=gate.url)
        try:
            assert gate.arrived.wait(30), crashed.output
        finally:
            crashed.kill()  # SIGKILL, mid-delivery: no handler, no cleanup
    pending = StateFile(tmp_path / "state.json").load(feed.name)
    assert (pending.position, pending.pending_end) == (0, 3)
    assert len(batches_named(imports(stack), f"{feed.name}:0-3")) == (1 if api_first else 0)

    status, restarted = run_once(stack, tmp_path, "--source", str(feed))
    assert status == 0, restarted.output
    assert f" idempotency_key={pending.idempotency_key}" in restarted.stderr
    assert (" replayed=true " if api_first else " replayed=false ") in restarted.stderr
    assert StateFile(tmp_path / "state.json").load(feed.name) == SourceState(position=3)
    listing = imports(stack)
    assert len(batches_named(listing, f"{feed.name}:0-3")) == 1
    assert listing["records"] == before["records"] + 3
