"""Filter curves from astro-sedpy, reachable by GalfitS band names.

GalfitS configs name bands their own way (``sloan_g``, ``j``, ``wise_ch1``,
``herschel_psw``); sedpy ships transmission curves under its own names
(``sdss_g0``, ``twomass_J``, ``wise_w1``, ``herschel_spire_250``). The
alias table below maps the first to the second. It is built from the ``.par``
files that sedpy 0.4 ships in ``sedpy/data/filters`` (270 curves):

* SDSS ``sdss_{u,g,r,i,z}0``; GALEX ``galex_{FUV,NUV}``; 2MASS
  ``twomass_{J,H,Ks}``; WISE ``wise_w1..w4``; Spitzer
  ``spitzer_irac_ch1..4``, ``spitzer_mips_{24,70,160}``; Herschel
  ``herschel_pacs_{70,100,160}``, ``herschel_spire_{250,350,500}``;
* HST ``wfc3_uvis_*`` (F225W..F814W), ``wfc3_ir_*`` (F098M..F160W),
  ``acs_wfc_*`` (F435W..F850LP); JWST ``jwst_f*`` (NIRCam F070W..F480M and
  MIRI F560W..F2550W), ``jwst_moda_*``/``jwst_modb_*`` (per NIRCam module),
  ``jwst_niriss_*``;
* ground: ``panstarrs_*``, ``decam_*``, ``bass_{g,r}``, ``mzls_z``, ``hsc_*``,
  ``cfht_megacam_*``, ``cfht_wircam_*``, ``ukirt_wfcam_{J,H,K}``,
  ``vista_vircam_*``, ``lsst_baseline_*``, ``bessell_*``, ``stromgren_*``,
  ``subaru_*``, Keck, Mayall, MPG/ESO, VLT, Gaia, Hipparcos, SOFIA, SPHEREx,
  Roman, Swift/UVOT.

Not in sedpy 0.4, hence unknown here (add the curve to sedpy to use them):
WFC3/UVIS F438W (used in a GalfitS documentation example) and the other
UVIS filters beyond the eight listed, ACS/WFC F502N-type narrow bands,
UKIDSS Z/Y, Euclid, and 2MASS-like aliases for other surveys.

The curves are cached after the first read (a ``functools.lru_cache`` of
read-only arrays: immutable data, not a registry that changes).

DESI Legacy Surveys: ``desi_g``, ``desi_r``, ``desi_z`` (and ``legacy_*``,
``decals_*``) map to DECam (``decam_g/r/z``), the camera of DECaLS and of
the DR9/DR10 southern footprint; the northern footprint was observed with
BASS (g, r) and MzLS (z): name those ``bass_g``, ``bass_r``, ``mzls_z``.

Names are matched case-insensitively, and sedpy's own names work directly.
Nothing here imports jax.
"""

from __future__ import annotations

import difflib
import re
from functools import lru_cache
from typing import NamedTuple

import numpy as np

from galfits_nb.errors import GalfitsError

__all__ = [
    "FilterCurve",
    "UnknownBandError",
    "sedpy_name",
    "load_filter",
    "known_bands",
    "band_aliases",
]


class UnknownBandError(GalfitsError, KeyError):
    """A band name that neither the alias table nor sedpy knows.

    The message lists close matches. ``str(err)`` is the plain message (not
    the quoted repr that ``KeyError`` prints).
    """

    def __init__(self, band: str, suggestions: list[str]):
        self.band = band
        self.suggestions = suggestions
        hint = f"; did you mean {', '.join(repr(s) for s in suggestions)}?" if suggestions else ""
        self.message = (
            f"unknown band {band!r}: expected a GalfitS band name (sloan_g, j, wise_ch1, ...) "
            f"or a sedpy filter name{hint} (galfits_nb.data.filters.known_bands() lists them all)"
        )
        super().__init__(self.message)

    def __str__(self) -> str:
        return self.message


