"""Catalogue photometry (band, flux, error, unit) as f_lambda, and as single-pixel images.

A photometry table replaces the single-pixel FITS files that GalfitS users
write for pure SED fits (CONFIG-FORMAT.md, "Pure SED fitting"). The table is
any text table that ``astropy.table.Table.read`` reads: ECSV (``.ecsv``),
CSV (``.csv``) or whitespace-separated text with a header line, which may
start with ``#``::

    # band      flux    error  unit
    galex_fuv   21.3    0.12   AB
    sloan_g     412.0   8.0    uJy
    wise_ch1    1.9e-16 1e-17  erg/s/cm2/A

Columns are matched case-insensitively: ``band`` (or ``filter``), ``flux``,
``error`` (or ``err``, ``flux_err``, ``fluxerr``) and ``unit``; other columns
are ignored. Every row is converted to f_lambda [erg/s/cm^2/A] at the band's
pivot wavelength (:func:`flux_to_flambda`).

Two entry points:

* :func:`read_photometry_table` (path -> ``xr.Dataset`` over ``band``),
  usable from a notebook without any config;
* :func:`photometry_nodes` (that Dataset -> the ``/atlas/<name>/<band>``
  nodes :func:`~galfits_nb.data.observation.read_observation` makes for
  single-pixel images), so one SED-fitting path serves both inputs. In a
  ``.lyric`` file the table is named by an atlas's ``A8`` key
  (docs/config.md), and :func:`photometry_image_specs` gives the image
  blocks its rows stand for.

Nothing here imports jax.
"""

from __future__ import annotations

import math
import os
import warnings
from pathlib import Path
from typing import NamedTuple

import numpy as np
import xarray as xr
from astropy import units as u

from galfits_nb.config.spec import AtlasSpec, FitsRef, ImageSpec
from galfits_nb.data.filters import UnknownBandError, load_filter
from galfits_nb.errors import ConfigError, ObservationError

__all__ = [
    "FLAMBDA_UNIT",
    "PhotometryTableError",
    "read_photometry_table",
    "flux_to_flambda",
    "ab_zeropoint",
    "photometry_image_specs",
    "photometry_image",
    "photometry_images",
    "photometry_nodes",
]

#: The unit of every converted flux and of the single-pixel images (I9 = 1).
FLAMBDA_UNIT = "erg/s/cm^2/A"

_FLAM = u.erg / u.s / u.cm**2 / u.AA
_FNU = u.erg / u.s / u.cm**2 / u.Hz
# The AB zero point, 10**(-48.6 / 2.5) erg/s/cm^2/Hz = 3630.78 Jy (Oke & Gunn
# 1983); astropy's ABflux. SDSS's nanomaggy is 1e-9 of it (m = 22.5 - 2.5 log10 f).
_AB_FLUX = (1.0 * u.ABflux).to(u.Jy)

# Unit spellings accepted for each kind. Jansky prefixes are matched with
# their case (mJy is milli, MJy would be mega); the rest after lower-casing
# and removing spaces, '^' and '**', with the Angstrom spelled A, AA, Å or
# angstrom. astropy's own parser is not used for these because it reads
# "A" as the ampere.
_JANSKY = {
    "Jy": 1.0 * u.Jy,
    "mJy": 1.0 * u.mJy,
    "uJy": 1.0 * u.uJy,
    "µJy": 1.0 * u.uJy,
    "μJy": 1.0 * u.uJy,
    "microJy": 1.0 * u.uJy,
    "nJy": 1.0 * u.nJy,
}
_LOOSE = {
    **dict.fromkeys(
        ("erg/s/cm2/a", "erg/cm2/s/a", "ergs-1cm-2a-1", "ergcm-2s-1a-1", "flambda", "f_lambda", "flam"),
        1.0 * _FLAM,
    ),
    **dict.fromkeys(
        ("erg/s/cm2/hz", "erg/cm2/s/hz", "ergs-1cm-2hz-1", "ergcm-2s-1hz-1", "fnu", "f_nu"), 1.0 * _FNU
    ),
    **dict.fromkeys(("nanomaggy", "nanomaggies", "nmgy"), 1e-9 * _AB_FLUX),
}
_MAGNITUDE = {"ab", "mag", "abmag", "magab", "mag_ab", "ab_mag", "abmags", "mags"}
_UNITS_EXPECTED = (
    "Jy, mJy, uJy, nJy, erg/s/cm2/A, erg/s/cm2/Hz, AB (magnitude, error in mag), nanomaggy, "
    "or an astropy flux-density unit such as W/(m2 um)"
)

