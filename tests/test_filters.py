"""GalfitS band names -> sedpy filter curves."""

from __future__ import annotations

import numpy as np
import pytest

from galfits_nb.data.filters import (
    FilterCurve,
    UnknownBandError,
    band_aliases,
    known_bands,
    load_filter,
    sedpy_name,
)

# GalfitS's own band names (its write_configs.py example and CONFIG-FORMAT.md)
GALFITS_NAMES = {
    "sloan_u": "sdss_u0",
    "sloan_g": "sdss_g0",
    "sloan_r": "sdss_r0",
    "sloan_i": "sdss_i0",
    "sloan_z": "sdss_z0",
    "j": "twomass_J",
    "h": "twomass_H",
    "ks": "twomass_Ks",
    "galex_fuv": "galex_FUV",
    "galex_nuv": "galex_NUV",
    "wise_ch1": "wise_w1",
    "wise_ch4": "wise_w4",
    "herschel_psw": "herschel_spire_250",
    "herschel_pmw": "herschel_spire_350",
    "herschel_plw": "herschel_spire_500",
    "wfc3_f160w": "wfc3_ir_f160w",
    "wfc3_f225w": "wfc3_uvis_f225w",
    "wfc3_f814w": "wfc3_uvis_f814w",
    "acs_f814w": "acs_wfc_f814w",
    "acs_f850lp": "acs_wfc_f850lp",
    "nircam_f444w": "jwst_f444w",
    "nircam_f150w": "jwst_f150w",
    "miri_f770w": "jwst_f770w",
    "miri_f2100w": "jwst_f2100w",
    "irac_ch1": "spitzer_irac_ch1",
    "irac_ch4": "spitzer_irac_ch4",
    "panstarrs_g": "panstarrs_g",
    "hsc_y": "hsc_y",
    "desi_g": "decam_g",
    "desi_z": "decam_z",
    "herschel_pacs_100": "herschel_pacs_100",
    "vista_ks": "vista_vircam_Ks",
    "ukidss_k": "ukirt_wfcam_K",
}


@pytest.mark.parametrize("band, expected", sorted(GALFITS_NAMES.items()))
def test_galfits_names(band, expected):
    assert sedpy_name(band) == expected


def test_case_insensitive_and_sedpy_names_directly():
    assert sedpy_name("SLOAN_G") == "sdss_g0"
    assert sedpy_name("Ks") == "twomass_Ks"
    assert sedpy_name("sdss_g0") == "sdss_g0"
    assert sedpy_name("galex_FUV") == "galex_FUV"
    assert sedpy_name(" twomass_ks ") == "twomass_Ks"


def test_every_alias_points_at_a_shipped_curve():
    from sedpy.observate import list_available_filters

    shipped = set(list_available_filters())
    assert set(band_aliases().values()) <= shipped
    assert shipped <= set(band_aliases().values())  # every sedpy curve is reachable
    assert set(GALFITS_NAMES) <= set(known_bands())


def test_load_filter_sdss_g():
    curve = load_filter("sloan_g")
    assert isinstance(curve, FilterCurve)
    assert curve.band == "sloan_g" and curve.sedpy_name == "sdss_g0"
    assert curve.wavelength.shape == curve.transmission.shape
    assert np.all(np.diff(curve.wavelength) > 0)
    # pivot wavelength from its definition, and SDSS g's known value (~4702 A)
    w, t = curve.wavelength, curve.transmission
    pivot = np.sqrt(np.trapezoid(t * w, w) / np.trapezoid(t / w, w))
    assert curve.wave_pivot == pytest.approx(pivot, rel=1e-3)
    assert curve.wave_pivot == pytest.approx(4702, abs=5)
    with pytest.raises(ValueError):
        curve.transmission[0] = 1.0  # cached arrays are read-only


def test_pivot_wavelengths_in_order():
    pivots = [load_filter(b).wave_pivot for b in ["galex_fuv", "sloan_u", "sloan_z", "j", "ks", "wise_ch4", "herschel_plw"]]
    assert np.all(np.diff(pivots) > 0)


def test_unknown_band_suggests_close_matches():
    with pytest.raises(UnknownBandError) as err:
        sedpy_name("sloan_q")
    assert isinstance(err.value, KeyError)
    assert "sloan_g" in err.value.suggestions
    assert "unknown band 'sloan_q'" in str(err.value) and "'sloan_g'" in str(err.value)
    with pytest.raises(KeyError, match="no_such_band"):
        load_filter("no_such_band")
