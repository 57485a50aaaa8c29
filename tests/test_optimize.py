"""Imaging fits against GalSim, the fitters, the statistics, compile-once and Ctrl-C.

Images are drawn with GalSim (independent of galfits_nb's renderer), written
as FITS with a North-up TAN WCS next to a ``.lyric`` file, and read back
through ``read_lyric`` + ``read_observation``: the whole user path.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import jax
import numpy as np
import pytest

galsim = pytest.importorskip("galsim")
from astropy.io import fits  # noqa: E402

from galfits_nb.config.lyric import read_lyric  # noqa: E402
from galfits_nb.data.mock import north_up_wcs_header  # noqa: E402
from galfits_nb.data.observation import read_observation  # noqa: E402
from galfits_nb.inference import likelihood as lk  # noqa: E402
from galfits_nb.inference import optimize as op  # noqa: E402
from galfits_nb.inference.fit import fit_images, imaging_table, start_fluxes  # noqa: E402
from galfits_nb.inference.parameters import build_parameter_table  # noqa: E402
from galfits_nb.models import scene as sc  # noqa: E402

RA, DEC = 150.0, 2.0
SCALE = 0.2

SERSIC_TRUTH = dict(xcen=0.3, ycen=-0.2, Re=1.2, n=2.5, ang=30.0, axrat=0.6, flux=5000.0)
SERSIC_START = dict(xcen=0.0, ycen=0.0, Re=1.8, n=1.5, ang=10.0, axrat=0.8)
GAUSS_TRUTH = dict(xcen=-0.2, ycen=0.1, FWHM=1.0, ang=-40.0, axrat=0.7, flux=2000.0)
GAUSS_START = dict(xcen=0.0, ycen=0.0, FWHM=1.5, ang=-20.0, axrat=0.9)


def galsim_image(truth: dict, kind: str, size: int, psf_fwhm: float) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free GalSim image and PSF image; the PSF image is what a star gives (pixel included)."""
    q = truth.get("axrat", 1.0)
    psf = galsim.Moffat(beta=3.0, fwhm=psf_fwhm)
    # +xcen is East = -x on the image; the stamp's true centre is the WCS reference (R2).
    offset = (-truth["xcen"] / SCALE, truth["ycen"] / SCALE)
    psf_image = psf.drawImage(nx=25, ny=25, scale=SCALE, method="auto").array
    if kind == "star":
        star = psf.withFlux(truth["flux"]).drawImage(nx=size, ny=size, scale=SCALE, offset=offset, method="auto")
        return star.array.astype(float), psf_image
    if kind == "sersic":
        # galfits_nb's Re is along the major axis; GalSim's shear keeps the area.
        gal = galsim.Sersic(n=truth["n"], half_light_radius=truth["Re"] * np.sqrt(q), flux=truth["flux"])
    else:
        gal = galsim.Gaussian(fwhm=truth["FWHM"] * np.sqrt(q), flux=truth["flux"])
    # PA from North (+y) through East (-x on a North-up image) = GalSim's beta (from +x) - 90.
    gal = gal.shear(q=q, beta=(truth["ang"] + 90.0) * galsim.degrees)
    image = galsim.Convolve(gal, psf).drawImage(nx=size, ny=size, scale=SCALE, offset=offset).array
    return image.astype(float), psf_image


def write_case(
    folder: Path, model: np.ndarray, psf: np.ndarray, noise: float, seed: int, kind: str, start: dict
) -> Path:
    """FITS files (data, sigma, mask in HDUs 0-2; PSF) and a photometry-mode .lyric; returns its path."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    sigma = np.full_like(model, noise)
    data = model + rng.normal(0.0, 1.0, model.shape) * noise * (seed != 0)
    mask = np.zeros(model.shape, dtype=np.int16)
    mask[:4, -5:] = 1  # a masked corner
    data[:4, -5:] = 1e6  # ... holding garbage that must not matter
    header = north_up_wcs_header(RA, DEC, model.shape[0], SCALE)
    fits.HDUList([fits.PrimaryHDU(data, header), fits.ImageHDU(sigma, header), fits.ImageHDU(mask, header)]).writeto(
        folder / "image.fits", overwrite=True
    )
    fits.PrimaryHDU(psf).writeto(folder / "psf.fits", overwrite=True)
    if kind == "star":
        component = f"""Fa1) star
