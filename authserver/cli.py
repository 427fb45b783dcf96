"""The command line: serving, and administering users, applications and keys.

::

    python -m authserver [serve]                 serve on AUTHSERVER_HOST:AUTHSERVER_PORT
    python -m authserver users add EMAIL [--name NAME] [--permission SCOPE ...] [--audience API]
    python -m authserver users block EMAIL       the user can no longer log in, refresh or use SSO
    python -m authserver users unblock EMAIL     also lifts the brute-force blocks of the address
    python -m authserver clients list            the applications of the tenant file
    python -m authserver clients secret          a new client secret and its tenant.toml hash line
    python -m authserver rotate-keys [--force]   next key becomes current; previous stays published

``users add`` reads the password from the terminal (twice), or from the first line of standard
input when that is not a terminal. The commands work on the same database as the server
(AUTHSERVER_DB) and may run while it serves. ``clients secret`` needs neither the database nor
the tenant file. A command's time (when a user was changed, when a rotated key stops being
published, whether the next key is old enough to sign) is read once, from the clock ``main`` is
given (by default ``time.time``).

``rotate-keys`` refuses (exit status 1, one line saying when it will be safe) to promote a next key
published for less than AUTHSERVER_ROTATION_SAFETY_PERIOD seconds, which resource servers may not
have downloaded yet (``authserver.keys``); ``--force`` promotes it all the same.
"""

import argparse
import getpass
import logging
import os
import secrets
import sqlite3
import sys
import time
from datetime import UTC, datetime

from werkzeug.security import generate_password_hash

from shared.settings import ConfigurationError
from shared.wsgi_server import bind_address, serve

from . import backchannel_logout, create_app, keys, web
from .clock import Clock, now
from .config import Settings
from .models import User
from .storage import Storage, UserExists
from .tenant import Tenant, TenantError, hash_client_secret, load_tenant

MINIMUM_PASSWORD_LENGTH = 8
#: Random bytes in a client secret made by ``clients secret``.
CLIENT_SECRET_BYTES = 32
#: How long a stopping server waits for requests in progress (SIGTERM) before gunicorn kills them.
GRACEFUL_TIMEOUT = 5
#: gunicorn worker processes. Every piece of state they share is in SQLite, the client
#: authentication throttle's counts too (``authserver.throttle``); what each keeps of its own is
#: filled after the fork (the connection pool, the group commit's queue, the back-channel logout
#: threads), and the master makes the signing keys and the session cookie's secret before it
#: forks. Grants/s measured on 2 cores with bench/http.py's cases (wrk, 4 s; each figure a
#: median of 3, from 4 or more runs on a machine that was not idle), client credentials /
#: refresh / code: 1 worker 279-330 / 162-214 / 161-236; 2 workers 459-555 / 241-313 / 263-308;
#: 4 workers 603-635 / 270-321 / 297-330. A worker uses one core at most (the GIL), and its
#: threads also wait for SQLite's write lock and the disk: twice as many workers as cores keep
#: the cores busy. At most 8: a development server on a laptop with many cores needs no more.
WORKERS = min(2 * (os.cpu_count() or 1), 8)
#: Request threads of each worker (a pooled SQLite connection each, ``authserver.db``);
#: a development server on a laptop needs no more than this.
REQUEST_THREADS = 8


class CommandError(Exception):
    """The command cannot do what was asked; the message says why."""


def _read_password() -> str:
    if not sys.stdin.isatty():
        return sys.stdin.readline().rstrip("\n")
    password = getpass.getpass("Password: ")
    if getpass.getpass("Repeat the password: ") != password:
        raise CommandError("the passwords differ")
    return password


def add_user(storage: Storage, tenant: Tenant, args, now: int, settings: Settings) -> str:
    email = args.email.strip().lower()
    if "@" not in email:
        raise CommandError(f"{args.email!r} is not an email address")
    audience = args.audience or next(iter(tenant.apis), None)
    api = tenant.find_api(audience)
    if api is None:
        raise CommandError(f"no API has the identifier {audience!r}")
    unknown = sorted(set(args.permission) - set(api.scopes))
    if unknown:
        raise CommandError(f"{', '.join(unknown)} not among the scopes of {api.identifier}")
    password = _read_password()
    if len(password) < MINIMUM_PASSWORD_LENGTH:
        raise CommandError(f"the password needs at least {MINIMUM_PASSWORD_LENGTH} characters")
    user = User(
        id=secrets.token_hex(12),
        email=email,
        email_verified=False,
        name=args.name or email,
        nickname=email.split("@")[0],
        picture="",
        permissions={api.identifier: tuple(dict.fromkeys(args.permission))}
        if args.permission
        else {},
        blocked=False,
        updated_at=now,
    )
    try:
        storage.add_user(user, generate_password_hash(password))
    except UserExists as error:
        raise CommandError(f"a user with the email address {email} exists already") from error
    return f"added {user.get_user_id()} ({email})"


def block_user(storage: Storage, tenant: Tenant, args, now: int, settings: Settings) -> str:
    email = args.email.strip().lower()
    ended = storage.set_blocked(email, True, now)
    if ended is None:
        raise CommandError(f"no user has the email address {email}")
    sent = backchannel_logout.sessions_ended(storage, tenant, settings.issuer, ended, now)
    blocked = f"blocked {email}: no more logins, SSO sessions or refreshed tokens"
    return f"{blocked} ({sent} back-channel logout token(s) sent)" if sent else blocked


