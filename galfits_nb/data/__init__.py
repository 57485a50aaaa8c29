"""Observations as xarray: images, spectra, filter curves. Nothing here imports jax.

Public names (implementation in the submodules):

* :func:`read_observation`, :func:`summarize_observation` (``observation``):
  every image and spectrum of a config as one ``xr.DataTree``;
* :func:`read_image` (``images``): one FITS image -> ``xr.Dataset`` with
  data, sigma, mask and PSF around (RA, Dec);
* :func:`read_spectrum` (``spectra``): one spectrum -> ``xr.Dataset`` over
  observed wavelength;
* :func:`load_filter`, :func:`sedpy_name`, :func:`known_bands` (``filters``):
  sedpy filter curves under GalfitS band names.
"""

from galfits_nb.data.filters import FilterCurve, UnknownBandError, known_bands, load_filter, sedpy_name
from galfits_nb.data.images import ObservationWarning, read_image
from galfits_nb.data.observation import read_observation, summarize_observation
from galfits_nb.data.spectra import read_spectrum

__all__ = [
    "read_observation",
    "summarize_observation",
    "read_image",
    "read_spectrum",
    "load_filter",
    "sedpy_name",
    "known_bands",
    "FilterCurve",
    "UnknownBandError",
    "ObservationWarning",
]
