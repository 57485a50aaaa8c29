"""The ``galfits`` command: GalfitS's command line on galfits_nb.

``galfits CONFIG --workplace DIR [options]``. Option names are GalfitS's, and
unambiguous abbreviations work (``--work``, ``--num_s``), as argparse allows.

Without ``--notfit`` it fits the images, with free fluxes per band
(``I15 = 0``, photometry mode) or fluxes from each component's SED
(``I15 = 1``), and the spectra the atlases list (A5), and writes
``<target>.params``, ``<target>.gssummary``, ``<target>.residual.png``,
``<target>.sed.png``, ``<target>.spec.png`` and ``<target>.model.fits`` into
the workplace (:mod:`galfits_nb.outputs.imaging`). A configuration with
images and spectra is fitted in two stages (the seed's workflow,
:func:`galfits_nb.inference.stages.staged_fit`): the images alone (outputs in
``WORKPLACE/stage1_imaging``), then images and spectra together from the
stage-1 structure; ``--joint_only`` skips stage 1. The default fitter is ``lm``
(Levenberg-Marquardt: converges in tens of steps); ``optimizer`` is
GalfitS's Adam with ``--num_steps`` and ``--learning_rate``.

Exit status: 0 success, 2 bad input (configuration, data, options; one line
on stderr naming the file, line and key, never a traceback), 3 a requested
feature this version cannot do yet, 130 interrupted (Ctrl-C during a fit
stops it at the best point so far and still writes every output).
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from collections.abc import Sequence
from pathlib import Path

from galfits_nb.errors import GalfitsError

__all__ = ["main", "build_parser"]

EXIT_BAD_INPUT = 2
EXIT_UNSUPPORTED = 3
EXIT_INTERRUPTED = 130

_FIT_METHODS = ("lm", "lbfgs", "optimizer", "nuts", "mclmc", "nested", "smc")
_OPTIMIZERS = ("lm", "lbfgs", "optimizer")
_SAMPLERS = ("nuts",)


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # argparse exits 2 as well; keep its usage line
        self.print_usage(sys.stderr)
        self.exit(EXIT_BAD_INPUT, f"galfits: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of ``galfits`` (GalfitS option names)."""
    parser = _Parser(
        prog="galfits",
        description="Fit galaxies jointly in multi-band images and spectra (GalfitS .lyric format).",
    )
    parser.add_argument("config", help="the .lyric configuration file")
    parser.add_argument("--workplace", default=".", help="folder for every output (created if missing)")
    parser.add_argument(
        "--fit_method",
        default="lm",
        choices=_FIT_METHODS,
        help="lm (Levenberg-Marquardt, default), lbfgs, optimizer (Adam, GalfitS's default), or a sampler",
    )
    parser.add_argument(
        "--num_steps",
        type=int,
        default=None,
        help="maximum steps (default: lm 200, lbfgs 1000, optimizer 15000); for nuts, draws kept per chain "
        "(default 500)",
    )
    parser.add_argument(
        "--num_warmup", type=int, default=300, help="nuts: adaptation steps per chain before the kept draws"
    )
    parser.add_argument("--learning_rate", type=float, default=0.01, help="Adam learning rate")
    parser.add_argument("--readpar", help="start from this .params file")
    parser.add_argument("--parconstrain", help="Python file defining Update_Constraints(pardict); run only if given")
    parser.add_argument("--priorpath", help="prior file (mass-size, mass-metallicity, SFH, AGN, GP, EB)")
    parser.add_argument("--weight_spec", type=float, default=1.0, help="weight of the spectra in the likelihood")
    parser.add_argument("--notfit", action="store_true", help="read everything, write <target>.params, do not fit")
    parser.add_argument(
        "--saveimgs", action="store_true", help="accepted for GalfitS scripts; the model/residual cube is always written"
    )
    parser.add_argument("--cal_sigma", action="store_true", help="parameter errors from the Hessian (in .gssummary)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.add_argument(
        "--psf_upsampling",
        type=int,
        default=3,
        help="render images whose PSF is at the data's resolution (I5 = 1) this many (odd) times finer "
        "(default 3; 1 is faster and less exact for profiles smaller than the PSF)",
    )
    parser.add_argument("--nchains", type=int, default=4, help="chains for the samplers")
    parser.add_argument(
        "--joint_only",
        action="store_true",
        help="with images and spectra, fit them together at once (default: images alone first, "
        "outputs in WORKPLACE/stage1_imaging, then the joint fit from the stage-1 structure)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command; return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.num_steps is not None and args.num_steps < 1:
        parser.error(f"--num_steps: expected a positive integer, found {args.num_steps}")
    if not args.learning_rate > 0:
        parser.error(f"--learning_rate: expected a positive number, found {args.learning_rate}")
    if args.num_warmup < 1 or args.nchains < 1:
        parser.error(f"--num_warmup, --nchains: expected positive integers, found {args.num_warmup}, {args.nchains}")
    if args.psf_upsampling < 1 or args.psf_upsampling % 2 == 0:
        parser.error(f"--psf_upsampling: expected an odd positive integer, found {args.psf_upsampling}")
    try:
        return _run(args)
    except GalfitsError as err:
        print(f"galfits: error: {err}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("galfits: interrupted; files already written are complete", file=sys.stderr)
        return EXIT_INTERRUPTED


def _run(args: argparse.Namespace) -> int:
    from galfits_nb.config.companions import write_constrain_template
    from galfits_nb.config.lyric import ConfigWarning, read_lyric
    from galfits_nb.data.images import ObservationWarning
    from galfits_nb.data.observation import summarize_observation

    start = time.perf_counter()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConfigWarning)
        warnings.simplefilter("always", ObservationWarning)
        config = read_lyric(args.config)
        observation = _read_inputs(args, config)
    for warning in caught:
        print(f"galfits: warning: {warning.message}", file=sys.stderr)
    table, tree = observation
    print(summarize_observation(tree))

    workplace = Path(args.workplace)
    workplace.mkdir(parents=True, exist_ok=True)
    target = config.region.name
    params_path = table.write(workplace / f"{target}.params")
    constrain_path = workplace / f"{target}.constrain"
    if not constrain_path.exists():  # never overwrite the user's own constraints
        write_constrain_template(table.names, constrain_path)
    print(f"{len(table)} parameters ({len(table.free_names)} free) written to {params_path}")
    print(f"constraint template: {constrain_path}")
    if args.notfit:
        print(f"read in {time.perf_counter() - start:.1f} s; --notfit: no fit run")
        return 0
    unsupported = _unsupported(args, config)
    if unsupported:
        print(f"galfits: {unsupported}", file=sys.stderr)
        return EXIT_UNSUPPORTED
    return _fit_images(args, config, table, tree, workplace)


def _unsupported(args: argparse.Namespace, config) -> str | None:
    """Why this version cannot run the requested fit, or None."""
    if args.fit_method not in _OPTIMIZERS + _SAMPLERS:
        return (
            f"--fit_method {args.fit_method}: this sampler is not available in this version "
            "(use nuts, or lm, lbfgs or optimizer)"
        )
    return None


def _fit_images(args: argparse.Namespace, config, table, tree, workplace: Path) -> int:
    """Fit the images and write every output; exit 130 after Ctrl-C, outputs written."""
    from galfits_nb.cache import enable_compilation_cache
    from galfits_nb.inference.fit import fit_images
    from galfits_nb.outputs.imaging import write_imaging_outputs

    enable_compilation_cache()
    sed_options = {}
    priors = None
    if args.priorpath:
        from galfits_nb.config.companions import read_priors

        priors = read_priors(args.priorpath)
        sed_options["energy_balance"] = tuple(priors.energy_balance)

    sampling = args.fit_method in _SAMPLERS
    options = dict(
        # a sampler starts at the best fit, found by Levenberg-Marquardt
        method="lm" if sampling else args.fit_method,
        num_steps=None if sampling else args.num_steps,
        learning_rate=args.learning_rate,
        cal_sigma=args.cal_sigma,
        progress=not args.quiet,
        psf_upsampling=args.psf_upsampling,
        sed_options=sed_options,
        priors=priors,
    )
    has_images = any(atlas.images for atlas in config.atlases)
    has_spectra = any(atlas.spectra for atlas in config.atlases)
    if has_images and has_spectra and not args.joint_only:
        from galfits_nb.config.stages import imaging_stage
        from galfits_nb.inference.stages import staged_fit

        print("stage 1: images alone")
        staged = staged_fit(config, tree, table, weight_spec=args.weight_spec, **options)
        stage1_folder = workplace / "stage1_imaging"
        for path in write_imaging_outputs(stage1_folder, imaging_stage(config), staged.imaging).values():
            print(f"wrote {path}")
        if staged.joint is None:
            print("galfits: interrupted in stage 1; its best parameters are written", file=sys.stderr)
            return EXIT_INTERRUPTED
        print(
            f"stage 1: {staged.imaging.n_steps} steps, reduced chisq {staged.imaging.reduced_chi2:.4f}; "
            "stage 2: images + spectra"
        )
        result = staged.joint
    else:
        result = fit_images(config, tree, table, weight_spec=args.weight_spec, **options)
    written = write_imaging_outputs(workplace, config, result)
    state = "interrupted" if result.interrupted else ("converged" if result.converged else "stopped at --num_steps")
    print(
        f"{options['method']}: {state} after {result.n_steps} steps in {result.wall_time:.1f} s; "
        f"chisq {result.chi2:.2f}, reduced chisq {result.reduced_chi2:.4f}, BIC {result.bic:.2f}"
    )
    if result.at_bounds:
        print(f"  at a bound: {', '.join(result.at_bounds)}")
    for label, value in result.chi2_per_image.items():
        print(f"  {label}: chisq {value:.2f} over {result.n_good[label]} pixels")
    for letter, ds in result.spectra.items():
        print(f"  spectrum {letter}: chisq {ds.attrs['chi2']:.2f} over {ds.attrs['n_good']} pixels")
    for path in written.values():
        print(f"wrote {path}")
    if result.interrupted:
        print("galfits: interrupted; the best parameters so far are written", file=sys.stderr)
        return EXIT_INTERRUPTED
    if sampling:
        return _sample(args, config, tree, result, workplace, options)
    return 0


def _sample(args: argparse.Namespace, config, tree, mode, workplace: Path, options: dict) -> int:
    """NUTS from the best fit ``mode``; write the draws and the posterior errors."""
    from galfits_nb.inference.sample import SampleSettings, sample_posterior
    from galfits_nb.outputs.posterior import write_posterior_outputs

    settings = SampleSettings(
        num_chains=args.nchains,
        num_warmup=args.num_warmup,
        num_samples=500 if args.num_steps is None else args.num_steps,
    )
    fit_options = {k: v for k, v in options.items() if k not in ("method", "num_steps", "cal_sigma", "progress")}
    print(f"nuts: {settings.num_chains} chains, {settings.num_warmup} warm-up + {settings.num_samples} draws each")
    posterior = sample_posterior(
        config, tree, settings=settings, mode=mode, progress=not args.quiet, weight_spec=args.weight_spec, **fit_options
    )
    written = write_posterior_outputs(workplace, config, posterior)
    if posterior.posterior is not None:
        print(f"nuts: {posterior.wall_time:.1f} s, {posterior.n_divergent} divergent transitions")
    for path in written.values():
        print(f"wrote {path}")
    if posterior.interrupted:
        print("galfits: interrupted while sampling; the draws finished so far are written", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _read_inputs(args: argparse.Namespace, config):
    """Parameter table (with --readpar applied) and observation; check the other files."""
    from galfits_nb.config.companions import load_constraints, read_priors
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.parameters import build_parameter_table

    for option in ("readpar", "parconstrain", "priorpath"):
        path = getattr(args, option)
        if path is not None and not Path(path).is_file():
            raise _option_error(option, path)
    table = build_parameter_table(config)
    if args.readpar:
        table = table.read(args.readpar)
    if args.parconstrain:
        load_constraints(args.parconstrain)
    if args.priorpath:
        read_priors(args.priorpath)
    return table, read_observation(config)


def _option_error(option: str, path: str) -> GalfitsError:
    from galfits_nb.errors import ConfigError

    return ConfigError(f"--{option}: no such file", file=path)


if __name__ == "__main__":
    sys.exit(main())
