"""The command line of the native demo: ``login``, ``call PATH`` and ``refresh``.

The flow itself is ``native_demo.native_app``; this module reads the settings and the
arguments, runs a command and turns its outcome into an exit status.

``login`` runs the whole flow: steps 1-4, the ID token check, step 5 (``GET /api/me`` and
``GET /api/messages``) and a refresh-token round trip, all with the session in memory; ``--keep``
also saves it (mode 0600) for later ``call`` and ``refresh`` commands. ``call`` refreshes a kept
session first if its access token expired, and once on ``401``. Each command prints every token
and answer once (``native_demo.narration``); ``--quiet`` prints the steps only.

Every failure (consent denied, timeout, an ``iss`` that does not match, an ID token that does not
validate) ends with one ``error: ...`` line on stderr and exit status 1. A redirect whose ``state``
is not this login's ends nothing: the loopback listener refuses it and goes on waiting.
"""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import requests

from native_demo.authorization_code import DEFAULT_SCOPE
from native_demo.narration import TerminalNarrator
from native_demo.native_app import NativeApp
from native_demo.session import DEFAULT_SESSION_PATH, SessionFile
from shared.cli import log_to, positive_number
from shared.oidc_client import ClientConfig, OIDCClientError
from shared.settings import ConfigurationError
from shared.token_validation import TokenValidationError

CLIENT_ID = "native-demo"
DEFAULT_TIMEOUT_SECONDS = 120.0
INTERRUPTED_STATUS = 130  # the shell's convention for a process ended by SIGINT

logger = logging.getLogger(__package__)


def command_login(app: NativeApp, args: argparse.Namespace) -> int:
    scope = " ".join(dict.fromkeys(DEFAULT_SCOPE + tuple(args.scope.split())))
    session = app.login(scope=scope, timeout=args.timeout, open_browser=not args.no_browser)
    refused = app.use_access_token(session)
    session = app.refresh_round_trip(session)
    if args.keep:
        SessionFile(args.session).save(session)
        app.narrator.info(f"Session kept in {args.session} (mode 0600) for `call` and `refresh`.")
    if refused:
        return _fail(f"login succeeded, but the API refused {', '.join(refused)}")
    app.narrator.info("Done.")
    return 0


def command_call(app: NativeApp, args: argparse.Namespace) -> int:
    store = SessionFile(args.session)
    session = store.load(app.config.issuer, app.config.client_id)
    if session.access_token_expired():
        session = app.refresh(session)
        store.save(session)
    method = "GET" if args.data is None else "POST"
    response = app.call(session, method, args.path, args.data)
    if response.status_code == 401 and session.refresh_token:
        app.narrator.info("The API refused the access token; refreshing once and retrying.")
        session = app.refresh(session)
        store.save(session)
        response = app.call(session, method, args.path, args.data)
    if not response.ok:
        return _fail(f"the API answered {response.status_code} to {method} {args.path}")
    return 0


def command_refresh(app: NativeApp, args: argparse.Namespace) -> int:
    store = SessionFile(args.session)
    store.save(app.refresh(store.load(app.config.issuer, app.config.client_id)))
    app.narrator.info(f"Session in {args.session} updated.")
    return 0


def api_path(text: str) -> str:
    """A path on the configured API; a full URL is refused so the token never goes elsewhere."""
    if not text.startswith("/") or text.startswith("//") or not text.isprintable() or " " in text:
        raise argparse.ArgumentTypeError("PATH must be a path on the API such as /api/messages")
    return text


def json_body(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON: {error}") from error


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--client-id", help="client id (default: AUTH_CLIENT_ID or native-demo; try partner-app)"
    )
    common.add_argument(
        "--quiet",
        action="store_true",
        help="print the flow's steps only (and the login URL, refusals and errors)",
    )
    common.add_argument(
        "--session",
        type=Path,
        default=DEFAULT_SESSION_PATH,
        help=f"session file (default {DEFAULT_SESSION_PATH})",
    )
    parser = argparse.ArgumentParser(
        prog="python -m native_demo",
        description=(
            "Log a user in from the command line with the authorization code flow + PKCE and a "
            "loopback redirect, then call the Flowlab API on the user's behalf. Settings come from "
            "AUTH_ISSUER (or AUTH0_DOMAIN), AUTH_AUDIENCE, AUTH_CLIENT_ID and API_URL; with none "
            "set it uses the local authorization server and API."
        ),
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    login = commands.add_parser(
        "login", parents=[common], help="log in in the browser, call the API, refresh"
    )
    login.add_argument(
        "--no-browser", action="store_true", help="print the login URL instead of opening a browser"
    )
    login.add_argument(
        "--timeout",
        type=positive_number,
        default=DEFAULT_TIMEOUT_SECONDS,
        help="seconds to wait for the login (default %(default)g)",
    )
    login.add_argument(
        "--scope",
        default="",
        help=f"extra scopes, space separated, added to: {' '.join(DEFAULT_SCOPE)}",
    )
    login.add_argument(
        "--keep", action="store_true", help="save the session (mode 0600) for `call` and `refresh`"
    )
    login.set_defaults(run=command_login)
    call = commands.add_parser("call", parents=[common], help="call the API with the kept session")
    call.add_argument("path", metavar="PATH", type=api_path, help="API path, e.g. /api/messages")
    call.add_argument(
        "--data", type=json_body, help='JSON body; makes it a POST, e.g. \'{"text": "hi"}\''
    )
    call.set_defaults(run=command_call)
    refresh = commands.add_parser(
        "refresh", parents=[common], help="refresh the kept session's access token"
    )
    refresh.set_defaults(run=command_refresh)
    return parser


def _fail(message: str) -> int:
    print(f"error: {message}", file=sys.stderr, flush=True)
    return 1


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    log_to(__package__, sys.stdout, logging.Formatter("%(message)s"))
    environ = dict(os.environ, AUTH_CLIENT_ID=args.client_id) if args.client_id else os.environ
    http = requests.Session()
    try:
        config = ClientConfig.from_env(environ, default_client_id=CLIENT_ID)
        narrator = TerminalNarrator(logger, quiet=args.quiet)
        return args.run(NativeApp(config, http, narrator), args)
    except (OIDCClientError, ConfigurationError) as error:
        return _fail(str(error))
    except TokenValidationError as error:
        return _fail(f"ID token rejected: {error.reason}")
    except requests.RequestException as error:
        where = error.request.url if error.request else "the server"
        return _fail(f"cannot reach {where} ({type(error).__name__})")
    except KeyboardInterrupt:
        _fail("interrupted")
        return INTERRUPTED_STATUS
    finally:
        http.close()
