"""Posterior of the J0249-0815 host + AGN decomposition with NUTS, against the Hessian errors.

The fit of benchmarks/j0249_agn.py ("host at z = 0.0295": AGNspectrum.lyric
with the host at the data's redshift and the S6 window), 57 free parameters:
Levenberg-Marquardt to the mode (with Hessian errors), then NUTS
(galfits_nb.inference.sample) in the Hessian-preconditioned space.

Prints wall times, effective sample sizes, R-hat, divergences, and for the
parameters users quote the posterior median and sd next to the best fit and
its Hessian error. With ``--baseline`` it also runs NUTS the plain way
(blackjax window adaptation from an identity mass matrix, no
preconditioning) from the same mode and prints the ratio of effective
samples per gradient evaluation and per second. Writes
benchmarks/results/j0249_posterior.md.

Usage: python benchmarks/posterior.py [--chains 4] [--warmup 300] [--draws 500] [--baseline]
"""

from __future__ import annotations

import argparse
import sys
import time
import warnings
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

QUOTED = (
    "logM_bulge",
    "bulge_age_value",
    "bulge_Av_value",
    "AGN_logL5100",
    "AGN_alpha1",
    "AGN_Hb_b1_sigma",
    "AGN_Hb_b1_logL",
    "AGN_OIII_5007_n1_logL",
    "AGN_feii_logL",
)


def plain_nuts(problem, u_mode, chains: int, warmup: int, draws: int, seed: int):
    """blackjax's NUTS with window adaptation from an identity mass matrix, on u directly."""
    import blackjax
    import jax

    from galfits_nb.inference.sample import log_posterior

    def logdensity(u):
        return log_posterior(u, problem)

    @jax.jit
    def run(key, u0):
        warm = blackjax.window_adaptation(blackjax.nuts, logdensity, max_num_doublings=8)
        (state, parameters), _ = warm.run(key, u0, num_steps=warmup)
        kernel = blackjax.nuts(logdensity, max_num_doublings=8, **parameters)

        def one(state, key):
            state, info = kernel.step(key, state)
            return state, (state.position, info.num_integration_steps)

        return jax.lax.scan(one, state, jax.random.split(key, draws))[1]

    keys = jax.random.split(jax.random.key(seed), chains)
    return jax.vmap(run, in_axes=(0, None))(keys, u_mode)


def main() -> int:
    import arviz as az
    import jax.numpy as jnp
    from j0249_agn import AGN, variants

    from galfits_nb.config.lyric import ConfigWarning, parse_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.fit import build_problem, fit_images
    from galfits_nb.inference.optimize import start_inside_bounds
    from galfits_nb.inference.sample import SampleSettings, posterior_summary, sample_posterior

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chains", type=int, default=4)
    parser.add_argument("--warmup", type=int, default=300)
    parser.add_argument("--draws", type=int, default=500)
    parser.add_argument("--baseline", action="store_true")
    args = parser.parse_args()

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConfigWarning)
        config = parse_lyric(variants(AGN.read_text())["host at z = 0.0295"], filename=str(AGN), base=AGN.parent)
    tree = read_observation(config)
    start = time.perf_counter()
    mode = fit_images(config, tree, method="lm", num_steps=300, progress=False)
    t_mode = time.perf_counter() - start
    settings = SampleSettings(num_chains=args.chains, num_warmup=args.warmup, num_samples=args.draws)
    result = sample_posterior(config, tree, settings=settings, mode=mode, progress=True)
    summary = posterior_summary(result)
    stats = result.posterior.sample_stats
    n_grad = float(stats.n_steps.sum())
    ess = summary["ess_bulk"]
    lines = [
        "# J0249-0815 posterior: NUTS in the Hessian-preconditioned space",
        "",
        f"benchmarks/posterior.py, one run, 2-core CPU. {len(result.sigma)} free parameters; "
        f"LM mode {t_mode:.0f} s ({mode.n_steps} steps, chi^2/N {mode.spectra['a'].attrs['reduced_chi2']:.3f}); "
        f"NUTS {settings.num_chains} chains x ({settings.num_warmup} warm-up + {settings.num_samples} draws): "
        f"{result.wall_time:.0f} s with compilation.",
        "",
        f"* divergent transitions: {result.n_divergent}; max R-hat {summary['r_hat'].max():.3f}; "
        f"bulk ESS min {ess.min():.0f}, median {ess.median():.0f} "
        f"(of {settings.num_chains * settings.num_samples} draws)",
        f"* leapfrog steps per draw: mean {float(stats.n_steps.mean()):.1f}; "
        f"ESS (median) per 1000 gradient evaluations of the kept draws: {1000 * ess.median() / n_grad:.1f}",
        "",
        "| parameter | best fit | Hessian sigma | posterior median | posterior sd | sd / Hessian | R-hat | ESS |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for name in QUOTED:
        if name not in result.sigma:
            continue
        lines.append(
            f"| {name} | {mode.table[name].value:.4g} | {mode.sigma.get(name, float('nan')):.3g} | "
            f"{result.table[name].value:.4g} | {result.sigma[name]:.3g} | "
            f"{result.sigma[name] / mode.sigma.get(name, float('nan')):.2f} | "
            f"{summary.loc[name, 'r_hat']:.3f} | {summary.loc[name, 'ess_bulk']:.0f} |"
        )
    ratio = np.array([result.sigma[n] / mode.sigma[n] for n in result.sigma if mode.sigma.get(n, 0) > 0])
    lines += [
        "",
        f"posterior sd / Hessian sigma over all {ratio.size} parameters: median {np.median(ratio):.2f}, "
        f"16-84 % {np.percentile(ratio, 16):.2f}-{np.percentile(ratio, 84):.2f}",
    ]
    if args.baseline:
        built = build_problem(config, tree, mode.table)
        u_mode = jnp.asarray(built.table.to_unconstrained(start_inside_bounds(built.table)), jnp.result_type(float))
        t0 = time.perf_counter()
        positions, steps = plain_nuts(built.problem, u_mode, args.chains, args.warmup, args.draws, 1)
        positions.block_until_ready()
        t_plain = time.perf_counter() - t0
        names = built.table.free_names
        plain = az.from_dict(posterior={n: np.asarray(positions)[..., j] for j, n in enumerate(names)})
        plain_ess = az.ess(plain)
        median_plain = float(np.median([float(plain_ess[n]) for n in names]))
        per_grad_plain = 1000 * median_plain / float(np.asarray(steps).sum())
        per_grad = 1000 * ess.median() / n_grad
        lines += [
            "",
            f"Plain NUTS (identity start of the window adaptation, no preconditioning), same chains and draws: "
            f"{t_plain:.0f} s, mean {float(np.asarray(steps).mean()):.1f} leapfrog steps per draw, "
            f"median ESS {median_plain:.0f}.",
            f"Ratio preconditioned / plain: ESS per gradient {per_grad / max(per_grad_plain, 1e-12):.1f}x, "
            f"ESS per second {(ess.median() / result.wall_time) / max(median_plain / t_plain, 1e-12):.1f}x.",
        ]
    text = "\n".join(lines) + "\n"
    print(text)
    (ROOT / "benchmarks" / "results" / "j0249_posterior.md").write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
