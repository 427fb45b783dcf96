"""The SPA server's security headers, set on every response (``shared.web``).

The page is static and holds tokens in JavaScript memory, so the main threat is script that is
not ours: the Content-Security-Policy allows scripts and styles from this origin only (no
inline code, no eval, no third-party hosts), network requests only to this origin, the issuer
and the API, and frames only for silent authentication. Trusted Types make any accidental
`innerHTML` with untrusted data throw instead of executing it.

The SDK mode (auth0-spa-js, served from this origin) needs one exception, and only a narrow one:
with `useRefreshTokens` the SDK keeps the refresh token in a Web Worker, and `new Worker(url)`
is a Trusted Types sink. Its default worker is a `blob:` URL, which `worker-src 'self'` refuses;
the page passes the SDK's own worker file (`/vendor/auth0-spa-js/...worker...js`) instead, as a
TrustedScriptURL from the one policy allowed here, `auth0-spa-js-worker` (static/sdk_mode.js),
which accepts that exact path and nothing else. The SDK needs no other policy: it builds its
iframe and popup with `setAttribute("src")` and `window.open`, which are no Trusted Types sinks.
"""

from .config import SpaConfig

# The only Trusted Types policy the page may create (static/sdk_mode.js).
SDK_WORKER_POLICY = "auth0-spa-js-worker"


def content_security_policy(config: SpaConfig) -> str:
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
            # The SDK's refresh-token worker, from this origin (no blob: worker).
            "worker-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            f"connect-src 'self' {config.issuer_origin} {config.api_origin}",
            # Silent authentication loads /authorize?prompt=none in a hidden iframe, which the
            # issuer redirects back to our /callback: both hops must be allowed.
            f"frame-src 'self' {config.issuer_origin}",
            # Only our own page may frame us (the hidden iframe above); nobody else can.
            "frame-ancestors 'self'",
            "base-uri 'none'",
            "form-action 'none'",
            "require-trusted-types-for 'script'",
            f"trusted-types {SDK_WORKER_POLICY}",
        ]
    )


def security_headers(config: SpaConfig) -> dict[str, str]:
    return {
        "Content-Security-Policy": content_security_policy(config),
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "SAMEORIGIN",
        # Revalidate before reuse: the page and its scripts change with the code (Flask's
        # send_file says the same for static files).
        "Cache-Control": "no-cache",
    }