Fa2) [{start['xcen']},-2,2,0.1,1]
Fa3) [{start['ycen']},-2,2,0.1,1]
Fa8) 0"""
    elif kind == "sersic":
        shape = f"""Pa2) sersic
Pa5) [{start['Re']},0.2,5,0.1,1]
Pa6) [{start['n']},0.5,6,0.1,1]
Pa7) [{start['ang']},-90,90,1,1]
Pa8) [{start['axrat']},0.2,1,0.01,1]"""
    else:
        shape = f"""Pa2) Gaussian
Pa5) [{start['FWHM']},0.2,5,0.1,1]
Pa7) [{start['ang']},-90,90,1,1]
Pa8) [{start['axrat']},0.2,1,0.01,1]"""
    if kind != "star":
        component = f"""Pa1) gal
Pa3) [{start['xcen']},-2,2,0.1,1]
Pa4) [{start['ycen']},-2,2,0.1,1]
{shape}"""
    text = f"""R1) mock
R2) [{RA}, {DEC}]
R3) 0.05
Ia1) [image.fits, 0]
Ia2) sloan_r
Ia3) [image.fits, 1]
Ia4) [psf.fits, 0]
Ia5) 1
Ia6) [image.fits, 2]
Ia7) counts
Ia8) -1
Ia9) -1
Ia10) 25.0
Ia11) uniform
Ia12) [[0,-1,1,0.1,1]]
Ia13) 0
Ia14) [[0,-5,5,0.1,0],[0,-5,5,0.1,0]]
Ia15) 0
Aa1) mock
Aa2) ['a']
Aa3) 1
Aa4) 0
Aa5) []
Aa6) []
Aa7) []
{component}
"""
    path = folder / "mock.lyric"
    path.write_text(text)
    return path


def read_case(path: Path):
    config = read_lyric(path)
    return config, read_observation(config)


@pytest.fixture(scope="module")
def sersic_model():
    return galsim_image(SERSIC_TRUTH, "sersic", 64, 0.6)


@pytest.fixture(scope="module")
def gaussian_case(tmp_path_factory):
    model, psf = galsim_image(GAUSS_TRUTH, "gaussian", 32, 0.7)
    return read_case(write_case(tmp_path_factory.mktemp("gauss"), model, psf, 1.0, 5, "gaussian", GAUSS_START))


SHAPE_KEYS = ("Re", "n", "ang", "axrat")


def test_noiseless_galsim_sersic_is_recovered_to_one_percent(sersic_model, tmp_path):
    config, tree = read_case(write_case(tmp_path, *sersic_model, 1.0, 0, "sersic", SERSIC_START))
    result = fit_images(config, tree, method="lm", progress=False)
    values = result.table.values()
    assert result.converged and not result.interrupted
    for key in SHAPE_KEYS:
        assert values[f"gal_{key}"] == pytest.approx(SERSIC_TRUTH[key], rel=0.01), key
    assert 10 ** values["logNorm_gal_sloan_r"] == pytest.approx(SERSIC_TRUTH["flux"], rel=0.01)
    assert values["gal_xcen"] == pytest.approx(SERSIC_TRUTH["xcen"], abs=0.01 * SCALE)
    assert values["gal_ycen"] == pytest.approx(SERSIC_TRUTH["ycen"], abs=0.01 * SCALE)
    # Noiseless with sigma = 1: what is left is the difference of two renderers.
    assert result.chi2 < 2.0
    model = result.models["sloan_r"]
    assert model.model.dims == ("y", "x") and model.attrs["n_good"] == 64 * 64 - 20
    assert np.all(model.residual.values[~model.mask.values] ** 2 < 0.5)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_noisy_fit_is_within_three_sigma_of_the_truth(sersic_model, tmp_path, seed):
    config, tree = read_case(write_case(tmp_path, *sersic_model, 2.0, seed, "sersic", SERSIC_START))
    result = fit_images(config, tree, method="lm", progress=False, cal_sigma=True)
    values = result.table.values()
    truth = {f"gal_{k}": SERSIC_TRUTH[k] for k in ("xcen", "ycen", *SHAPE_KEYS)}
    truth["logNorm_gal_sloan_r"] = np.log10(SERSIC_TRUTH["flux"])
    truth["sky_sloan_r"] = 0.0
    assert set(result.sigma) == set(truth)
    for name, true in truth.items():
        error = result.sigma[name]
        assert np.isfinite(error) and error > 0, name
        assert abs(values[name] - true) < 3.0 * error, (name, values[name], true, error)
    # Reduced chi^2 ~ 1 with the right noise, and the reported statistics follow their definitions.
    n_good = sum(result.n_good.values())
    assert result.reduced_chi2 == pytest.approx(result.chi2 / (n_good - result.n_free))
    assert result.bic == pytest.approx(result.chi2 + result.n_free * np.log(n_good))
    assert 0.9 < result.reduced_chi2 < 1.1


@pytest.fixture(scope="module")
def lm_on_gaussian(gaussian_case):
    config, tree = gaussian_case
    return fit_images(config, tree, method="lm", progress=False)


@pytest.mark.parametrize(("method", "options"), [("adam", dict(num_steps=600)), ("lbfgs", {})])
def test_adam_and_lbfgs_reach_the_lm_chi2(gaussian_case, lm_on_gaussian, method, options):
    config, tree = gaussian_case
    result = fit_images(config, tree, method=method, progress=False, cal_sigma=False, **options)
    assert result.chi2 == pytest.approx(lm_on_gaussian.chi2, rel=0.01)
    assert result.chi2 >= lm_on_gaussian.chi2 * (1 - 1e-4)  # LM found the minimum
    for name in result.free_names:
        row = result.table[name]
        assert row.min <= row.value <= row.max


def test_statistics_match_numpy(gaussian_case, lm_on_gaussian):
    config, tree = gaussian_case
    table = lm_on_gaussian.table
    scene = sc.build_imaging_scene(config, tree, table)
    values = {k: jax.numpy.asarray(v, dtype=jax.numpy.result_type(float)) for k, v in table.values().items()}
    per_image, log_like = jax.jit(lambda v, s: (lk.chi2_per_image(v, s), lk.log_likelihood(v, s)))(values, scene)
    ds = tree["atlas/mock/sloan_r"].to_dataset()
    model = lm_on_gaussian.models["sloan_r"].model.values
    good = ~ds.mask.values
    expected = np.sum(((ds.data.values - model) / ds.sigma.values)[good] ** 2)
    assert per_image[0] == pytest.approx(expected, rel=1e-4)
    assert lm_on_gaussian.chi2_per_image["sloan_r"] == pytest.approx(expected, rel=1e-9)
    assert float(log_like) == pytest.approx(-0.5 * expected, rel=1e-4)
    # Errors from a freshly computed Jacobian equal those from LM's state at its optimum.
    problem = lk.imaging_problem(scene, imaging_table(table, scene))
    sigma, covariance = op.parameter_errors(problem, jax.numpy.asarray(problem_start(table, problem)))
    expected_sigma = np.array([lm_on_gaussian.sigma[name] for name in lm_on_gaussian.free_names])
    assert problem.space.free == lm_on_gaussian.free_names
    np.testing.assert_allclose(sigma, expected_sigma, rtol=2e-3)
    np.testing.assert_allclose(np.sqrt(np.diag(covariance)), sigma)
    assert lk.reduced_chi2(100.0, 60, 10) == pytest.approx(2.0)
    assert lk.bic(100.0, 60, 10) == pytest.approx(100.0 + 10 * np.log(60))


def problem_start(table, problem):
    """Unconstrained vector of a table's free values, in the problem's order."""
    lo, hi = np.asarray(problem.space.lower), np.asarray(problem.space.upper)
    x = np.array([table[name].value for name in problem.space.free])
    frac = (x - lo) / (hi - lo)
    return np.log(frac) - np.log1p(-frac)


def test_lm_step_compiles_once(tmp_path, monkeypatch):
    """Count traces with a Python counter inside the traced function (as blackjax's tests do)."""
    traces = {"n": 0}
    original = sc.component_unit_image  # what every model and Jacobian renders through

    def counting(*args, **kwargs):
        traces["n"] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(sc, "component_unit_image", counting)
    # A scene no other test uses (one star), so the first step must trace.
    model, psf = galsim_image(dict(xcen=0.3, ycen=0.1, flux=500.0), "star", 30, 0.7)
    counts = []
    for seed, start in ((11, dict(xcen=0.0, ycen=0.0)), (12, dict(xcen=0.2, ycen=-0.3))):
        config, tree = read_case(write_case(tmp_path / str(seed), model, psf, 1.0, seed, "star", start))
        table = build_parameter_table(config)
        scene = sc.build_imaging_scene(config, tree, table)
        table = start_fluxes(imaging_table(table, scene), scene)
        problem = lk.imaging_problem(scene, table)
        fitter = op.levenberg_marquardt(problem)
        state, _ = fitter.step(fitter.init(table))
        counts.append(traces["n"])
        outcome = op.run(fitter, state, 30, progress=False)
        assert outcome.n_steps > 3
        assert float(outcome.state.best_chi2) < 1.2 * 30 * 30
        counts.append(traces["n"])
    assert counts[0] > 0
    assert counts == [counts[0]] * 4


def test_keyboard_interrupt_returns_the_best_state(gaussian_case):
    config, tree = gaussian_case
    seen = []

    def stop_after_four(step, state, info):
        seen.append(float(info.best_chi2))
        if step == 3:
            raise KeyboardInterrupt

    result = fit_images(
        config, tree, method="adam", num_steps=500, progress=True, cal_sigma=False, callback=stop_after_four
    )
    assert result.interrupted and not result.converged
    assert result.n_steps == 4 and len(result.history) == 4
    assert result.history[-1] == pytest.approx(min(seen))
    assert result.chi2 == pytest.approx(min(seen), rel=1e-4)
    assert seen[-1] <= seen[0]


def test_run_survives_interrupt_inside_the_loop(gaussian_case):
    """Ctrl-C arriving while a step runs: the state of the last finished step comes back."""
    config, tree = gaussian_case
    table = build_parameter_table(config)
    scene = sc.build_imaging_scene(config, tree, table)
    table = start_fluxes(imaging_table(table, scene), scene)
    problem = lk.imaging_problem(scene, table)
    fitter = op.levenberg_marquardt(problem)
    calls = {"n": 0}

    def flaky_step(state):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt
        return fitter.step(state)

    outcome = op.run(op.Fitter(fitter.init, flaky_step, "lm"), fitter.init(table), 10, progress=False)
    assert outcome.interrupted and outcome.n_steps == 2
    assert np.isfinite(float(outcome.state.best_chi2))


def test_sed_images_without_sed_keys_are_refused(gaussian_case, tmp_path):
    config, tree = gaussian_case
    text = Path(config.path).read_text().replace("Ia15) 0", "Ia15) 1")
    folder = Path(config.path).parent
    path = folder / "sed.lyric"
    path.write_text(text)
    sed_config = read_lyric(path)
    from galfits_nb.errors import ConfigError

    with pytest.raises(ConfigError, match=r"sed.lyric:\d+: Ia15: band sloan_r uses SED fluxes .* has no SED keys"):
        fit_images(sed_config, tree, progress=False)


def test_start_on_a_bound_is_moved_inside_and_fitted(gaussian_case, lm_on_gaussian, monkeypatch):
    """A free start exactly on a bound must not freeze the parameter (logistic transform: dx/du -> 0)."""
    config, tree = gaussian_case
    table = build_parameter_table(config).with_values({"gal_axrat": 1.0})  # the upper bound
    with pytest.warns(UserWarning, match="gal_axrat"):
        result = fit_images(config, tree, table, method="lm", progress=False, cal_sigma=False)
    best = lm_on_gaussian.table["gal_axrat"].value
    assert result.table["gal_axrat"].value == pytest.approx(best, abs=0.02)
    assert result.chi2 == pytest.approx(lm_on_gaussian.chi2, rel=1e-3)
    # Without the margin (the clip to 1e-9 of the range alone) it stays on the bound.
    monkeypatch.setattr(op, "START_MARGIN", 1e-9)
    stuck = fit_images(config, tree, table, method="lm", progress=False, cal_sigma=False)
    assert stuck.table["gal_axrat"].value > 0.99


def test_parameters_left_at_a_bound_are_reported(gaussian_case):
    """A parameter whose bound is inside its posterior ends on the bound; the result says so."""
    config, tree = gaussian_case
    table = build_parameter_table(config)
    row = table["gal_axrat"]
    table = table.with_rows([dataclasses.replace(row, min=0.2, max=0.6, value=0.5)])  # truth 0.7: outside
    result = fit_images(config, tree, table, method="lm", progress=False, cal_sigma=False)
    assert result.converged
    assert result.at_bounds == ("gal_axrat",)
    assert result.table["gal_axrat"].value == pytest.approx(0.6, abs=1e-3)


def test_stall_rule_ends_the_creep_against_a_bound_within_a_tenth_of_the_errors(gaussian_case):
    """A parameter pressing on a bound: LM creeps toward it, chi^2 falling by tenths per step.

    With the bound parameter left in the step (``pin = inf``), the stall rule
    (opt-in, ``model_tolerance = 0.01``) must stop that creep early, where no
    parameter is more than ~0.1 of its error from where the fit without the
    rule ends. The default holds a parameter pressed on its bound out of the
    step (``LMSettings.pin``): that removes the creep itself, ending as close
    in fewer steps.
    """
    config, tree = gaussian_case
    table = build_parameter_table(config)
    row = table["gal_axrat"]
    table = table.with_rows([dataclasses.replace(row, min=0.2, max=0.6, value=0.5)])  # truth 0.7: outside
    scene = sc.build_imaging_scene(config, tree, table)
    table = start_fluxes(imaging_table(table, scene), scene)
    problem = lk.imaging_problem(scene, table)
    outcomes = {}
    for name, settings in (
        ("stall", op.LMSettings(model_tolerance=0.01, pin=float("inf"))),
        ("creep", op.LMSettings(pin=float("inf"))),
        ("pinned", op.LMSettings()),
    ):
        fitter = op.levenberg_marquardt(problem, settings)
        outcomes[name] = op.run(fitter, fitter.init(table), 200, progress=False)
    creep = outcomes["creep"]
    sigma, _ = op.parameter_errors(problem, creep.state.best_position, creep.state.extra.jtj)
    x_creep = np.asarray(problem.space.from_unconstrained(creep.state.best_position))
    for name in ("stall", "pinned"):
        fit = outcomes[name]
        assert fit.converged and creep.converged
        assert fit.n_steps < creep.n_steps - 3, (name, fit.n_steps, creep.n_steps)
        x = np.asarray(problem.space.from_unconstrained(fit.state.best_position))
        assert np.all(np.abs(x - x_creep) < 0.15 * sigma), (name, (x - x_creep) / sigma)
        assert float(fit.state.best_chi2) - float(creep.state.best_chi2) < 3.0


def test_evaluate_without_jacobian_gives_the_same_chi2_and_models(gaussian_case):
    from galfits_nb.inference import kernels

    config, tree = gaussian_case
    table = build_parameter_table(config)
    scene = sc.build_imaging_scene(config, tree, table)
    table = start_fluxes(imaging_table(table, scene), scene)
    problem = lk.imaging_problem(scene, table)
    u = jax.numpy.asarray(problem_start(table, problem), dtype=jax.numpy.result_type(float))
    chi2, models, normal = kernels.evaluate(u, problem, with_jacobian=False)
    chi2_j, models_j, (jtj, _) = kernels.evaluate(u, problem, with_jacobian=True)
    assert normal is None and jtj.shape == (u.shape[0], u.shape[0])
    assert float(chi2) == pytest.approx(float(chi2_j), rel=1e-5)
    model, model_j = np.asarray(models[0]), np.asarray(models_j[0])
    # float32 FFT rounding scales with the image's peak, not with each pixel
    np.testing.assert_allclose(model, model_j, rtol=0, atol=2e-6 * np.abs(model_j).max())


def test_warm_up_threads_compile_at_the_callers_matmul_precision(monkeypatch):
    """The warm-up compiles on threads; JAX's precision context is thread-local.

    Under ``galfits_nb.precision.full_precision`` (GPUs) the threads must
    compile the programs the caller then runs, not default-precision ones
    (which doubled the compile time of a cold run on the H200).
    """
    from types import SimpleNamespace

    from galfits_nb.inference import kernels

    seen = []
    monkeypatch.setattr(
        kernels, "_image_call", lambda layout, arrays, theta, chain: seen.append(jax.config.jax_default_matmul_precision)
    )
    layouts = (kernels.ImageLayout("a", (), 0, 1), kernels.ImageLayout("b", (), 1, 3))
    monkeypatch.setattr(kernels, "image_layouts", lambda problem: layouts)
    problem = SimpleNamespace(scene=SimpleNamespace(images=(None, None)))
    with jax.default_matmul_precision("highest"):
        kernels._warm_up(problem, None, None)
    assert seen == ["highest", "highest"]
    seen.clear()
    kernels._warm_up(problem, None, None)
    assert seen == [None, None]


def test_a_rejected_trial_within_the_tolerance_ends_the_fit():
    """MINPACK's ftol test on every trial: a rejected step that changed chi^2 by
    less than the tolerance, with a predicted gain below it too, ends the fit
    (more damping could only predict less); a larger change or prediction does not."""
    jnp = jax.numpy
    settings = op.LMSettings()
    n = 2
    u = jnp.zeros(n)
    lm = op.LMState(
        jnp.eye(n), jnp.zeros(n), jnp.ones(n), jnp.asarray(1.0), jnp.asarray(2.0), (),
        jnp.zeros((settings.window, n)), jnp.full((settings.window,), jnp.inf),
    )
    state = op.FitState(u, u, jnp.asarray(1e5), lm)
    trial = jnp.full(n, 0.1)

    def update(chi2_trial, predicted):
        new, info = op._lm_update(
            state, trial, jnp.asarray(chi2_trial), (), jnp.eye(n), jnp.zeros(n), jnp.asarray(1.0),
            jnp.asarray(predicted), settings,
        )
        return new, info

    new, info = update(1e5 + 0.01, 0.05)  # rejected; |actual| and predicted below 1e-6 * chi^2
    assert not bool(info.accepted) and bool(info.converged)
    np.testing.assert_array_equal(np.asarray(new.position), np.asarray(u))  # the fit ends where it was
    assert not bool(update(1e5 + 0.01, 0.5)[1].converged)  # the model still promises more
    assert not bool(update(1e5 + 1.0, 0.05)[1].converged)  # chi^2 rose by more than the tolerance
    assert not bool(update(float("nan"), 0.05)[1].converged)


def test_threaded_image_programs_give_the_sequential_results(seed_folder, monkeypatch):
    """On a multi-core CPU the image programs of one evaluation run on threads
    while the spectrum is computed; every output must be bit-identical to the
    one-thread evaluation, in the same order (images, then the spectrum)."""
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference import fit, kernels, optimize

    config = read_lyric(seed_folder / "seed_joint.lyric")
    built = fit.build_problem(config, read_observation(config))
    problem = built.problem
    assert len(problem.scene.images) == 3 and problem.spectra is not None
    u = optimize._start_vector(built.table, problem)
    groups = kernels._image_groups(problem, 2)
    assert sorted(i for group in groups for i in group) == [0, 1, 2] and len(groups) == 2

    runs = []
    for cores in (2, 1):
        monkeypatch.setattr(kernels.os, "cpu_count", lambda cores=cores: cores)
        for with_jacobian in (True, False):
            chi2, models, normal = kernels.evaluate(u, problem, with_jacobian)
            runs.append((float(chi2), [np.asarray(m) for m in models], normal and [np.asarray(a) for a in normal]))
    for threaded, sequential in zip(runs[:2], runs[2:]):
        assert threaded[0] == sequential[0]
        assert len(threaded[1]) == 4  # three images, one spectrum
        for a, b in zip(threaded[1], sequential[1]):
            np.testing.assert_array_equal(a, b)
        if threaded[2] is not None:
            for a, b in zip(threaded[2], sequential[2]):
                np.testing.assert_array_equal(a, b)


def test_pool_threads_run_under_the_callers_64_bit_mode():
    """JAX's 64-bit switch is thread-local too: pool threads must not cut a
    float64 caller's inputs to float32."""
    from galfits_nb.inference import kernels

    def dtype_of_a_new_array():
        return jax.numpy.zeros(1, dtype=float).dtype

    with kernels._enable_x64(True):
        run = kernels._in_callers_context(dtype_of_a_new_array)
        assert kernels._pool().submit(run).result() == np.float64
        assert kernels._pool().submit(dtype_of_a_new_array).result() == np.float32
    run = kernels._in_callers_context(dtype_of_a_new_array)
    assert kernels._pool().submit(run).result() == np.float32