_COLUMNS = {
    "band": ("band", "filter"),
    "flux": ("flux",),
    "error": ("error", "err", "flux_err", "fluxerr"),
    "unit": ("unit", "units"),
}


class PhotometryTableError(ConfigError):
    """A photometry table is wrong; the message names the file, row and column.

    Parameters
    ----------
    message : str
        What is wrong.
    file : str
        The table, as the user named it.
    row : int, optional
        1-based data row (the first row after the header is 1).
    column : str, optional
        The column at fault.
    band : str, optional
        The row's band, to help find it.
    expected, found : str, optional
        What the format wants and what the table holds.
    """

    def __init__(
        self,
        message: str = "",
        *,
        file: str | None = None,
        row: int | None = None,
        column: str | None = None,
        band: str | None = None,
        expected: str | None = None,
        found: str | None = None,
    ) -> None:
        self.row = row
        self.column = column
        self.band = band
        super().__init__(message, file=file, key=column, expected=expected, found=found)

    def _format(self) -> str:
        where = f"{self.file}: " if self.file else ""
        place = []
        if self.row is not None:
            place.append(f"row {self.row}" + (f" (band {self.band!r})" if self.band else ""))
        if self.column:
            place.append(f"column {self.column!r}")
        if place:
            where += ", ".join(place) + ": "
        parts = [self.detail] if self.detail else []
        if self.expected is not None:
            parts.append(f"expected {self.expected}")
        if self.found is not None:
            parts.append(f"found {self.found}")
        return where + ", ".join(parts)


class _Unit(NamedTuple):
    """A row's unit: a magnitude, or one unit of a linear flux density as a Quantity."""

    magnitude: bool
    scale: u.Quantity | None


# --------------------------------------------------------------------------
# Units and conversion
# --------------------------------------------------------------------------


def _squeeze(text: str) -> str:
    text = text.strip().lower()
    for old, new in ((" ", ""), ("**", ""), ("^", ""), ("angstrom", "a"), ("å", "a"), ("aa", "a")):
        text = text.replace(old, new)
    return text


def _parse_unit(text: str) -> _Unit | None:
    """The unit a table cell names, or None when it names no flux density."""
    text = str(text).strip()
    if text in _JANSKY:
        return _Unit(False, _JANSKY[text])
    loose = _squeeze(text)
    if loose in _MAGNITUDE:
        return _Unit(True, None)
    if loose in _LOOSE:
        return _Unit(False, _LOOSE[loose])
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", u.UnitsWarning)
            unit = u.Unit(text, parse_strict="raise")
    except (ValueError, TypeError):
        return None
    if unit.is_equivalent(_FLAM) or unit.is_equivalent(_FNU):
        return _Unit(False, 1.0 * unit)
    return None


def flux_to_flambda(value: float, error: float, unit: str, wave_pivot: float) -> tuple[float, float]:
    """Convert one catalogue flux and its error to f_lambda at a pivot wavelength.

    Parameters
    ----------
    value, error : float
        The flux and its 1-sigma error in ``unit`` (for magnitudes: the AB
        magnitude and its error in mag).
    unit : str
        ``Jy``, ``mJy``, ``uJy``, ``nJy``, ``erg/s/cm2/A``, ``erg/s/cm2/Hz``,
        ``AB`` (also ``mag``, ``AB mag``), ``nanomaggy`` (``nmgy``), or any
        unit astropy parses that is a flux density per unit wavelength or
        frequency.
    wave_pivot : float
        Pivot wavelength of the band [A]: f_nu and f_lambda are related by
        ``f_lambda = f_nu c / lambda_p**2`` there, exactly for the
        band-averaged fluxes (Tokunaga & Vacca 2005, PASP 117, 421).

    Returns
    -------
    flux, error : float
        f_lambda and its error [erg/s/cm^2/A].

    Raises
    ------
    ValueError
        An unknown unit.

    Notes
    -----
    A magnitude becomes ``f_nu = 3630.78 Jy * 10**(-0.4 m)`` (the AB zero
    point) and its error the first-order propagation
    ``sigma_f = f * ln(10) / 2.5 * sigma_m``, about 0.921 f sigma_m. The
    linear error is symmetric, so it is accurate for sigma_m << 1 (at
    sigma_m = 0.1 the true +/- errors differ from it by +/-5 per cent), and
    faint, uncertain magnitudes are better given as fluxes.
    """
    parsed = _parse_unit(unit)
    if parsed is None:
        raise ValueError(f"unknown unit {unit!r}; expected {_UNITS_EXPECTED}")
    to_flam = u.spectral_density(wave_pivot * u.AA)
    if parsed.magnitude:
        flux = float((_AB_FLUX * 10.0 ** (-0.4 * value)).to_value(_FLAM, equivalencies=to_flam))
        return flux, flux * math.log(10.0) / 2.5 * float(error)
    factor = float(parsed.scale.to_value(_FLAM, equivalencies=to_flam))
    return float(value) * factor, float(error) * factor


