"""The model/residual FITS cube of a fit (``<target>.model.fits``).

One image extension per band, named by its band label (``SLOAN_G``), holding
a cube of three planes over (y, x) in the cut-out's pixels: 1 data, 2 model,
3 residual (data - model), image units. The cut-out's WCS is in each
extension header (celestial axes 1 and 2; axis 3 counts planes), with
``PLANE1``-``PLANE3`` naming the planes, ``BAND``, ``CHISQ`` and ``NGOOD``.
The primary header carries the target, the fitting method and the total chi^2.
Masked pixels keep their data; the model is defined everywhere.

Each fitted spectrum follows as a binary table named ``SPEC_<LETTER>``
(``SPEC_A``), one row per wavelength pixel, with the columns ``WAVELENGTH``
(observed, Angstrom), ``DATA``, ``ERROR``, ``MODEL``, ``RESIDUAL`` and one
per model component (``COMPONENT_BULGE``, ...) in 1e-17 erg/s/cm^2/A, and
``MASK`` (logical, True = left out of the fit); its header holds ``LETTER``,
``CHISQ``, ``NGOOD``, ``REDSHIFT`` and ``WEIGHT``. A table, not an image
extension: the wavelengths of a spectrum are not always evenly spaced.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from galfits_nb.atomic import atomic_path

__all__ = ["write_model_cube", "spectrum_table", "PLANES"]

SPECTRUM_UNIT = "1e-17 erg/(s cm2 Angstrom)"

PLANES = ("data", "model", "residual")


def _extension(label: str, ds: xr.Dataset) -> fits.ImageHDU:
    cube = np.stack([np.asarray(ds[name].values, dtype=np.float32) for name in PLANES])
    header = fits.Header()
    text = ds.attrs.get("wcs_header", "")
    if text:
        header.update(fits.Header.fromstring(text))
    header["BAND"] = (str(ds.attrs.get("band", label)), "filter of this image")
    for k, name in enumerate(PLANES, start=1):
        header[f"PLANE{k}"] = (name, "image units" if name != "model" else "image units, PSF-convolved")
    if "chi2" in ds.attrs:
        header["CHISQ"] = (float(ds.attrs["chi2"]), "chi^2 over unmasked pixels")
        header["NGOOD"] = (int(ds.attrs["n_good"]), "unmasked pixels")
    return fits.ImageHDU(cube, header=header, name=label.upper())


def spectrum_table(letter: str, ds: xr.Dataset) -> fits.BinTableHDU:
    """The ``SPEC_<LETTER>`` table of one fitted spectrum (module docstring).

    Parameters
    ----------
    letter : str
    ds : xr.Dataset
        One entry of :attr:`galfits_nb.inference.fit.FitResult.spectra`:
        variables of shape (n_wave,) over ``wavelength``.

    Returns
    -------
    astropy.io.fits.BinTableHDU
        n_wave rows.
    """
    wave = np.asarray(ds.wavelength.values, dtype=np.float64)
    columns = [fits.Column("WAVELENGTH", "D", unit="Angstrom", array=wave)]
    names = ["data", "error", "model", "residual"]
    names += [str(name) for name in ds.data_vars if str(name).startswith("component_")]
    for name in names:
        if name in ds:
            values = np.asarray(ds[name].values, dtype=np.float32)
            columns.append(fits.Column(name.upper(), "E", unit=SPECTRUM_UNIT, array=values))
    if "mask" in ds:
        columns.append(fits.Column("MASK", "L", array=np.asarray(ds["mask"].values, dtype=bool)))
    table = fits.BinTableHDU.from_columns(columns, name=f"SPEC_{letter.upper()}")
    attrs = ds.attrs
    table.header["LETTER"] = (str(attrs.get("letter", letter)), "S block of this spectrum")
    cards = (
        ("CHISQ", "chi2", float, "chi^2 over unmasked pixels (unweighted)"),
        ("NGOOD", "n_good", int, "unmasked wavelength pixels"),
        ("REDSHIFT", "redshift", float, "redshift of the spectrum"),
        ("WEIGHT", "weight", float, "factor on chi^2 in the fit (--weight_spec)"),
    )
    for key, attr, kind, comment in cards:
        if attr in attrs:
            table.header[key] = (kind(attrs[attr]), comment)
    return table


def write_model_cube(
    path: str | os.PathLike,
    models: Mapping[str, xr.Dataset],
    primary: Mapping[str, object] | None = None,
    spectra: Mapping[str, xr.Dataset] | None = None,
) -> Path:
    """Write the data/model/residual cube of every band to ``path`` atomically.

    Parameters
    ----------
    path : path-like
        ``<workplace>/<target>.model.fits``.
    models : mapping of band label to xr.Dataset
        As :attr:`galfits_nb.inference.fit.FitResult.models`.
    primary : mapping, optional
        Header cards for the primary HDU (keys of at most 8 characters).
    spectra : mapping of letter to xr.Dataset, optional
        :attr:`galfits_nb.inference.fit.FitResult.spectra`, appended as
        ``SPEC_<LETTER>`` tables after the images.

    Returns
    -------
    Path
    """
    head = fits.PrimaryHDU()
    for key, value in (primary or {}).items():
        head.header[key] = value
    hdus = fits.HDUList(
        [
            head,
            *(_extension(label, ds) for label, ds in models.items()),
            *(spectrum_table(letter, ds) for letter, ds in (spectra or {}).items()),
        ]
    )
    with atomic_path(path) as tmp:
        hdus.writeto(tmp)
    return Path(path)
