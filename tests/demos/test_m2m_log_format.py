"""What the m2m daemon logs: readable lines by default, one JSON object per line with
`--log-format json`, the three steps on every delivery, and one line when nothing is new."""

import json
import logging
import re
import time

import pytest

from m2m_demo.log_format import DaemonNarrator, HumanFormatter, JsonFormatter
from shared.log_safety import escaped
from tests.demos.conftest import token_reply
from tests.demos.test_m2m_daemon import HUMAN_LINE, LOG_LINES, posts, start_daemon

STEPS = ("Step 1. ", "Step 2. ", "Step 3. ")
REUSED = "Steps 1-2 skipped: reusing the cached access token received "
# A feed value that tries to end its line and forge an event, and to pose as a fact of its own.
FORGED = 'x\n11:00:00 batch delivered  created=999\u2028 replayed=true "quoted=1"'


def record(message, level=logging.INFO, **details):
    entry = logging.LogRecord("m2m_demo", level, __file__, 1, "%s", (message,), None)
    entry.details = details
    return entry


def test_a_human_line_is_the_time_the_message_and_the_facts():
    line = HumanFormatter().format(
        record(
            "batch delivered",
            batch_id="feed.json:0-2",
            created=2,
            replayed=False,
            body={"scope": "import:data read:imports", "note": None},
        )
    )
    assert re.fullmatch(
        r"\d\d:\d\d:\d\d batch delivered  batch_id=feed\.json:0-2 created=2 replayed=false "
        r'scope="import:data read:imports" note=null',
        line,
    )


def test_a_human_line_names_its_level_unless_it_is_info():
    line = HumanFormatter().format(record("batch not delivered", logging.WARNING, reason="503"))
    assert re.fullmatch(r"\d\d:\d\d:\d\d WARNING batch not delivered  reason=503", line)


def test_a_forged_value_or_name_stays_inside_its_fact_and_its_line():
    line = HumanFormatter().format(record("read the feed", source=FORGED, **{"created=9 x": "v"}))
    assert "\n" not in line and "\u2028" not in line
    assert line.endswith(
        '  source="x\\n11:00:00 batch delivered  created=999\\u2028 replayed=true \\"quoted=1\\""'
        ' "created=9 x"=v'
    )


def test_a_forged_message_cannot_pose_as_facts():
    # A server chooses its reason phrase: "<- 200 OK  created=999" must not read as a fact.
    line = HumanFormatter().format(record("<- 200 OK  created=999  replayed=false", status=200))
    assert line.endswith(" <- 200 OK created=999 replayed=false  status=200")
    assert line.count("  ") == 1


def test_a_json_line_is_one_object_with_the_facts():
    line = JsonFormatter().format(
        record("batch delivered", batch_id="feed.json:0-2", created=2, replayed=False)
    )
    entry = json.loads(line)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", entry.pop("time"))
    assert entry == {
        "level": "INFO",
        "logger": "m2m_demo",
        "message": "batch delivered",
        "batch_id": "feed.json:0-2",
        "created": 2,
        "replayed": False,
    }
    assert '"replayed":false' in line


def test_a_forged_value_in_a_json_line_is_escaped_and_stays_one_line():
    line = JsonFormatter().format(record("read", source=FORGED))
    assert "\n" not in line and "\u2028" not in line
    assert json.loads(line)["source"] == escaped(FORGED)


def test_the_narrator_hands_the_facts_to_the_formatter_redacted(caplog):
    narrator = DaemonNarrator(logging.getLogger("tests.m2m.narrator"))
    with caplog.at_level(logging.INFO, "tests.m2m.narrator"):
        narrator.request("POST", "https://as.example/oauth/token", fields={"client_secret": "s3"})
    (entry,) = caplog.records
    assert entry.getMessage() == "-> POST https://as.example/oauth/token"
    assert entry.details == {"body": {"client_secret": "[redacted]"}}


# -- every delivery narrates the three steps --------------------------------------------------


def messages(caplog):
    return [message.split(" {", 1)[0] for message in caplog.messages]


def step_lines(caplog):
    return [
        message[:8] if message.startswith("Step ") else REUSED
        for message in messages(caplog)
        if message.startswith(("Step ", REUSED))
    ]