class FilterCurve(NamedTuple):
    """One filter's transmission curve.

    Attributes
    ----------
    band : str
        The name asked for (e.g. ``sloan_g``).
    sedpy_name : str
        sedpy's name of the curve (e.g. ``sdss_g0``).
    wavelength : ndarray of shape (n,)
        Wavelength [A], increasing (read-only).
    transmission : ndarray of shape (n,)
        Response as sedpy stores it: relative, per photon (detector quantum
        efficiency folded in), not normalised (read-only).
    wave_pivot : float
        Pivot wavelength [A], sqrt(int T l dl / int T / l dl).
    wave_effective : float
        sedpy's effective wavelength [A] (mean wavelength weighted by T l).
    """

    band: str
    sedpy_name: str
    wavelength: np.ndarray
    transmission: np.ndarray
    wave_pivot: float
    wave_effective: float


def _explicit_aliases() -> dict[str, str]:
    """GalfitS names (and common short forms) -> sedpy names, written out."""
    table: dict[str, str] = {}
    for b in "ugriz":
        table[f"sloan_{b}"] = f"sdss_{b}0"
        table[f"sdss_{b}"] = f"sdss_{b}0"
    table.update(
        {
            "galex_fuv": "galex_FUV",
            "galex_nuv": "galex_NUV",
            "fuv": "galex_FUV",
            "nuv": "galex_NUV",
            # 2MASS, as GalfitS names it (write_configs.py: 'j', 'h', 'ks')
            "j": "twomass_J",
            "h": "twomass_H",
            "ks": "twomass_Ks",
            "k": "twomass_Ks",
            "2mass_j": "twomass_J",
            "2mass_h": "twomass_H",
            "2mass_ks": "twomass_Ks",
            "tmass_j": "twomass_J",
            "tmass_h": "twomass_H",
            "tmass_ks": "twomass_Ks",
            # Herschel: SPIRE photometer short / medium / long wavelength
            "herschel_psw": "herschel_spire_250",
            "herschel_pmw": "herschel_spire_350",
            "herschel_plw": "herschel_spire_500",
            "spire_250": "herschel_spire_250",
            "spire_350": "herschel_spire_350",
            "spire_500": "herschel_spire_500",
            "herschel_pacs70": "herschel_pacs_70",
            "herschel_pacs100": "herschel_pacs_100",
            "herschel_pacs160": "herschel_pacs_160",
            "herschel_blue": "herschel_pacs_70",
            "herschel_green": "herschel_pacs_100",
            "herschel_red": "herschel_pacs_160",
            "pacs_70": "herschel_pacs_70",
            "pacs_100": "herschel_pacs_100",
            "pacs_160": "herschel_pacs_160",
            "mips_24": "spitzer_mips_24",
            "mips_70": "spitzer_mips_70",
            "mips_160": "spitzer_mips_160",
            "ukidss_j": "ukirt_wfcam_J",
            "ukidss_h": "ukirt_wfcam_H",
            "ukidss_k": "ukirt_wfcam_K",
            "keck_lris_r": "keck_lris_Rs",
        }
    )
    for n in "1234":
        table[f"wise_ch{n}"] = f"wise_w{n}"
        table[f"w{n}"] = f"wise_w{n}"
        table[f"irac_ch{n}"] = f"spitzer_irac_ch{n}"
    for b in "grz":
        for survey in ("desi", "legacy", "decals", "ls"):
            table[f"{survey}_{b}"] = f"decam_{b}"
    for b in "ugriz":
        table[f"megacam_{b}"] = f"cfht_megacam_{b}s"
        table[f"cfht_{b}"] = f"cfht_megacam_{b}s"
    return table


# MIRI filters in sedpy's jwst_f* set; the other jwst_f* curves are NIRCam.
_MIRI = {"f560w", "f770w", "f1000w", "f1130w", "f1280w", "f1500w", "f1800w", "f2100w", "f2550w"}


