"""pPXF's stellar kinematics of NGC 3522 (SDSS DR18, shipped with ppxf) with our templates.

The reference half of the spectrum-only kinematics check; the setup and
numbers are in ``tests/ppxf_reference.py`` (``REFERENCE_SETUP``).
"""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest

from galfits_nb.errors import GalfitsError

if importlib.util.find_spec("ppxf") is None:
    pytest.skip("needs the ppxf package", allow_module_level=True)

from galfits_nb.data.spectra import read_spectrum_sdss  # noqa: E402
from galfits_nb.models.kinematics import C_KMS  # noqa: E402
from galfits_nb.models.spectral_templates import load_spectral_templates  # noqa: E402
from ppxf_reference import (  # noqa: E402
    REFERENCE_SETUP,
    gas_line_mask,
    ppxf_kinematics,
    sdss_redshift,
    shipped_spectrum,
)

SPECTRUM = shipped_spectrum("NGC3522")
if not SPECTRUM.is_file():
    pytest.skip(f"{SPECTRUM} is not shipped with this ppxf", allow_module_level=True)


@pytest.fixture(scope="module")
def stellar():
    try:
        return load_spectral_templates()
    except GalfitsError as error:
        pytest.skip(f"no spectral templates: {error}")


@pytest.fixture(scope="module")
def reference(stellar):
    return ppxf_kinematics(SPECTRUM, stellar)


def test_shipped_spectrum_reads_as_sdss_vacuum_log_lambda():
    columns = read_spectrum_sdss(SPECTRUM)
    # SDSS: 1e-4 dex = 69 km/s pixels (loglam is float32 in the file: +-0.2 %).
    log_wave = np.log10(columns.wavelength)
    np.testing.assert_allclose(np.diff(log_wave), 1e-4, rtol=3e-3)
    assert (log_wave[-1] - log_wave[0]) / (log_wave.size - 1) == pytest.approx(1e-4, rel=1e-5)
    assert columns.fwhm is not None and np.all(np.isfinite(columns.fwhm))
    # wdisp ~ 1 pixel: FWHM of 2.4-3.8 A, R ~ 1500-2700.
    assert 2.0 < np.median(columns.fwhm) < 4.0
    assert np.all(columns.error > 0)
    assert sdss_redshift(SPECTRUM) == pytest.approx(0.0040180, abs=1e-6)


def test_gas_mask_windows_are_vacuum():
    wave = np.linspace(4800.0, 4920.0, 12001)
    bad = wave[~gas_line_mask(wave, 800.0)]
    # H-beta 4861.33 air = 4862.69 vacuum, masked +-400 km/s.
    centre = 4862.69
    assert bad.min() == pytest.approx(centre * np.exp(-400 / C_KMS), abs=0.02)
    assert bad.max() == pytest.approx(centre * np.exp(400 / C_KMS), abs=0.02)


def test_ppxf_sigma_of_ngc3522(reference):
    sigma, velocity = reference["sigma"], reference["velocity"]
    print(
        f"\npPXF NGC3522: V = {velocity:.1f} km/s (z = {reference['redshift_fit']:.6f}), "
        f"sigma = {sigma:.1f} +- {reference['sigma_error']:.1f} km/s, chi2/DOF = {reference['chi2']:.2f}, "
        f"{reference['n_good']} pixels, {reference['n_templates']} templates, "
        f"rest {reference['fit_range'][0]:.0f}-{reference['fit_range'][1]:.0f} A"
    )
    assert np.isfinite(sigma) and np.isfinite(velocity)
    # An S0 whose SDSS pipeline dispersion is 97.4 +- 2.4 km/s.
    assert 85.0 < sigma < 120.0
    assert abs(velocity) < 30.0  # the SDSS redshift is right to a few km/s
    assert 0.3 < reference["chi2"] < 3.0
    assert sigma == pytest.approx(REFERENCE_SETUP["sigma_kms"], abs=1.0)
    assert velocity == pytest.approx(REFERENCE_SETUP["velocity_kms"], abs=1.0)


def test_ppxf_sigma_stable_to_templates_and_polynomials(stellar, reference):
    sigma = reference["sigma"]
    every_metallicity = ppxf_kinematics(SPECTRUM, stellar, metallicities=None, age_stride=4)
    multiplicative = ppxf_kinematics(SPECTRUM, stellar, degree=-1, mdegree=8)
    our_matching = ppxf_kinematics(SPECTRUM, stellar, smoothing="galfits")
    print(
        f"\nsigma: solar {sigma:.1f}, all metallicities {every_metallicity['sigma']:.1f}, "
        f"mdegree 8 only {multiplicative['sigma']:.1f}, "
        f"templates matched by galfits_nb {our_matching['sigma']:.1f} km/s"
    )
    assert every_metallicity["sigma"] == pytest.approx(sigma, rel=0.03)
    assert multiplicative["sigma"] == pytest.approx(sigma, rel=0.05)
    assert our_matching["sigma"] == pytest.approx(sigma, rel=0.03)
    assert every_metallicity["velocity"] == pytest.approx(reference["velocity"], abs=5.0)