def ab_zeropoint(wave_pivot: float) -> float:
    """AB zero point of f_lambda units at a pivot wavelength.

    Parameters
    ----------
    wave_pivot : float
        Pivot wavelength [A].

    Returns
    -------
    float
        ``zp`` with ``m_AB = zp - 2.5 log10(f_lambda / (erg/s/cm^2/A))``;
        e.g. -21.1 at 5500 A.
    """
    flux, _ = flux_to_flambda(0.0, 0.0, "AB", wave_pivot)
    return 2.5 * math.log10(flux)


# --------------------------------------------------------------------------
# Reading the table
# --------------------------------------------------------------------------


def _read_table(path: Path):
    from astropy.table import Table

    if not path.is_file():
        raise PhotometryTableError("file not found", file=str(path))
    formats = {".ecsv": "ascii.ecsv", ".csv": "ascii.csv"}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return Table.read(path, format=formats.get(path.suffix.lower(), "ascii"))
    except Exception as exc:  # astropy raises many kinds on unreadable text
        raise PhotometryTableError(
            "cannot read the table", file=str(path), expected="ECSV, CSV or whitespace text with a header",
            found=f"{type(exc).__name__}: {exc}".splitlines()[0],
        ) from None


def _column_names(table, path: Path) -> dict[str, str]:
    by_lower = {name.lower(): name for name in table.colnames}
    names = {}
    for role, aliases in _COLUMNS.items():
        match = next((by_lower[a] for a in aliases if a in by_lower), None)
        if match is None:
            raise PhotometryTableError(
                f"no {role!r} column",
                file=str(path),
                expected="columns band, flux, error, unit (any case)",
                found=", ".join(table.colnames) or "no columns",
            )
        names[role] = match
    return names


def _cell(column, index: int) -> object:
    """One cell, with a masked (empty) cell read as None."""
    if np.ma.is_masked(column[index]):
        return None
    return column[index]


def _number(value: object, path: Path, row: int, column: str, band: str) -> float:
    try:
        number = float(value) if value is not None else math.nan
    except (TypeError, ValueError):
        raise PhotometryTableError(
            "not a number", file=str(path), row=row, column=column, band=band, found=repr(str(value))
        ) from None
    if not math.isfinite(number):
        raise PhotometryTableError(
            "not a finite number", file=str(path), row=row, column=column, band=band,
            expected="a finite value (remove the row to leave the band out)", found=repr(str(value)),
        )
    return number


