"""Posteriors with BlackJAX: NUTS started at the best fit and preconditioned by its Hessian.

The third stage of the workflow (images, then images + spectra, then
posteriors). :func:`sample_posterior` finds the mode with Levenberg-Marquardt
(or takes a :class:`~galfits_nb.inference.fit.FitResult`), then runs several
NUTS chains (Hoffman & Gelman 2014) and returns the draws as an
``arviz.InferenceData``.

Target
------
The parameters are sampled in the fitters' unconstrained space
``u = logit((x - min) / (max - min))``. The prior is uniform in each free
parameter between the ``.lyric`` bounds (what the bounds say), times the
prior file's relations, which enter as residuals next to the pixels
(:mod:`galfits_nb.inference.priors`). So

    log p(u | data) = -chi^2(u) / 2 + sum_i log |dx_i / du_i| + const.

Preconditioning
---------------
At the mode, the Gauss-Newton precision of ``u`` is
``P = J^T J + diag(2 s (1 - s))`` (``s`` the logistic of ``u``; the second
term is the curvature of the log-Jacobian, which also keeps parameters the
data do not constrain proper). With ``P^-1 = L L^T`` the chains move in
``z``, ``u = u_mode + L z``, where the posterior is close to a unit normal:
the dense, badly scaled correlations of bulge/disk/AGN decompositions (ratios
of 1e6 between directions) are taken out before NUTS sees the target, and
Stan-style window adaptation (blackjax.window_adaptation, a diagonal mass
matrix and the step size) only has to correct what the Laplace approximation
misses. This is the "Hessian as the metric" practice of Betancourt (2017,
arXiv:1701.02434, sect. 4.2); the sampler stays exact, only its efficiency
depends on it.

Chains start at independent draws from that normal (``z ~ N(0, 1)``), adapt
separately (vmapped), then sample in chunks so a progress bar moves and
Ctrl-C keeps every finished chunk.
"""

from __future__ import annotations

import functools
import inspect
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from galfits_nb.inference.fit import FitResult, build_problem, fit_images
from galfits_nb.inference.likelihood import ImagingProblem, problem_chi2
from galfits_nb.inference.optimize import normal_equations, start_inside_bounds
from galfits_nb.inference.parameters import ParameterTable

__all__ = [
    "PosteriorResult",
    "SampleSettings",
    "laplace_factor",
    "log_posterior",
    "posterior_summary",
    "sample_posterior",
]


class SampleSettings(NamedTuple):
    """How many chains and draws, and NUTS's settings.

    Attributes
    ----------
    num_chains : int
        Independent chains (vmapped).
    num_warmup : int
        Window-adaptation steps per chain (step size and diagonal mass
        matrix in the preconditioned space); these draws are discarded.
    num_samples : int
        Kept draws per chain.
    target_acceptance : float
        NUTS's target mean acceptance probability during adaptation.
    max_num_doublings : int
        Largest tree depth (at most ``2**max_num_doublings`` leapfrog steps a draw).
    chunk : int
        Draws per compiled call between progress-bar updates.
    seed : int
        Seed of the JAX random key.
    """

    num_chains: int = 4
    num_warmup: int = 300
    num_samples: int = 500
    target_acceptance: float = 0.8
    max_num_doublings: int = 8
    chunk: int = 25
    seed: int = 0


class PosteriorResult(NamedTuple):
    """What :func:`sample_posterior` returns.

    Attributes
    ----------
    mode : FitResult
        The best fit the chains started from (and its outputs).
    posterior : arviz.InferenceData or None
        Groups ``posterior`` (every free parameter by its table name, dims
        ``chain``, ``draw``) and ``sample_stats`` (``lp``, ``diverging``,
        ``acceptance_rate``, ``n_steps``, ``tree_depth``, ``step_size``).
        None when interrupted before the first kept draw.
    table : ParameterTable
        The mode's table with the posterior medians as values.
    sigma : dict of str to float
        Posterior standard deviation of each free parameter.
    n_divergent : int
        Divergent transitions among the kept draws (should be 0).
    wall_time : float
        Seconds for warm-up and sampling (compilation included).
    interrupted : bool
        Ctrl-C stopped the sampling; ``posterior`` holds the draws finished.
    """

    mode: FitResult
    posterior: object
    table: ParameterTable
    sigma: dict[str, float]
    n_divergent: int
    wall_time: float
    interrupted: bool


