"""The model/residual FITS cube of a fit (``<target>.model.fits``).

One image extension per band, named by its band label (``SLOAN_G``), holding
a cube of three planes over (y, x) in the cut-out's pixels: 1 data, 2 model,
3 residual (data - model), image units. The cut-out's WCS is in each
extension header (celestial axes 1 and 2; axis 3 counts planes), with
``PLANE1``-``PLANE3`` naming the planes, ``BAND``, ``CHISQ`` and ``NGOOD``.
The primary header carries the target, the fitting method and the total chi^2.
Masked pixels keep their data; the model is defined everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import xarray as xr
from astropy.io import fits

from galfits_nb.atomic import atomic_path

__all__ = ["write_model_cube", "PLANES"]

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


def write_model_cube(
    path: str | os.PathLike,
    models: Mapping[str, xr.Dataset],
    primary: Mapping[str, object] | None = None,
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

    Returns
    -------
    Path
    """
    head = fits.PrimaryHDU()
    for key, value in (primary or {}).items():
        head.header[key] = value
    hdus = fits.HDUList([head, *(_extension(label, ds) for label, ds in models.items())])
    with atomic_path(path) as tmp:
        hdus.writeto(tmp)
    return Path(path)