def read_photometry_table(path: str | os.PathLike) -> xr.Dataset:
    """Read a photometry table and convert every row to f_lambda.

    Parameters
    ----------
    path : str or path-like
        ECSV, CSV or whitespace text with columns band, flux, error, unit
        (module docstring). Band names are GalfitS or sedpy names
        (:func:`~galfits_nb.data.filters.load_filter`).

    Returns
    -------
    xr.Dataset
        Over ``band`` (the names as written, in table order):

        * ``flux``, ``error`` (band): f_lambda [erg/s/cm^2/A] at the pivot
          wavelength (:func:`flux_to_flambda`);
        * ``wave_pivot`` (band) [A];
        * ``input_flux``, ``input_error``, ``input_unit`` (band): the table's
          values and unit as written;
        * ``row`` (band): 1-based data row;
        * ``sedpy_name`` (band): the filter curve used.

        Attributes: ``file`` (absolute path), ``flux_unit`` (``FLAMBDA_UNIT``).

    Raises
    ------
    PhotometryTableError
        Missing or unreadable file, a missing column, no rows, an unknown
        band (with close matches), an unknown unit, a flux or error that is
        NaN, empty or infinite, an error <= 0, a band given twice. The
        message names the file, row and column.
    """
    path = Path(path).resolve()
    table = _read_table(path)
    names = _column_names(table, path)
    if len(table) == 0:
        raise PhotometryTableError("no rows", file=str(path), expected="one row per band")
    records = []
    seen: dict[str, int] = {}
    for index in range(len(table)):
        row = index + 1
        band_cell = _cell(table[names["band"]], index)
        band = "" if band_cell is None else str(band_cell).strip()
        try:
            curve = load_filter(band)
        except UnknownBandError as exc:
            raise PhotometryTableError(
                str(exc), file=str(path), row=row, column=names["band"]
            ) from None
        if curve.sedpy_name in seen:
            raise PhotometryTableError(
                f"band listed twice (first in row {seen[curve.sedpy_name]})",
                file=str(path), row=row, column=names["band"], band=band,
            )
        seen[curve.sedpy_name] = row
        flux = _number(_cell(table[names["flux"]], index), path, row, names["flux"], band)
        error = _number(_cell(table[names["error"]], index), path, row, names["error"], band)
        if not error > 0:
            raise PhotometryTableError(
                "the error must be positive", file=str(path), row=row, column=names["error"], band=band,
                expected="error > 0", found=f"{error:g}",
            )
        unit_cell = _cell(table[names["unit"]], index)
        unit = "" if unit_cell is None else str(unit_cell).strip()
        if _parse_unit(unit) is None:
            raise PhotometryTableError(
                "unknown unit", file=str(path), row=row, column=names["unit"], band=band,
                expected=_UNITS_EXPECTED, found=repr(unit),
            )
        flam, flam_error = flux_to_flambda(flux, error, unit, curve.wave_pivot)
        records.append((band, flam, flam_error, curve.wave_pivot, flux, error, unit, row, curve.sedpy_name))
    columns = list(zip(*records))
    return xr.Dataset(
        {
            "flux": ("band", np.array(columns[1]), {"units": FLAMBDA_UNIT, "long_name": "f_lambda at the pivot wavelength"}),
            "error": ("band", np.array(columns[2]), {"units": FLAMBDA_UNIT, "long_name": "1-sigma error of flux"}),
            "wave_pivot": ("band", np.array(columns[3]), {"units": "Angstrom"}),
            "input_flux": ("band", np.array(columns[4]), {"long_name": "flux as written, in input_unit"}),
            "input_error": ("band", np.array(columns[5]), {"long_name": "error as written, in input_unit"}),
            "input_unit": ("band", np.array(columns[6], dtype=str)),
            "row": ("band", np.array(columns[7], dtype=np.int64), {"long_name": "1-based data row of the table"}),
            "sedpy_name": ("band", np.array(columns[8], dtype=str)),
        },
        coords={"band": ("band", np.array(columns[0], dtype=str))},
        attrs={"file": str(path), "flux_unit": FLAMBDA_UNIT},
    )


# --------------------------------------------------------------------------
# Single-pixel images
# --------------------------------------------------------------------------


def photometry_image_specs(table: xr.Dataset, letter_prefix: str = "p") -> tuple[ImageSpec, ...]:
    """The image blocks that the rows of a photometry table stand for.

    Parameters
    ----------
    table : xr.Dataset
        From :func:`read_photometry_table`.
    letter_prefix : str
        Image letters are ``<prefix><row - 1>`` (``p0``, ``p1``, ...); a
        ``.lyric`` atlas uses its own letter (``a0`` for ``Aa8``).

    Returns
    -------
    tuple of ImageSpec
        One per band: ``table_row`` set, data in ``erg/s/cm^2/A`` (I7) with
        I9 = 1, I8 = -1, no sigma / mask / PSF file, I10 the AB zero point
        of those units (:func:`ab_zeropoint`), I15 = 1, the default fixed
        zero sky.
    """
    file = str(table.attrs["file"])
    specs = []
    for band, row, pivot in zip(table.band.values, table.row.values, table.wave_pivot.values):
        specs.append(
            ImageSpec(
                letter=f"{letter_prefix}{int(row) - 1}",
                data=FitsRef(file, 0),
                band=str(band),
                sigma=None,
                psf=None,
                unit=FLAMBDA_UNIT,
                cutout=-1.0,
                flux_conversion=1.0,
                zeropoint=ab_zeropoint(float(pivot)),
                table_row=int(row) - 1,
            )
        )
    return tuple(specs)


