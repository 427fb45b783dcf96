"""``python -m authserver``: see :mod:`authserver.cli`."""

from .cli import main

raise SystemExit(main())
