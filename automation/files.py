"""Replacing a file so that a crash leaves the old one or the new one, never half."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO


def write_atomically(
    target: Path,
    write: Callable[[BinaryIO], object],
    before_replace: Callable[[Path], None] | None = None,
) -> None:
    """Write `target` through a temporary file beside it, then rename it over.

    `write` fills the open temporary file; `before_replace(temporary)` runs once the
    data is on disk and may raise to abandon the write, leaving `target` untouched.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    handle, name = tempfile.mkstemp(
        prefix=f".{target.name}.", suffix=".tmp", dir=target.parent
    )
    temporary = Path(name)
    try:
        with os.fdopen(handle, "wb") as stream:
            write(stream)
            stream.flush()
            os.fsync(stream.fileno())
        if before_replace is not None:
            before_replace(temporary)
        temporary.replace(target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
