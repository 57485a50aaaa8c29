"""Joint image + spectrum fits against images alone and the spectrum alone (prints a table).

Run: ``.venv/bin/python benchmarks/joint_vs_single.py [--n 20] [--seed 0]``

The claim under test is the seed's table "Broken Degeneracies"
(``shared/seed/imaging-spectrum-joint.md``): the joint fit recovers stellar
mass and SFR of each component better than images alone or the spectrum
alone, and the structure no worse than images alone.

Configuration
-------------
``benchmarks/data/joint_mock.lyric``: bulge (Sersic, ``burst`` SFH) + disk
(Sersic, ``conti`` SFH) at z = 0.05, no nucleus, no galaxy lines; g, r, i
images in SED mode (I15 = 1), 48 x 48 pixels at 0.396"/px, Gaussian PSFs of
FWHM 1.5, 1.3, 1.2"; an SDSS-like fibre spectrum (1.5" radius, 3800-7200 A
observed, 1e-4 dex pixels). Free: Re, n, PA, q of both components; logM,
age, logfrac, Av of both. Fixed: centres (0, 0), Z = 0.02, bump 0, logU,
dust emission, velocity dispersion (at the truth), redshift, spectrum norm.

Mocks
-----
Mock ``i`` uses the random seed ``seed + i`` for its truth and its noise.
Truth, uniform in (Re in arcsec, PA in deg, ages in Gyr):

=========  ===========  ===========
parameter  bulge        disk
=========  ===========  ===========
logM       9.8 - 11.0   9.8 - 11.0
age (P10)  2 - 11       1 - 8
logfrac    -4 - -2      -1.5 - -0.2
Av         0 - 1        0 - 1
Re         0.6 - 2.0    2.5 - 5.0
n          2.5 - 5.0    0.7 - 1.5
q          0.6 - 1.0    0.3 - 0.9
PA         -90 - 90     -90 - 90
=========  ===========  ===========

Data = the package's own forward model (:func:`galfits_nb.data.mock.model_observation`)
plus noise. Images: sky (sigma 2 counts) + Poisson (gain 1.8), as
:func:`galfits_nb.data.mock.write_seed_files`. Spectrum: photon-like noise,
``error = (m_med / 20) * sqrt(max(m, 0.05 m_med) / m_med)`` with ``m`` the model and
``m_med`` its median, i.e. S/N = 20 per pixel at the median flux. The files
are written with the package's helpers (``_write_seed_layout``, ``_replace_hdu``)
into a temporary folder and read back through ``read_lyric`` + ``read_observation``.

Start (common to the three fits)
--------------------------------
Structure: the configuration's start values (bulge Re 1.2, n 3, PA 20, q 0.7;
disk Re 3, n 1, PA 25, q 0.5). SED: the truth moved by a fixed pattern
(then kept 5 % of the range inside the bounds, where a start would freeze): logM_bulge +0.3, logM_disk -0.3, age_bulge / 1.6,
age_disk x 1.6, logfrac_bulge +0.7, logfrac_disk -0.5, Av_bulge +0.4,
Av_disk -0.3.

The three fits (all ``method="lm"``, ``progress=False``)
--------------------------------------------------------
* ``images``: ``fit_images(config, tree, start, spectra=False)``; the SED
  parameters are fitted through the three SED-mode band fluxes.
* ``spectrum``: the spectrum alone *with a known structure*:
  ``fit_images(config, tree, start_s, weight_images=0.0)`` where ``start_s``
  is ``start`` with every spatial parameter (Re, n, PA, q) set to the truth
  and fixed. With ``weight_images = 0`` the images add nothing to chi^2;
  they only give the fibre fractions of the components (a spectrum-only user
  would take the structure from a catalogue). Its structural "errors" are 0
  by construction and are not compared.
* ``joint``: ``fit_images(config, tree, start)``, images and spectrum from
  the common start (``--joint-start common``, default), or from the images
  fit's best values (``--joint-start images``: the staged workflow of
  ``inference/stages.py`` with ``carry="all"``).

SFR definition
--------------
SFR_100 of a component = (stellar mass formed in the last 100 Myr of
lookback time) / 1e8 yr [M_sun/yr], from its best parameters with the
package's own functions: the SFH per unit formed mass
(``sed_scene._sfh_pieces``: ``burst_sfh`` / ``conti_sfh`` of P9, P10 and the
age of the universe at z), clipped to ages < 1e8 yr (``sfh.clip_pieces``:
constant-SFR stretches prorated, the single-age population counted when it is
younger than 100 Myr), times the formed mass of ``sed.component_sed``
(``10**P14`` living mass / living fraction). For ``burst`` this is
``formed * 10**P9 / 1e8``; for ``conti`` ``formed * 10**P9 * 0.1 / (t_univ(z) - 0.2 Gyr)``.

Output
------
Per (mock, method) one JSON line in ``<out>/joint_vs_single_records.jsonl``
(``joint_vs_single_staged_*`` with ``--joint-start images``; rewritten after
each mock; a rerun with the same ``--seed`` skips mocks already
there with three successful fits unless ``--fresh``); failed fits are recorded with their error. At the
end (or on Ctrl-C) the summary over mocks where all three fits succeeded:
per quantity and method the bias (mean error), RMS error and median
absolute error, plus timing; printed and written to
``<out>/joint_vs_single.md`` and ``<out>/joint_vs_single.csv``. Errors are
``fit - truth`` in dex for logM and log SFR, ``(fit - truth) / truth`` for Re,
``fit - truth`` for n and q, wrapped into [-90, 90) deg for PA.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
import traceback
from dataclasses import replace
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "benchmarks" / "data" / "joint_mock.lyric"
METHODS = ("images", "spectrum", "joint")
COMPONENTS = ("bulge", "disk")
SIZE = 48
SPEC_SNR = 20.0

# Truth ranges (uniform).
RANGES = {
    "logM_bulge": (9.8, 11.0),
    "bulge_age_value": (2.0, 11.0),
    "bulge_logfrac_value": (-4.0, -2.0),
    "bulge_Av_value": (0.0, 1.0),
    "bulge_Re": (0.6, 2.0),
    "bulge_n": (2.5, 5.0),
    "bulge_axrat": (0.6, 1.0),
    "bulge_ang": (-90.0, 90.0),
    "logM_disk": (9.8, 11.0),
    "disk_age_value": (1.0, 8.0),
    "disk_logfrac_value": (-1.5, -0.2),
    "disk_Av_value": (0.0, 1.0),
    "disk_Re": (2.5, 5.0),
    "disk_n": (0.7, 1.5),
    "disk_axrat": (0.3, 0.9),
    "disk_ang": (-90.0, 90.0),
}

# Fixed offsets of the SED start from the truth: (additive, multiplicative).
START_OFFSETS = {
    "logM_bulge": (0.3, 1.0),
    "logM_disk": (-0.3, 1.0),
    "bulge_age_value": (0.0, 1 / 1.6),
    "disk_age_value": (0.0, 1.6),
    "bulge_logfrac_value": (0.7, 1.0),
    "disk_logfrac_value": (-0.5, 1.0),
    "bulge_Av_value": (0.4, 1.0),
    "disk_Av_value": (-0.3, 1.0),
}

START_MARGIN = 0.05

SPATIAL = tuple(f"{c}_{p}" for c in COMPONENTS for p in ("Re", "n", "ang", "axrat"))

# Quantities summarised: (key, label, kind) with kind the error definition.
QUANTITIES = (
    ("logM_bulge", "logM_bulge [dex]", "diff"),
    ("logM_disk", "logM_disk [dex]", "diff"),
    ("logSFR_bulge", "log SFR100_bulge [dex]", "diff"),
    ("logSFR_disk", "log SFR100_disk [dex]", "diff"),
    ("logM_total", "logM_total [dex]", "diff"),
    ("logSFR_total", "log SFR100_total [dex]", "diff"),
    ("bulge_age_value", "age_bulge [Gyr]", "diff"),
    ("disk_age_value", "age_disk [Gyr]", "diff"),
    ("bulge_Av_value", "Av_bulge [mag]", "diff"),
    ("disk_Av_value", "Av_disk [mag]", "diff"),
    ("bulge_Re", "Re_bulge [frac]", "frac"),
    ("disk_Re", "Re_disk [frac]", "frac"),
    ("bulge_n", "n_bulge", "diff"),
    ("disk_n", "n_disk", "diff"),
    ("bulge_axrat", "q_bulge", "diff"),
    ("disk_axrat", "q_disk", "diff"),
    ("bulge_ang", "PA_bulge [deg]", "angle"),
    ("disk_ang", "PA_disk [deg]", "angle"),
)
STRUCTURAL = {key for key, _, _ in QUANTITIES if key in SPATIAL}


# ---------------------------------------------------------------------------
# Mocks
# ---------------------------------------------------------------------------


def draw_truth(rng: np.random.Generator) -> dict[str, float]:
    """One truth, uniform in :data:`RANGES`."""
    return {name: float(rng.uniform(lo, hi)) for name, (lo, hi) in RANGES.items()}


def spectrum_error(model: np.ndarray) -> np.ndarray:
    """Photon-like spectral error: S/N = SPEC_SNR per pixel at the median model flux."""
    median = float(np.median(model))
    return (median / SPEC_SNR) * np.sqrt(np.maximum(model, 0.05 * median) / median)


def write_mock(folder: Path, base_config, base_tree, truth_table, rng: np.random.Generator):
    """Write a mock's files (images, sigma maps, PSFs, masks, spectrum) and read them back.

    The grids, headers, PSFs and masks are those of the seed layout
    (``_write_seed_layout``) at :data:`SIZE` pixels; data = model + noise as
    in ``write_seed_files`` (images) and :func:`spectrum_error` (spectrum).
    """
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.mock import SeedTruth, _replace_hdu, _write_seed_layout, model_observation
    from galfits_nb.data.observation import read_observation

    layout = SeedTruth(size=SIZE)
    folder.mkdir(parents=True, exist_ok=True)
    written = _write_seed_layout(folder, layout)
    shutil.copy(CONFIG, folder / CONFIG.name)
    images, spectra = model_observation(base_config, base_tree, truth_table)
    for band, model in zip(("g", "r", "i"), images):
        sigma = np.sqrt(layout.sky_sigma**2 + np.clip(model, 0.0, None) / layout.gain)
        data = model + rng.normal(0.0, 1.0, model.shape) * sigma
        _replace_hdu(written[f"{band}_band"], 0, data)
        _replace_hdu(written[f"{band}_band_sigma"], 0, data)
        _replace_hdu(written[f"{band}_band_sigma"], 2, sigma / layout.sigma_scale)
    wavelength = np.loadtxt(written["spectrum"])[:, 0]
    model = spectra[0]
    error = spectrum_error(model)
    flux = model + rng.normal(0.0, 1.0, model.shape) * error
    np.savetxt(written["spectrum"], np.column_stack([wavelength, flux, error]))
    config = read_lyric(folder / CONFIG.name)
    return config, read_observation(config)


def base_observation(folder: Path):
    """Config and observation of an empty layout: the pixel grids the truth is rendered on."""
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.mock import SeedTruth, _write_seed_layout
    from galfits_nb.data.observation import read_observation

    folder.mkdir(parents=True, exist_ok=True)
    _write_seed_layout(folder, SeedTruth(size=SIZE))
    shutil.copy(CONFIG, folder / CONFIG.name)
    config = read_lyric(folder / CONFIG.name)
    return config, read_observation(config)


def start_values(truth: dict[str, float], table) -> dict[str, float]:
    """The common start: structure from the config, SED = truth moved by :data:`START_OFFSETS`.

    SED starts are kept :data:`START_MARGIN` of the range inside the bounds: a
    start on a bound freezes the parameter (its logit is clipped 1e-9 of the
    range inside, where dx/du is ~1e-9 x the range).
    """
    start = {name: table[name].value for name in SPATIAL}
    for name, (add, mul) in START_OFFSETS.items():
        row = table[name]
        margin = START_MARGIN * (row.max - row.min)
        start[name] = float(np.clip(truth[name] * mul + add, row.min + margin, row.max - margin))
    return start


def fixed_structure(table, truth: dict[str, float]):
    """``table`` with the spatial parameters at the truth and fixed (the spectrum-only fit)."""
    from galfits_nb.inference.parameters import ParameterTable

    table = table.with_values({name: truth[name] for name in SPATIAL})
    return ParameterTable(tuple(replace(row, vary=False) if row.name in SPATIAL else row for row in table.rows))


# ---------------------------------------------------------------------------
# Derived quantities
# ---------------------------------------------------------------------------


def make_sfr_function(config):
    """A function ``values -> {comp: (logM, SFR_100 [M_sun/yr])}`` (module docstring, "SFR definition")."""
    import jax
    import jax.numpy as jnp

    from galfits_nb.models.sed import component_sed
    from galfits_nb.models.sed_scene import _inputs, _sfh_pieces, build_sed_scene
    from galfits_nb.models.sfh import clip_pieces

    scene = build_sed_scene(config)

    @jax.jit
    def _sfr(values, scene):
        out = {}
        for component in scene.components:
            universe_age = scene.galaxy_arrays[component.galaxy].universe_age
            pieces = _sfh_pieces(component, values, universe_age)
            sed = component_sed(scene.templates, pieces, _inputs(component, values), component.parts, scene.n_ionising)
            recent = clip_pieces(pieces, 1e8)
            fraction = jnp.sum(recent.mass) + recent.single_mass
            out[component.name] = (sed.living_mass, sed.formed_mass * fraction / 1e8)
        return out

    def sfr(values: dict[str, float]) -> dict[str, tuple[float, float]]:
        dtype = jnp.result_type(float)
        arrays = {k: jnp.asarray(v, dtype) for k, v in values.items()}
        return {k: (float(np.log10(float(m))), float(s)) for k, (m, s) in _sfr(arrays, scene).items()}

    return sfr


def derived(values: dict[str, float], sfr) -> dict[str, float]:
    """The quantities of :data:`QUANTITIES` from a parameter set."""
    out = {key: float(values[key]) for key, _, _ in QUANTITIES if key in values}
    masses = sfr(values)
    total_m = total_s = 0.0
    for comp, (log_m, rate) in masses.items():
        out[f"logM_{comp}_living"] = log_m
        out[f"logSFR_{comp}"] = float(np.log10(max(rate, 1e-30)))
        total_m += 10.0**log_m
        total_s += rate
    out["logM_total"] = float(np.log10(total_m))
    out["logSFR_total"] = float(np.log10(max(total_s, 1e-30)))
    return out


def error(kind: str, fit: float, truth: float) -> float:
    if kind == "frac":
        return (fit - truth) / truth
    if kind == "angle":
        return (fit - truth + 90.0) % 180.0 - 90.0
    return fit - truth


# ---------------------------------------------------------------------------
# One mock
# ---------------------------------------------------------------------------


def run_mock(index: int, seed: int, work: Path, base, args, sfr) -> list[dict]:
    from galfits_nb.config.stages import carry_values
    from galfits_nb.inference.fit import fit_images
    from galfits_nb.inference.parameters import build_parameter_table

    base_config, base_tree = base
    rng = np.random.default_rng(seed)
    truth = draw_truth(rng)
    table0 = build_parameter_table(base_config)
    truth_table = table0.with_values(truth)
    truth_values = truth_table.values()
    truth_derived = derived(truth_values, sfr)
    folder = work / f"mock{index:03d}"
    config, tree = write_mock(folder, base_config, base_tree, truth_table, rng)
    table = build_parameter_table(config)
    start = table.with_values(start_values(truth, table))
    starts = {
        "images": (start, {"spectra": False}),
        "spectrum": (fixed_structure(start, truth), {"weight_images": 0.0}),
        "joint": (start, {}),
    }
    records = []
    results = {}
    for method in METHODS:
        record = {
            "mock": index,
            "seed": seed,
            "method": method,
            "truth": truth_derived,
            "truth_params": truth,
            "joint_start": args.joint_start if method == "joint" else "common",
        }
        t0 = time.perf_counter()
        try:
            fit_start, options = starts[method]
            if method == "joint" and args.joint_start == "images" and "images" in results:
                fit_start = carry_values(start, results["images"].table)
            result = fit_images(
                config, tree, fit_start, method="lm", progress=False, num_steps=args.num_steps, **options
            )
            if result.interrupted:
                raise KeyboardInterrupt
            results[method] = result
            values = result.table.values()
            record.update(
                status="ok",
                fit=derived(values, sfr),
                params={k: float(values[k]) for k in truth},
                chi2=result.chi2,
                chi2_images=float(sum(result.chi2_per_image.values())),
                chi2_spectrum=float(sum(ds.attrs["chi2"] for ds in result.spectra.values())),
                n_pix_images=int(sum(result.n_good.values())),
                n_pix_spectrum=int(sum(ds.attrs["n_good"] for ds in result.spectra.values())),
                n_free=result.n_free,
                n_steps=int(result.n_steps),
                converged=bool(result.converged),
                wall_time=result.wall_time,
                sigma={k: float(v) for k, v in result.sigma.items()},
            )
        except KeyboardInterrupt:
            raise
        except Exception as exc:  # a failing fit is recorded, not fatal
            record.update(status="failed", error=f"{type(exc).__name__}: {exc}", wall_time=time.perf_counter() - t0)
            traceback.print_exc(file=sys.stderr)
        records.append(record)
    shutil.rmtree(folder, ignore_errors=True) if not args.keep_mocks else None
    return records


# ---------------------------------------------------------------------------
# Summary
# ---------------------------------------------------------------------------


def summarise(records: list[dict]) -> tuple[str, list[dict], int]:
    """Markdown table and CSV rows over the mocks whose three fits all succeeded."""
    by_mock: dict[int, dict[str, dict]] = {}
    for r in records:
        by_mock.setdefault(r["mock"], {})[r["method"]] = r
    complete = sorted(m for m, fits in by_mock.items() if all(fits.get(k, {}).get("status") == "ok" for k in METHODS))
    failed = {k: sum(1 for fits in by_mock.values() if fits.get(k, {}).get("status") == "failed") for k in METHODS}
    n = len(complete)
    rows = []
    lines = [
        f"N = {n} mocks with all three fits successful ({len(by_mock)} run; failed fits: "
        + ", ".join(f"{k} {v}" for k, v in failed.items())
        + ")",
        "",
        "| quantity | method | bias | RMS | median abs | best RMS |",
        "|---|---|---|---|---|---|",
    ]
    for key, label, kind in QUANTITIES:
        stats = {}
        for method in METHODS:
            if method == "spectrum" and key in STRUCTURAL:
                continue  # fixed at the truth
            errs = np.array(
                [error(kind, by_mock[m][method]["fit"][key], by_mock[m][method]["truth"][key]) for m in complete]
            )
            if errs.size == 0:
                continue
            stats[method] = (float(np.mean(errs)), float(np.sqrt(np.mean(errs**2))), float(np.median(np.abs(errs))))
        if not stats:
            continue
        best = min(stats, key=lambda k: stats[k][1])
        for method, (bias, rms, mad) in stats.items():
            rows.append({"quantity": key, "method": method, "n": n, "bias": bias, "rms": rms, "median_abs": mad})
            lines.append(
                f"| {label} | {method} | {bias:+.3f} | {rms:.3f} | {mad:.3f} | {'**' + method + '**' if method == best else ''} |"
            )
        if "spectrum" not in stats:
            lines.append(f"| {label} | spectrum | fixed at truth | | | |")
    lines += [
        "",
        "Paired comparison, per quantity: mocks where the joint fit's |error| is smaller than the other's "
        "(ties, e.g. both at a bound, count half), and RMS(joint) / RMS(other) with a bootstrap 68 % interval "
        "over mocks (2000 resamples).",
        "",
        "| quantity | joint closer than images | RMS joint / images | joint closer than spectrum | RMS joint / spectrum |",
        "|---|---|---|---|---|",
    ]
    boot = np.random.default_rng(12345).integers(0, max(n, 1), size=(2000, max(n, 1)))
    for key, label, kind in QUANTITIES:
        if n == 0:
            break
        errs = {
            method: np.array(
                [error(kind, by_mock[m][method]["fit"][key], by_mock[m][method]["truth"][key]) for m in complete]
            )
            for method in METHODS
        }
        cells = []
        for other in ("images", "spectrum"):
            if other == "spectrum" and key in STRUCTURAL:
                cells += ["(fixed)", ""]
                continue
            a, b = np.abs(errs["joint"]), np.abs(errs[other])
            wins = float(np.sum(a < b - 1e-6) + 0.5 * np.sum(np.abs(a - b) <= 1e-6))
            ratio = np.sqrt(np.mean(a**2)) / max(np.sqrt(np.mean(b**2)), 1e-12)
            samples = np.sqrt(np.mean(a[boot] ** 2, axis=1)) / np.maximum(np.sqrt(np.mean(b[boot] ** 2, axis=1)), 1e-12)
            lo, hi = np.percentile(samples, [16, 84])
            cells += [f"{wins:g}/{n}", f"{ratio:.2f} [{lo:.2f}, {hi:.2f}]"]
            rows.append({"quantity": key, "method": f"joint_vs_{other}", "n": n, "bias": wins, "rms": ratio, "median_abs": float("nan")})
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    lines += ["", "| method | mean wall [s] | median wall [s] | mean steps | converged | mean chi2 images / pixel | mean chi2 spectrum / pixel |", "|---|---|---|---|---|---|---|"]
    for method in METHODS:
        ok = [by_mock[m][method] for m in complete]
        if not ok:
            continue
        walls = np.array([r["wall_time"] for r in ok])
        steps = np.array([r["n_steps"] for r in ok])
        conv = sum(r["converged"] for r in ok)
        ci = np.mean([r["chi2_images"] / r["n_pix_images"] for r in ok]) if method != "spectrum" else float("nan")
        cs = (
            np.mean([r["chi2_spectrum"] / r["n_pix_spectrum"] for r in ok if r["n_pix_spectrum"]])
            if method != "images"
            else float("nan")
        )
        lines.append(
            f"| {method} | {walls.mean():.1f} | {np.median(walls):.1f} | {steps.mean():.0f} | {conv}/{len(ok)} | {ci:.3f} | {cs:.3f} |"
        )
        rows.append({"quantity": "wall_time_s", "method": method, "n": n, "bias": float(walls.mean()), "rms": float(np.median(walls)), "median_abs": float(steps.mean())})
    return "\n".join(lines), rows, n


def write_summary(out: Path, stem: str, records: list[dict], header: str) -> str:
    import csv

    text, rows, _ = summarise(records)
    text = header + "\n\n" + text + "\n"
    (out / f"{stem}.md").write_text(text)
    with open(out / f"{stem}.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["quantity", "method", "n", "bias", "rms", "median_abs"])
        writer.writeheader()
        writer.writerows(rows)
    return text


def read_records(path: Path) -> list[dict]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=20, help="number of mocks (default 20)")
    parser.add_argument("--seed", type=int, default=0, help="seed of mock 0 (mock i: seed + i)")
    parser.add_argument("--num-steps", type=int, default=None, help="LM steps per fit (default: fit_images' 200)")
    parser.add_argument("--joint-start", choices=("common", "images"), default="common",
                        help="joint fit from the common start (default) or from the images fit (staged)")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--fresh", action="store_true", help="discard earlier records in --out")
    parser.add_argument("--keep-mocks", action="store_true", help="keep the mock files (in --out/mocks)")
    parser.add_argument("--summary-only", action="store_true", help="only summarise the records in --out")
    args = parser.parse_args(argv)

    args.out.mkdir(parents=True, exist_ok=True)
    stem = "joint_vs_single" if args.joint_start == "common" else "joint_vs_single_staged"
    records_path = args.out / f"{stem}_records.jsonl"
    if args.fresh and records_path.exists():
        records_path.unlink()
    records = read_records(records_path)
    header = (
        f"# joint_vs_single: images vs spectrum (known structure) vs joint, LM, "
        f"joint start = {args.joint_start}, seeds {args.seed}..{args.seed + args.n - 1}"
    )
    if args.summary_only:
        print(write_summary(args.out, stem, records, header))
        return 0

    from tqdm import tqdm

    from galfits_nb.cache import enable_compilation_cache

    enable_compilation_cache()
    done = {(r["seed"], r["method"]) for r in records if r.get("status") == "ok"}
    work = args.out / "mocks" if args.keep_mocks else Path(tempfile.mkdtemp(prefix="joint_vs_single_"))
    t_start = time.perf_counter()
    try:
        base = base_observation(work / "base")
        sfr = make_sfr_function(base[0])
        todo = [i for i in range(args.n) if not all((args.seed + i, m) in done for m in METHODS)]
        for index in tqdm(todo, desc="mocks", unit="mock"):
            seed = args.seed + index
            records = [r for r in records if r["seed"] != seed]
            t0 = time.perf_counter()
            try:
                new = run_mock(index, seed, work, base, args, sfr)
            except KeyboardInterrupt:
                raise
            except Exception as exc:  # the mock itself failed (writing, reading)
                traceback.print_exc(file=sys.stderr)
                new = [
                    {"mock": index, "seed": seed, "method": m, "status": "failed", "error": f"{type(exc).__name__}: {exc}"}
                    for m in METHODS
                ]
            records += new
            with open(records_path, "w") as handle:
                for r in records:
                    handle.write(json.dumps(r) + "\n")
            brief = ", ".join(
                f"{r['method']} {r['status']} {r.get('wall_time', 0):.0f}s"
                + (f" dlogM_b {r['fit']['logM_bulge'] - r['truth']['logM_bulge']:+.2f} dlogM_d {r['fit']['logM_disk'] - r['truth']['logM_disk']:+.2f}" if r["status"] == "ok" else "")
                for r in new
            )
            tqdm.write(f"mock {index} (seed {seed}) {time.perf_counter() - t0:.0f}s: {brief}")
    except KeyboardInterrupt:
        print("\ninterrupted: summarising what is done", file=sys.stderr)
    finally:
        if not args.keep_mocks:
            shutil.rmtree(work, ignore_errors=True)
    print(write_summary(args.out, stem, records, header + f"; total wall {time.perf_counter() - t_start:.0f} s"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
