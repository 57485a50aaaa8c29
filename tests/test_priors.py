"""Prior files as residuals: each family's value against a hand computation, and a prior acting in a fit."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galfits_nb.config.companions import GaussianPrior, MassMetallicityPrior, MassSizePrior, PriorSpec
from galfits_nb.config.spec import Config, GalaxySpec, Param, ProfileSpec, Region, SEDSpec
from galfits_nb.inference.parameters import build_parameter_table
from galfits_nb.inference.priors import build_priors, prior_residuals


def _config() -> Config:
    sed = SEDSpec(
        "burst",
        (
            ("logfrac", (Param(-2.0, -4.0, 0.0, 0.1, True),)),
            ("age", (Param(5.0, 0.1, 13.0, 0.1, True),)),
            ("Z", (Param(0.01, 0.001, 0.04, 0.001, True),)),
            ("Av", (Param(0.3, 0.0, 3.0, 0.1, True),)),
            ("logM", Param(10.5, 9.0, 12.0, 0.1, True)),
        ),
    )
    bulge = ProfileSpec(
        "a", "bulge", "sersic", Param(0, -1, 1, 0.1, False), Param(0, -1, 1, 0.1, False),
        (("Re", Param(2.0, 0.1, 10.0, 0.1, True)), ("n", Param(4.0, 1, 8, 0.1, True))), sed=sed,
    )
    galaxy = GalaxySpec("a", "gal", ("a",), Param(0.1, 0.05, 0.2, 0.01, False))
    return Config(Region("t", 10.0, 0.0, 0.1), profiles=(bulge,), galaxies=(galaxy,))


def test_each_family_matches_a_hand_computation():
    from astropy.cosmology import Planck18

    config = _config()
    table = build_parameter_table(config)
    spec = PriorSpec(
        mass_size=(MassSizePrior(("bulge",), 0.60, 0.75, 0.10, 10.7),),
        mass_metallicity=(MassMetallicityPrior(("a",), (28.0974, -7.23631, 0.850344, -0.0318315), 0.10),),
        gaussian=(GaussianPrior("bulge_n", 3.0, 0.5), GaussianPrior("bulge_Re")),
    )
    priors = build_priors(spec, config, table)
    values = {name: np.float64(v) for name, v in table.values().items()}
    r = np.asarray(prior_residuals(values, priors), dtype=float)
    kpc_per_arcsec = Planck18.kpc_proper_per_arcmin(0.1).value / 60.0
    msr = (math.log10(2.0 * kpc_per_arcsec) - (0.60 + 0.75 * (10.5 - 10.7))) / 0.10
    x = 10.5
    mmr = (8.69 + math.log10(0.01 / 0.02) - (28.0974 - 7.23631 * x + 0.850344 * x**2 - 0.0318315 * x**3)) / 0.10
    gp_n = (4.0 - 3.0) / 0.5
    gp_re = 0.0  # bare name: mean = start value
    assert r == pytest.approx([gp_n, gp_re, msr, mmr], rel=1e-6, abs=1e-9)


def test_negative_scatter_switches_a_relation_off():
    config = _config()
    spec = PriorSpec(mass_size=(MassSizePrior(("bulge",), 0.6, 0.75, -1.0),))
    assert build_priors(spec, config, build_parameter_table(config)).terms == ()


def test_gaussian_prior_pulls_a_pure_sed_fit(tmp_path):
    pytest.importorskip("bagpipes")
    import sed_cases

    truth = sed_cases.TRUTHS[0]
    case = sed_cases.write_case(tmp_path, truth, snr=20.0, seed=1)
    free = sed_cases.fit_case(case)
    target = free.table["logM_gal"].value + 0.3
    pulled = sed_cases.fit_case(case, priors=PriorSpec(gaussian=(GaussianPrior("logM_gal", target, 0.01),)))
    # A 0.01 dex prior 0.3 dex away against 14 bands at S/N 20: the fit ends
    # between the two, much nearer the prior; the data alone prefer the free mass.
    moved = (pulled.table["logM_gal"].value - free.table["logM_gal"].value) / 0.3
    assert 0.67 < moved < 1.0
    assert pulled.chi2 > free.chi2
