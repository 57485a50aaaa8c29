"""Time to convergence of imaging fits, galfits_nb next to pysersic (prints a table).

Run: ``.venv/bin/python benchmarks/imaging.py [--repeat N] [--peer-python PATH]``
(``--help`` lists the other flags). The defaults take about a quarter of an
hour on two busy CPU cores, most of it compilation.

What is measured
----------------
Wall-clock seconds (``time.perf_counter``) from handing a tool the data to
holding its best-fit parameters and model images, for two problems:

``sersic128``
    A 128x128 image of one Sersic profile (n = 2.5, Re = 8 px along the major
    axis, q = 0.7, PA = 30 deg) drawn with GalSim, convolved with a Moffat PSF
    (beta = 3, FWHM = 3 px), with Gaussian noise for an S/N of ~300 (the
    optimal S/N, ``sqrt(sum(model^2)) / sigma``) and no sky. galfits_nb reads
    it through a small ``.lyric`` file and FITS files written to a temporary
    folder; the sky is held at 0.
``sdss5``
    The photometry-mode (free flux per component and band) bulge + disk fit of
    the five SDSS bands of ``shared/data/j0056_quickstart``: shapes and centres
    shared by the bands, ten fluxes, the sky held at 0 and, as
    ``quickstart.lyric`` asks, a free x/y shift for the g, r, i and z images
    (``sdss5 +shifts``, "the SDSS fit", 30 free parameters). pysersic has no
    per-band shift, so the fit is run again with the shifts held at 0 and the
    Sersic index bounded below by 0.65, the lower end of pysersic's Sersic
    table (``sdss5 like-for-like``): then both tools fit the same 22
    parameters within the same bounds (fluxes aside, see below).

galfits_nb runs :func:`galfits_nb.inference.fit.fit_images` with ``method="lm"``
and ``method="lbfgs"`` (``cal_sigma=False``: no error estimate, the peer makes
none). The first call for a set of free parameters compiles the model
("first call (with compile)"); later calls reuse it ("warm", the median of
``--repeat`` calls). The like-for-like SDSS fit frees other parameters, so it
compiles again. Reading the FITS files is not timed; building the scene, the
start fluxes, the fit and the final model images are. The fitters stop by
the rules of :mod:`galfits_nb.inference.optimize` at their defaults (chi^2
changing by less than 1e-6, relative, or for LM a full Gauss-Newton step
promising less than 0.01 in chi^2; at most 200 LM or 1000 L-BFGS steps).

The peer is pysersic's MAP fit: ``FitSingle`` for one component, ``FitMulti``
for bulge + disk, and ``FitMultiBandPoly`` to fit the five bands jointly with
every shape and centre parameter common to the bands (``const_params``) and
the fluxes free per band. It gets the arrays galfits_nb fitted (data, sigma,
mask, the normalised PSF) and galfits_nb's start values, its flux start
included. Two deliberate departures from ``autoprior`` + ``find_MAP`` keep
the comparison like for like:

* every prior is flat over galfits_nb's bounds, so the MAP is the chi^2
  minimum galfits_nb looks for (``autoprior``'s Gaussian priors on flux and
  centre would pull it away). pysersic samples a linear flux, bounded to
  [0, 10 x the image's total flux]; galfits_nb fits ``log10`` of the flux;
* the optimisation starts from galfits_nb's start values (``init_to_value``
  where ``find_MAP`` has ``init_to_median``).

Otherwise it is ``find_MAP``'s optimisation: pysersic's
``train_numpyro_svi_early_stop`` with an ``AutoDelta`` guide, Adam in three
rounds (learning rate 0.05, 0.005, 0.0005), each ending after 250 steps
without improvement (at most 20000). "steps" counts LM or L-BFGS iterations
and pysersic's Adam updates over all rounds. pysersic builds a new jitted
training step on every call, so its "repeat" time includes tracing it again
(what JAX can reuse from the first call, it does).

Each tool renders its own model: galfits_nb integrates the profile over
pixels and pads the image before convolving; pysersic approximates the
profile by a Gaussian mixture and convolves circularly on the image grid. So
the table's chi^2 (float64, unmasked pixels, from each tool's model image) can
differ at convergence. The notes under the table give the main best-fit
parameters and each tool's chi^2 at both tools' optima: a tool whose chi^2 is
lower at its own optimum than at the other's has converged for its model.

The peer runs in a subprocess of ``--peer-python`` (default: this
interpreter), so pysersic may live in its own virtual environment; the data go
through a temporary ``.npz``. Without pysersic the script prints
``peer unavailable: <reason>`` and no ratio. Everything runs in JAX's default
float32 on the device JAX picks (printed). The ratio column is peer time /
galfits_nb time for the matching call (first with first, warm with repeat)
on the same case.
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # no progress bars in the printed table

import argparse
import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

QUICKSTART = Path(__file__).resolve().parents[2] / "shared" / "data" / "j0056_quickstart" / "quickstart.lyric"

# The simulated single-Sersic image.
SIZE = 128
SCALE = 0.2  # arcsec per pixel
RA, DEC = 150.0, 2.0
PSF_FWHM_PX = 3.0
PSF_SIZE = 31
SNR = 300.0
SERSIC_TRUTH = dict(xcen=0.06, ycen=-0.04, Re=8.0 * SCALE, n=2.5, ang=30.0, axrat=0.7, flux=1.0e4)
SERSIC_START = dict(xcen=0.0, ycen=0.0, Re=12.0 * SCALE, n=1.5, ang=10.0, axrat=0.85)

# pysersic interpolates its Gaussian-mixture amplitudes over this Sersic-index range.
PEER_N_RANGE = (0.65, 8.0)
# find_MAP's training settings (pysersic 0.1.5).
PEER_TRAINING = dict(lr_init=0.05, num_round=3, frac_lr_decrease=0.1, patience=250, max_train=20000)
SHARED_KEYS = ("xc", "yc", "r_eff", "n", "ellip", "theta")


# ---------------------------------------------------------------------------
# The peer (runs in the peer interpreter: numpy, jax, numpyro, pysersic only)
# ---------------------------------------------------------------------------
def _peer_name(key: str, index: int, n_components: int) -> str:
    return key if n_components == 1 else f"{key}_{index}"


def _peer_fit_once(spec: dict, arrays, modules: dict) -> tuple[float, dict]:
    """One pysersic MAP fit of a problem; returns (seconds, outcome)."""
    jax, numpyro = modules["jax"], modules["numpyro"]
    pysersic, multiband, core = modules["pysersic"], modules["multiband"], modules["core"]
    infer, handlers = numpyro.infer, numpyro.handlers
    bands, comps = spec["bands"], spec["components"]
    n_comp = len(comps)
    single_band = len(bands) == 1
    start: dict[str, float] = {}

    def flat(prior, name: str, low: float, high: float, value: float, band_suffix: str = "") -> None:
        prior.set_uniform_prior(name, low, high)
        # set_uniform_prior reparametrises to a unit uniform named <name>_base.
        base = (value - low) / (high - low)
        start[f"{name}{band_suffix}_base"] = float(min(max(base, 1e-6), 1.0 - 1e-6))

    start_time = time.perf_counter()
    fitters = []
    for b, band in enumerate(bands):
        suffix = "" if single_band else f"_{band}"
        if n_comp == 1:
            prior = pysersic.PySersicSourcePrior("sersic", sky_type="none")
        else:
            catalog = {
                "x": [c["xc"][0] for c in comps],
                "y": [c["yc"][0] for c in comps],
                "flux": [c["flux"][b][0] for c in comps],
                "r": [c["r_eff"][0] for c in comps],
                "theta": [c["theta"][0] for c in comps],
                "type": ["sersic"] * n_comp,
            }
            prior = pysersic.PySersicMultiPrior(catalog, sky_type="none")
        for i, comp in enumerate(comps):
            for key in SHARED_KEYS:
                value, low, high = comp[key]
                # Shared parameters: one sample site for all bands, no band suffix.
                flat(prior, _peer_name(key, i, n_comp), low, high, value)
            value, low, high = comp["flux"][b]
            flat(prior, _peer_name("flux", i, n_comp), low, high, value, suffix)
        bad = np.asarray(arrays[f"bad_{b}"], dtype=bool)
        data = np.where(bad, 0.0, arrays[f"data_{b}"])
        sigma = np.where(bad, 1.0, arrays[f"sigma_{b}"])
        cls = pysersic.FitSingle if n_comp == 1 else pysersic.FitMulti
        fitters.append(cls(data, sigma, arrays[f"psf_{b}"], prior, mask=bad))
    if single_band:
        fitter = fitters[0]
    else:
        shared = [_peer_name(key, i, n_comp) for i in range(n_comp) for key in SHARED_KEYS]
        # Nothing is linked through wavelength, so the wavelengths do not matter.
        fitter = multiband.FitMultiBandPoly(
            fitters,
            wavelengths=np.arange(len(bands), dtype=float),
            linked_params=[],
            const_params=shared,
            band_names=list(bands),
        )
    model = fitter.build_model(return_model=True)
    sites = handlers.trace(handlers.seed(model, jax.random.PRNGKey(0))).get_trace()
    sampled = {name for name, site in sites.items() if site["type"] == "sample" and not site.get("is_observed")}
    if sampled != set(start):
        raise RuntimeError(f"start values do not match pysersic's sites: {sorted(sampled ^ set(start))}")

    guide = infer.autoguide.AutoDelta(model, init_loc_fn=infer.init_to_value(values=start))
    svi = infer.SVI(model, guide, numpyro.optim.Adam(0.01), loss=infer.Trace_ELBO())
    trained = core.train_numpyro_svi_early_stop(
        svi, rkey=jax.random.PRNGKey(3), optimizer=numpyro.optim.Adam, **PEER_TRAINING
    )
    best = {key.split("_auto_loc")[0]: value for key, value in trained.params.items()}
    trace = handlers.trace(handlers.condition(model, best)).get_trace()
    models = np.asarray(trace["model"]["value"], dtype=float).reshape(len(bands), *arrays["data_0"].shape)
    seconds = time.perf_counter() - start_time

    chi2 = _chi2(arrays, models)
    n_good = sum(int((~np.asarray(arrays[f"bad_{b}"], dtype=bool)).sum()) for b in range(len(bands)))
    values = {}
    for i in range(n_comp):
        for key in (*SHARED_KEYS, "flux"):
            name = _peer_name(key, i, n_comp)
            names = [name] if key != "flux" or single_band else [f"{name}_{band}" for band in bands]
            values[f"{i}:{key}"] = [float(np.asarray(trace[n]["value"])) for n in names]
    outcome = dict(chi2=chi2, n_good=n_good, n_free=len(start), values=values)
    if spec.get("reference"):
        # pysersic's chi^2 at galfits_nb's best point: the other tool's optimum, this tool's model.
        at = {}
        for i, comp in enumerate(spec["reference"]):
            for key in SHARED_KEYS:
                low, high = comps[i][key][1:]
                at[f"{_peer_name(key, i, n_comp)}_base"] = (comp[key] - low) / (high - low)
            for b, band in enumerate(bands):
                low, high = comps[i]["flux"][b][1:]
                suffix = "" if single_band else f"_{band}"
                at[f"{_peer_name('flux', i, n_comp)}{suffix}_base"] = (comp["flux"][b] - low) / (high - low)
        trace = handlers.trace(handlers.condition(model, at)).get_trace()
        images = np.asarray(trace["model"]["value"], dtype=float).reshape(models.shape)
        outcome["chi2_at_reference"] = _chi2(arrays, images)
    return seconds, outcome


def _chi2(arrays, models: np.ndarray) -> float:
    """chi^2 over unmasked pixels, in float64, of model images of shape (n_band, ny, nx)."""
    total = 0.0
    for b in range(models.shape[0]):
        good = ~np.asarray(arrays[f"bad_{b}"], dtype=bool)
        chi = (np.asarray(arrays[f"data_{b}"], dtype=float) - models[b]) / np.asarray(arrays[f"sigma_{b}"], dtype=float)
        total += float(np.sum(chi[good] ** 2))
    return total


def peer_worker(spec_path: str) -> int:
    """Entry point of the peer subprocess: read the spec, fit, write JSON."""
    spec = json.loads(Path(spec_path).read_text())
    out_path = Path(spec["output"])
    try:
        import jax
        import numpyro
        import tqdm

        import pysersic
        import pysersic.multiband as multiband
        import pysersic.pysersic as core
    except Exception as exc:  # any import failure means: no peer
        out_path.write_text(json.dumps({"error": f"pysersic not importable by {sys.executable}: {exc!r}"}))
        return 0
    from importlib.metadata import version

    # Count optimiser steps: pysersic's training loop iterates over tqdm.trange.
    steps = [0]

    class CountingBar(tqdm.tqdm):
        def __iter__(self):
            for item in super().__iter__():
                steps[0] += 1
                yield item

    tqdm.trange = lambda *args, **kwargs: CountingBar(range(*args), **kwargs)
    modules = dict(jax=jax, numpyro=numpyro, pysersic=pysersic, multiband=multiband, core=core)
    arrays = dict(np.load(spec["arrays"]))
    times, outcome = [], {}
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(1 + spec["repeat"]):
                steps[0] = 1  # the first update, before the loop
                seconds, outcome = _peer_fit_once(spec, arrays, modules)
                times.append(seconds)
    except Exception as exc:
        out_path.write_text(json.dumps({"error": f"pysersic fit failed: {exc!r}"}))
        return 0
    outcome.update(
        times=times,
        steps=steps[0],
        version=f"pysersic {version('pysersic')}, numpyro {version('numpyro')}, jax {jax.__version__}",
        device=str(jax.devices()[0]),
    )
    out_path.write_text(json.dumps(outcome))
    return 0


# ---------------------------------------------------------------------------
# galfits_nb side (the main process)
# ---------------------------------------------------------------------------
@dataclass
class Row:
    tool: str
    case: str
    call: str
    seconds: float
    steps: int | str
    chi2: float
    reduced_chi2: float
    kind: str  # "first" or "warm": the peer time it is compared with
    family: str  # rows of one family share a peer row


@dataclass
class Case:
    name: str
    family: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def _time_galfits(config, tree, table, method: str, repeat: int, case: str, family: str):
    from galfits_nb.inference.fit import fit_images

    times, result = [], None
    for _ in range(1 + repeat):
        start = time.perf_counter()
        result = fit_images(config, tree, table, method=method, progress=False, cal_sigma=False)
        times.append(time.perf_counter() - start)
    rows = [Row("galfits_nb", case, f"{method}, first call (with compile)", times[0], result.n_steps,
                result.chi2, result.reduced_chi2, "first", family)]
    if repeat:
        rows.append(Row("galfits_nb", case, f"{method}, warm (median of {repeat})", statistics.median(times[1:]),
                        result.n_steps, result.chi2, result.reduced_chi2, "warm", family))
    return rows, result


def _start_table(config, tree, table):
    """The table galfits_nb's fit starts from (start fluxes filled in)."""
    from galfits_nb.inference.fit import imaging_table, start_fluxes
    from galfits_nb.models.scene import build_imaging_scene

    scene = build_imaging_scene(config, tree, table)
    return start_fluxes(imaging_table(table, scene), scene)


