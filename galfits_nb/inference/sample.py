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
``z``, ``u = centre + L z``, where the posterior is close to a unit normal:
the dense, badly scaled correlations of bulge/disk/AGN decompositions (ratios
of 1e6 between directions) are taken out before NUTS sees the target. This
is the "Hessian as the metric" practice of Betancourt (2017,
arXiv:1701.02434, sect. 4.2); the sampler stays exact, only its efficiency
depends on it.

A parameter whose best value lies within two (data) sigmas of a bound is
*pinned*: there the posterior in ``u`` is one-sided (a wall on the inside, a
logistic tail towards the bound) and the Laplace scale in ``u`` is far too
wide (at 1e-3 of the range from a bound, ``dx/du`` is 1e-3 of the range, so
``u``'s Laplace sd is tens of units). Pinned parameters are decoupled, given
a unit scale in ``u`` and centred one data sigma inside the bound.

Warm-up
-------
Stan's scheme, in two windows (Hoffman & Gelman 2014, sect. 3.2.1; Stan
reference manual, "HMC algorithm parameters"): the first half adapts the step
size by dual averaging (blackjax's ``dual_averaging_adaptation``) with a unit
mass matrix in ``z``; the variance of ``z`` over that half's second half,
shrunk towards 1e-3 as Stan does, becomes a diagonal inverse mass matrix; the
second half adapts the step size again. Each chain adapts on its own
(vmapped). Warm-up and sampling run in chunks of compiled steps, so a
progress bar moves and Ctrl-C keeps every finished draw.

Chains start at independent draws from the Laplace normal (``z ~ N(0, 1)``).
"""

from __future__ import annotations

import functools
import inspect
import math
import time
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

from galfits_nb.inference.fit import FitResult, build_problem, fit_images
from galfits_nb.inference.likelihood import ImagingProblem, problem_chi2
from galfits_nb.inference.optimize import _start_vector, normal_equations
from galfits_nb.inference.parameters import ParameterTable
from galfits_nb.precision import full_precision

__all__ = [
    "PosteriorResult",
    "SampleSettings",
    "laplace_preconditioner",
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
        Warm-up steps per chain (step size by dual averaging, a diagonal
        mass matrix from the first half; see the module docstring); these
        draws are discarded.
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
    return -0.5 * problem_chi2(u, problem) + space.log_abs_det_jacobian(u)


class Preconditioner(NamedTuple):
    """Where the chains move: ``u = centre + factor @ z``.

    Attributes
    ----------
    centre : ndarray of shape (n_free,)
        The mode in ``u``, with pinned parameters moved one data sigma inside their bound.
    factor : ndarray of shape (n_free, n_free)
        Lower-triangular ``L`` with ``L L^T`` the Laplace covariance of ``u``.
    pinned : tuple of int
        Indices of the pinned parameters (decoupled, unit scale).
    """

    centre: np.ndarray
    factor: np.ndarray
    pinned: tuple[int, ...]


#: A best value closer than this many data sigmas to a bound is pinned.
PINNED_SIGMAS = 2.0


def laplace_preconditioner(problem: ImagingProblem, u: jax.Array) -> Preconditioner:
    """The Laplace approximation of the posterior in ``u`` at the mode, pinned parameters apart.

    Parameters
    ----------
    problem : ImagingProblem
    u : array of shape (n_free,)
        The mode (unconstrained).

    Returns
    -------
    Preconditioner
        The covariance is inverted on the equilibrated precision (unit
        diagonal) with eigenvalues floored at 1e-10 of the largest, so a
        direction the Hessian misses gets a wide, finite scale instead of a
        failure.
    """
    _, jtj, _ = normal_equations(u, problem)
    jtj = np.asarray(jtj, dtype=float)
    u = np.asarray(u, dtype=float)
    lo, hi = np.asarray(problem.space.lower, float), np.asarray(problem.space.upper, float)
    s = 1.0 / (1.0 + np.exp(-u))
    x = lo + (hi - lo) * s
    dxdu = (hi - lo) * s * (1.0 - s)
    # The data's sigma in x of each parameter alone: J_u = J_x dx/du.
    with np.errstate(divide="ignore"):
        sigma_x = np.where(np.diag(jtj) > 0, dxdu / np.sqrt(np.clip(np.diag(jtj), 1e-300, None)), np.inf)
    gap_low, gap_high = x - lo, hi - x
    pinned = np.minimum(gap_low, gap_high) < PINNED_SIGMAS * sigma_x
    precision = jtj + np.diag(2.0 * s * (1.0 - s))
    centre = u.copy()
    for i in np.flatnonzero(pinned):
        inside = min(sigma_x[i], 0.25 * (hi[i] - lo[i]))
        target = lo[i] + inside if gap_low[i] <= gap_high[i] else hi[i] - inside
        frac = (target - lo[i]) / (hi[i] - lo[i])
        centre[i] = np.log(frac) - np.log1p(-frac)
        precision[i, :] = 0.0
        precision[:, i] = 0.0
        precision[i, i] = 1.0
    d = np.sqrt(np.diag(precision))
    scaled = precision / np.outer(d, d)
    eigenvalues, vectors = np.linalg.eigh(0.5 * (scaled + scaled.T))
    eigenvalues = np.maximum(eigenvalues, 1e-10 * eigenvalues.max())
    covariance = (vectors / eigenvalues) @ vectors.T / np.outer(d, d)
    factor = np.linalg.cholesky(0.5 * (covariance + covariance.T))
    return Preconditioner(centre, factor, tuple(int(i) for i in np.flatnonzero(pinned)))


def _logdensity(problem: ImagingProblem, centre: jax.Array, factor: jax.Array):
    """The log posterior as a function of the preconditioned position ``z`` (n_free,)."""
    return lambda z: log_posterior(centre + factor @ z, problem)


def _nuts_step(problem, centre, factor, settings: SampleSettings, key, state, step_size, inverse_mass):
    import blackjax

    kernel = blackjax.nuts(
        _logdensity(problem, centre, factor), step_size, inverse_mass, max_num_doublings=settings.max_num_doublings
    )
    return kernel.step(key, state)


@functools.partial(jax.jit, static_argnames=("settings",))
def _init_chains(z0, problem, centre, factor, settings: SampleSettings):
    """NUTS states of every chain at ``z0`` (n_chains, n_free) and their dual-averaging states."""
    import blackjax
    logdensity = _logdensity(problem, centre, factor)
    da_init = _dual_averaging(settings)[0]
    states = jax.vmap(lambda z: blackjax.nuts.init(z, logdensity))(z0)
    adapt = jax.vmap(lambda _: da_init(jnp.asarray(INITIAL_STEP_SIZE, z0.dtype)))(jnp.arange(z0.shape[0]))
    return states, adapt


#: First step size in the preconditioned space (where the target is ~ a unit normal).
INITIAL_STEP_SIZE = 0.5


@functools.partial(jax.jit, static_argnames=("settings",))
def _warm_up_chunk(keys, states, adapt, inverse_masses, collect, problem, centre, factor, settings: SampleSettings):
    """``len(collect)`` warm-up steps of every chain: NUTS draws with dual-averaged step sizes.

    Returns the new states, the new dual-averaging states and, per chain, the
    number, sum and sum of squares of the positions of the steps flagged in
    ``collect`` (for the diagonal mass matrix).
    """
    da_update = _dual_averaging(settings)[1]

    def one_chain(key, state, da_state, inverse_mass):
        def one(carry, inputs):
            state, da_state, count, total, squares = carry
            key, keep = inputs
            step_size = jnp.exp(da_state.log_step_size)
            state, info = _nuts_step(problem, centre, factor, settings, key, state, step_size, inverse_mass)
            da_state = da_update(da_state, info.acceptance_rate)
            weight = keep.astype(state.position.dtype)
            carry = (
                state,
                da_state,
                count + weight,
                total + weight * state.position,
                squares + weight * state.position**2,
            )
            return carry, None

        zeros = jnp.zeros_like(state.position)
        start = (state, da_state, jnp.zeros((), zeros.dtype), zeros, zeros)
        (state, da_state, count, total, squares), _ = jax.lax.scan(
            one, start, (jax.random.split(key, collect.shape[0]), collect)
        )
        return state, da_state, (count, total, squares)

    return jax.vmap(one_chain)(keys, states, adapt, inverse_masses)


@functools.partial(jax.jit, static_argnames=("settings",))
def _sample_chunk(keys, states, step_sizes, inverse_masses, problem, centre, factor, settings: SampleSettings):
    """``settings.chunk`` NUTS draws of every chain (vmapped); positions and diagnostics per draw."""

    def one_chain(key, state, step_size, inverse_mass):
        def one_draw(state, key):
            state, info = _nuts_step(problem, centre, factor, settings, key, state, step_size, inverse_mass)
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


def _dual_averaging(settings: SampleSettings):
    from blackjax.adaptation.step_size import dual_averaging_adaptation

    return dual_averaging_adaptation(settings.target_acceptance)


def _shrunk_variance(count, total, squares):
    """Stan's regularised variance of the collected positions: ``n/(n+5) var + 1e-3 * 5/(n+5)``, per chain."""
    n = jnp.maximum(count, 2.0)[:, None]
    mean = total / n
    variance = (squares - n * mean**2) / (n - 1.0)
    return (n / (n + 5.0)) * variance + 1e-3 * (5.0 / (n + 5.0))


_PROBLEM_OPTIONS = frozenset(inspect.signature(build_problem).parameters) - {"config", "tree", "table"}


@full_precision
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
    u_mode = _start_vector(fit_table, problem)
    preconditioner = laplace_preconditioner(problem, u_mode)
    centre = jnp.asarray(preconditioner.centre, dtype=dtype)
    factor = jnp.asarray(preconditioner.factor, dtype=dtype)

    n_chains, n_free = settings.num_chains, len(names)
    key_start, key_warm, key_draw = jax.random.split(jax.random.key(settings.seed), 3)
    z0 = jax.random.normal(key_start, (n_chains, n_free), dtype=dtype)
    chunk = settings.chunk
    # Warm-up: first half with a unit mass (its second half collected), second half with the adapted one.
    first = max(settings.num_warmup // 2, 1)
    flags = np.zeros(settings.num_warmup, dtype=bool)
    flags[first // 2 : first] = True
    # Equal warm-up chunks (one compiled program) with a boundary where the mass matrix changes.
    common = math.gcd(first, settings.num_warmup - first) or first
    size = max(d for d in range(1, min(chunk, common) + 1) if common % d == 0)
    warm_chunks = [(i, i + size) for i in range(0, settings.num_warmup, size)]
    n_chunks = -(-settings.num_samples // chunk)
    bar = tqdm(
        total=settings.num_warmup + n_chunks * chunk,
        desc=f"nuts ({n_chains} chains): warm-up",
        disable=not progress,
        unit="draw",
    )
    positions, stats = [], []
    interrupted = False
    try:
        states, adapt = _init_chains(z0, problem, centre, factor, settings)
        inverse_masses = jnp.ones((n_chains, n_free), dtype)
        sums = None
        warm_keys = jax.random.split(key_warm, len(warm_chunks))
        for (begin, end), key_chunk in zip(warm_chunks, warm_keys):
            if begin == first and sums is not None:
                inverse_masses = _shrunk_variance(*sums)
                da_init = _dual_averaging(settings)[0]
                adapt = jax.vmap(da_init)(jnp.exp(adapt.log_step_size_avg))
            states, adapt, collected = _warm_up_chunk(
                jax.random.split(key_chunk, n_chains),
                states,
                adapt,
                inverse_masses,
                jnp.asarray(flags[begin:end]),
                problem,
                centre,
                factor,
                settings,
            )
            if flags[begin:end].any():
                sums = collected if sums is None else tuple(a + b for a, b in zip(sums, collected))
            jax.block_until_ready(adapt)
            bar.update(end - begin)
        step_sizes = jnp.exp(adapt.log_step_size_avg)
        bar.set_description(f"nuts ({n_chains} chains): sampling")
        for key_chunk in jax.random.split(key_draw, n_chunks):
            states, (z, chunk_stats) = _sample_chunk(
                jax.random.split(key_chunk, n_chains),
                states,
                step_sizes,
                inverse_masses,
                problem,
                centre,
                factor,
                settings,
            )
            jax.block_until_ready(z)
            positions.append(np.asarray(z))
            stats.append([np.asarray(s) for s in chunk_stats])
            bar.update(chunk)
    except KeyboardInterrupt:
        interrupted = True
        bar.write(f"nuts: interrupted; keeping {sum(p.shape[1] for p in positions)} draws per chain")
    finally:
        bar.close()

    if not positions:
        return PosteriorResult(mode, None, mode.table, {}, 0, time.perf_counter() - start, True)
    z = np.concatenate(positions, axis=1)[:, : settings.num_samples]  # (chain, draw, n_free)
    u = preconditioner.centre + z @ preconditioner.factor.T
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
        attrs={
            "inference_library": "blackjax",
            "sampler": "nuts",
            "preconditioning": "laplace at the mode",
            "pinned": ", ".join(names[i] for i in preconditioner.pinned),
        },
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
