"""The J0056-0021 quickstart through the ``galfits`` command, timed, beside GalfitS's reference.

Run: ``.venv/bin/python benchmarks/quickstart.py [--psf-upsampling 3] [--runs cold,warm]
[--against COMMIT --repeat 3]``

Runs ``galfits ../shared/data/j0056_quickstart/quickstart.lyric --work OUT``
as a separate process (the whole process is timed: start-up, reading the
FITS files, building the fit, compiling, fitting, writing every output),
first with an empty compilation cache (``GALFITS_NB_CACHE`` pointing to a
fresh folder holding only the templates) and then again with the cache the
first run filled. Prints the wall times, the device JAX used, and a table of
galfits_nb's best values and per-band reduced chi^2 next to GalfitS's
(``REFERENCE.md``; GalfitS's per-band statistic is printed doubled, see
docs/imaging.md), with the differences.

``--against COMMIT`` times another commit in the same run: its tree is
checked out in a temporary git worktree, each tree gets its own cache
(cold run first), and then ``--repeat`` warm runs alternate between the
two, so that the ratio is not skewed by the machine's speed drifting (on
the 2-core development machine it drifts by 10-20 % between sessions).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "j0056_quickstart"

REFERENCE = {
    "logM_bulge": 10.6108, "logM_disk": 10.2398,
    "bulge_Re": 3.1752, "bulge_n": 4.2031, "bulge_ang": 24.9169, "bulge_axrat": 0.7701,
    "bulge_age_value": 0.3981, "bulge_Z_value": 0.02, "bulge_Av_value": 1.0165,
    "disk_Re": 15.0592, "disk_ang": -43.6280, "disk_axrat": 0.4126,
    "disk_age_value": 1.5849, "disk_Z_value": 0.03, "disk_Av_value": 0.43,
}
REFERENCE_CHI2 = {  # GalfitS's chisq / dof per image
    "sloan_u": 2409.71 / 4356, "sloan_g": 2535.57 / 4356, "sloan_r": 2095.20 / 4356, "sloan_i": 2613.14 / 4356,
    "sloan_z": 2787.60 / 4356, "j": 479.75 / 676, "h": 266.46 / 676, "ks": 352.46 / 676,
    "galex_fuv": 235.94 / 256, "galex_nuv": 550.93 / 256,
}


def _run(data: Path, out: Path, cache: Path, upsampling: int, tree: Path = ROOT) -> float:
    # ``python -m`` from the tree's root imports that tree's galfits_nb
    env = dict(os.environ, GALFITS_NB_CACHE=str(cache), PYTHONPATH=str(tree))
    command = [sys.executable, "-m", "galfits_nb.cli", str(data / "quickstart.lyric"), "--work", str(out),
               "--quiet", "--psf_upsampling", str(upsampling)]
    start = time.perf_counter()
    done = subprocess.run(command, env=env, capture_output=True, text=True, cwd=tree)
    wall = time.perf_counter() - start
    if done.returncode != 0:
        print(done.stdout[-3000:], done.stderr[-3000:])
        raise SystemExit(f"galfits failed with status {done.returncode}")
    return wall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--psf-upsampling", type=int, default=3)
    parser.add_argument("--runs", default="cold,warm", help="which runs: cold, warm or both (default)")
    parser.add_argument("--templates", default=None, help="folder of cached templates to copy (default: the user cache)")
    parser.add_argument("--data", type=Path, default=DATA, help="folder holding quickstart.lyric and its files")
    parser.add_argument("--against", default=None, help="a commit to time in the same run (alternating warm runs)")
    parser.add_argument("--repeat", type=int, default=3, help="warm runs per tree with --against (default 3)")
    args = parser.parse_args(argv)
    if args.against:
        return _compare(args)

    import jax

    from galfits_nb.cache import cache_dir
    from galfits_nb.outputs.summary import read_gssummary

    templates = Path(args.templates) if args.templates else cache_dir("templates")
    with tempfile.TemporaryDirectory(prefix="galfits_qs_") as folder:
        cache = Path(folder) / "cache"
        shutil.copytree(templates, cache / "templates")
        out = Path(folder) / "out"
        times = {}
        for kind in args.runs.split(","):
            times[kind] = _run(args.data, out, cache, args.psf_upsampling)
        header, images, table = read_gssummary(out / "J0056-0021.gssummary")
    print(f"# J0056-0021 quickstart, galfits CLI, LM, psf_upsampling {args.psf_upsampling}; "
          f"JAX {jax.__version__}, default device {jax.devices()[0]}")
    for kind, wall in times.items():
        print(f"whole process, {kind} compilation cache: {wall:.1f} s")
    print("GalfitS reference wall times: RTX 4090 2.6 min (156 s), Apple M4 CPU 12 min (720 s)")
    best = {str(row["pname"]): float(row["best_value"]) for row in table}
    print(f"\n{'parameter':<18} {'galfits_nb':>11} {'GalfitS':>10} {'difference':>12}")
    for name, ref in REFERENCE.items():
        if name not in best:
            continue
        ours = float(best[name])
        diff = f"{ours - ref:+.3f} dex" if name.startswith("logM") else f"{(ours - ref) / abs(ref):+.0%}"
        print(f"{name:<18} {ours:>11.4f} {ref:>10.4f} {diff:>12}")
    print(f"\n{'band':<10} {'chi2/N ours':>12} {'GalfitS x2':>11}")
    for image in images:
        label = str(image["band"])
        chi = float(image["chisq"]) / float(image["dof"])
        print(f"{label:<10} {chi:>12.3f} {2 * REFERENCE_CHI2.get(label, float('nan')):>11.3f}")
    print("summary header:", {k: v for k, v in header.items() if "chisq" in k or k in ("steps", "converged")})
    return 0


def _fit_statistics(out: Path) -> tuple[int, float]:
    from galfits_nb.outputs.summary import read_gssummary

    header = read_gssummary(out / "J0056-0021.gssummary")[0]
    return int(header["steps"]), float(header["chisq"])


def _compare(args) -> int:
    """Alternating warm runs of this tree and ``args.against`` (module docstring)."""
    import statistics

    from galfits_nb.cache import cache_dir

    templates = Path(args.templates) if args.templates else cache_dir("templates")
    with tempfile.TemporaryDirectory(prefix="galfits_qs_") as folder:
        other = Path(folder) / "against"
        subprocess.run(["git", "-C", str(ROOT), "worktree", "add", "--detach", "-q", str(other), args.against],
                       check=True)
        try:
            trees = {"this tree": ROOT, args.against: other}
            caches, walls, stats = {}, {name: [] for name in trees}, {}
            for name, tree in trees.items():
                caches[name] = Path(folder) / f"cache-{len(caches)}"
                shutil.copytree(templates, caches[name] / "templates")
                cold = _run(args.data, Path(folder) / "out", caches[name], args.psf_upsampling, tree)
                print(f"{name}: cold {cold:.1f} s", flush=True)
            for _ in range(args.repeat):
                for name, tree in trees.items():
                    out = Path(folder) / f"out-{name.replace(' ', '_')}"
                    walls[name].append(_run(args.data, out, caches[name], args.psf_upsampling, tree))
                    stats[name] = _fit_statistics(out)
                    print(f"{name}: warm {walls[name][-1]:.1f} s", flush=True)
        finally:
            subprocess.run(["git", "-C", str(ROOT), "worktree", "remove", "--force", str(other)], check=False)
    print(f"\n| tree | warm runs [s] | median [s] | LM steps | chi^2 |\n|---|---|---|---|---|")
    for name in walls:
        runs = ", ".join(f"{w:.1f}" for w in walls[name])
        steps, chi2 = stats[name]
        print(f"| {name} | {runs} | {statistics.median(walls[name]):.1f} | {steps} | {chi2:.2f} |")
    this, that = (statistics.median(w) for w in walls.values())
    print(f"ratio {args.against} / this tree (medians): {that / this:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