def log_posterior(u: jax.Array, problem: ImagingProblem) -> jax.Array:
    """``-chi^2 / 2 + sum log |dx/du|``: the log posterior of the unconstrained free vector.

    Parameters
    ----------
    u : array of shape (n_free,)
    problem : ImagingProblem

    Returns
    -------
    scalar array
        Up to a constant; uniform priors within the bounds, prior-file
        relations included in chi^2.
    """
    space = problem.space
    log_jacobian = jnp.sum(jnp.log(space.upper - space.lower) - jax.nn.softplus(-u) - jax.nn.softplus(u))
    return -0.5 * problem_chi2(u, problem) + log_jacobian


def laplace_factor(problem: ImagingProblem, u: jax.Array) -> np.ndarray:
    """``L`` with ``L L^T = P^-1``, ``P`` the Gauss-Newton precision of ``u`` at the mode.

    Parameters
    ----------
    problem : ImagingProblem
    u : array of shape (n_free,)
        The mode (unconstrained).

    Returns
    -------
    ndarray of shape (n_free, n_free), float64
        Lower-triangular. Computed on the equilibrated matrix (unit
        diagonal) with eigenvalues floored at 1e-10 of the largest, so a
        direction the Hessian misses gets a wide, finite scale instead of a
        failure.
    """
    _, jtj, _ = normal_equations(u, problem)
    s = 1.0 / (1.0 + np.exp(-np.asarray(u, dtype=float)))
    precision = np.asarray(jtj, dtype=float) + np.diag(2.0 * s * (1.0 - s))
    d = np.sqrt(np.diag(precision))
    scaled = precision / np.outer(d, d)
    eigenvalues, vectors = np.linalg.eigh(0.5 * (scaled + scaled.T))
    eigenvalues = np.maximum(eigenvalues, 1e-10 * eigenvalues.max())
    covariance = (vectors / eigenvalues) @ vectors.T / np.outer(d, d)
    return np.linalg.cholesky(0.5 * (covariance + covariance.T))


def _logdensity(problem: ImagingProblem, u_mode: jax.Array, factor: jax.Array):
    """The log posterior as a function of the preconditioned position ``z`` (n_free,)."""
    return lambda z: log_posterior(u_mode + factor @ z, problem)


@functools.partial(jax.jit, static_argnames=("settings",))
def _warm_up(keys, z0, problem, u_mode, factor, settings: SampleSettings):
    """Window adaptation of every chain (vmapped): final states and each chain's step size and mass matrix."""
    import blackjax

    logdensity = _logdensity(problem, u_mode, factor)

    def one_chain(key, z):
        warmup = blackjax.window_adaptation(
            blackjax.nuts,
            logdensity,
            target_acceptance_rate=settings.target_acceptance,
            max_num_doublings=settings.max_num_doublings,
        )
        (state, parameters), _ = warmup.run(key, z, num_steps=settings.num_warmup)
        return state, parameters["step_size"], parameters["inverse_mass_matrix"]

    return jax.vmap(one_chain)(keys, z0)


@functools.partial(jax.jit, static_argnames=("settings",))
def _sample_chunk(keys, states, step_sizes, inverse_masses, problem, u_mode, factor, settings: SampleSettings):
    """``settings.chunk`` NUTS draws of every chain (vmapped); positions and diagnostics per draw."""
    import blackjax

    def one_chain(key, state, step_size, inverse_mass):
        kernel = blackjax.nuts(
            _logdensity(problem, u_mode, factor),
            step_size,
            inverse_mass,
            max_num_doublings=settings.max_num_doublings,
        )

        def one_draw(state, key):
            state, info = kernel.step(key, state)
            stats = (
                state.logdensity,
                info.is_divergent,
                info.acceptance_rate,
                info.num_integration_steps,
                info.num_trajectory_expansions,
            )
            return state, (state.position, stats)

        return jax.lax.scan(one_draw, state, jax.random.split(key, settings.chunk))

    return jax.vmap(one_chain)(keys, states, step_sizes, inverse_masses)


_PROBLEM_OPTIONS = frozenset(inspect.signature(build_problem).parameters) - {"config", "tree", "table"}


