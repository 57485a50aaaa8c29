"""Parameter tables as pandas DataFrames, for notebooks (they render as HTML)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import pandas as pd

__all__ = ["parameter_frame"]


def parameter_frame(
    table,
    names: Iterable[str] | None = None,
    sigma: Mapping[str, float] | None = None,
    truth: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """One row per parameter: value, bounds, vary, tie, and optional error and truth.

    Parameters
    ----------
    table : ParameterTable
    names : iterable of str, optional
        Rows to show, in this order (default: every parameter).
    sigma : mapping of str to float, optional
        1-sigma errors (``FitResult.sigma``): adds ``sigma``.
    truth : mapping of str to float, optional
        Known values (mock data): adds ``truth`` and ``pull`` = (value - truth) / sigma.

    Returns
    -------
    pandas.DataFrame
        Indexed by parameter name.
    """
    names = list(table.names if names is None else names)
    rows = []
    for name in names:
        row = table[name]
        entry = {"value": row.value, "min": row.min, "max": row.max, "vary": bool(row.vary), "tie": row.tie or ""}
        if sigma is not None:
            entry["sigma"] = sigma.get(name, float("nan"))
        if truth is not None:
            entry["truth"] = truth.get(name, float("nan"))
            if sigma is not None:
                entry["pull"] = (row.value - entry["truth"]) / entry["sigma"] if entry["sigma"] > 0 else float("nan")
        rows.append(entry)
    return pd.DataFrame(rows, index=pd.Index(names, name="parameter"))
