"""Where galfits_nb keeps what it computes once: ``GALFITS_NB_CACHE``.

The folder (default ``~/.cache/galfits_nb``, or ``$XDG_CACHE_HOME/galfits_nb``)
holds, in subfolders, resampled template grids, tables computed once with
astropy or ``dust_extinction`` (:func:`read_npz`, :func:`store_npz`) and
JAX's persistent compilation cache. The latter matters on the command line:
compiling a fit's step takes tens of seconds on a CPU, and with the cache a
second ``galfits`` run on images of the same shapes starts from the compiled
program.
"""

from __future__ import annotations

import os
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["cache_dir", "enable_compilation_cache", "read_npz", "store_npz", "write_npz"]


def cache_dir(kind: str = "") -> Path:
    """The cache folder, or its subfolder ``kind``; created if missing.

    Parameters
    ----------
    kind : str
        Subfolder name (``"jax"``, ``"templates"``), or '' for the root.
    """
    root = os.environ.get("GALFITS_NB_CACHE")
    if root:
        base = Path(root).expanduser()
    else:
        xdg = os.environ.get("XDG_CACHE_HOME")
        base = (Path(xdg).expanduser() if xdg else Path.home() / ".cache") / "galfits_nb"
    folder = base / kind if kind else base
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray] | None:
    """The arrays of a cache file, or None when it is missing or unreadable.

    A truncated or otherwise damaged file reads as None, so the caller
    computes the arrays again and rewrites it.
    """
    try:
        with np.load(path, allow_pickle=False) as stored:
            return {k: stored[k] for k in stored.files}
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> Path:
    """Write ``arrays`` to ``path`` atomically (a reader never sees half a file); its folder is made.

    Raises
    ------
    OSError
        Where the file cannot be written (see :func:`store_npz` for a cache
        that may stay unwritten).
    """
    from galfits_nb.atomic import atomic_path

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # a handle: np.savez would append ".npz" to the temporary name
    with atomic_path(path) as tmp, open(tmp, "wb") as handle:
        np.savez(handle, **arrays)
    return path


def store_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> bool:
    """:func:`write_npz` where failing is allowed: a cache is an optimisation, never a reason to fail.

    Returns
    -------
    bool
        False, with nothing written, where the folder cannot be written.
    """
    try:
        write_npz(path, arrays)
    except OSError:
        return False
    return True


def enable_compilation_cache(min_compile_seconds: float = 0.0) -> Path | None:
    """Turn on JAX's persistent compilation cache in ``cache_dir("jax")``.

    Every program is stored by default, small ones too: a fit runs dozens of
    programs that each compile in well under a second (the LM step's
    bookkeeping, the SED of the outputs), and together they cost seconds on
    every run. On the J0056 quickstart (2-core CPU, one run each) the warm
    command took 41-43 s storing everything and 47.5 s storing only programs
    that compiled for at least 1 s; the cache held 3.1 MB instead of 2.9 MB
    (no size limit is set: JAX's eviction needs the ``filelock`` package).
    A folder that cannot be created leaves the cache off (the fit still
    runs, it only compiles again).

    Returns
    -------
    Path or None
        The folder in use, or None when the cache stays off.
    """
    import jax

    try:
        folder = cache_dir("jax")
    except OSError:
        return None
    jax.config.update("jax_compilation_cache_dir", str(folder))
    jax.config.update("jax_persistent_cache_min_compile_time_secs", float(min_compile_seconds))
    jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
    return folder
