"""Sky background models on the data grid (added after PSF convolution).

Values are per data pixel, in image units.

Polynomial order
----------------
Coordinates are pixel offsets from the image centre,
``x = j - (nx - 1) / 2`` (columns) and ``y = i - (ny - 1) / 2`` (rows).
Coefficients go by total degree, and within a degree from the highest power
of ``x`` to the highest power of ``y``::

    c0
    + c1 x + c2 y                               (degree 1: GALFIT's sky plane)
    + c3 x^2 + c4 x y + c5 y^2                  (degree 2)
    + c6 x^3 + c7 x^2 y + c8 x y^2 + c9 y^3     (degree 3) ...

so a degree-``d`` sky has ``(d + 1)(d + 2) / 2`` coefficients (1, 3, 6, 10,
...). A uniform sky is the degree-0 case.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

__all__ = [
    "polynomial_degree",
    "polynomial_terms",
    "uniform_sky_image",
    "polynomial_sky_image",
]


def polynomial_degree(n_coefficients: int) -> int:
    """Degree ``d`` of a 2-D polynomial with ``(d + 1)(d + 2) / 2`` coefficients.

    Raises
    ------
    ValueError
        When ``n_coefficients`` is not 1, 3, 6, 10, ...
    """
    degree = 0
    while (degree + 1) * (degree + 2) // 2 < n_coefficients:
        degree += 1
    if (degree + 1) * (degree + 2) // 2 != n_coefficients:
        raise ValueError(
            f"a polynomial sky needs 1, 3, 6, 10, ... coefficients "
            f"((d+1)(d+2)/2 for degree d); got {n_coefficients}"
        )
    return degree


def polynomial_terms(shape: tuple[int, int], degree: int) -> np.ndarray:
    """The monomials ``x^(d-k) y^k`` on the pixel grid, in coefficient order.

    Parameters
    ----------
    shape : (int, int)
        ``(ny, nx)``.
    degree : int

    Returns
    -------
    ndarray, shape (n_coefficients, ny, nx)
    """
    ny, nx = shape
    y = (np.arange(ny) - (ny - 1) / 2.0)[:, None]
    x = (np.arange(nx) - (nx - 1) / 2.0)[None, :]
    terms = [
        np.broadcast_to(x ** (d - k) * y**k, shape)
        for d in range(degree + 1)
        for k in range(d + 1)
    ]
    return np.stack(terms)


def uniform_sky_image(level: jax.Array | float, shape: tuple[int, int]) -> jax.Array:
    """A constant sky.

    Parameters
    ----------
    level : float or scalar array
        Sky per pixel.
    shape : (int, int)
        ``(ny, nx)``, static.

    Returns
    -------
    array, shape (ny, nx)
    """
    return jnp.full(shape, level, dtype=jnp.result_type(level, float))


def polynomial_sky_image(coefficients: jax.Array, shape: tuple[int, int]) -> jax.Array:
    """A polynomial sky (order in the module docstring).

    Parameters
    ----------
    coefficients : array, shape (n_coefficients,)
        ``c0, c1, ...``; ``c0`` is the sky at the image centre, ``c1`` and
        ``c2`` the gradients per pixel along columns and rows.
    shape : (int, int)
        ``(ny, nx)``, static.

    Returns
    -------
    array, shape (ny, nx)

    Raises
    ------
    ValueError
        When the number of coefficients is not (d+1)(d+2)/2.
    """
    coefficients = jnp.asarray(coefficients)
    degree = polynomial_degree(coefficients.shape[0])
    dtype = jnp.result_type(coefficients, float)
    terms = jnp.asarray(polynomial_terms(shape, degree), dtype=dtype)
    return jnp.tensordot(coefficients, terms, axes=1)
