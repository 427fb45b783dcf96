"""Response headers that lock the page down, set on every response of the SPA server.

The page is static and holds tokens in JavaScript memory, so the main threat is script that is
not ours: the Content-Security-Policy allows scripts and styles from this origin only (no
inline code, no eval, no third-party hosts), network requests only to this origin, the issuer
and the API, and frames only for silent authentication. Trusted Types make any accidental
`innerHTML` with untrusted data throw instead of executing it.
"""

REFERRER_POLICY = "no-referrer"


def content_security_policy(config):
    return "; ".join(
        [
            "default-src 'none'",
            "script-src 'self'",
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
            "trusted-types 'none'",
        ]
    )


def init_app(app, config):
    policy = content_security_policy(config)

    @app.after_request
    def add_security_headers(response):
        response.headers["Content-Security-Policy"] = policy
        response.headers["Referrer-Policy"] = REFERRER_POLICY
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "SAMEORIGIN"
        response.headers["Cache-Control"] = "no-cache"
        return response