def _band_nodes(tree) -> dict[str, object]:
    """Observation-tree datasets by image letter."""
    nodes = {}
    for atlas in tree["atlas"].children.values():
        for node in atlas.children.values():
            ds = node.to_dataset(inherit=False)
            nodes[ds.attrs["letter"]] = ds
    return nodes


def _grid(ds) -> tuple[np.ndarray, float]:
    """Centre pixel (x, y) and pixel scale; requires North up, East left."""
    east, north = np.asarray(ds.attrs["east_xy"], float), np.asarray(ds.attrs["north_xy"], float)
    if not (np.allclose(east, [-1.0, 0.0], atol=1e-6) and np.allclose(north, [0.0, 1.0], atol=1e-6)):
        raise ValueError("the peer comparison needs North-up, East-left images")
    return np.asarray(ds.attrs["centre_pixel"], float), float(ds.attrs["pixel_scale"])


def _peer_problem(config, tree, table, result, components: list[str]) -> tuple[dict, dict]:
    """Arrays and parameters (pysersic's units, start, bounds) of a galfits_nb problem.

    pysersic's ``xc, yc`` are the column and row of the centre, ``r_eff`` is
    in pixels along the major axis (as galfits_nb's Re), ``ellip = 1 - q`` and
    ``theta`` is the PA in radians from +y (North) towards -x (East), i.e.
    galfits_nb's PA on a North-up, East-left image.
    """
    start = _start_table(config, tree, table)
    nodes = _band_nodes(tree)
    labels = list(result.models)
    arrays, grids = {}, []
    for b, label in enumerate(labels):
        model = result.models[label]
        ds = nodes[model.attrs["letter"]]
        if int(ds.attrs.get("psf_oversampling", 1)) != 1:
            raise ValueError("the peer comparison needs PSFs sampled like the data")
        grids.append(_grid(ds))
        arrays[f"data_{b}"] = model.data.values.astype(float)
        arrays[f"sigma_{b}"] = model.sigma.values.astype(float)
        arrays[f"bad_{b}"] = model.mask.values.astype(bool)
        psf = ds.psf.values.astype(float)
        arrays[f"psf_{b}"] = psf / psf.sum()
    (cx, cy), scale = grids[0]
    if any(not np.allclose(g[0], (cx, cy)) or not math.isclose(g[1], scale) for g in grids):
        raise ValueError("a joint peer fit needs all images on one pixel grid")

    comps, reference = [], []
    best = result.table.values()
    for comp in components:
        # galfits_nb (value, min, max) -> pysersic (value, low, high); columns grow
        # to the West (-xcen), rows to the North (+ycen).
        def convert(key, value, low, high, comp=comp):
            if key == "xcen":
                return cx - value / scale, cx - high / scale, cx - low / scale
            if key == "ycen":
                return cy + value / scale, cy + low / scale, cy + high / scale
            if key == "Re":
                return value / scale, low / scale, high / scale
            if key == "n":
                return value, max(low, PEER_N_RANGE[0]), min(high, PEER_N_RANGE[1])
            if key == "axrat":
                return 1.0 - value, 1.0 - high, 1.0 - low
            return math.radians(value), math.radians(low), math.radians(high)  # ang

        entry, ref = {}, {}
        for peer_key, key in zip(SHARED_KEYS, ("xcen", "ycen", "Re", "n", "axrat", "ang")):
            r = start[f"{comp}_{key}"]
            entry[peer_key] = convert(key, r.value, r.min, r.max)
            ref[peer_key] = convert(key, best[f"{comp}_{key}"], r.min, r.max)[0]
        entry["flux"], ref["flux"] = [], []
        for b, label in enumerate(labels):
            value = 10.0 ** start[f"logNorm_{comp}_{label}"].value
            total = float(np.sum(arrays[f"data_{b}"][~arrays[f"bad_{b}"]]))
            entry["flux"].append((value, 0.0, 10.0 * max(total, value * len(components))))
            ref["flux"].append(10.0 ** best[f"logNorm_{comp}_{label}"])
        comps.append(entry)
        reference.append(ref)
    spec = dict(bands=labels, components=comps, reference=reference, centre=[cx, cy], scale=scale)
    return spec, arrays