def test_every_delivery_narrates_the_steps_and_a_reused_token_says_so(m2m, caplog):
    m2m.server.script(
        "POST",
        "/oauth/token",
        token_reply("token-1", expires_in=3600),
        token_reply("token-2", expires_in=3600),
    )
    daemon = m2m.daemon(batch_size=1)
    with caplog.at_level(logging.INFO, "tests.m2m"):
        daemon.run_cycle()
        m2m.now += 120
        daemon.run_cycle()
    assert step_lines(caplog) == [*STEPS, REUSED, "Step 3. "]
    reused = next(message for message in messages(caplog) if message.startswith(REUSED))
    assert reused == (
        f"{REUSED}2 min ago; a new one is requested in 57 min, shortly before it expires"
    )


def test_when_the_cached_token_expires_the_new_token_request_is_narrated(m2m, caplog):
    m2m.server.script(
        "POST",
        "/oauth/token",
        token_reply("token-1", expires_in=3600),
        token_reply("token-2", expires_in=3600),
    )
    daemon = m2m.daemon(batch_size=1)
    daemon.run_cycle()
    m2m.now += 3600
    with caplog.at_level(logging.INFO, "tests.m2m"):
        daemon.run_cycle()
    assert step_lines(caplog) == list(STEPS)
    assert "the cached access token is about to expire" in caplog.text
    assert [post.headers["Authorization"] for post in posts(m2m)] == [
        "Bearer token-1",
        "Bearer token-2",
    ]


# -- nothing new ------------------------------------------------------------------------------


def test_nothing_new_is_one_line_with_the_time_of_the_next_check(m2m, caplog):
    daemon = m2m.daemon()
    daemon.wall_clock = lambda: 1_800_000_000.0
    daemon.run_cycle(60)
    with caplog.at_level(logging.INFO, "tests.m2m"):
        assert daemon.run_cycle(60) is True
    next_check = time.strftime("%H:%M:%S", time.localtime(1_800_000_060))
    assert messages(caplog) == [f"nothing new in the feed; next check at {next_check}"]
    assert len(posts(m2m)) == 1


# -- the real process, in both formats --------------------------------------------------------


def test_the_default_log_is_human_lines_with_the_imported_facts(m2m):
    process = start_daemon(m2m, "--once")
    assert process.finish() == 0, process.output
    lines = process.stderr.splitlines()
    assert all(HUMAN_LINE.fullmatch(line) for line in lines), process.stderr
    assert [line.split(" ", 1)[1][:8] for line in lines if " Step " in line] == list(STEPS)
    (delivered,) = [line for line in lines if " batch delivered " in line]
    assert delivered.endswith(
        "batch delivered  batch_id=feed.json:0-2 created=2 replayed=false position=2"
    )
    assert max(map(len, lines)) < 400


def test_log_format_json_is_one_object_per_line_with_the_imported_facts(m2m):
    process = start_daemon(m2m, "--once", "--log-format", "json")
    assert process.finish() == 0, process.output
    entries = [json.loads(line) for line in process.stderr.splitlines()]
    assert [entry["message"][:8] for entry in entries if entry["message"].startswith("Step")] == (
        list(STEPS)
    )
    (delivered,) = [entry for entry in entries if entry["message"] == "batch delivered"]
    assert {name: delivered[name] for name in ("batch_id", "created", "replayed", "position")} == {
        "batch_id": "feed.json:0-2",
        "created": 2,
        "replayed": False,
        "position": 2,
    }
    assert '"replayed":false' in process.stderr


@pytest.mark.parametrize("log_format", ["human", "json"])
def test_a_feed_file_name_cannot_forge_a_log_line(m2m, log_format):
    forged = m2m.feed_path.with_name("feed\n11:00:00 batch delivered  created=999.json")
    forged.write_text(m2m.feed_path.read_text())
    process = start_daemon(m2m, "--once", "--log-format", log_format, "--source", str(forged))
    assert process.finish() == 0, process.output
    lines = process.stderr.splitlines()
    assert all(LOG_LINES[log_format](line) for line in lines), process.stderr
    assert not any(line.startswith("11:00:00") for line in lines)
    delivered = re.compile(r'^\S+ batch delivered  |"message":"batch delivered"')
    assert sum(bool(delivered.search(line)) for line in lines) == 1
