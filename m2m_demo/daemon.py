"""The schedule, the signals and the command line of the import daemon.

Every ``--interval`` seconds one cycle runs: read the feed, pick the next batch (or the batch that
is still pending from an earlier cycle), deliver it (``client_credentials_flow``: steps 1-3),
advance the position. A cycle that fails leaves the batch pending; the next cycle sends the very
same batch with the very same key. Only a ``--batch-size`` lowered since then (the API answers
``413`` to a body over its size limit) cuts a pending batch: its first records go under a new key,
which the API still imports once, as it imports each record of a client once.

A cycle with nothing new in the feed sends nothing and says so in one line, with the time of the
next check. The log is one line per event (``log_format``): for a person by default, one JSON
object per line with ``--log-format json``.

SIGTERM and SIGINT (Ctrl-C) let the request in flight finish, skip any further retries and waits,
and exit 0. A batch cut short stays pending in the state file and is delivered on the next start.
"""

import argparse
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import requests

from m2m_demo.backoff import RetriesExhausted, RetryPolicy, StopRequested
from m2m_demo.client_credentials_flow import ApiError, ClientCredentialsFlow, DeliveryRejected
from m2m_demo.feed import SAMPLE_FEED, FeedError, read_feed
from m2m_demo.log_format import LOG_FORMATS, DaemonNarrator, formatter
from m2m_demo.state import DEFAULT_STATE_PATH, SourceState, StateError, StateFile
from shared.cli import log_to, positive_integer, positive_number
from shared.oidc_client import ClientConfig, Narrator, OIDCClientError
from shared.settings import ConfigurationError

CLIENT_ID = "m2m-demo"
# The local authorization server's demo secret (authserver/tenant.toml). A real deployment sets
# AUTH_CLIENT_SECRET from a secret store; the daemon never prints it.
LOCAL_CLIENT_SECRET = "m2m-demo-local-secret"  # noqa: S105 (the documented local demo secret, above)

# The API's published limit of records per batch: ``maxItems`` of ``ImportBatch.records`` in its
# ``GET /openapi.json`` (tests/demos/test_m2m_daemon.py checks that the two agree). The API would
# refuse a larger batch in every cycle, so a larger --batch-size is refused at the start.
API_MAX_BATCH_RECORDS = 1000
DEFAULT_BATCH_SIZE = 100
DEFAULT_INTERVAL_SECONDS = 60.0
DEFAULT_RETRY_POLICY = RetryPolicy()
# A bad setting or an unusable state file: one error line, nothing sent.
FATAL_STATUS = 2

logger = logging.getLogger(__package__)


