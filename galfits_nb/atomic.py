"""Writing output files so that an interruption never leaves a half-written one.

Every file galfits_nb writes goes through :func:`atomic_path`: the writer
fills a temporary file in the same folder, which then replaces the target
with ``os.replace`` (atomic on POSIX and Windows). Ctrl-C or a crash while
writing leaves the previous file, never a truncated one.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["atomic_path", "write_text_lines"]


@contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; on success it replaces ``path``.

    Parameters
    ----------
    path : path-like
        The file to (re)write. Its folder must exist.

    Yields
    ------
    Path
        Where the caller writes the new content (the file does not exist yet
        when the caller receives it, so writers that refuse to overwrite work).

    Notes
    -----
    The new file keeps the old file's permissions, else ``rw-r--r--``
    (``mkstemp`` would leave it private).
    """
    target = Path(path)
    mode = target.stat().st_mode & 0o777 if target.exists() else 0o644
    fd, name = tempfile.mkstemp(dir=target.parent.resolve(), prefix=f".{target.name}.", suffix=".tmp")
    os.close(fd)
    tmp = Path(name)
    tmp.unlink()
    try:
        yield tmp
        os.chmod(tmp, mode)
        os.replace(tmp, target)
    finally:
        if tmp.exists():
            tmp.unlink()


def write_text_lines(path: str | os.PathLike, lines: Iterable[str]) -> Path:
    """Write ``lines`` (without newlines) to ``path`` atomically, fsync-ed.

    Returns
    -------
    Path
        ``path``.
    """
    with atomic_path(path) as tmp:
        with open(tmp, "w", encoding="utf-8") as handle:
            for line in lines:
                handle.write(line + "\n")
            handle.flush()
            os.fsync(handle.fileno())
    return Path(path)