def _pattern_aliases(names: list[str]) -> dict[str, str]:
    """Aliases derived from sedpy's file names (instrument prefixes)."""
    table: dict[str, str] = {}
    for name in names:
        low = name.lower()
        if m := re.fullmatch(r"wfc3_(?:uvis|ir)_(f\d+\w+)", low):
            table[f"wfc3_{m.group(1)}"] = name
        elif m := re.fullmatch(r"acs_wfc_(f\d+\w+)", low):
            table[f"acs_{m.group(1)}"] = name
        elif m := re.fullmatch(r"jwst_(f\d+\w+)", low):
            instrument = "miri" if m.group(1) in _MIRI else "nircam"
            table[f"{instrument}_{m.group(1)}"] = name
        elif m := re.fullmatch(r"jwst_niriss_(f\d+\w+)", low):
            table[f"niriss_{m.group(1)}"] = name
        elif m := re.fullmatch(r"panstarrs_(\w)", low):
            table[f"ps1_{m.group(1)}"] = name
        elif m := re.fullmatch(r"lsst_baseline_(\w)", low):
            table[f"lsst_{m.group(1)}"] = name
        elif m := re.fullmatch(r"roman_wfi_(f\d+)", low):
            table[f"roman_{m.group(1)}"] = name
        elif m := re.fullmatch(r"vista_vircam_(\w+)", low):
            if not low.endswith("_filter"):
                table[f"vista_{m.group(1)}"] = name
    return table


@lru_cache(maxsize=1)
def _sedpy_names() -> tuple[str, ...]:
    from sedpy.observate import list_available_filters

    return tuple(list_available_filters())


@lru_cache(maxsize=1)
def band_aliases() -> dict[str, str]:
    """Lower-case accepted name -> sedpy name, for every name :func:`sedpy_name` accepts.

    sedpy's own names (lower-cased) map to themselves; aliases only point at
    curves sedpy actually ships.
    """
    names = list(_sedpy_names())
    shipped = set(names)
    table = {name.lower(): name for name in names}
    for alias, target in {**_pattern_aliases(names), **_explicit_aliases()}.items():
        if target in shipped:
            table.setdefault(alias, target)
    return table


def known_bands() -> list[str]:
    """Every accepted band name (GalfitS aliases and sedpy names), sorted, lower case."""
    return sorted(band_aliases())


def sedpy_name(band: str) -> str:
    """sedpy's filter name for a GalfitS (or sedpy) band name.

    Parameters
    ----------
    band : str
        E.g. ``sloan_g``, ``J``, ``wise_ch1``, ``wfc3_f160w``, ``sdss_g0``;
        case does not matter.

    Raises
    ------
    UnknownBandError
        A ``KeyError`` whose message lists close matches.
    """
    table = band_aliases()
    key = str(band).strip().lower()
    if key in table:
        return table[key]
    suggestions = difflib.get_close_matches(key, list(table), n=5, cutoff=0.6)
    raise UnknownBandError(str(band), suggestions)


@lru_cache(maxsize=None)
def _load(name: str) -> tuple[np.ndarray, np.ndarray, float, float]:
    from sedpy.observate import Filter

    curve = Filter(name)
    wavelength = np.array(curve.wavelength, dtype=np.float64)
    transmission = np.array(curve.transmission, dtype=np.float64)
    wavelength.setflags(write=False)
    transmission.setflags(write=False)
    return wavelength, transmission, float(curve.wave_pivot), float(curve.wave_effective)


def load_filter(band: str) -> FilterCurve:
    """Load the transmission curve of ``band`` from sedpy's library.

    Parameters
    ----------
    band : str
        GalfitS or sedpy band name (see :func:`sedpy_name`).

    Returns
    -------
    FilterCurve
        Arrays are read-only (curves are cached after the first read).

    Raises
    ------
    UnknownBandError
    """
    name = sedpy_name(band)
    wavelength, transmission, pivot, effective = _load(name)
    return FilterCurve(str(band), name, wavelength, transmission, pivot, effective)
