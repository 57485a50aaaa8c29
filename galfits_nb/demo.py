"""``make demo``: the seed's joint image + spectrum fit on generated data.

Writes the seed's configuration (``seed_joint.lyric``) and mock files for
every path it names into ``--out`` (:func:`galfits_nb.data.mock.write_seed_files`:
g, r, i images and a 2" fibre spectrum of a bulge + disk + Seyfert 1 galaxy,
made by the package's forward model from a known truth, ``truth.params``),
reads the observation, prints a summary, writes the parameter table and the
observation (NetCDF), then runs the staged fit of the seed's workflow
(:func:`galfits_nb.inference.stages.staged_fit`): the images alone
(outputs in ``<out>/stage1_imaging``), then images and spectrum together
(outputs in ``<out>``: ``.gssummary``, ``.params``, ``.residual.png``,
``.sed.png``, ``.spec.png``, ``.model.fits``). It ends with a comparison of
the recovered stellar masses with the truth.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

__all__ = ["run_demo", "main"]


def run_demo(out: str | Path, seed: int = 0, num_steps: int | None = None) -> dict[str, Path]:
    """Write the seed mock, read it back and run the staged joint fit.

    Parameters
    ----------
    out : str or Path
        Output folder (created if missing).
    seed : int
        Noise seed of the mock.
    num_steps : int, optional
        Maximum Levenberg-Marquardt steps per stage (default the fitter's).

    Returns
    -------
    dict of str -> Path
        ``config``, ``params``, ``observation``, the data files and every output.
    """
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.config.stages import imaging_stage
    from galfits_nb.data.mock import write_seed_files
    from galfits_nb.data.observation import read_observation, summarize_observation
    from galfits_nb.inference.parameters import build_parameter_table
    from galfits_nb.inference.stages import staged_fit
    from galfits_nb.outputs.imaging import write_imaging_outputs

    out = Path(out)
    written = write_seed_files(out, seed=seed)
    config = read_lyric(written["config"])
    tree = read_observation(config)
    print(summarize_observation(tree))
    table = build_parameter_table(config)
    params = table.write(out / f"{config.region.name}.params")
    observation = out / f"{config.region.name}.observation.nc"
    tmp = observation.with_name(observation.name + ".tmp")
    tree.to_netcdf(tmp, engine="h5netcdf")
    tmp.replace(observation)
    print(f"{len(table)} parameters ({len(table.free_names)} free) -> {params}")
    print("stage 1: images alone (Levenberg-Marquardt), then stage 2: images + spectrum")
    staged = staged_fit(config, tree, table, num_steps=num_steps)
    files = {"params": params, "observation": observation, **written}
    for role, path in write_imaging_outputs(out / "stage1_imaging", imaging_stage(config), staged.imaging).items():
        files[f"stage1_{role}"] = path
    for name, result in (("stage 1", staged.imaging), ("stage 2", staged.joint)):
        if result is not None:
            print(
                f"  {name}: {result.n_steps} steps in {result.wall_time:.1f} s, chi2 {result.chi2:.1f}, "
                f"reduced chi2 {result.reduced_chi2:.4f}" + (" (interrupted)" if result.interrupted else "")
            )
    if staged.joint is not None:
        files.update(write_imaging_outputs(out, config, staged.joint))
        _print_masses(staged, table.read(written["truth"]))
    return files


def _print_masses(staged, truth) -> None:
    """Recovered log stellar masses of each stage against the truth."""
    names = [name for name in truth.names if name.startswith("logM_")]
    print(f"  {'parameter':<12} {'truth':>7} {'images':>7} {'joint':>7}")
    for name in names:
        joint = staged.joint.table[name].value
        first = staged.imaging.table[name].value if name in staged.imaging.table else float("nan")
        print(f"  {name:<12} {truth[name].value:7.3f} {first:7.3f} {joint:7.3f}")


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the demo."""
    parser = argparse.ArgumentParser(prog="python -m galfits_nb.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    parser.add_argument("--num_steps", type=int, default=None, help="maximum fitter steps per stage")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    files = run_demo(args.out, args.seed, args.num_steps)
    print(f"demo finished in {time.perf_counter() - start:.1f} s; outputs in {Path(args.out).resolve()}:")
    for role, path in files.items():
        print(f"  {role:<14} {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
