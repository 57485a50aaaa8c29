"""Fitters for imaging problems: Levenberg-Marquardt, optax Adam and L-BFGS.

Every fitter follows the blackjax / optax shape (STYLE.md): a constructor
fixes the problem and the settings and returns a :class:`Fitter`, a pair of
pure functions

* ``init(table) -> FitState``: the start, from a parameter table's values;
* ``step(state) -> (FitState, FitInfo)``: one iteration, jitted.

The Python loop around ``step`` is :func:`run`: it shows progress (tqdm),
stops on convergence or after ``num_steps``, and turns Ctrl-C
(``KeyboardInterrupt``) into a clean stop that returns the best state so far.

All fitters work on the unconstrained vector ``u`` of the free parameters
(:mod:`galfits_nb.inference.likelihood`), so parameters stay inside their
bounds. The jitted steps are module-level functions that take the problem as
an argument (a pytree whose static part is the frame layout), so repeated
fits of problems with the same layout and shapes reuse one compiled step
(scarlet2's "build once, never recompile").

Levenberg-Marquardt (the fast default)
--------------------------------------
Damped Gauss-Newton on the weighted residual vector ``r(u)``, ``chi2 = r.r``
(Levenberg 1944; Marquardt 1963). The Jacobian ``J = dr/du`` is computed by
forward-mode differentiation (one JVP per parameter, cheaper than reverse
mode for many pixels and few parameters), image by image in the parameters
each image reads (its shape, flux, sky and shift: 15-17 on the 10-band j0056
example instead of 54), then chained to ``u`` through the pixel-free
Jacobian of those values (:mod:`galfits_nb.inference.kernels`).

Each step solves ``(J^T J + lambda D) h = -J^T r`` with Marquardt's scaling
``D`` = the largest ``diag(J^T J)`` met so far (Moré 1978, "The
Levenberg-Marquardt algorithm: implementation and theory"), in the scaled
variables (which keeps float32 usable); it raises ``lambda`` until no
unconstrained coordinate moves more than ``max_step`` (a trust region), and
updates ``lambda`` from the gain ratio
``rho`` of actual to predicted chi^2 decrease: on success
``lambda *= max(1/3, 1 - (2 rho - 1)^3)``, on failure ``lambda *= nu,
nu *= 2`` (Nielsen 1999; Madsen, Nielsen & Tingleff 2004, "Methods for
non-linear least squares problems", eq. 3.16).
The Jacobian is formed at every trial point (most are accepted) and kept
only when the step is accepted. It stops when an
accepted step changes chi^2 by less than ``tolerance`` (relative, actual and
predicted), when the full Gauss-Newton step from the new point would lower
chi^2 by less than ``chi2_tolerance`` (absolute; ``g^T (J^T J)^-1 g``, the
Newton decrement, which is also the squared distance to the linearised
optimum in units of the parameter errors, so 0.01 means every parameter is
within 0.1 sigma of it), when any trial, accepted or not, changes chi^2
by less than ``tolerance`` with a predicted change below it too (MINPACK's
``ftol`` test), or when ``lambda`` exceeds ``max_damping`` (no
downhill step exists at working precision). A parameter pressed on a bound
(``|u| > LMSettings.pin``) whose gradient points out of the box is held out
of the step, so that its vanishing ``dx/du`` does not make the trust region
damp every other parameter. An opt-in stall rule
(``LMSettings.model_tolerance > 0``, :func:`_stalled`) also stops when the
last three accepted steps together moved the model by less than 0.1 sigma
and gained less than 1 in chi^2 per step: it ends the creep along a valley
where parameters press on their bounds, which the Newton decrement cannot
see, but it is off by default because such a creep can also precede an
escape from a plateau (docs/imaging.md, "When LM stops").

Adam and L-BFGS (optax)
-----------------------
:func:`optax_fitter` runs any ``optax.GradientTransformation`` on chi^2(u).
:func:`adam` is GalfitS's default optimizer (``--fit_method optimizer``,
fixed ``num_steps``, ``learning_rate``); :func:`lbfgs` is ``optax.lbfgs``
with its zoom line search, stopping when a step lowers chi^2 by less than
``tolerance`` (relative).

Uncertainties (``--cal_sigma``)
-------------------------------
:func:`parameter_errors`: the covariance of the free parameters is the
inverse Gauss-Newton Hessian ``(J_x^T J_x)^-1`` in the bounded space at the
optimum, with ``J_x = J_u / (dx/du)`` by the chain rule (so
``sigma_x = |dx/du| sqrt(diag((J_u^T J_u)^-1))``). It is not rescaled by the
reduced chi^2: with correct sigma maps it is the 1-sigma error. A parameter
pinned at a bound (``dx/du -> 0``) gets a meaningless (near-zero) error.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from tqdm.auto import tqdm

if TYPE_CHECKING:
    import optax

from galfits_nb.inference import kernels
from galfits_nb.inference.likelihood import (
    ImagingProblem,
    problem_chi2,
)
from galfits_nb.inference.parameters import ParameterTable, bound_distance

__all__ = [
    "FitState",
    "FitInfo",
    "LMState",
    "LMSettings",
    "Fitter",
    "RunResult",
    "levenberg_marquardt",
    "optax_fitter",
    "adam",
    "lbfgs",
    "run",
    "normal_equations",
    "parameter_errors",
]


class FitState(NamedTuple):
    """What the next step needs.

    Attributes
    ----------
    position : array of shape (n_free,)
        Current unconstrained vector ``u``.
    best_position : array of shape (n_free,)
        Lowest-chi^2 point evaluated so far (equal to ``position`` for LM,
        which only moves downhill).
    best_chi2 : scalar array
        chi^2 at ``best_position`` (inf before the first evaluation).
    extra : pytree
        The algorithm's own state (:class:`LMState`, or an optax state).
    """

    position: jax.Array
    best_position: jax.Array
    best_chi2: jax.Array
    extra: Any


class FitInfo(NamedTuple):
    """Diagnostics of one step (not needed by the next).

    Attributes
    ----------
    chi2 : scalar array
        chi^2 of the point evaluated in this step (LM: the trial point;
        optax: the position before the update).
    best_chi2 : scalar array
        Best chi^2 after this step.
    relative_change : scalar array
        Relative decrease of the best chi^2 in this step.
    converged : bool scalar array
        The fitter's stopping rule holds.
    damping : scalar array
        LM's lambda (NaN for optax fitters).
    accepted : bool scalar array
        LM: the trial step was taken; optax: always True.
    """

    chi2: jax.Array
    best_chi2: jax.Array
    relative_change: jax.Array
    converged: jax.Array
    damping: jax.Array
    accepted: jax.Array


class LMState(NamedTuple):
    """Levenberg-Marquardt's own state, at ``FitState.position``.

    Attributes
    ----------
    jtj : array of shape (n_free, n_free)
        ``J^T J`` (the Gauss-Newton Hessian of chi^2 / 2 in u).
    jtr : array of shape (n_free,)
        ``J^T r`` (half the gradient of chi^2 in u).
    scale : array of shape (n_free,)
        Marquardt's scaling ``D``: the largest ``diag(J^T J)`` seen so far
        (MINPACK's rule, Moré 1978), so a direction in which the model has
        become flat cannot get an unbounded step.
    damping : scalar array
        lambda.
    nu : scalar array
        Growth factor of lambda after a failed step.
    models : tuple of arrays of shape (ny, nx)
        Model images at the position (kept so that a fit needs no separate
        compiled renderer for its result).
    recent_positions : array of shape (window, n_free)
        The positions of the last ``LMSettings.window`` accepted steps,
        oldest first (the start repeated before there are that many).
    recent_chi2 : array of shape (window,)
        chi^2 at those positions (inf before there are that many).
    """

    jtj: jax.Array
    jtr: jax.Array
    scale: jax.Array
    damping: jax.Array
    nu: jax.Array
    models: tuple[jax.Array, ...]
    recent_positions: jax.Array
    recent_chi2: jax.Array


class LMSettings(NamedTuple):
    """Static settings of Levenberg-Marquardt.

    Attributes
    ----------
    tolerance : float
        Stop when an accepted step lowers chi^2 by less than this fraction
        (both actual and predicted decrease), or when any trial, accepted or
        rejected, changes it by less than this fraction with a predicted
        decrease below it too (MINPACK's ``ftol`` test).
    chi2_tolerance : float
        Stop when a full Gauss-Newton step from the accepted point would
        lower chi^2 by less than this (absolute).
    initial_damping : float
        Starting lambda (relative to the scaled ``J^T J``, whose diagonal is 1).
    max_damping : float
        Stop when lambda grows beyond this (no downhill step can be found:
        the best point is stationary to the working precision).
    max_step : float
        Trust region: the largest change of any unconstrained parameter in
        one step (lambda is raised until the step fits). One unit of ``u``
        moves a parameter from the middle of its range to 73 % of it; the
        limit keeps early Gauss-Newton steps from throwing parameters into
        the flat ends of the logistic transform, where they would stick.
    window : int
        Accepted steps over which the stall rule looks back.
    model_tolerance : float
        Stall rule (opt-in; 0 switches it off), first half: stop when the
        last ``window`` accepted steps together changed the model by less
        than this, ``|J du|^2`` in units of the data's sigma (0.01: every
        parameter moved less than 0.1 of its error, see :func:`_stalled`) ...
    stall_chi2 : float
        ... and lowered chi^2 by less than this per step on average (1 is
        the change that moves one parameter by its 1-sigma error).
    pin : float
        A parameter with ``|u| > pin`` (7: within 1e-3 of its range of a
        bound) whose gradient points out of the box is held for the step
        (``inf`` switches this off).
    """

    tolerance: float = 1e-6
    chi2_tolerance: float = 1e-2
    initial_damping: float = 1e-3
    max_damping: float = 1e10
    max_step: float = 1.0
    window: int = 3
    model_tolerance: float = 0.0
    stall_chi2: float = 1.0
    pin: float = 7.0


class Fitter(NamedTuple):
    """A fitter: ``init(table) -> FitState`` and ``step(state) -> (FitState, FitInfo)``.

    Attributes
    ----------
    init : callable
    step : callable
        Pure (state in, state out), with the problem bound to it; its array
        work runs in compiled programs (LM: one per image layout plus two
        small ones for the trial step and the update).
    name : str
    """

    init: Callable[[ParameterTable], FitState]
    step: Callable[[FitState], tuple[FitState, FitInfo]]
    name: str


class RunResult(NamedTuple):
    """What :func:`run` returns.

    Attributes
    ----------
    state : FitState
        The last state (its ``best_position`` is the answer).
    n_steps : int
        Steps taken.
    converged : bool
    interrupted : bool
        True when Ctrl-C (or a callback raising ``KeyboardInterrupt``) stopped the loop.
    history : ndarray of shape (n_steps,)
        Best chi^2 after each step.
    """

    state: FitState
    n_steps: int
    converged: bool
    interrupted: bool
    history: np.ndarray


def _start_vector(table: ParameterTable, problem: ImagingProblem) -> jax.Array:
    if tuple(table.free_names) != tuple(problem.space.free):
        raise ValueError(
            "the table's free parameters differ from the problem's: "
            f"{table.free_names} vs {problem.space.free}; build the problem from this table"
        )
    return jnp.asarray(table.to_unconstrained(start_inside_bounds(table, START_MARGIN)), dtype=jnp.result_type(float))


#: Fraction of a parameter's range by which a start on a bound is moved inside.
START_MARGIN = 1e-3


def start_inside_bounds(table: ParameterTable, margin: float = START_MARGIN) -> np.ndarray:
    """Free start values, moved ``margin`` of the range inside a bound they sit on.

    Why: the fitters work in ``u = logit((x - lo) / (hi - lo))``, where
    ``dx/du`` is the range times ``s (1 - s)``. A start exactly on a bound
    (``s`` ~ 1e-9 after clipping) makes that column of the Jacobian ~1e-9 of
    the others, below float32's resolution of ``J^T J``: the parameter would
    never move and nothing would say so. A warning names the moved parameters.

    Parameters
    ----------
    table : ParameterTable
    margin : float
        Fraction of ``max - min``.

    Returns
    -------
    ndarray of shape (n_free,)
    """
    lo, hi = table.bounds()
    x = table.free_vector()
    moved = bound_distance(x, lo, hi) < margin
    if moved.any():
        names = [name for name, m in zip(table.free_names, moved) if m]
        warnings.warn(
            f"start values on (or within {margin:g} of the range of) a bound moved inside it: {', '.join(names)}",
            UserWarning,
            stacklevel=3,
        )
    return lo + (hi - lo) * np.clip((x - lo) / (hi - lo), margin, 1 - margin)


# ---------------------------------------------------------------------------
# Levenberg-Marquardt
# ---------------------------------------------------------------------------


def normal_equations(u: jax.Array, problem: ImagingProblem) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``chi2``, ``J^T J`` and ``J^T r`` of the weighted residuals at ``u``.

    The Jacobian is formed image by image in each image's local parameters
    (one compiled program per image layout, :mod:`galfits_nb.inference.kernels`)
    and chained to ``u`` through the (pixel-free) Jacobian of the local
    values: bounds transform, ties and SED-mode fluxes.

    Returns
    -------
    chi2 : scalar array
    jtj : array of shape (n_free, n_free)
    jtr : array of shape (n_free,)
    """
    chi2, _, (jtj, jtr) = kernels.evaluate(u, problem, with_jacobian=True)
    return chi2, jtj, jtr


@functools.partial(jax.jit, static_argnames=("settings",))
def _lm_propose(state: FitState, settings: LMSettings) -> tuple[jax.Array, jax.Array, jax.Array]:
    """The trial point of a damped Gauss-Newton step: ``(trial, damping used, predicted decrease)``."""
    lm = state.extra
    u = state.position
    n = u.shape[0]
    diag = lm.scale
    diag = jnp.maximum(diag, 1e-12 * jnp.max(diag))
    diag = jnp.where(diag > 0, diag, 1.0)
    scale = 1.0 / jnp.sqrt(diag)
    scaled = lm.jtj * scale[:, None] * scale[None, :]
    g = lm.jtr * scale
    eye = jnp.eye(n, dtype=u.dtype)
    # Parameters pressed against a bound (x within ~1e-3 of its range of it,
    # |u| > pin) whose gradient pushes them further out take no part in the
    # step (an active set, as in projected-gradient methods; Bertsekas 1982).
    # Left in, their Gauss-Newton step in u is huge (dx/du vanishes at the
    # bound), so the trust region raised lambda for every parameter and the
    # free ones crept along the valley with heavily damped steps.
    pinned = ((u < -settings.pin) & (lm.jtr > 0)) | ((u > settings.pin) & (lm.jtr < 0))
    active = ~pinned
    scaled = jnp.where(active[:, None] & active[None, :], scaled, 0.0) + jnp.diag(jnp.where(active, 0.0, 1.0))
    g = jnp.where(active, g, 0.0)

    def solve(damping):
        return jnp.linalg.solve(scaled + damping * eye, -g)

    def too_long(carry):
        damping, h = carry
        return (jnp.max(jnp.abs(h * scale)) > settings.max_step) & (damping < settings.max_damping)

    def raise_damping(carry):
        damping = carry[0] * 4.0
        return damping, solve(damping)

    # Trust region: raise lambda until no unconstrained coordinate moves more
    # than max_step. Raising lambda (rather than shortening the step) shrinks
    # the poorly determined directions most and keeps the well determined ones.
    start_damping = lm.damping.astype(u.dtype)
    damping_used, h = jax.lax.while_loop(too_long, raise_damping, (start_damping, solve(start_damping)))
    # Decrease predicted by the linear model of r: chi2 - |r + J delta|^2 (scaled variables).
    predicted = -2.0 * (h @ g) - h @ scaled @ h
    return u + h * scale, damping_used, predicted


@functools.partial(jax.jit, static_argnames=("settings",))
def _lm_update(
    state: FitState,
    trial: jax.Array,
    chi2_trial: jax.Array,
    models: tuple[jax.Array, ...],
    jtj_trial: jax.Array,
    jtr_trial: jax.Array,
    damping_used: jax.Array,
    predicted: jax.Array,
    settings: LMSettings,
) -> tuple[FitState, FitInfo]:
    """Accept or reject the trial point; adapt lambda; test convergence."""
    lm = state.extra
    u = state.position
    chi2_now = state.best_chi2
    actual = chi2_now - chi2_trial
    accepted = jnp.isfinite(chi2_trial) & (actual > 0)
    rho = actual / jnp.where(predicted > 0, predicted, 1.0)
    shrink = jnp.where(jnp.isfinite(rho), jnp.maximum(1.0 / 3.0, 1.0 - (2.0 * rho - 1.0) ** 3), 1.0 / 3.0)
    damping = jnp.where(accepted, damping_used * shrink, damping_used * lm.nu)
    nu = jnp.where(accepted, 2.0, 2.0 * lm.nu).astype(lm.nu.dtype)
    jtj = jnp.where(accepted, jtj_trial, lm.jtj)
    jtr = jnp.where(accepted, jtr_trial, lm.jtr)
    new_chi2 = jnp.where(accepted, chi2_trial, chi2_now)
    relative = jnp.where(accepted, actual / jnp.maximum(chi2_trial, jnp.finfo(u.dtype).tiny), 0.0)
    predicted_relative = predicted / jnp.maximum(chi2_trial, jnp.finfo(u.dtype).tiny)
    decrement = _newton_decrement(jtj, jtr)
    # MINPACK's test (More, Garbow & Hillstrom 1980, lmder's ftol), on every
    # trial, accepted or not: the actual and the predicted decrease are both
    # below the tolerance and they agree to a factor 2. A rejected trial that
    # passes it ends the fit at the current point: a larger damping only
    # shrinks the step and the gain the model predicts, so further trials
    # could not gain more than the tolerance either. (Before this test the
    # J0056 quickstart ended with eight rejected trials in a row, chi^2
    # changes of float32 noise, while the damping climbed to its ceiling.)
    scale_now = jnp.maximum(chi2_now, jnp.finfo(u.dtype).tiny)
    negligible = (
        (jnp.abs(actual) / scale_now <= settings.tolerance)
        & (predicted / scale_now <= settings.tolerance)
        & (rho <= 2.0)
    )
    converged = (
        jnp.isfinite(chi2_now)
        & jnp.isfinite(chi2_trial)
        & (
            negligible
            | (accepted & (relative < settings.tolerance) & (predicted_relative < settings.tolerance))
            | (accepted & (decrement < settings.chi2_tolerance))
        )
    ) | (damping > settings.max_damping)
    position = jnp.where(accepted, trial, u)
    recent_positions = jnp.where(
        accepted, jnp.concatenate([lm.recent_positions[1:], trial[None]]), lm.recent_positions
    )
    recent_chi2 = jnp.where(
        accepted, jnp.concatenate([lm.recent_chi2[1:], chi2_trial[None]]), lm.recent_chi2
    )
    stalled = _stalled(trial, chi2_trial, lm.recent_positions[0], lm.recent_chi2[0], jtj, settings)
    converged = converged | (accepted & stalled)
    new_scale = jnp.maximum(lm.scale, jnp.diagonal(jtj))
    kept = tuple(jnp.where(accepted, new, old) for new, old in zip(models, lm.models))
    extra = LMState(jtj, jtr, new_scale, damping.astype(u.dtype), nu, kept, recent_positions, recent_chi2)
    new_state = FitState(position, position, new_chi2, extra)
    info = FitInfo(chi2_trial, new_chi2, relative, converged, damping, accepted)
    return new_state, info


def _lm_step(state: FitState, problem: ImagingProblem, settings: LMSettings) -> tuple[FitState, FitInfo]:
    """One Levenberg-Marquardt step.

    The trial point and the bookkeeping are small jitted programs; the
    images are evaluated by :func:`galfits_nb.inference.kernels.evaluate`,
    one compiled program per image layout, with the Jacobian formed at the
    trial point (most trial steps are accepted).
    """
    trial, damping_used, predicted = _lm_propose(state, settings)
    chi2_trial, models, (jtj, jtr) = kernels.evaluate(trial, problem, with_jacobian=True)
    return _lm_update(state, trial, chi2_trial, models, jtj, jtr, damping_used, predicted, settings)


def _stalled(
    u: jax.Array, chi2: jax.Array, u_before: jax.Array, chi2_before: jax.Array, jtj: jax.Array, settings: LMSettings
) -> jax.Array:
    """The stall rule: the last ``window`` accepted steps moved nothing that matters.

    ``du = u - u_before`` spans the window. ``|J du|^2 = du^T (J^T J) du`` is
    the change of the model in units of the data's sigma, and it bounds the
    change of every parameter in units of its (marginal) error:
    ``(du_i)^2 <= |J du|^2 (J^T J)^-1_ii`` by the Cauchy-Schwarz inequality.
    Why it is needed: where parameters press on their bounds the Gauss-Newton
    model predicts large gains beyond the bounds (the Newton decrement stays
    large), and LM creeps along the valley with heavily damped steps that
    lower chi^2 by tenths while moving the model by a few hundredths of its
    sigma (docs/imaging.md, "When LM stops"). Both halves must hold: a small
    step taken under heavy damping while chi^2 still falls fast is not a stop.
    Off by default: the demo's joint stage met both halves at reduced chi^2
    1.094 and, let go on, LM left that plateau for 0.995.
    """
    du = u - u_before
    moved = du @ jtj @ du
    gained = chi2_before - chi2
    return (moved < settings.model_tolerance) & (gained < settings.stall_chi2 * settings.window)


def _newton_decrement(jtj: jax.Array, jtr: jax.Array) -> jax.Array:
    """``g^T (J^T J)^-1 g`` with ``g = J^T r``: the chi^2 decrease of a full Gauss-Newton step.

    Solved in the equilibrated variables (unit diagonal) with a 1e-6 ridge, so
    that a parameter the data do not constrain adds nothing rather than
    dividing by zero.
    """
    d = jnp.diagonal(jtj)
    d = jnp.where(d > 0, d, 1.0)
    s = 1.0 / jnp.sqrt(d)
    a = jtj * s[:, None] * s[None, :]
    g = jtr * s
    eye = jnp.eye(g.shape[0], dtype=g.dtype)
    return jnp.dot(g, jnp.linalg.solve(a + 1e-6 * eye, g))


def levenberg_marquardt(problem: ImagingProblem, settings: LMSettings = LMSettings()) -> Fitter:
    """Levenberg-Marquardt on the weighted residuals of an imaging problem.

    Parameters
    ----------
    problem : ImagingProblem
        From :func:`galfits_nb.inference.likelihood.imaging_problem`.
    settings : LMSettings
        Tolerance and damping (static).

    Returns
    -------
    Fitter
        ``init(table)`` builds a state at the table's free values without
        evaluating anything; the first ``step`` evaluates chi^2 and the
        Jacobian there (a zero-length step that is always accepted).

    Examples
    --------
    >>> fitter = levenberg_marquardt(problem)            # doctest: +SKIP
    >>> result = run(fitter, fitter.init(table), 100)    # doctest: +SKIP
    >>> best_u = result.state.best_position              # doctest: +SKIP
    """

    def init(table: ParameterTable) -> FitState:
        u = _start_vector(table, problem)
        n = u.shape[0]
        extra = LMState(
            jnp.zeros((n, n), u.dtype),
            jnp.zeros((n,), u.dtype),
            jnp.zeros((n,), u.dtype),
            jnp.asarray(settings.initial_damping, u.dtype),
            jnp.asarray(2.0, u.dtype),
            tuple(jnp.zeros(frame.shape, u.dtype) for frame in problem.scene.frames)
            + (tuple(jnp.zeros_like(a.data) for a in problem.spectra.spectra) if problem.spectra is not None else ()),
            jnp.tile(u[None], (settings.window, 1)),
            jnp.full((settings.window,), jnp.inf, u.dtype),
        )
        return FitState(u, u, jnp.asarray(jnp.inf, u.dtype), extra)

    def step(state: FitState) -> tuple[FitState, FitInfo]:
        return _lm_step(state, problem, settings)

    return Fitter(init, step, "lm")


# ---------------------------------------------------------------------------
# optax (imported where used: Levenberg-Marquardt, the command's default,
# does without it, and its import takes ~0.25 s)
# ---------------------------------------------------------------------------


def _has_value_in_state(opt_state: Any) -> bool:
    import optax

    try:
        return optax.tree.get(opt_state, "value") is not None
    except (KeyError, ValueError):
        return False


@functools.partial(jax.jit, static_argnames=("optimizer", "tolerance"))
def _optax_step(
    state: FitState, problem: ImagingProblem, optimizer: optax.GradientTransformationExtraArgs, tolerance: float | None
) -> tuple[FitState, FitInfo]:
    import optax

    def objective(u):
        return problem_chi2(u, problem)

    u = state.position
    if _has_value_in_state(state.extra):
        # L-BFGS keeps chi^2 and its gradient at the accepted point of its line search.
        value, grad = optax.value_and_grad_from_state(objective)(u, state=state.extra)
    else:
        value, grad = jax.value_and_grad(objective)(u)
    updates, opt_state = optimizer.update(grad, state.extra, u, value=value, grad=grad, value_fn=objective)
    new_u = optax.apply_updates(u, updates)
    better = value < state.best_chi2
    best_chi2 = jnp.where(better, value, state.best_chi2)
    best_position = jnp.where(better, u, state.best_position)
    relative = (state.best_chi2 - best_chi2) / jnp.maximum(best_chi2, jnp.finfo(u.dtype).tiny)
    if tolerance is None:
        converged = jnp.asarray(False)
    else:
        converged = jnp.isfinite(state.best_chi2) & (relative < tolerance)
    new_state = FitState(new_u, best_position, best_chi2, opt_state)
    info = FitInfo(value, best_chi2, relative, converged, jnp.asarray(jnp.nan, u.dtype), jnp.asarray(True))
    return new_state, info


def optax_fitter(
    problem: ImagingProblem,
    optimizer: optax.GradientTransformation,
    *,
    tolerance: float | None = None,
    name: str = "optax",
) -> Fitter:
    """Minimise chi^2(u) with any optax transformation.

    Parameters
    ----------
    problem : ImagingProblem
    optimizer : optax.GradientTransformation
        E.g. ``optax.adam(0.01)``, ``optax.chain(optax.clip(1.0), optax.adam(1e-2))``
        or ``optax.lbfgs()``. It is a static argument of the jitted step:
        pass the same object to reuse the compiled step.
    tolerance : float or None
        Stop when a step lowers the best chi^2 by less than this fraction;
        None runs the requested number of steps (Adam, as GalfitS).
    name : str
        Label for progress bars.

    Returns
    -------
    Fitter
    """
    optimizer = _with_extra_args(optimizer)

    def init(table: ParameterTable) -> FitState:
        u = _start_vector(table, problem)
        return FitState(u, u, jnp.asarray(jnp.inf, u.dtype), optimizer.init(u))

    def step(state: FitState) -> tuple[FitState, FitInfo]:
        return _optax_step(state, problem, optimizer, tolerance)

    return Fitter(init, step, name)


@functools.lru_cache(maxsize=16)
def _with_extra_args(tx: optax.GradientTransformation) -> optax.GradientTransformationExtraArgs:
    # One wrapper per transformation, so the jitted step (static in it) is reused.
    import optax

    return optax.with_extra_args_support(tx)


@functools.lru_cache(maxsize=16)
def _adam_transform(learning_rate: float) -> optax.GradientTransformationExtraArgs:
    # Cached so that fits with the same learning rate share one compiled step.
    import optax

    return optax.with_extra_args_support(optax.adam(learning_rate))


@functools.lru_cache(maxsize=16)
def _lbfgs_transform(memory_size: int) -> optax.GradientTransformationExtraArgs:
    import optax

    return optax.lbfgs(memory_size=memory_size)


def adam(problem: ImagingProblem, learning_rate: float = 0.01) -> Fitter:
    """Adam (Kingma & Ba 2015) on chi^2(u): GalfitS's ``--fit_method optimizer``.

    Parameters
    ----------
    problem : ImagingProblem
    learning_rate : float
        Step size in the unconstrained space (GalfitS's ``--learning_rate``).
    """
    return optax_fitter(problem, _adam_transform(float(learning_rate)), tolerance=None, name="adam")


def lbfgs(problem: ImagingProblem, tolerance: float = 1e-6, memory_size: int = 10) -> Fitter:
    """L-BFGS (``optax.lbfgs``, zoom line search) on chi^2(u).

    Parameters
    ----------
    problem : ImagingProblem
    tolerance : float
        Stop when a step lowers chi^2 by less than this fraction.
    memory_size : int
        Number of past updates kept.
    """
    return optax_fitter(problem, _lbfgs_transform(int(memory_size)), tolerance=tolerance, name="lbfgs")


# ---------------------------------------------------------------------------
# The loop
# ---------------------------------------------------------------------------


def run(
    fitter: Fitter,
    state: FitState,
    num_steps: int,
    *,
    progress: bool = True,
    callback: Callable[[int, FitState, FitInfo], None] | None = None,
    refresh: int = 1,
) -> RunResult:
    """Call ``fitter.step`` until convergence, ``num_steps``, or Ctrl-C.

    Parameters
    ----------
    fitter : Fitter
    state : FitState
        From ``fitter.init``.
    num_steps : int
        Maximum number of steps.
    progress : bool
        Show a tqdm bar with the best chi^2.
    callback : callable, optional
        ``callback(step_index, state, info)`` after every step (plots,
        widgets). Raising ``KeyboardInterrupt`` stops the fit like Ctrl-C.
    refresh : int
        Update the bar's chi^2 every ``refresh`` steps.

    Returns
    -------
    RunResult
        On ``KeyboardInterrupt`` the state after the last completed step
        (its ``best_position`` is the best point so far) with
        ``interrupted=True``; the exception is not re-raised.
    """
    history: list[float] = []
    converged = False
    interrupted = False
    n_steps = 0
    bar = tqdm(total=num_steps, desc=fitter.name, disable=not progress, leave=False, unit="step")
    try:
        for index in range(num_steps):
            new_state, info = fitter.step(state)
            jax.block_until_ready(info)
            state = new_state
            n_steps = index + 1
            best = float(info.best_chi2)
            history.append(best)
            bar.update(1)
            if progress and (index % refresh == 0):
                bar.set_postfix_str(f"chi2={best:.6g}", refresh=False)
            if callback is not None:
                callback(index, state, info)
            if bool(info.converged):
                converged = True
                break
    except KeyboardInterrupt:
        interrupted = True
        bar.write(f"{fitter.name}: interrupted after {n_steps} steps; returning the best state so far")
    finally:
        bar.close()
    return RunResult(state, n_steps, converged, interrupted, np.asarray(history, dtype=float))


# ---------------------------------------------------------------------------
# Uncertainties
# ---------------------------------------------------------------------------


def parameter_errors(
    problem: ImagingProblem, u: jax.Array, jtj: jax.Array | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """1-sigma errors of the free parameters from the Gauss-Newton Hessian.

    Parameters
    ----------
    problem : ImagingProblem
    u : array of shape (n_free,)
        The optimum, unconstrained.
    jtj : array of shape (n_free, n_free), optional
        ``J_u^T J_u`` at ``u`` when already known (LM's state holds it);
        computed otherwise.

    Returns
    -------
    sigma : ndarray of shape (n_free,)
        Errors in the bounded (table) space; NaN where the Hessian is singular.
    covariance : ndarray of shape (n_free, n_free)
        ``(J_x^T J_x)^-1``.
    """
    if jtj is None:
        _, jtj, _ = normal_equations(u, problem)
    jtj = np.asarray(jtj, dtype=float)
    dxdu = np.asarray(problem.space.jacobian_diagonal(jnp.asarray(u)), dtype=float)
    # Invert the equilibrated matrix (unit diagonal) in float64.
    d = np.sqrt(np.clip(np.diag(jtj), 0.0, None))
    ok = d > 0
    cov_u = np.full_like(jtj, np.nan)
    if ok.any():
        sub = jtj[np.ix_(ok, ok)] / np.outer(d[ok], d[ok])
        try:
            inv = np.linalg.inv(sub)
        except np.linalg.LinAlgError:
            inv = np.linalg.pinv(sub)
        cov_u[np.ix_(ok, ok)] = inv / np.outer(d[ok], d[ok])
    covariance = cov_u * np.outer(dxdu, dxdu)
    variance = np.diag(covariance)
    sigma = np.where(variance >= 0, np.sqrt(np.abs(variance)), np.nan)
    return sigma, covariance
