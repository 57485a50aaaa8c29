"""Pure SED fitting of bagpipes-made photometry: stellar mass and A_V are recovered."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("bagpipes")

import sed_cases  # noqa: E402


@pytest.mark.parametrize("index", [0, 1])
def test_pure_sed_fit_recovers_mass_and_attenuation(tmp_path, index):
    truth = sed_cases.TRUTHS[index]
    case = sed_cases.write_case(tmp_path, truth, snr=20.0, seed=index + 1)
    result = sed_cases.fit_case(case)
    values = result.table.values()
    assert result.converged
    # 14 bands, 5 free parameters: chi^2 should look like chi^2(9)
    assert result.chi2 < 30.0
    assert abs(values["logM_gal"] - case.log_living_mass) < 0.1
    assert abs(values["gal_Av_value"] - truth["Av"]) < 0.15
    # the model photometry goes through the table's points
    model = np.array([float(result.models[label].model.values.item()) for label in result.models])
    data = np.array([float(result.models[label].data.values.item()) for label in result.models])
    assert np.all(np.abs(model / data - 1) < 0.3)


STAR_LYRIC = """R1) star
R2) [150.0,2.0]
R3) 0.0

Aa1) 'catalogue'
Aa2) []
Aa3) 1
Aa4) 0
Aa5) []
Aa6) []
Aa7) []
Aa8) phot.txt

Fa1) star
Fa2) [0,-1,1,0.1,0]
Fa3) [0,-1,1,0.1,0]
Fa4) [5000,3000,12000,100,1]
Fa5) [0,-2,2,0.1,1]
Fa8) 1
"""


def test_foreground_star_sed_recovers_teff_and_luminosity(tmp_path):
    """Magnitudes of astropy's black body through sedpy's filters give back Teff and log L (F block)."""
    import astropy.units as u
    from astropy.modeling.physical_models import BlackBody
    from sedpy.observate import load_filters

    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.filters import load_filter
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.fit import fit_images

    teff, log_l = 6500.0, 0.3
    wave = np.geomspace(2000.0, 30000.0, 20000)
    per_sr = BlackBody(temperature=teff * u.K)(wave * u.AA).to(
        u.erg / u.s / u.cm**2 / u.AA / u.sr, equivalencies=u.spectral_density(wave * u.AA)
    ).value
    kpc = (1 * u.kpc).to(u.cm).value
    sigma_sb = 5.670374419e-5
    flam = per_sr * np.pi * (10**log_l * 3.828e33) / (4 * np.pi * kpc**2) / (sigma_sb * teff**4)
    rows = ["band flux error unit"]
    for band in ["sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z", "j", "h", "ks"]:
        magnitude = load_filters([load_filter(band).sedpy_name])[0].ab_mag(wave, flam)
        rows.append(f"{band} {magnitude:.5f} 0.02 AB")
    (tmp_path / "phot.txt").write_text("\n".join(rows) + "\n")
    (tmp_path / "star.lyric").write_text(STAR_LYRIC)
    config = read_lyric(tmp_path / "star.lyric")
    result = fit_images(config, read_observation(config), progress=False)
    values = result.table.values()
    assert result.converged and result.chi2 < 0.1
    assert values["star_Teff"] == pytest.approx(teff, rel=2e-3)
    assert values["star_logL"] == pytest.approx(log_l, abs=3e-3)


def test_free_redshift_path_matches_precomputed_matrices(tmp_path):
    """Band fluxes computed inside the step (free z) equal the precomputed fixed-z matrices."""
    import jax.numpy as jnp

    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.inference.parameters import build_parameter_table
    from galfits_nb.models.sed_scene import build_sed_scene, sed_log_fluxes

    case = sed_cases.write_case(tmp_path, sed_cases.TRUTHS[0], snr=20.0, seed=1)
    config = read_lyric(case.config)
    values = {name: jnp.asarray(v) for name, v in build_parameter_table(config).values().items()}
    fixed = sed_log_fluxes(values, build_sed_scene(config, fixed_redshift=True))
    free_scene = build_sed_scene(config, fixed_redshift=False)
    free = sed_log_fluxes(values, free_scene)
    assert set(fixed) == set(free)
    np.testing.assert_allclose([float(free[k]) for k in fixed], [float(v) for v in fixed.values()], atol=2e-5)
    # and the free path responds to the redshift
    moved = sed_log_fluxes({**values, "z_mock": jnp.asarray(0.3)}, free_scene)
    assert float(moved["logNorm_gal_sloan_r"]) < float(free["logNorm_gal_sloan_r"]) - 0.5
