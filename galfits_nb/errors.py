"""Exceptions that speak the user's language: file, line, key, expected, found."""

from __future__ import annotations

__all__ = ["GalfitsError", "ConfigError", "ObservationError"]


class GalfitsError(Exception):
    """Base class of every error galfits_nb raises on bad input."""


class ConfigError(GalfitsError, ValueError):
    """A configuration file (``.lyric``, ``.params``, prior, constrain) is wrong.

    Parameters
    ----------
    message : str
        What is wrong, in words (used when ``expected``/``found`` are not given).
    file : str, optional
        The file, as the user named it.
    line : int, optional
        1-based line number.
    key : str, optional
        The key (``Ia3``) or column at fault.
    expected, found : str, optional
        What the format wants and what the file holds.
    """

    def __init__(
        self,
        message: str = "",
        *,
        file: str | None = None,
        line: int | None = None,
        key: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.file = file
        self.line = line
        self.key = key
        self.expected = expected
        self.found = found
        self.detail = message
        super().__init__(self._format())

    def _format(self) -> str:
        where = ""
        if self.file is not None:
            where = str(self.file)
            if self.line is not None:
                where += f":{self.line}"
            where += ": "
        elif self.line is not None:
            where = f"line {self.line}: "
        if self.key:
            where += f"{self.key}: "
        parts = []
        if self.detail:
            parts.append(self.detail)
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found}")
        return where + ", ".join(parts)


class ObservationError(GalfitsError, ValueError):
    """Data on disk cannot serve as an observation (file, HDU, band named)."""