class ImportDaemon:
    def __init__(
        self,
        source_path: Path,
        state_file: StateFile,
        batch_size: int,
        flow: ClientCredentialsFlow,
        narrator: Narrator,
        stop: threading.Event,
        wall_clock: Callable[[], float] = time.time,
    ):
        self.source_path = source_path
        self.state_file = state_file
        self.batch_size = batch_size
        self.flow = flow
        self.narrator = narrator
        self.stop = stop
        self.wall_clock = wall_clock

    def run(self, *, once: bool, interval: float) -> int:
        """Run cycles until ``once`` is done or a signal arrives; return the exit status."""
        while not self.stop.is_set():
            delivered = self.run_cycle(None if once else interval)
            if once:
                return 0 if delivered or self.stop.is_set() else 1
            self.stop.wait(interval)
        self.narrator.info("stopped by signal; exiting")
        return 0

    def run_cycle(self, interval: float | None = None) -> bool:
        """One cycle; True when nothing is left pending (delivered, or nothing new). ``interval``:
        the seconds until the next cycle, if there is one."""
        try:
            feed = read_feed(self.source_path)
        except FeedError as error:
            self.narrator.warning(
                "cannot read the source; will retry next cycle", reason=str(error)
            )
            return False
        state = self.state_file.load(feed.source)
        if state.position > len(feed.records):
            self.narrator.warning(
                "the source has fewer records than were already delivered; nothing sent",
                source=feed.source,
                records=len(feed.records),
                position=state.position,
            )
            return False
        pending = state.pending_end is not None
        cut = pending and state.pending_end - state.position > self.batch_size
        end = state.pending_end if pending and not cut else state.position + self.batch_size
        batch = feed.batch(state.position, end)
        if not batch.records:
            self.nothing_new(feed.source, state.position, interval)
            return True
        if pending:
            self.narrator.info(
                "resending the batch left pending by an earlier cycle", batch_id=batch.batch_id
            )
            # The API still imports each (source, external_id) of this client once, whatever
            # the key.
            if cut:
                self.narrator.warning(
                    "the pending batch has more records than --batch-size; sending its first "
                    "records under a new key",
                    batch_id=batch.batch_id,
                )
            elif batch.idempotency_key != state.idempotency_key:
                self.narrator.warning(
                    "the pending records changed in the source; sending them under a new key",
                    batch_id=batch.batch_id,
                )
        self.state_file.save(
            feed.source, SourceState(state.position, batch.end, batch.idempotency_key)
        )
        self.narrator.info(
            "delivering batch",
            batch_id=batch.batch_id,
            records=len(batch.records),
            idempotency_key=batch.idempotency_key,
        )
        try:
            result = self.flow.deliver(batch)
        except StopRequested as stopped:
            self.narrator.warning(
                "batch left pending for the next start",
                batch_id=batch.batch_id,
                reason=str(stopped),
            )
            return False
        except (RetriesExhausted, OIDCClientError, ApiError, requests.RequestException) as error:
            self.narrator.warning(
                "batch not delivered; it stays pending for the next cycle",
                batch_id=batch.batch_id,
                reason=str(error),
            )
            if isinstance(error, DeliveryRejected) and error.too_large:
                self.narrator.warning(
                    "the batch's body is larger than the API accepts: restart with a smaller "
                    "--batch-size, and the pending batch is sent in smaller parts",
                    batch_size=self.batch_size,
                )
            return False
        self.state_file.save(feed.source, SourceState(position=batch.end))
        self.narrator.info(
            "batch delivered",
            batch_id=batch.batch_id,
            created=result.get("created"),
            replayed=result.get("replayed"),
            position=batch.end,
        )
        return True

    def nothing_new(self, source: str, position: int, interval: float | None) -> None:
        """The one line of a cycle that found no record after those already delivered."""
        if interval is None:
            self.narrator.info("nothing new in the feed", source=source, delivered=position)
            return
        next_check = time.strftime("%H:%M:%S", time.localtime(self.wall_clock() + interval))
        self.narrator.info(
            f"nothing new in the feed; next check at {next_check}",
            source=source,
            delivered=position,
        )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m m2m_demo",
        description=(
            "Import records from an external data source into the Flowlab API, authenticating "
            "with the OAuth 2.0 client credentials grant. Settings come from AUTH_ISSUER (or "
            "AUTH0_DOMAIN), AUTH_AUDIENCE, AUTH_CLIENT_ID, AUTH_CLIENT_SECRET, API_URL, and "
            "optionally AUTH_DISCOVERY_URL, AUTH_TOKEN_URL and AUTH_RESOURCE_INDICATOR=1; with "
            "none set it uses the local authorization server and API."
        ),
    )
    parser.add_argument(
        "--interval",
        type=positive_number,
        default=DEFAULT_INTERVAL_SECONDS,
        help="seconds between cycles (default %(default)g)",
    )
    parser.add_argument(
        "--log-format",
        choices=LOG_FORMATS,
        default="human",
        help="human: one readable line per event (default); json: one JSON object per line",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run one cycle and exit (status 1 if the batch was not delivered)",
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=SAMPLE_FEED,
        help="feed file, .json or .csv (default: the bundled sample feed)",
    )
    parser.add_argument(
        "--state",
        type=Path,
        default=DEFAULT_STATE_PATH,
        help="state file (default %(default)s)",
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=DEFAULT_BATCH_SIZE,
        help=f"records per batch, 1 to {API_MAX_BATCH_RECORDS} (default %(default)s)",
    )
    parser.add_argument(
        "--max-attempts",
        type=positive_integer,
        default=DEFAULT_RETRY_POLICY.max_attempts,
        help="attempts per request in one cycle (default %(default)s)",
    )
    parser.add_argument(
        "--backoff-base",
        type=positive_number,
        default=DEFAULT_RETRY_POLICY.base_delay,
        help="first retry delay in seconds (default %(default)g)",
    )
    parser.add_argument(
        "--backoff-max",
        type=positive_number,
        default=DEFAULT_RETRY_POLICY.max_delay,
        help="longest retry delay in seconds (default %(default)g)",
    )
    return parser


def _batch_size(text: str) -> int:
    value = positive_integer(text)
    if value > API_MAX_BATCH_RECORDS:
        raise argparse.ArgumentTypeError(
            f"the API takes at most {API_MAX_BATCH_RECORDS} records per batch"
        )
    return value


def install_signal_handlers(stop: threading.Event) -> None:
    def request_stop(signal_number: int, _frame: object) -> None:
        # Only set the flag here: the main loop logs and finishes the batch in flight.
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_to(__package__, sys.stderr, formatter(args.log_format))
    narrator = DaemonNarrator(logger)
    stop = threading.Event()
    install_signal_handlers(stop)
    policy = RetryPolicy(
        max_attempts=args.max_attempts, base_delay=args.backoff_base, max_delay=args.backoff_max
    )
    session = requests.Session()
    try:
        config = ClientConfig.from_env(
            os.environ, default_client_id=CLIENT_ID, default_client_secret=LOCAL_CLIENT_SECRET
        )
        flow = ClientCredentialsFlow(config, session, narrator, policy, stop.wait)
    except ConfigurationError as error:
        logger.error("configuration error: %s", error)
        return FATAL_STATUS
    daemon = ImportDaemon(args.source, StateFile(args.state), args.batch_size, flow, narrator, stop)
    schedule = "one cycle" if args.once else f"a cycle every {args.interval:g} s"
    narrator.info(
        f"m2m_demo started: {schedule}, importing the feed's new records into the API",
        issuer=config.issuer,
        audience=config.audience,
        client_id=config.client_id,
        api_url=config.api_url,
        source=str(args.source),
        state=str(args.state),
    )
    try:
        return daemon.run(once=args.once, interval=args.interval)
    except StateError as error:
        logger.error("state file error: %s", error)
        return FATAL_STATUS
    finally:
        session.close()
