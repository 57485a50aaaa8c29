"""Spectrum file -> ``xr.Dataset`` over observed-frame wavelength.

:func:`read_spectrum` reads what an ``S`` block names: a text file with
three (or four) columns, or an SDSS spec-lite FITS file, converts the flux to
1e-17 erg/s/cm^2/A (S2), marks the pixels the fit must skip, and attaches the
instrument's resolution (S5) when given.

Nothing here imports jax.
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr

from galfits_nb.config.spec import SpectrumSpec
from galfits_nb.errors import ObservationError

__all__ = [
    "FLUX_UNIT",
    "SpectrumColumns",
    "read_spectrum",
    "read_spectrum_text",
    "read_spectrum_sdss",
    "instrument_fwhm",
    "fit_mask",
]

FLUX_UNIT = "1e-17 erg/s/cm^2/A"

# Gaussian FWHM / sigma = 2 sqrt(2 ln 2).
_FWHM_PER_SIGMA = 2.0 * np.sqrt(2.0 * np.log(2.0))


class SpectrumColumns(NamedTuple):
    """The columns of a spectrum file, in file units.

    Attributes
    ----------
    wavelength : ndarray of shape (n,)
        Observed-frame wavelength [A], increasing.
    flux, error : ndarray of shape (n,)
        Flux density and its 1-sigma error, file units.
    fwhm : ndarray of shape (n,) or None
        Instrumental FWHM [A] per pixel when the file carries it (4th text
        column; SDSS ``wdisp``), else None.
    """

    wavelength: np.ndarray
    flux: np.ndarray
    error: np.ndarray
    fwhm: np.ndarray | None


def _is_fits(path: Path) -> bool:
    """FITS by content (the SIMPLE card) or, for compressed files, by name."""
    if path.name.lower().endswith((".fits.gz", ".fit.gz", ".fits.bz2", ".fits.fz")):
        return True
    with open(path, "rb") as handle:
        return handle.read(9) == b"SIMPLE  ="


def read_spectrum_text(path: str | Path) -> SpectrumColumns:
    """Read a text spectrum: wavelength [A], flux, error, optional FWHM [A].

    Columns are separated by blanks or commas; ``#`` starts a comment; blank
    lines are skipped. Every data row must have the same number of columns,
    three or four.

    Raises
    ------
    ObservationError
        ``FILE:LINE: expected ..., found ...`` for a row that is not numbers
        or has the wrong number of columns; an empty file.
    """
    path = Path(path)
    rows: list[list[float]] = []
    lines: list[int] = []
    ncol = None
    with open(path, encoding="utf-8", errors="replace") as handle:
        for number, raw in enumerate(handle, start=1):
            text = raw.split("#", 1)[0].strip()
            if not text:
                continue
            fields = [f for f in re.split(r"[\s,]+", text) if f]
            try:
                values = [float(f) for f in fields]
            except ValueError:
                raise ObservationError(
                    f"{path}:{number}: expected 3 or 4 numeric columns (wavelength, flux, error[, fwhm]), "
                    f"found {text!r}"
                ) from None
            if ncol is None:
                if len(values) not in (3, 4):
                    raise ObservationError(
                        f"{path}:{number}: expected 3 or 4 columns (wavelength, flux, error[, fwhm]), "
                        f"found {len(values)}: {text!r}"
                    )
                ncol = len(values)
            elif len(values) != ncol:
                raise ObservationError(
                    f"{path}:{number}: expected {ncol} columns like the first data row (line {lines[0]}), "
                    f"found {len(values)}: {text!r}"
                )
            rows.append(values)
            lines.append(number)
    if not rows:
        raise ObservationError(f"{path}: no data rows (expected 3 or 4 numeric columns)")
    table = np.asarray(rows, dtype=np.float64)
    order = _wavelength_order(table[:, 0], path, lines)
    table = table[order]
    fwhm = table[:, 3] if ncol == 4 else None
    return SpectrumColumns(table[:, 0], table[:, 1], table[:, 2], fwhm)


def _wavelength_order(wavelength: np.ndarray, path: Path, lines: list[int] | None = None) -> np.ndarray:
    """Indices that make the wavelengths increase; error if they are not monotonic."""
    step = np.diff(wavelength)
    if np.all(step > 0):
        return np.arange(wavelength.size)
    if np.all(step < 0):
        return np.arange(wavelength.size)[::-1]
    bad = int(np.argmax(~(step > 0))) + 1
    where = f"{path}:{lines[bad]}" if lines is not None else f"{path}: row {bad}"
    raise ObservationError(
        f"{where}: expected strictly increasing wavelengths, found {wavelength[bad]:g} after {wavelength[bad - 1]:g}"
    )


def read_spectrum_sdss(path: str | Path) -> SpectrumColumns:
    """Read an SDSS spec-lite / spec FITS file (HDU 1 table: loglam, flux, ivar).

    Wavelength ``10**loglam`` [A, vacuum], flux in 1e-17 erg/s/cm^2/A, error
    ``1/sqrt(ivar)`` (0 where ivar = 0, so :func:`fit_mask` excludes it). When the
    table has ``wdisp`` (Gaussian sigma of the line-spread function in units
    of the 1e-4 dex pixel), the FWHM in A is
    ``2.3548 * wdisp * 1e-4 * ln(10) * wavelength``.
    """
    from astropy.io import fits

    path = Path(path)
    try:
        with fits.open(path, memmap=False) as hdul:
            if len(hdul) < 2 or hdul[1].data is None:
                raise ObservationError(f"{path}: expected an SDSS spectrum with a table in HDU 1, found none")
            table = hdul[1].data
            names = {n.lower(): n for n in table.columns.names}
            missing = [c for c in ("loglam", "flux", "ivar") if c not in names]
            if missing:
                raise ObservationError(
                    f"{path}[HDU 1]: expected columns loglam, flux, ivar, found {sorted(names)} (missing {missing})"
                )
            wavelength = 10.0 ** np.asarray(table[names["loglam"]], dtype=np.float64)
            flux = np.asarray(table[names["flux"]], dtype=np.float64)
            ivar = np.asarray(table[names["ivar"]], dtype=np.float64)
            wdisp = np.asarray(table[names["wdisp"]], dtype=np.float64) if "wdisp" in names else None
    except ObservationError:
        raise
    except OSError as exc:
        raise ObservationError(f"{path}: cannot read FITS file ({exc})") from exc
    with np.errstate(divide="ignore", invalid="ignore"):
        error = np.where(ivar > 0, 1.0 / np.sqrt(ivar), 0.0)
    fwhm = None
    if wdisp is not None:
        fwhm = _FWHM_PER_SIGMA * wdisp * 1e-4 * np.log(10.0) * wavelength
    order = _wavelength_order(wavelength, path)
    pick = (lambda a: None if a is None else a[order])
    return SpectrumColumns(wavelength[order], flux[order], error[order], pick(fwhm))


def instrument_fwhm(
    resolution: str | float | None,
    wavelength: np.ndarray,
    column: np.ndarray | None,
    where: str = "",
) -> np.ndarray | None:
    """Instrumental FWHM [A] per pixel from S5.

    Parameters
    ----------
    resolution : str, float or None
        A FWHM in A (``2.8`` or ``'2.8'``), a resolving power (``'R3500'``,
        ``'R=3500'``: FWHM = wavelength / R) or ``'column'`` (the file's
        FWHM column). None: no instrument resolution given.
    wavelength : ndarray of shape (n,)
        Observed-frame wavelength [A].
    column : ndarray of shape (n,) or None
        FWHM column of the file, when it has one.
    where : str
        Names file and key in errors.

    Returns
    -------
    ndarray of shape (n,) or None
    """
    if resolution is None:
        return None
    if isinstance(resolution, (int, float)) and not isinstance(resolution, bool):
        value = float(resolution)
    else:
        text = str(resolution).strip()
        if text.lower() == "column":
            if column is None:
                raise ObservationError(
                    f"{where}: S5 = column, expected a 4th column (FWHM in A) in the file, found 3 columns"
                )
            return np.asarray(column, dtype=np.float64)
        match = re.fullmatch(r"[Rr]\s*=?\s*([0-9.eE+-]+)", text)
        try:
            if match:
                power = float(match.group(1))
                if not power > 0:
                    raise ValueError
                return wavelength / power
            value = float(text)
        except ValueError:
            raise ObservationError(
                f"{where}: S5: expected a FWHM in A, 'R<resolving power>' or 'column', found {resolution!r}"
            ) from None
    if not value > 0:
        raise ObservationError(f"{where}: S5: expected a positive FWHM in A, found {resolution!r}")
    return np.full_like(wavelength, value)


def fit_mask(
    wavelength: np.ndarray,
    flux: np.ndarray,
    error: np.ndarray,
    fit_range_rest: tuple[float, float],
    redshift: float,
    masked_ranges_rest: tuple[tuple[float, float], ...] = (),
) -> np.ndarray:
    """Pixels the fit must skip (True = excluded).

    Excluded: outside the rest-frame range S3 shifted to the observed frame,
    ``[lo, hi] * (1 + z)``; inside any S6 range (rest frame, shifted the
    same way); non-finite flux or error; error <= 0.

    Parameters
    ----------
    wavelength, flux, error : ndarray of shape (n,)
        Observed-frame wavelength [A], flux and error (any one unit).
    fit_range_rest : tuple of 2 float
        S3, rest-frame [A].
    redshift : float
    masked_ranges_rest : tuple of (float, float)
        S6, rest-frame [A].

    Returns
    -------
    ndarray of bool, shape (n,)
    """
    lo, hi = (float(v) * (1.0 + redshift) for v in fit_range_rest)
    with np.errstate(invalid="ignore"):
        outside = (wavelength < lo) | (wavelength > hi)
        for low, high in masked_ranges_rest:
            outside |= (wavelength >= low * (1.0 + redshift)) & (wavelength <= high * (1.0 + redshift))
        bad = ~np.isfinite(flux) | ~np.isfinite(error) | ~(error > 0)
    return outside | bad


def read_spectrum(spec: SpectrumSpec, redshift: float) -> xr.Dataset:
    """Read one spectrum (an ``S`` block).

    Parameters
    ----------
    spec : SpectrumSpec
        File (S1), unit conversion (S2), rest-frame fit range (S3),
        resolution (S5).
    redshift : float
        Target redshift (R3), to shift S3 to the observed frame.

    Returns
    -------
    xr.Dataset
        Over ``wavelength`` (observed frame, A, increasing):

        * ``flux``, ``error``: file values times S2, in 1e-17 erg/s/cm^2/A.
          Non-finite values are replaced by 0 (flux) and 1 (error) so the
          arrays are safe to differentiate through; those pixels are masked.
        * ``mask``: bool, True = excluded (see :func:`fit_mask`).
        * ``fwhm``: instrumental FWHM [A] per pixel, only when S5 is given.

        Attributes: unit, flux_conversion, fit_range_rest,
        fit_range_observed, redshift, letter, file, high_resolution (0/1),
        n_used (unmasked pixels), resolution (S5 as text, when given) and
        fwhm_instrument [A] when S5 is a single FWHM.

    Raises
    ------
    ObservationError
        Missing file, unreadable rows (``FILE:LINE``), wavelengths that are
        not monotonic, S5 = column without a 4th column, no usable pixel in
        the fit range.
    """
    path = Path(spec.path)
    where = f"spectrum {spec.letter!r}: {path}"
    if not path.is_file():
        raise ObservationError(f"{where}: file not found")
    columns = read_spectrum_sdss(path) if _is_fits(path) else read_spectrum_text(path)
    wavelength = columns.wavelength
    conversion = float(spec.flux_conversion)
    flux = columns.flux * conversion
    error = columns.error * abs(conversion)
    mask = fit_mask(wavelength, flux, error, spec.fit_range, redshift, spec.masked_ranges)
    if mask.all():
        lo, hi = (float(v) * (1.0 + redshift) for v in spec.fit_range)
        raise ObservationError(
            f"{where}: no usable pixel: the fit range S3 = {tuple(spec.fit_range)} A rest-frame is "
            f"{lo:.1f}-{hi:.1f} A observed at z = {redshift}, the file covers "
            f"{wavelength[0]:.1f}-{wavelength[-1]:.1f} A (or every pixel there has a bad flux or error)"
        )
    bad_values = ~np.isfinite(flux) | ~np.isfinite(error)
    flux = np.where(np.isfinite(flux), flux, 0.0)
    error = np.where(np.isfinite(error) & (error > 0), error, 1.0)
    lo, hi = (float(v) * (1.0 + redshift) for v in spec.fit_range)
    n_bad = int((bad_values & (wavelength >= lo) & (wavelength <= hi)).sum())
    if n_bad:
        warnings.warn(f"{where}: {n_bad} NaN/inf pixel(s) inside the fit range are masked", UserWarning, stacklevel=2)

    variables = {
        "flux": ("wavelength", flux, {"units": FLUX_UNIT}),
        "error": ("wavelength", error, {"units": FLUX_UNIT}),
        "mask": ("wavelength", mask, {"long_name": "excluded pixel (True = excluded)"}),
    }
    attrs: dict[str, object] = {
        "unit": FLUX_UNIT,
        "flux_conversion": conversion,
        "fit_range_rest": np.asarray(spec.fit_range, dtype=float),
        "fit_range_observed": np.asarray(spec.fit_range, dtype=float) * (1.0 + redshift),
        "redshift": float(redshift),
        "letter": spec.letter,
        "file": str(path),
        "high_resolution": int(bool(spec.high_resolution)),
        "n_used": int((~mask).sum()),
    }
    fwhm = instrument_fwhm(spec.resolution, wavelength, columns.fwhm, where)
    if fwhm is not None:
        variables["fwhm"] = ("wavelength", fwhm, {"units": "Angstrom", "long_name": "instrumental FWHM"})
        attrs["resolution"] = str(spec.resolution)
        if np.ptp(fwhm) == 0:
            attrs["fwhm_instrument"] = float(fwhm[0])
    return xr.Dataset(
        variables,
        coords={"wavelength": ("wavelength", wavelength, {"units": "Angstrom", "frame": "observed"})},
        attrs=attrs,
    )