def unblock_user(storage: Storage, tenant: Tenant, args, now: int, settings: Settings) -> str:
    email = args.email.strip().lower()
    found = storage.set_blocked(email, False, now) is not None
    lifted = storage.unblock_logins(email, tenant.brute_force_threshold)
    if not found and not lifted:
        raise CommandError(f"no user has the email address {email}, and it is not blocked anywhere")
    return f"unblocked {email} ({lifted} brute-force block(s) lifted)"


def list_clients(storage: Storage, tenant: Tenant, args, now: int, settings: Settings) -> str:
    rows = [("CLIENT ID", "TYPE", "FIRST PARTY", "GRANT TYPES", "CALLBACK URLS")]
    for application in tenant.applications.values():
        rows.append(
            (
                application.client_id,
                application.application_type,
                "yes" if application.is_first_party else "no",
                ",".join(sorted(application.grant_types)),
                " ".join(application.allowed_callback_urls) or "-",
            )
        )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]) - 1)]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False))
        + "  "
        + row[-1]
        for row in rows
    )


def new_client_secret() -> str:
    # RFC 6819 §5.1.4.2.2: "The token value should be >=128 bits long and constructed from a
    # cryptographically strong random or pseudo-random number sequence [...] generated by the
    # authorization server." 32 random bytes: 256 bits.
    client_secret = secrets.token_urlsafe(CLIENT_SECRET_BYTES)
    return (
        f"client secret: {client_secret}\n"
        "Give the secret to the application: it is shown only now. Put this line in the\n"
        "application's [[applications]] entry of tenant.toml, then restart the server:\n"
        f'client_secret_hash = "{hash_client_secret(client_secret)}"'
    )


def rotate_keys(storage: Storage, tenant: Tenant, args, now: int, settings: Settings) -> str:
    keys.ensure_signing_keys(storage, now)
    lifetime = tenant.longest_token_lifetime()
    try:
        kids = keys.rotate_signing_keys(
            storage,
            now,
            lifetime,
            safety_period=settings.rotation_safety_period,
            force=args.force,
        )
    except keys.NextKeyTooNew as error:
        raise CommandError(
            f"not rotated: next key {error.kid} was published at {_moment(error.published_at)}, "
            "and resource servers may not have downloaded it yet "
            f"(AUTHSERVER_ROTATION_SAFETY_PERIOD is {settings.rotation_safety_period}s); "
            f"it is safe from {_moment(error.safe_at)} (in {error.safe_at - now}s), "
            "or now with --force"
        ) from None
    return (
        f"current key: {kids[keys.CURRENT]}\n"
        f"next key:    {kids[keys.NEXT]}\n"
        f"previous key {kids[keys.PREVIOUS]} stays published until {_moment(now + lifetime)}"
    )


def _moment(timestamp: int) -> str:
    return datetime.fromtimestamp(timestamp, UTC).isoformat(timespec="seconds")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m authserver", description=__doc__.split("\n")[0]
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("serve", help="serve (the default command)")

    users = commands.add_parser("users", help="add, block or unblock users")
    users = users.add_subparsers(dest="action", required=True)
    add = users.add_parser("add", help="add a user (password from the terminal or standard input)")
    add.add_argument("email")
    add.add_argument("--name", help="full name (default: the email address)")
    add.add_argument(
        "--permission", action="append", default=[], metavar="SCOPE", help="repeatable"
    )
    add.add_argument(
        "--audience", default=None, help="the API the permissions are for (default: the first API)"
    )
    add.set_defaults(run=add_user)
    for action, run, text in (
        ("block", block_user, "block a user"),
        ("unblock", unblock_user, "unblock a user"),
    ):
        command = users.add_parser(action, help=text)
        command.add_argument("email")
        command.set_defaults(run=run)

    clients = commands.add_parser("clients", help="list applications, make client secrets")
    clients = clients.add_subparsers(dest="action", required=True)
    clients.add_parser("list", help="list the applications of the tenant file").set_defaults(
        run=list_clients
    )
    secret = clients.add_parser(
        "secret", help="make a client secret and its hash line for tenant.toml"
    )
    secret.set_defaults(make=new_client_secret)

    rotate = commands.add_parser("rotate-keys", help="rotate the signing keys")
    rotate.add_argument(
        "--force",
        action="store_true",
        help="promote the next key even if resource servers may not have downloaded it yet",
    )
    rotate.set_defaults(run=rotate_keys)
    return parser


def _serve() -> int:
    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    settings = Settings.from_env()
    application = create_app(settings.app_config())
    logging.getLogger("authserver").info(
        "development server: issuer %s, database %s",
        application.config["ISSUER"],
        application.config["DATABASE"],
    )
    # WORKERS workers with REQUEST_THREADS threads each. Every request is logged (one line, stderr).
    serve(
        application,
        bind_address(settings.host, settings.port),
        workers=WORKERS,
        threads=REQUEST_THREADS,
        errorlog="-",
        loglevel="info",
        graceful_timeout=GRACEFUL_TIMEOUT,
        refusal=web.refusal_page(application),
    )
    return 0


def main(argv: list[str] | None = None, clock: Clock = time.time) -> int:
    args = _parser().parse_args(argv)
    try:
        if args.command in (None, "serve"):
            return _serve()
        if "make" in args:
            print(args.make())
            return 0
        settings = Settings.from_env()
        tenant = load_tenant(settings.tenant)
        storage = Storage.open(settings.database)
        try:
            storage.initialize()
            print(args.run(storage, tenant, args, now(clock), settings))
        finally:
            storage.close()
    except (CommandError, ConfigurationError, TenantError) as error:
        print(f"authserver: {error}", file=sys.stderr)
        return 1
    except (OSError, sqlite3.Error) as error:
        print(f"authserver: cannot use the database: {error}", file=sys.stderr)
        return 1
    return 0