def _galfits_chi2_at_peer(config, tree, table, spec: dict, peer: dict, components: list[str]) -> float:
    """galfits_nb's chi^2 at pysersic's best point (a one-step LM run evaluates the start)."""
    from galfits_nb.inference.fit import fit_images

    (cx, cy), scale, v = spec["centre"], spec["scale"], peer["values"]
    updates = {}
    for i, comp in enumerate(components):
        updates[f"{comp}_xcen"] = (cx - v[f"{i}:xc"][0]) * scale
        updates[f"{comp}_ycen"] = (v[f"{i}:yc"][0] - cy) * scale
        updates[f"{comp}_Re"] = v[f"{i}:r_eff"][0] * scale
        updates[f"{comp}_n"] = v[f"{i}:n"][0]
        updates[f"{comp}_axrat"] = 1.0 - v[f"{i}:ellip"][0]
        updates[f"{comp}_ang"] = math.degrees(v[f"{i}:theta"][0])
        for b, label in enumerate(spec["bands"]):
            updates[f"logNorm_{comp}_{label}"] = math.log10(v[f"{i}:flux"][b])
    at = table.with_values(updates)
    # LM's first step is a zero-length step that evaluates chi^2 at the start (compiled already).
    return fit_images(config, tree, at, method="lm", num_steps=1, progress=False, cal_sigma=False).chi2


