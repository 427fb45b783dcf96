"""Writing a small state file so that a crash never leaves half of it behind."""

import os
import tempfile
from pathlib import Path


def write_atomically(path: Path, content: str) -> None:
    """Replace ``path`` with ``content``: a temporary file beside it, fsync, then ``os.replace``.

    The file is created with mode 0600 (``mkstemp``), so it may hold secrets such as tokens.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor, temporary = tempfile.mkstemp(
        dir=path.parent, prefix=f".{path.name}.", suffix=".tmp"
    )
    try:
        with os.fdopen(descriptor, "w", encoding="utf-8") as file:
            file.write(content)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        os.unlink(temporary)
        raise