def photometry_image(spec: ImageSpec, ra: float, dec: float, table: xr.Dataset | None = None) -> xr.Dataset:
    """The single-pixel image of one photometry-table row.

    Parameters
    ----------
    spec : ImageSpec
        With ``table_row`` set (:func:`photometry_image_specs`).
    ra, dec : float
        Target (R2) in degrees, stored in the attrs (NaN when unknown).
    table : xr.Dataset, optional
        The table already read; read from ``spec.data.path`` otherwise.

    Returns
    -------
    xr.Dataset
        As :func:`~galfits_nb.data.images.single_pixel_image` makes it:
        the row's f_lambda and error in the pixel, ``total_flux_pixel = 1``.

    Raises
    ------
    ObservationError
        The table no longer has that row with that band.
    PhotometryTableError
        From :func:`read_photometry_table`.
    """
    from galfits_nb.data.images import single_pixel_image

    if spec.table_row is None:
        raise ObservationError(f"band {spec.band!r}: image {spec.letter!r} is not a photometry-table row")
    table = read_photometry_table(spec.data.path) if table is None else table
    index = np.flatnonzero(table.row.values == spec.table_row + 1)
    if index.size != 1 or str(table.band.values[index[0]]) != spec.band:
        raise ObservationError(
            f"band {spec.band!r}: {spec.data.path} has no row {spec.table_row + 1} for this band "
            "(the table changed after the config was read; read the config again)"
        )
    entry = table.isel(band=int(index[0]))
    return single_pixel_image(
        spec,
        float(entry.flux),
        float(entry.error),
        ra,
        dec,
        file=str(spec.data.path),
        hdu=-1,
        sigma_source=f"{spec.data.path} row {spec.table_row + 1}: error {float(entry.input_error):g} "
        f"{entry.input_unit.item()} -> {FLAMBDA_UNIT}",
    )


def photometry_images(
    table: xr.Dataset, ra: float = math.nan, dec: float = math.nan, letter_prefix: str = "p"
) -> list[xr.Dataset]:
    """One single-pixel image per band of a photometry table.

    Parameters
    ----------
    table : xr.Dataset
        From :func:`read_photometry_table`.
    ra, dec : float
        Target in degrees for the attrs (NaN when unknown).
    letter_prefix : str
        See :func:`photometry_image_specs`.

    Returns
    -------
    list of xr.Dataset
        In table order; each as :func:`photometry_image` returns it.
    """
    return [photometry_image(spec, ra, dec, table) for spec in photometry_image_specs(table, letter_prefix)]


def photometry_nodes(
    table: xr.Dataset,
    atlas: str = "photometry",
    ra: float = math.nan,
    dec: float = math.nan,
    letter_prefix: str = "p",
) -> dict[str, xr.Dataset]:
    """The DataTree nodes of a photometry table, laid out as ``read_observation`` lays out an atlas.

    Parameters
    ----------
    table : xr.Dataset
        From :func:`read_photometry_table`.
    atlas : str
        Atlas name: the nodes are ``/atlas/<atlas>`` and ``/atlas/<atlas>/<band>``.
    ra, dec : float
        Target in degrees for the attrs (NaN when unknown).
    letter_prefix : str
        See :func:`photometry_image_specs`.

    Returns
    -------
    dict of str to xr.Dataset
        ``/atlas/<atlas>`` holds the atlas attrs and the images stacked over
        ``band`` (every image is 1x1, so they share a grid);
        ``/atlas/<atlas>/<band>`` one single-pixel image each. Pass it,
        with a ``"/"`` entry if wanted, to ``xr.DataTree.from_dict``.

    Examples
    --------
    >>> table = read_photometry_table("phot.ecsv")  # doctest: +SKIP
    >>> tree = xr.DataTree.from_dict(photometry_nodes(table))  # doctest: +SKIP
    """
    from galfits_nb.data.observation import atlas_nodes

    specs = photometry_image_specs(table, letter_prefix)
    spec = AtlasSpec(
        letter=letter_prefix,
        name=atlas,
        images=tuple(s.letter for s in specs),
        same_grid=True,
        photometry=str(table.attrs["file"]),
    )
    return atlas_nodes(spec, [photometry_image(s, ra, dec, table) for s in specs])
