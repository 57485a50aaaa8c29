"""chi^2 of images, and the parameter vector a fitter moves.

Statistics (as GalfitS reports them in ``.gssummary``)
------------------------------------------------------
* ``chi2 = sum over good pixels of ((data - model) / sigma)^2``, per image
  and summed over images; masked pixels (I6, non-finite data) are left out.
* ``log_likelihood = -chi2 / 2`` (Gaussian noise, constants dropped).
* reduced chi^2 ``= chi2 / (N_good - N_free)``, with ``N_good`` the number of
  good pixels of all fitted images and ``N_free`` the number of free
  parameters; per image, ``chi2_i / (N_good_i - N_free)`` (the ``dof``
  GalfitS prints per image).
* ``BIC = chi2 + N_free * ln(N_good)`` (Schwarz 1978 with ``-2 ln L = chi2``).

The free vector
---------------
Fitters work on the unconstrained vector ``u`` of the free parameters
(:class:`~galfits_nb.inference.parameters.ParameterTable`'s logistic
transform: ``x = lo + (hi - lo) / (1 + exp(-u))``), so every value stays
inside its bounds. :class:`ParameterSpace` is the table in the form ``jit``
wants: the names and ties are static (the treedef) and the values and bounds
are arrays, so one compiled objective serves any start values and bounds of
the same table layout.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.config.companions import check_ties, evaluate_tie
from galfits_nb.inference.parameters import ParameterTable, logistic_log_abs_det_jacobian
from galfits_nb.models import scene as scene_module
from galfits_nb.models.scene import ImagingScene
from galfits_nb.models.sed_scene import SEDScene, sed_log_fluxes
from galfits_nb.models.spectrum_scene import SpectrumScene, spectrum_residuals

__all__ = [
    "ParameterSpace",
    "ImagingProblem",
    "parameter_space",
    "imaging_problem",
    "weighted_residuals",
    "residuals_from_models",
    "chi2_per_image",
    "chi2_from_models",
    "chi2",
    "log_likelihood",
    "n_good_per_image",
    "reduced_chi2",
    "bic",
    "problem_values",
    "problem_residuals",
    "problem_chi2",
    "problem_models",
    "problem_spectrum_residuals",
    "table_values",
]


@dataclass(frozen=True)
class ParameterSpace:
    """A parameter table as a JAX pytree: static layout, array values.

    Attributes
    ----------
    names : tuple of str
        Every parameter, table order (static).
    free : tuple of str
        The free parameters, the order of the vector ``u`` (static).
    ties : tuple of (str, str)
        ``(name, expression)`` of tied parameters in evaluation order (static).
    values : array of shape (n_params,)
        Values of every parameter (the fixed ones are used as they are).
    lower, upper : arrays of shape (n_free,)
        Bounds of the free parameters.
    """

    names: tuple[str, ...]
    free: tuple[str, ...]
    ties: tuple[tuple[str, str], ...]
    values: jax.Array
    lower: jax.Array
    upper: jax.Array

    @property
    def n_free(self) -> int:
        """Number of free parameters."""
        return len(self.free)

    def from_unconstrained(self, u: jax.Array) -> jax.Array:
        """Free values ``lo + (hi - lo) * sigmoid(u)``, shape (n_free,)."""
        return self.lower + (self.upper - self.lower) * jax.nn.sigmoid(u)

    def jacobian_diagonal(self, u: jax.Array) -> jax.Array:
        """``dx / du = (hi - lo) s (1 - s)`` for each free parameter, shape (n_free,)."""
        s = jax.nn.sigmoid(u)
        return (self.upper - self.lower) * s * (1.0 - s)

    def log_abs_det_jacobian(self, u: jax.Array) -> jax.Array:
        """``log |dx/du|`` summed over the free parameters: what a density in ``x`` gains in ``u``."""
        return logistic_log_abs_det_jacobian(u, self.lower, self.upper)

    def unpack(self, x: jax.Array) -> dict[str, jax.Array]:
        """Every parameter value by name, given the free values ``x`` (n_free,); ties evaluated."""
        values = {name: self.values[i] for i, name in enumerate(self.names)}
        for j, name in enumerate(self.free):
            values[name] = x[j]
        for name, expr in self.ties:
            values[name] = evaluate_tie(expr, values)
        return values


jax.tree_util.register_dataclass(
    ParameterSpace, data_fields=["values", "lower", "upper"], meta_fields=["names", "free", "ties"]
)


def parameter_space(table: ParameterTable) -> ParameterSpace:
    """The :class:`ParameterSpace` of a table (arrays in JAX's default float type)."""
    order = check_ties(table.rows)
    ties = tuple((name, table[name].tie) for name in order)
    lo, hi = table.bounds()
    dtype = jnp.result_type(float)
    values = np.array([row.value for row in table.rows], dtype=float)
    return ParameterSpace(
        names=table.names,
        free=table.free_names,
        ties=ties,
        values=jnp.asarray(values, dtype=dtype),
        lower=jnp.asarray(lo, dtype=dtype),
        upper=jnp.asarray(hi, dtype=dtype),
    )


class ImagingProblem(NamedTuple):
    """What an imaging fit needs inside ``jit``: a pytree.

    Attributes
    ----------
    space : ParameterSpace
    scene : ImagingScene
    sed : SEDScene or None
        Computes the fluxes of SED-mode images (``I15 = 1``).
    spectra : SpectrumScene or None
        The spectra fitted jointly with the images (their residuals follow
        the images' in the residual vector).
    priors : Priors or None
        Prior residuals (:mod:`galfits_nb.inference.priors`), last in the vector.
    """

    space: ParameterSpace
    scene: ImagingScene
    sed: SEDScene | None = None
    spectra: SpectrumScene | None = None
    priors: object = None


def imaging_problem(
    scene: ImagingScene,
    table: ParameterTable,
    sed: SEDScene | None = None,
    spectra: SpectrumScene | None = None,
    priors=None,
) -> ImagingProblem:
    """Pair a scene (its SED model, spectra, priors) with the table whose free parameters a fit moves."""
    return ImagingProblem(parameter_space(table), scene, sed, spectra, priors)


# ---------------------------------------------------------------------------
# chi^2 of parameter values
# ---------------------------------------------------------------------------


def residuals_from_models(models: list[jax.Array], scene: ImagingScene) -> jax.Array:
    """Weighted residuals ``(model - data) / sigma`` (0 on masked pixels), all images flattened.

    Returns
    -------
    array of shape (scene.n_pixels,)
    """
    parts = [((model - arrays.data) * arrays.inv_sigma).reshape(-1) for model, arrays in zip(models, scene.images)]
    return jnp.concatenate(parts)


def weighted_residuals(values: dict[str, jax.Array], scene: ImagingScene) -> jax.Array:
    """Weighted residuals of all images for parameter ``values``; shape (scene.n_pixels,)."""
    return residuals_from_models(scene_module.render_scene(values, scene), scene)


def chi2_from_models(models, scene: ImagingScene):
    """chi^2 per image of given model images.

    Parameters
    ----------
    models : list of arrays of shape (ny, nx)
    scene : ImagingScene

    Returns
    -------
    array of shape (n_images,)
    """
    xp = jnp if any(isinstance(m, jax.Array) for m in models) else np
    return xp.stack(
        [
            xp.sum(((xp.asarray(model) - xp.asarray(a.data)) * xp.asarray(a.inv_sigma)) ** 2)
            for model, a in zip(models, scene.images)
        ]
    )


def chi2_per_image(values: dict[str, jax.Array], scene: ImagingScene) -> jax.Array:
    """chi^2 of each image over its unmasked pixels; shape (n_images,)."""
    return chi2_from_models(scene_module.render_scene(values, scene), scene)


def chi2(values: dict[str, jax.Array], scene: ImagingScene) -> jax.Array:
    """Total chi^2 over all images (scalar)."""
    r = weighted_residuals(values, scene)
    return jnp.dot(r, r)


def log_likelihood(values: dict[str, jax.Array], scene: ImagingScene) -> jax.Array:
    """Gaussian log-likelihood ``-chi2 / 2`` (normalisation constants dropped)."""
    return -0.5 * chi2(values, scene)


def n_good_per_image(scene: ImagingScene) -> np.ndarray:
    """Number of unmasked pixels per image, int array of shape (n_images,)."""
    return np.array([int(np.asarray(a.good).sum()) for a in scene.images])


def reduced_chi2(chi2_value: float, n_good: int, n_free: int) -> float:
    """``chi2 / (N_good - N_free)`` (NaN when there are no degrees of freedom)."""
    dof = int(n_good) - int(n_free)
    return float(chi2_value) / dof if dof > 0 else float("nan")


def bic(chi2_value: float, n_good: int, n_free: int) -> float:
    """Bayesian information criterion ``chi2 + N_free ln(N_good)``."""
    return float(chi2_value) + int(n_free) * float(np.log(max(int(n_good), 1)))


# ---------------------------------------------------------------------------
# The same on the unconstrained vector (what fitters call)
# ---------------------------------------------------------------------------


def problem_values(u: jax.Array, problem: ImagingProblem) -> dict[str, jax.Array]:
    """Every parameter value by name for the unconstrained free vector ``u``."""
    space = problem.space
    values = space.unpack(space.from_unconstrained(u))
    if problem.sed is not None:
        values.update(sed_log_fluxes(values, problem.sed))
    return values


def problem_residuals(u: jax.Array, problem: ImagingProblem) -> jax.Array:
    """Weighted residual vector at ``u``: images, then spectra.

    Returns
    -------
    array of shape (scene.n_pixels + spectra.n_pixels,)
    """
    values = problem_values(u, problem)
    parts = [weighted_residuals(values, problem.scene)] if problem.scene.frames else []
    if problem.spectra is not None:
        parts.append(spectrum_residuals(values, problem.spectra)[0])
    if problem.priors is not None and problem.priors.terms:
        from galfits_nb.inference.priors import prior_residuals

        parts.append(prior_residuals(table_values(u, problem), problem.priors).astype(u.dtype))
    return jnp.concatenate(parts) if parts else jnp.zeros((0,), u.dtype)


def table_values(u: jax.Array, problem: ImagingProblem) -> dict[str, jax.Array]:
    """The table's parameter values at ``u`` (bounds and ties; no SED band fluxes)."""
    space = problem.space
    return space.unpack(space.from_unconstrained(u))


def problem_spectrum_residuals(u: jax.Array, problem: ImagingProblem) -> tuple[jax.Array, tuple[jax.Array, ...]]:
    """Weighted residuals of the spectra alone and the model spectra at ``u``."""
    return spectrum_residuals(table_values(u, problem), problem.spectra)


def problem_chi2(u: jax.Array, problem: ImagingProblem) -> jax.Array:
    """Total chi^2 at ``u`` (scalar)."""
    r = problem_residuals(u, problem)
    return jnp.dot(r, r)


@jax.jit
def problem_models(u: jax.Array, problem: ImagingProblem) -> list[jax.Array]:
    """Model images, then model spectra, at ``u`` (jitted; compiled once per scene layout)."""
    values = problem_values(u, problem)
    models = list(scene_module.render_scene(values, problem.scene))
    if problem.spectra is not None:
        models += list(spectrum_residuals(values, problem.spectra)[1])
    return models
