"""Aperture pixel weights and the light fraction a fibre collects (analytic references)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from galfits_nb.models.spectrum_scene import aperture_weights

EAST_LEFT = np.array([-1.0, 0.0])
NORTH_UP = np.array([0.0, 1.0])


@pytest.mark.parametrize("radius, centre", [(1.5, (40.0, 40.0)), (2.0, (40.3, 39.6)), (3.0, (41.5, 40.5))])
def test_fibre_weights_sum_to_the_circle_area(radius, centre):
    scale = 0.2
    weights = aperture_weights((81, 81), centre, EAST_LEFT, NORTH_UP, scale, (radius,), subsamples=15)
    area_pixels = math.pi * (radius / scale) ** 2
    assert weights.sum() == pytest.approx(area_pixels, rel=2e-3)
    assert weights.min() >= 0.0 and weights.max() <= 1.0


def test_gaussian_light_inside_a_fibre_matches_the_analytic_fraction():
    # A circular Gaussian of width s: fraction inside r is 1 - exp(-r^2 / 2 s^2).
    scale, s, r = 0.1, 0.6, 1.0
    n = 101
    centre = (50.0, 50.0)
    y, x = np.mgrid[0:n, 0:n]
    # Pixel-integrated Gaussian (error functions per axis).
    from scipy.special import erf

    def axis(c, z):
        lo = (z - 0.5 - c) * scale / (s * math.sqrt(2.0))
        hi = (z + 0.5 - c) * scale / (s * math.sqrt(2.0))
        return 0.5 * (erf(hi) - erf(lo))

    image = axis(centre[0], x) * axis(centre[1], y)
    weights = aperture_weights((n, n), centre, EAST_LEFT, NORTH_UP, scale, (r,), subsamples=21)
    expected = 1.0 - math.exp(-(r**2) / (2 * s**2))
    assert float(np.sum(image * weights)) == pytest.approx(expected, abs=2e-3)


def test_slit_area_and_orientation():
    scale = 0.1
    length, width = 4.0, 1.0
    # PA 0: the long axis along East-West, i.e. along the pixel x axis here.
    weights = aperture_weights((101, 101), (50.3, 50.3), EAST_LEFT, NORTH_UP, scale, (0.0, length, width))
    assert weights.sum() == pytest.approx(length * width / scale**2, rel=1e-2)
    rows = np.nonzero(weights.sum(axis=1))[0]
    cols = np.nonzero(weights.sum(axis=0))[0]
    assert (cols.max() - cols.min() + 1) * scale == pytest.approx(length, abs=2 * scale)
    assert (rows.max() - rows.min() + 1) * scale == pytest.approx(width, abs=2 * scale)
    # PA 90: along North, the pixel y axis.
    turned = aperture_weights((101, 101), (50.3, 50.3), EAST_LEFT, NORTH_UP, scale, (90.0, length, width))
    assert np.allclose(turned, weights.T, atol=1e-12)


def test_bad_aperture_is_refused():
    with pytest.raises(ValueError, match="aperture"):
        aperture_weights((11, 11), (5.0, 5.0), EAST_LEFT, NORTH_UP, 0.2, (1.0, 2.0))