def _run_peer(spec: dict, arrays: dict, peer_python: str, repeat: int, timeout: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="galfits_peer_") as folder:
        folder = Path(folder)
        np.savez(folder / "arrays.npz", **arrays)
        spec = dict(spec, arrays=str(folder / "arrays.npz"), output=str(folder / "out.json"), repeat=repeat)
        (folder / "spec.json").write_text(json.dumps(spec))
        env = dict(os.environ, TQDM_DISABLE="1")
        try:
            proc = subprocess.run(
                [peer_python, str(Path(__file__).resolve()), "--peer-worker", str(folder / "spec.json")],
                capture_output=True, text=True, timeout=timeout, env=env,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            return {"error": f"could not run {peer_python}: {exc}"}
        out = folder / "out.json"
        if not out.exists():
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
            return {"error": f"{peer_python} exited with {proc.returncode}: {tail[0]}"}
        return json.loads(out.read_text())


def _peer_rows(peer: dict, case: str, family: str, repeat: int) -> list[Row]:
    dof = peer["n_good"] - peer["n_free"]
    red = peer["chi2"] / dof if dof > 0 else float("nan")
    rows = [Row("pysersic", case, "MAP, first call (with compile)", peer["times"][0], peer["steps"],
                peer["chi2"], red, "first", family)]
    if repeat:
        rows.append(Row("pysersic", case, f"MAP, repeat (median of {repeat})", statistics.median(peer["times"][1:]),
                        peer["steps"], peer["chi2"], red, "warm", family))
    return rows


def _galfits_params(result, comp: str, scale: float) -> str:
    v = result.table.values()
    return (f"Re={v[f'{comp}_Re'] / scale:.3f}px n={v[f'{comp}_n']:.3f} q={v[f'{comp}_axrat']:.3f} "
            f"PA={v[f'{comp}_ang']:.2f}")


def _peer_params(peer: dict, index: int) -> str:
    v = peer["values"]
    return (f"Re={v[f'{index}:r_eff'][0]:.3f}px n={v[f'{index}:n'][0]:.3f} q={1 - v[f'{index}:ellip'][0]:.3f} "
            f"PA={math.degrees(v[f'{index}:theta'][0]):.2f}")


def _cross_check(result, peer: dict, galfits_at_peer: float) -> list[str]:
    """Each tool's chi^2 at both optima: tells renderer differences from optimizer differences."""
    return [
        f"chi^2 of galfits_nb's model at galfits_nb's best {result.chi2:.2f}, at pysersic's best {galfits_at_peer:.2f}",
        f"chi^2 of pysersic's model   at pysersic's best {peer['chi2']:.2f}, at galfits_nb's best "
        f"{peer['chi2_at_reference']:.2f}",
    ]


def sersic_case(args) -> Case:
    import galsim
    from astropy.io import fits

    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.mock import north_up_wcs_header
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.parameters import build_parameter_table

    t, s = SERSIC_TRUTH, SERSIC_START
    psf = galsim.Moffat(beta=3.0, fwhm=PSF_FWHM_PX * SCALE)
    # galfits_nb's Re is along the major axis (GalSim's shear keeps the area);
    # PA from North through East is GalSim's beta (from +x) - 90 on a North-up image;
    # +xcen is East = -x on the image.
    gal = galsim.Sersic(n=t["n"], half_light_radius=t["Re"] * math.sqrt(t["axrat"]), flux=t["flux"])
    gal = gal.shear(q=t["axrat"], beta=(t["ang"] + 90.0) * galsim.degrees)
    offset = (-t["xcen"] / SCALE, t["ycen"] / SCALE)
    model = galsim.Convolve(gal, psf).drawImage(nx=SIZE, ny=SIZE, scale=SCALE, offset=offset).array.astype(float)
    # The PSF file holds what a star would give: the PSF integrated over pixels.
    psf_image = psf.drawImage(nx=PSF_SIZE, ny=PSF_SIZE, scale=SCALE, method="auto").array.astype(float)
    psf_image /= psf_image.sum()
    noise = math.sqrt(float(np.sum(model**2))) / args.snr
    data = model + np.random.default_rng(args.seed).normal(0.0, noise, model.shape)

    case = Case("sersic128", "sersic128")
    with tempfile.TemporaryDirectory(prefix="galfits_sersic128_") as folder:
        folder = Path(folder)
        header = north_up_wcs_header(RA, DEC, SIZE, SCALE)
        fits.HDUList([
            fits.PrimaryHDU(data, header),
            fits.ImageHDU(np.full_like(data, noise), header),
            fits.ImageHDU(np.zeros(data.shape, dtype=np.int16), header),
        ]).writeto(folder / "image.fits")
        fits.PrimaryHDU(psf_image).writeto(folder / "psf.fits")
        (folder / "sersic128.lyric").write_text(f"""R1) sersic128
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
Ia12) [[0,-1,1,0.1,0]]
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
Pa1) gal
Pa2) sersic
Pa3) [{s['xcen']},-2,2,0.1,1]
Pa4) [{s['ycen']},-2,2,0.1,1]
Pa5) [{s['Re']},0.4,6,0.1,1]
Pa6) [{s['n']},{PEER_N_RANGE[0]},6,0.1,1]
Pa7) [{s['ang']},-90,90,1,1]
Pa8) [{s['axrat']},0.2,1,0.01,1]
""")
        config = read_lyric(folder / "sersic128.lyric")
        tree = read_observation(config)
    table = build_parameter_table(config)
    label = f"sersic128 ({SIZE}x{SIZE}, 1 band)"
    result = None
    for method in args.methods:
        rows, fitted = _time_galfits(config, tree, table, method, args.repeat, label, case.family)
        case.rows += rows
        result = fitted if result is None or method == "lm" else result
    case.notes.append(f"truth:      Re={t['Re'] / SCALE:.3f}px n={t['n']:.3f} q={t['axrat']:.3f} PA={t['ang']:.2f}"
                      f" (noise sigma {noise:.4g}, S/N {args.snr:g})")
    case.notes.append(f"galfits_nb: {_galfits_params(result, 'gal', SCALE)} ({result.method})")
    if args.no_peer:
        case.notes.append("peer unavailable: --no-peer given")
        return case
    spec, arrays = _peer_problem(config, tree, table, result, ["gal"])
    peer = _run_peer(spec, arrays, args.peer_python, args.repeat, args.peer_timeout)
    if "error" in peer:
        case.notes.append(f"peer unavailable: {peer['error']}")
        return case
    case.rows += _peer_rows(peer, label, case.family, args.repeat)
    case.notes.append(f"pysersic:   {_peer_params(peer, 0)}")
    case.notes += _cross_check(result, peer, _galfits_chi2_at_peer(config, tree, table, spec, peer, ["gal"]))
    case.notes.append(f"peer: {peer['version']} on {peer['device']}")
    return case


def sdss_case(args) -> Case:
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.config.stages import photometry_stage
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.parameters import ParameterTable, build_parameter_table

    config = photometry_stage(read_lyric(args.quickstart), ["sdss"])
    tree = read_observation(config)
    table = build_parameter_table(config)
    scale = float(_band_nodes(tree)["a"].attrs["pixel_scale"])
    case = Case("sdss5", "sdss5")
    shifted = "sdss5 +shifts (the SDSS fit)"
    for method in args.methods:
        rows, fitted = _time_galfits(config, tree, table, method, args.repeat, shifted, case.family)
        case.rows += rows
        if method == args.methods[0]:
            case.notes.append(f"galfits_nb +shifts, bulge:       {_galfits_params(fitted, 'bulge', scale)} ({method})")
            case.notes.append(f"galfits_nb +shifts, disk:        {_galfits_params(fitted, 'disk', scale)} ({method})")

    # The like-for-like problem: what pysersic can express.
    rows = []
    for row in table.rows:
        if row.name.startswith(("csx_", "csy_")) and row.vary:
            row = replace(row, value=0.0, vary=False)
        elif row.name in ("bulge_n", "disk_n"):
            row = replace(row, min=max(row.min, PEER_N_RANGE[0]), value=max(row.value, PEER_N_RANGE[0]))
        rows.append(row)
    same = ParameterTable(tuple(rows))
    label = "sdss5 like-for-like (5 bands)"
    result = None
    for method in args.methods if args.lbfgs_like else args.methods[:1]:
        rows_, fitted = _time_galfits(config, tree, same, method, args.repeat, label, case.family)
        case.rows += rows_
        result = fitted if result is None or method == "lm" else result
    case.notes.append(f"galfits_nb like-for-like, bulge: {_galfits_params(result, 'bulge', scale)}")
    case.notes.append(f"galfits_nb like-for-like, disk:  {_galfits_params(result, 'disk', scale)}")
    if args.no_peer:
        case.notes.append("peer unavailable: --no-peer given")
        return case
    spec, arrays = _peer_problem(config, tree, same, result, ["bulge", "disk"])
    peer = _run_peer(spec, arrays, args.peer_python, args.repeat, args.peer_timeout)
    if "error" in peer:
        case.notes.append(f"peer unavailable: {peer['error']}")
        return case
    case.rows += _peer_rows(peer, "sdss5 like-for-like (5 bands, joint)", case.family, args.repeat)
    case.notes.append(f"pysersic like-for-like, bulge:   {_peer_params(peer, 0)}")
    case.notes.append(f"pysersic like-for-like, disk:    {_peer_params(peer, 1)}")
    cross = _galfits_chi2_at_peer(config, tree, same, spec, peer, ["bulge", "disk"])
    case.notes += _cross_check(result, peer, cross)
    case.notes.append(f"peer: {peer['version']} on {peer['device']}")
    return case


def print_table(cases: list[Case]) -> None:
    header = ("tool", "case", "call", "time [s]", "steps", "chi^2", "red. chi^2", "peer/galfits_nb")
    lines = []
    for case in cases:
        peers = {(r.family, r.kind): r.seconds for r in case.rows if r.tool != "galfits_nb"}
        for r in case.rows:
            if r.tool == "galfits_nb" and (r.family, r.kind) in peers:
                ratio = f"{peers[(r.family, r.kind)] / r.seconds:.2f}"
            else:
                ratio = "-"
            lines.append((r.tool, r.case, r.call, f"{r.seconds:.2f}", str(r.steps), f"{r.chi2:.2f}",
                          f"{r.reduced_chi2:.4f}", ratio))
    widths = [max(len(str(x[i])) for x in [header, *lines]) for i in range(len(header))]
    fmt = "  ".join(f"{{:<{w}}}" if i < 3 else f"{{:>{w}}}" for i, w in enumerate(widths))
    print(fmt.format(*header))
    print(fmt.format(*("-" * w for w in widths)))
    for line in lines:
        print(fmt.format(*line))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=1, help="warm calls per fit after the first (default 1)")
    parser.add_argument("--cases", nargs="+", choices=("sersic128", "sdss5"), default=["sersic128", "sdss5"])
    parser.add_argument("--peer-python", default=sys.executable,
                        help="interpreter with pysersic installed (default: this one)")
    parser.add_argument("--peer-timeout", type=float, default=1800.0, help="seconds allowed per peer case")
    parser.add_argument("--no-peer", action="store_true", help="time galfits_nb only")
    parser.add_argument("--methods", nargs="+", choices=("lm", "lbfgs"), default=["lm", "lbfgs"],
                        help="galfits_nb fitters to time (default: lm lbfgs)")
    parser.add_argument("--lbfgs-like", action="store_true",
                        help="time every --methods on the like-for-like SDSS fit too (default: the first only)")
    parser.add_argument("--quickstart", type=Path, default=QUICKSTART, help="path of quickstart.lyric")
    parser.add_argument("--snr", type=float, default=SNR, help="optimal S/N of the simulated Sersic image")
    parser.add_argument("--seed", type=int, default=1, help="noise seed of the simulated Sersic image")
    parser.add_argument("--peer-worker", metavar="SPEC", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.peer_worker:
        return peer_worker(args.peer_worker)
    if args.repeat < 0:
        parser.error("--repeat must be >= 0")

    import jax

    warnings.simplefilter("ignore")  # keep the printed figures readable
    begin = time.perf_counter()
    print(f"galfits_nb on {jax.devices()[0]} (jax {jax.__version__}, float{'64' if jax.config.x64_enabled else '32'})")
    cases = []
    for name in args.cases:
        cases.append(sersic_case(args) if name == "sersic128" else sdss_case(args))
    print()
    print_table(cases)
    for case in cases:
        print()
        print(f"[{case.name}]")
        for note in case.notes:
            print(f"  {note}")
    print()
    print("time: wall clock until best parameters and model images are in hand (data reading excluded);")
    print("ratio: peer time / galfits_nb time for the same call kind (first with first, warm with repeat);")
    if "sdss5" in args.cases:
        print("sdss5 +shifts has 8 per-band shift parameters pysersic cannot fit: its ratio is against the")
        print("like-for-like peer fit (no shifts, n >= 0.65), which solves a smaller problem.")
    print(f"whole script: {time.perf_counter() - begin:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
