"""NUTS posteriors (inference/sample.py) against posterior moments integrated on a grid.

A GalSim-drawn Gaussian galaxy whose axis ratio (0.985) sits next to its
upper bound (1): the posterior is cut by the bound, so its mean lies below
the best fit, and a sampler with a wrong log-Jacobian or a biased
preconditioning would miss the grid's moments. The grid integrates
``exp(-chi^2 / 2)`` with the uniform prior directly in the parameters (no
transform, no sampler).
"""

from __future__ import annotations

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytest.importorskip("galsim")
pytest.importorskip("blackjax")

from test_optimize import GAUSS_START, galsim_image, read_case, write_case  # noqa: E402

from galfits_nb.inference import sample as sp  # noqa: E402
from galfits_nb.inference.fit import build_problem, fit_images  # noqa: E402
from galfits_nb.inference.likelihood import problem_chi2  # noqa: E402

TRUTH = dict(xcen=-0.2, ycen=0.1, FWHM=1.0, ang=-40.0, axrat=0.985, flux=2000.0)
FREE = ("gal_axrat", "gal_FWHM")
SETTINGS = sp.SampleSettings(num_chains=2, num_warmup=150, num_samples=300, seed=3)


@pytest.fixture(scope="module")
def round_case(tmp_path_factory):
    model, psf = galsim_image(TRUTH, "gaussian", 32, 0.7)
    config, tree = read_case(write_case(tmp_path_factory.mktemp("round"), model, psf, 1.0, 7, "gaussian", GAUSS_START))
    best = fit_images(config, tree, method="lm", progress=False, cal_sigma=False, psf_upsampling=1)
    rows = [dataclasses.replace(row, vary=row.name in FREE) for row in best.table.rows]
    return config, tree, best.table.with_rows(rows)


@pytest.fixture(scope="module")
def posterior(round_case):
    config, tree, table = round_case
    return sp.sample_posterior(config, tree, table, settings=SETTINGS, progress=False, psf_upsampling=1)


def grid_moments(config, tree, table, posterior) -> dict[str, tuple[float, float]]:
    """Posterior mean and sd of each free parameter by summing exp(-chi^2/2) on a 2-D grid."""
    built = build_problem(config, tree, table, psf_upsampling=1)
    problem = built.problem
    lo, hi = built.table.bounds()
    names = built.table.free_names
    axes = []
    for j, name in enumerate(names):
        mean, sd = float(posterior.posterior.posterior[name].mean()), posterior.sigma[name]
        a, b = max(lo[j], mean - 7 * sd), min(hi[j], mean + 7 * sd)
        axes.append(np.linspace(a, b, 121)[:-1] + (b - a) / 240)  # cell centres, never on a bound
    grid = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, len(names))
    u = np.log((grid - lo) / (hi - grid))
    chi2 = np.asarray(jax.jit(jax.vmap(lambda v: problem_chi2(v, problem)))(jnp.asarray(u, jnp.result_type(float))))
    weight = np.exp(-0.5 * (chi2 - chi2.min()))
    weight /= weight.sum()
    out = {}
    for j, name in enumerate(names):
        mean = float(np.sum(weight * grid[:, j]))
        out[name] = (mean, float(np.sqrt(np.sum(weight * (grid[:, j] - mean) ** 2))))
    return out


def test_nuts_matches_grid_moments_next_to_a_bound(round_case, posterior):
    config, tree, table = round_case
    assert posterior.posterior is not None and not posterior.interrupted
    # At most one divergent transition in 600 draws: whether a single one
    # appears next to the bound depends on the float32 rounding of LM's mode,
    # where NUTS starts (the same code with LMSettings.pin = inf, which only
    # adds exact no-op operations to LM's compiled step, gives one).
    assert posterior.n_divergent <= 1
    draws = posterior.posterior.posterior
    assert dict(draws.sizes) == {"chain": 2, "draw": 300}
    expected = grid_moments(config, tree, table, posterior)
    summary = sp.posterior_summary(posterior)
    for name in FREE:
        mean, sd = expected[name]
        ess = float(summary.loc[name, "ess_bulk"])
        assert ess > 100, name
        assert float(draws[name].mean()) == pytest.approx(mean, abs=5 * sd / np.sqrt(ess) + 0.02 * sd), name
        assert posterior.sigma[name] == pytest.approx(sd, rel=0.15), name
        assert float(summary.loc[name, "r_hat"]) < 1.05
    # The bound cuts the axis ratio's posterior: its mean is below the best fit,
    # and no draw crosses the bound.
    best = posterior.mode.table["gal_axrat"].value
    assert expected["gal_axrat"][0] < best
    assert float(draws["gal_axrat"].mean()) < best
    assert float(draws["gal_axrat"].max()) < 1.0
    assert posterior.table["gal_axrat"].value == pytest.approx(float(np.median(draws["gal_axrat"])))


def test_sampling_interrupted_keeps_finished_chunks(round_case, posterior, monkeypatch):
    config, tree, table = round_case
    original = sp._sample_chunk
    calls = {"n": 0}

    def stop_at_third(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return original(*args, **kwargs)

    monkeypatch.setattr(sp, "_sample_chunk", stop_at_third)
    result = sp.sample_posterior(
        config, tree, table, settings=SETTINGS, mode=posterior.mode, progress=True, psf_upsampling=1
    )
    assert result.interrupted
    assert dict(result.posterior.posterior.sizes) == {"chain": 2, "draw": 2 * SETTINGS.chunk}


def test_log_posterior_is_chi2_and_the_logistic_jacobian(round_case):
    config, tree, table = round_case
    problem = build_problem(config, tree, table, psf_upsampling=1).problem
    u = jnp.asarray([0.3, -1.2], jnp.result_type(float))
    lo, hi = table.bounds()
    s = 1 / (1 + np.exp(-np.asarray(u, float)))
    expected = -0.5 * float(problem_chi2(u, problem)) + float(np.sum(np.log((hi - lo) * s * (1 - s))))
    assert float(sp.log_posterior(u, problem)) == pytest.approx(expected, rel=1e-5)


def test_command_nuts_writes_draws_summary_and_posterior_errors(round_case, tmp_path, capsys):
    import arviz as az
    import pandas as pd

    from galfits_nb.cli import main
    from galfits_nb.outputs.summary import read_gssummary

    config, _, _ = round_case
    out = tmp_path / "out"
    argv = [config.path, "--workplace", str(out), "--psf_upsampling", "1", "--quiet"]
    sampler = ["--fit_method", "nuts", "--nchains", "2", "--num_warmup", "60", "--num_steps", "80"]
    assert main(argv + sampler) == 0
    target = config.region.name
    idata = az.from_netcdf(out / f"{target}.posterior.nc")
    assert dict(idata.posterior.sizes) == {"chain": 2, "draw": 80}
    assert "diverging" in idata.sample_stats
    table = pd.read_csv(out / f"{target}.posterior.csv", index_col="parameter")
    assert {"mean", "sd", "r_hat", "ess_bulk"} <= set(table.columns)
    summary = read_gssummary(out / f"{target}.gssummary")
    assert "posterior sd (nuts, 2 chains x 80 draws" in summary.header["errors"]
    sd = idata.posterior["gal_FWHM"].values.std(ddof=1)
    sigma = dict(zip(summary.table["pname"], summary.table["sigma"]))
    assert sigma["gal_FWHM"] == pytest.approx(sd, rel=1e-3)
    assert (out / f"{target}.residual.png").exists() and (out / f"{target}.params").exists()
    assert main(argv + ["--fit_method", "smc"]) == 3
    assert "smc: this sampler is not available" in capsys.readouterr().err
