"""Full float32 precision in matrix products, on GPUs too.

On NVIDIA GPUs since Ampere, JAX's default precision for float32 matrix
products rounds the inputs to TF32 (10 mantissa bits, relative error
~5e-4). galfits_nb's products are not deep-learning layers: the band fluxes
of an SED are template spectra times filter weights, and Levenberg-Marquardt
solves with ``J^T J``; at 5e-4 the fluxes of bright bands move by more than
their errors and LM steps are computed from a perturbed Hessian. On the
J0056 quickstart the H200 took 117 LM steps to a chi^2 of 77924 with the
default, where the same machine's CPU took 48-52 steps to 76974
(docs/sed.md). CPUs compute float32 products at full precision either way,
and there the context is not entered (it changes the compiled code and
slows it).

:func:`full_precision` wraps galfits_nb's entry points (``fit_images``,
``sample_posterior`` and LM's ``kernels.evaluate``; the command goes
through them) in ``jax.default_matmul_precision("highest")``;
programs traced inside it keep full float32 products. JAX code of the
user's own outside these calls is left at its defaults.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import TypeVar

import jax

__all__ = ["full_precision"]

F = TypeVar("F", bound=Callable)


def full_precision(function: F) -> F:
    """Run ``function`` with float32 matrix products at full precision (module docstring)."""

    @functools.wraps(function)
    def wrapped(*args, **kwargs):
        if jax.default_backend() == "cpu":
            # Full float32 already; and on XLA's CPU backend "highest" compiles other
            # (slower) code: the quickstart's 55 LM steps took 38 s instead of 32 s.
            return function(*args, **kwargs)
        with jax.default_matmul_precision("highest"):
            return function(*args, **kwargs)

    return wrapped  # type: ignore[return-value]
