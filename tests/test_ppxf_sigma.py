"""Velocity dispersion: our spectrum-only fit against pPXF on the same SDSS spectrum.

NGC 3522 (SDSS DR18, shipped with the ppxf package). The configuration is
``tests/data/ngc3522_spectrum.lyric``, a template whose ``@SPECTRUM@`` this
test replaces: paths in a ``.lyric`` are relative to the config's folder and
ppxf's install location varies, so the test writes, into ``tmp_path``,

* ``ngc3522.txt``: the FITS spectrum as 4 columns (vacuum wavelength, flux,
  error, instrumental FWHM [A] from ``wdisp``), with the error set to 0
  (masked, see :func:`galfits_nb.data.spectra.fit_mask`) within +-400 km/s
  of the gas lines pPXF's reference masks (``ppxf_reference.gas_line_mask``);
* ``ngc3522_spectrum.lyric``: the template naming that file.

Same file, redshift, rest range (3850-7300 A vacuum), gas mask, noise and
instrumental resolution as the pPXF reference (``tests/ppxf_reference.py``,
``REFERENCE_SETUP``), so both fit the same 2654 pixels. The templates
differ only where our model must: pPXF fits a non-negative mix of the 104
solar-metallicity ages plus an additive degree-4 polynomial; our fit is one
``conti`` population (constant SFR + a single-age population, free age and
fraction, solar Z) with free Av, log M, sigma and redshift (the velocity),
and no polynomial.

pPXF is run here (about 7 s) rather than read from ``REFERENCE_SETUP``, so
the comparison holds for whatever templates and ppxf are installed.
"""

from __future__ import annotations

import importlib.util
import time
from pathlib import Path

import numpy as np
import pytest

from galfits_nb.errors import GalfitsError

if importlib.util.find_spec("ppxf") is None:
    pytest.skip("needs the ppxf package", allow_module_level=True)

from galfits_nb.data.spectra import read_spectrum_sdss  # noqa: E402
from galfits_nb.models.kinematics import C_KMS  # noqa: E402
from ppxf_reference import (  # noqa: E402
    REFERENCE_SETUP,
    gas_line_mask,
    ppxf_kinematics,
    shipped_spectrum,
)

SPECTRUM = shipped_spectrum("NGC3522")
if not SPECTRUM.is_file():
    pytest.skip(f"{SPECTRUM} is not shipped with this ppxf", allow_module_level=True)

TEMPLATE = Path(__file__).parent / "data" / "ngc3522_spectrum.lyric"
PLACEHOLDER = "@SPECTRUM@"
REDSHIFT = REFERENCE_SETUP["redshift"]


def write_masked_spectrum(path: Path, redshift: float = REDSHIFT) -> Path:
    """ppxf's NGC 3522 spectrum as a 4-column text file, gas lines masked (error 0)."""
    columns = read_spectrum_sdss(SPECTRUM)
    good = gas_line_mask(columns.wavelength / (1.0 + redshift), 800.0)
    error = np.where(good, columns.error, 0.0)  # SDSS ivar = 0 pixels already have error 0
    np.savetxt(
        path,
        np.column_stack([columns.wavelength, columns.flux, error, columns.fwhm]),
        fmt="%.6f %.6e %.6e %.5f",
        header="NGC3522 SDSS DR18 (ppxf); vacuum wavelength [A], flux, error [1e-17 erg/s/cm^2/A] "
        "(0 = masked gas line), FWHM [A]",
    )
    return path


def write_config(folder: Path) -> Path:
    """The filled-in copy of ``tests/data/ngc3522_spectrum.lyric`` and its spectrum, in ``folder``."""
    spectrum = write_masked_spectrum(folder / "ngc3522.txt")
    config = folder / "ngc3522_spectrum.lyric"
    config.write_text(TEMPLATE.read_text().replace(PLACEHOLDER, spectrum.name))
    return config


@pytest.fixture(scope="module")
def stellar():
    from galfits_nb.models.spectral_templates import load_spectral_templates

    try:
        return load_spectral_templates()
    except GalfitsError as error:
        pytest.skip(f"no spectral templates: {error}")


@pytest.fixture(scope="module")
def reference(stellar):
    return ppxf_kinematics(SPECTRUM, stellar, redshift=REDSHIFT)


@pytest.fixture(scope="module")
def fit(stellar, tmp_path_factory):
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.fit import fit_images

    config = read_lyric(write_config(tmp_path_factory.mktemp("ngc3522")))
    start = time.perf_counter()
    result = fit_images(config, read_observation(config), method="lm", progress=False)
    return result, time.perf_counter() - start


def test_template_config_has_the_placeholder():
    text = TEMPLATE.read_text()
    assert PLACEHOLDER in text
    assert "Sa5) column" in text


def test_spectrum_only_sigma_matches_ppxf(fit, reference):
    result, wall = fit
    values = result.table.values()
    spectrum = result.spectra["a"]
    sigma, sigma_ppxf = values["gal_sigma"], reference["sigma"]
    z_fit, z_ppxf = values["z_host"], reference["redshift_fit"]
    velocity = C_KMS * (z_fit - z_ppxf) / (1.0 + z_ppxf)  # ours minus pPXF's
    velocity_sdss = C_KMS * np.log((1.0 + z_fit) / (1.0 + REDSHIFT))
    print(
        f"\nNGC3522 sigma: ours {sigma:.1f} +- {result.sigma.get('gal_sigma', float('nan')):.1f} km/s, "
        f"pPXF {sigma_ppxf:.1f} +- {reference['sigma_error']:.1f} km/s ({100 * (sigma / sigma_ppxf - 1):+.1f} %)\n"
        f"velocity rel. SDSS z: ours {velocity_sdss:+.1f} km/s, pPXF {reference['velocity']:+.1f} km/s "
        f"(difference {velocity:+.1f} km/s)\n"
        f"chi2/N: ours {spectrum.attrs['reduced_chi2']:.3f} on {spectrum.attrs['n_good']} pixels "
        f"(pPXF {reference['chi2']:.3f} on {reference['n_good']}); "
        f"{result.n_steps} LM steps, converged {result.converged}, fit {wall:.1f} s"
    )
    for name in result.free_names:
        assert np.isfinite(values[name]), name
    assert result.converged
    # Same pixels as pPXF.
    assert spectrum.attrs["n_good"] == reference["n_good"]
    assert abs(sigma / sigma_ppxf - 1.0) < 0.10
    assert abs(velocity) < 20.0
    assert spectrum.attrs["reduced_chi2"] < 2.0
    assert result.reduced_chi2 < 2.0
    # The continuum shape without pPXF's polynomial: no large-scale residual
    # above 3 % of the model in any 500 A stretch.
    good = ~spectrum.mask.values
    rest = spectrum.wavelength.values / (1.0 + REDSHIFT)
    for lo in np.arange(3850.0, 7300.0, 500.0):
        inside = good & (rest >= lo) & (rest < lo + 500.0)
        offset = spectrum.residual.values[inside].sum() / spectrum.model.values[inside].sum()
        assert abs(offset) < 0.03, (lo, offset)
