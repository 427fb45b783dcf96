"""``python -m m2m_demo``: run the client credentials import daemon."""

from m2m_demo.daemon import main

raise SystemExit(main())
