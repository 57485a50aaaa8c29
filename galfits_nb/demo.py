"""``make demo``: the seed's joint configuration on generated data.

Writes the seed's configuration (``seed_joint.lyric``) and mock files for
every path it names into ``--out``, reads the observation (three images and a
fibre spectrum) into an ``xr.DataTree``, prints a summary, and writes the
parameter table and the observation (NetCDF) next to them. Then it runs the
first stage of the staged fit: the imaging-only fit in photometry mode
(:func:`galfits_nb.config.stages.photometry_stage`), writing its
``.gssummary``, best ``.params``, residual PNG and model cube into
``<out>/stage1_imaging``. The joint image + spectrum stage follows it once
the SED and spectrum models exist.
"""

from __future__ import annotations

import argparse
import shutil
import sys
import time
from pathlib import Path

__all__ = ["run_demo", "main"]


def run_demo(out: str | Path, seed: int = 0) -> dict[str, Path]:
    """Write the seed mock, read it back and write the parameter table.

    Parameters
    ----------
    out : str or Path
        Output folder (created if missing).
    seed : int
        Noise seed of the mock.

    Returns
    -------
    dict of str -> Path
        ``config``, ``params``, ``observation`` and the data files.
    """
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.mock import seed_config_path, write_seed_files
    from galfits_nb.data.observation import read_observation, summarize_observation
    from galfits_nb.inference.parameters import build_parameter_table

    out = Path(out)
    written = write_seed_files(out, seed=seed)
    config_path = out / "seed_joint.lyric"
    shutil.copy(seed_config_path(), config_path)
    config = read_lyric(config_path)
    tree = read_observation(config)
    print(summarize_observation(tree))
    table = build_parameter_table(config)
    params = table.write(out / f"{config.region.name}.params")
    observation = out / f"{config.region.name}.observation.nc"
    tmp = observation.with_name(observation.name + ".tmp")
    tree.to_netcdf(tmp, engine="h5netcdf")
    tmp.replace(observation)
    print(f"{len(table)} parameters ({len(table.free_names)} free) -> {params}")
    stage1 = _imaging_stage(config, tree, table, out / "stage1_imaging")
    return {"config": config_path, "params": params, "observation": observation, **written, **stage1}


def _imaging_stage(config, tree, table, folder: Path) -> dict[str, Path]:
    """Stage 1: photometry-mode imaging fit of the joint configuration's images."""
    from galfits_nb.config.stages import carry_values, photometry_stage
    from galfits_nb.inference.fit import fit_images
    from galfits_nb.inference.parameters import build_parameter_table
    from galfits_nb.outputs.imaging import write_imaging_outputs

    stage = photometry_stage(config)
    print("stage 1: imaging-only fit in photometry mode (Levenberg-Marquardt)")
    result = fit_images(stage, tree, carry_values(build_parameter_table(stage), table))
    print(
        f"  {result.n_steps} steps in {result.wall_time:.1f} s, chi2 {result.chi2:.1f}, "
        f"reduced chi2 {result.reduced_chi2:.4f}" + (" (interrupted)" if result.interrupted else "")
    )
    written = write_imaging_outputs(folder, stage, result)
    return {f"stage1_{kind}": path for kind, path in written.items()}


def main(argv: list[str] | None = None) -> int:
    """Command-line entry of the demo."""
    parser = argparse.ArgumentParser(prog="python -m galfits_nb.demo", description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_output", help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="noise seed")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    files = run_demo(args.out, args.seed)
    print(f"demo finished in {time.perf_counter() - start:.1f} s; outputs in {Path(args.out).resolve()}:")
    for role, path in files.items():
        print(f"  {role:<14} {path.name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
