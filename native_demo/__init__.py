"""Native (CLI) demo: authorization code + PKCE with a loopback redirect.

RFC 6749 §4.1, RFC 7636, RFC 8252.

A command-line application logs a user in through the system browser and calls the API on the
user's behalf. It is a *public* client: it ships to users' machines, so it holds no secret. PKCE
replaces the secret: the app proves at the token endpoint that it is the same app that started
the login. The article's five steps are narrated as they happen; :mod:`native_demo.native_app`
lists them and runs them in order.

Then a refresh-token round trip: a new access token without the browser, and a rotated refresh
token, with a word on what revocation cannot do (the API validates JWT access tokens on its own).

The redirect reaches the app through a one-shot HTTP listener on ``127.0.0.1`` and a port the
operating system picks (RFC 8252 §7.3); the authorization server accepts any port on the loopback
address for a native client. ``state`` ties the redirect to this login (CSRF: the listener
accepts no callback without it), ``iss`` names the server that sent it (RFC 9207, mix-up attacks),
``nonce`` ties the ID token to this login.

Run ``python -m native_demo --help``. Modules: ``native_app`` (the flow: ``NativeApp`` and its
steps 1-5, then the refresh), ``authorization_code`` (the request of step 1, the checks on the
response of step 2, the forms of step 3 and refresh), ``pkce``, ``loopback`` (the redirect
listener), ``session`` (tokens kept with ``--keep``), ``bearer_challenge`` (why the API refused a
call, and the fix), ``narration`` (each thing printed once; ``--quiet``: the steps only) and
``cli`` (the commands).
"""
