"""Shared test helpers: real keys, a real JWKS server, a token factory.

tests/conftest.py registers ``tests.support.fixtures``, so every test folder gets these
fixtures (names and signatures are stable):

``rsa_key`` (session)
    ``SigningKey`` RSA-2048, kid ``rsa-key-1``, alg RS256: the issuer's signing key.
``second_rsa_key`` (session)
    Another RSA-2048 ``SigningKey``, kid ``rsa-key-2`` (key rotation, attacker keys).
``ec_key`` (session)
    ``SigningKey`` EC P-256, kid ``ec-key-1``, alg ES256.
``weak_rsa_key`` (session)
    ``SigningKey`` RSA-1024, kid ``rsa-1024``.
``jwks_server``
    A started ``tests.support.jwks_server.JWKSServer`` on ``127.0.0.1:<ephemeral>``
    publishing ``rsa_key`` and ``ec_key``. Attributes: ``issuer`` (``http://127.0.0.1:PORT/``),
    ``jwks_url``, ``base_url``; ``publish(*keys)``; ``cache_control = "max-age=N"``;
    ``misbehave(name)`` with ``"500"``, ``"garbage"``, ``"oversized"`` (2 MiB),
    ``"oversized-undeclared"``, ``"hang"``, ``"trickle"``, ``"slow"`` (answers after
    ``slow_seconds``, 5), ``"no-keys"``, ``"keys"``;
    ``hold()`` keeps JWKS requests unanswered until ``answer_held()``;
    ``trickle_interval`` (seconds between trickled bytes);
    ``serve_json(path, document)``; ``serve_redirect(path, location)``; ``count(path=JWKS_PATH)`` requests per path, ``paths``
    (every path requested, in order), ``total_requests``. It also serves the issuer's
    discovery document (``/.well-known/openid-configuration``: ``issuer``, ``jwks_uri``).
``make_jwks_server``
    Factory ``make_jwks_server(*keys) -> JWKSServer`` for more servers (another issuer, an
    attacker's URL); closed after the test.
``issuer``
    ``jwks_server.issuer``.
``audience``
    ``"https://api.flowlab.local"``.
``token_factory``
    ``tests.support.fixtures.TokenFactory`` for ``issuer``/``audience``/``rsa_key``:

    - ``token_factory(claims=None, *, header=None, key=None, alg=None, machine=False,
      drop_claims=(), drop_header=())`` -> str. Default payload is an Auth0 user access token
      (``iss``, ``sub`` ``auth0|...``, ``aud`` [audience, issuer + "userinfo"], ``iat``,
      ``exp`` +1 h, ``scope`` "openid profile email read:messages", ``azp`` "spa-demo",
      ``permissions`` ["read:messages"]); ``machine=True`` gives a client-credentials token
      (``sub`` "m2m-demo@clients", ``gty`` "client-credentials", ``azp`` "m2m-demo", ``scope``
      "import:data read:imports"). ``claims``/``header`` update the defaults; ``key`` is a
      ``SigningKey`` or ``bytes`` (an HMAC secret); ``alg`` is the signing algorithm (default:
      the header's, so ``header={"alg": "none"}`` yields an unsigned token).
    - ``token_factory.raw(header, payload, *, key=None, alg=None)``: header and payload as
      dicts or raw JSON bytes (duplicate keys, non-objects), signed.
    - ``token_factory.id_token(*, client_id, nonce, claims=None, key=None, drop_claims=())``:
      an OIDC ID token.
    - ``token_factory.claims(machine=False)`` / ``token_factory.header(key=None)``: the defaults.

Plain helpers: ``tests.support.keys.b64url``, ``compact(header, payload, key, alg)``,
``rsa_signing_key(kid, bits=2048, alg="RS256")`` (or ``"PS256"``), ``ec_signing_key(kid)``
(P-256, ES256); ``sign(signing_input, alg, key)`` signs RS256/PS256/ES256, HS256 with a bytes
secret, and ``none`` in any casing.
"""
