"""``python -m native_demo login|call PATH|refresh``: the authorization code + PKCE demo."""

from native_demo.cli import main

raise SystemExit(main())