def sample_posterior(
    config,
    tree,
    table: ParameterTable | None = None,
    *,
    settings: SampleSettings = SampleSettings(),
    mode: FitResult | None = None,
    progress: bool = True,
    **options,
) -> PosteriorResult:
    """Find the best fit, then sample the posterior around it with NUTS.

    Parameters
    ----------
    config : Config
    tree : xr.DataTree
        From :func:`galfits_nb.data.observation.read_observation`.
    table : ParameterTable, optional
        Start of the mode search (default ``build_parameter_table(config)``).
    settings : SampleSettings
    mode : FitResult, optional
        A best fit of the same config and options to start from (skips the
        mode search; the staged workflow's joint result).
    progress : bool
        tqdm bars for the mode search and the draws.
    **options
        Keyword arguments of :func:`~galfits_nb.inference.fit.fit_images`
        (``spectra``, ``weight_spec``, ``priors``, ``psf_upsampling``,
        ``num_steps`` of the mode search, ...).

    Returns
    -------
    PosteriorResult

    Examples
    --------
    >>> result = sample_posterior(config, tree, settings=SampleSettings(num_samples=300))  # doctest: +SKIP
    >>> posterior_summary(result)                                                         # doctest: +SKIP
    """
    import arviz as az

    start = time.perf_counter()
    if mode is None:
        mode = fit_images(config, tree, table, method="lm", progress=progress, cal_sigma=False, **options)
    problem_options = {k: v for k, v in options.items() if k in _PROBLEM_OPTIONS}
    built = build_problem(config, tree, mode.table, **problem_options)
    problem, fit_table = built.problem, built.table
    names = fit_table.free_names
    dtype = jnp.result_type(float)
    u_mode = jnp.asarray(fit_table.to_unconstrained(start_inside_bounds(fit_table)), dtype=dtype)
    factor = jnp.asarray(laplace_factor(problem, u_mode), dtype=dtype)

    key = jax.random.key(settings.seed)
    key_start, key_warm, key_draw = jax.random.split(key, 3)
    z0 = jax.random.normal(key_start, (settings.num_chains, len(names)), dtype=dtype)
    n_chunks = -(-settings.num_samples // settings.chunk)
    bar = tqdm(
        total=settings.num_warmup + n_chunks * settings.chunk,
        desc=f"nuts ({settings.num_chains} chains): warm-up",
        disable=not progress,
        unit="draw",
    )
    positions, stats = [], []
    interrupted = False
    try:
        states, step_sizes, inverse_masses = _warm_up(
            jax.random.split(key_warm, settings.num_chains), z0, problem, u_mode, factor, settings
        )
        jax.block_until_ready(step_sizes)
        bar.update(settings.num_warmup)
        bar.set_description(f"nuts ({settings.num_chains} chains): sampling")
        for key_chunk in jax.random.split(key_draw, n_chunks):
            states, (z, chunk_stats) = _sample_chunk(
                jax.random.split(key_chunk, settings.num_chains),
                states,
                step_sizes,
                inverse_masses,
                problem,
                u_mode,
                factor,
                settings,
            )
            jax.block_until_ready(z)
            positions.append(np.asarray(z))
            stats.append([np.asarray(s) for s in chunk_stats])
            bar.update(settings.chunk)
    except KeyboardInterrupt:
        interrupted = True
        bar.write(f"nuts: interrupted; keeping {sum(p.shape[1] for p in positions)} draws per chain")
    finally:
        bar.close()

    if not positions:
        return PosteriorResult(mode, None, mode.table, {}, 0, time.perf_counter() - start, True)
    z = np.concatenate(positions, axis=1)[:, : settings.num_samples]  # (chain, draw, n_free)
    u = np.asarray(u_mode, dtype=float) + z @ np.asarray(factor, dtype=float).T
    lo, hi = fit_table.bounds()
    x = lo + (hi - lo) / (1.0 + np.exp(-u))
    lp, divergent, acceptance, n_steps, depth = (
        np.concatenate([chunk[i] for chunk in stats], axis=1)[:, : z.shape[1]] for i in range(5)
    )
    step = np.broadcast_to(np.asarray(step_sizes, dtype=float)[:, None], lp.shape)
    posterior = az.from_dict(
        posterior={name: x[..., j] for j, name in enumerate(names)},
        sample_stats={
            "lp": lp,
            "diverging": divergent.astype(bool),
            "acceptance_rate": acceptance,
            "n_steps": n_steps,
            "tree_depth": depth,
            "step_size": step,
        },
        attrs={"inference_library": "blackjax", "sampler": "nuts", "preconditioning": "laplace at the mode"},
    )
    medians = np.median(x.reshape(-1, len(names)), axis=0)
    sigma = {name: float(v) for name, v in zip(names, np.std(x.reshape(-1, len(names)), axis=0, ddof=1))}
    table = mode.table.with_values(dict(zip(names, medians.tolist())))
    return PosteriorResult(
        mode, posterior, table, sigma, int(divergent.sum()), time.perf_counter() - start, interrupted
    )


def posterior_summary(result: PosteriorResult):
    """``arviz.summary`` of the draws: mean, sd, HDI, ESS and R-hat per parameter (pandas DataFrame)."""
    import arviz as az

    if result.posterior is None:
        raise ValueError("no draws: the sampling was interrupted before the first chunk")
    return az.summary(result.posterior, hdi_prob=0.68)
