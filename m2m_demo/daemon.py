"""The schedule, the signals and the command line of the import daemon.

Every ``--interval`` seconds one cycle runs: read the feed, pick the next batch (or the batch that
is still pending from an earlier cycle), deliver it, advance the position. A cycle that fails
leaves the batch pending; the next cycle sends the very same batch with the very same key.

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
from pathlib import Path

import requests

from m2m_demo.backoff import RetriesExhausted, RetryPolicy, StopRequested
from m2m_demo.client_credentials import ClientCredentials
from m2m_demo.feed import SAMPLE_FEED, FeedError, read_feed
from m2m_demo.imports import ImportsClient
from m2m_demo.state import DEFAULT_STATE_PATH, SourceState, StateError, StateFile
from shared.oidc_client import (
    ClientConfig,
    Narrator,
    OIDCClientError,
)
from shared.log_safety import escaped
from shared.settings import ConfigurationError

CLIENT_ID = "m2m-demo"
# The local authorization server's demo secret (authserver/tenant.toml). A real deployment sets
# AUTH_CLIENT_SECRET from a secret store; the daemon never prints it.
LOCAL_CLIENT_SECRET = "m2m-demo-local-secret"

# POST /api/imports refuses a batch of more records (api/imports.py), so a larger batch would
# stay pending forever.
MAX_BATCH_SIZE = 1000

logger = logging.getLogger("m2m_demo")


class OneLineFormatter(logging.Formatter):
    """One log line per event: what would break the line inside a message (e.g. from a server's
    error text: CR, LF, U+2028 ...) is escaped by ``shared.log_safety``."""

    converter = time.gmtime

    def format(self, record: logging.LogRecord) -> str:
        return escaped(super().format(record))


class ImportDaemon:
    def __init__(
        self,
        source_path: Path,
        state_file: StateFile,
        batch_size: int,
        imports: ImportsClient,
        narrator: Narrator,
        stop: threading.Event,
    ):
        self.source_path = source_path
        self.state_file = state_file
        self.batch_size = batch_size
        self.imports = imports
        self.narrator = narrator
        self.stop = stop

    def run(self, *, once: bool, interval: float) -> int:
        """Run cycles until ``once`` is done or a signal arrives; return the exit status."""
        while not self.stop.is_set():
            delivered = self.run_cycle()
            if once:
                return 0 if delivered or self.stop.is_set() else 1
            self.stop.wait(interval)
        self.narrator.info("stopped by signal; exiting")
        return 0

    def run_cycle(self) -> bool:
        """One cycle; True when nothing is left pending (delivered, or no new records)."""
        try:
            feed = read_feed(self.source_path)
        except FeedError as error:
            self.narrator.warning("cannot read the source; will retry next cycle", reason=str(error))
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
        batch = feed.batch(state.position, state.pending_end if pending else state.position + self.batch_size)
        if not batch.records:
            self.narrator.info("no new records", source=feed.source, position=state.position)
            return True
        if pending:
            self.narrator.info(
                "resending the batch left pending by an earlier cycle", batch_id=batch.batch_id
            )
            if batch.idempotency_key != state.idempotency_key:
                # The API still imports each (source, external_id) of this client once, whatever the key.
                self.narrator.warning(
                    "the pending records changed in the source; sending them under a new key",
                    batch_id=batch.batch_id,
                )
        self.state_file.save(feed.source, SourceState(state.position, batch.end, batch.idempotency_key))
        self.narrator.info(
            "delivering batch",
            batch_id=batch.batch_id,
            records=len(batch.records),
            idempotency_key=batch.idempotency_key,
        )
        try:
            result = self.imports.deliver(batch)
        except StopRequested as stopped:
            self.narrator.warning(
                "batch left pending for the next start", batch_id=batch.batch_id, reason=str(stopped)
            )
            return False
        except (RetriesExhausted, OIDCClientError, requests.RequestException) as error:
            self.narrator.warning(
                "batch not delivered; it stays pending for the next cycle",
                batch_id=batch.batch_id,
                reason=str(error),
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m m2m_demo",
        description=(
            "Import records from an external data source into the Flowlab API, authenticating with the "
            "OAuth 2.0 client credentials grant. Settings come from AUTH_ISSUER (or AUTH0_DOMAIN), "
            "AUTH_AUDIENCE, AUTH_CLIENT_ID, AUTH_CLIENT_SECRET, API_URL, and optionally AUTH_DISCOVERY_URL, "
            "AUTH_TOKEN_URL and AUTH_RESOURCE_INDICATOR=1; with none set it uses the local authorization "
            "server and API."
        ),
    )
    parser.add_argument(
        "--interval", type=_positive_float, default=60.0, help="seconds between cycles (default 60)"
    )
    parser.add_argument(
        "--once", action="store_true", help="run one cycle and exit (status 1 if the batch was not delivered)"
    )
    parser.add_argument(
        "--source",
        type=Path,
        default=SAMPLE_FEED,
        help="feed file, .json or .csv (default: the bundled sample feed)",
    )
    parser.add_argument(
        "--state", type=Path, default=DEFAULT_STATE_PATH, help=f"state file (default {DEFAULT_STATE_PATH})"
    )
    parser.add_argument(
        "--batch-size",
        type=_batch_size,
        default=100,
        help=f"records per batch, 1 to {MAX_BATCH_SIZE} (default 100)",
    )
    parser.add_argument(
        "--max-attempts", type=_positive_int, default=5, help="attempts per request in one cycle (default 5)"
    )
    parser.add_argument(
        "--backoff-base", type=_positive_float, default=1.0, help="first retry delay in seconds (default 1)"
    )
    parser.add_argument(
        "--backoff-max",
        type=_positive_float,
        default=30.0,
        help="longest retry delay in seconds (default 30)",
    )
    return parser


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def _batch_size(text: str) -> int:
    value = _positive_int(text)
    if value > MAX_BATCH_SIZE:
        raise argparse.ArgumentTypeError(f"the API takes at most {MAX_BATCH_SIZE} records per batch")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not value > 0:
        raise argparse.ArgumentTypeError("must be greater than 0")
    return value


def configure_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        OneLineFormatter("%(asctime)sZ %(levelname)s %(name)s %(message)s", datefmt="%Y-%m-%dT%H:%M:%S")
    )
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def install_signal_handlers(stop: threading.Event) -> None:
    def request_stop(signal_number: int, _frame: object) -> None:
        # Only set the flag here: the main loop logs and finishes the batch in flight.
        stop.set()

    signal.signal(signal.SIGTERM, request_stop)
    signal.signal(signal.SIGINT, request_stop)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    configure_logging()
    narrator = Narrator(logger, compact=True)
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
        tokens = ClientCredentials(config, session, narrator, policy, stop.wait)
    except ConfigurationError as error:
        logger.error("configuration error: %s", error)
        return 2
    imports = ImportsClient(config.api_url, session, narrator, tokens, policy, stop.wait)
    daemon = ImportDaemon(args.source, StateFile(args.state), args.batch_size, imports, narrator, stop)
    narrator.info(
        "m2m_demo started",
        issuer=config.issuer,
        audience=config.audience,
        client_id=config.client_id,
        api_url=config.api_url,
        source=str(args.source),
        state=str(args.state),
        interval=None if args.once else args.interval,
    )
    try:
        return daemon.run(once=args.once, interval=args.interval)
    except StateError as error:
        logger.error("state file error: %s", error)
        return 2
    finally:
        session.close()
