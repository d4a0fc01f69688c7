"""Atomic file writes: a reader (or a killed run) never sees a half-written report."""
from __future__ import annotations

import os
import uuid
from pathlib import Path


def write_atomic(path: str | os.PathLike[str], data: bytes) -> None:
    """Write `data` to `path` through a temporary file in the same folder and os.replace.

    Same folder, because os.replace is only atomic within one file system. Opened with "xb"
    rather than mkstemp so the file gets the umask's permissions, not mkstemp's 0600.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        with open(tmp, "xb") as f:
            f.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
