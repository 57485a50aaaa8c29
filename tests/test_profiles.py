"""Surface-brightness profiles: normalisation, pixel integration, conventions, gradients.

References are independent of the code under test: scipy's incomplete gamma
and quadrature, closed-form pixel integrals (erf), brute-force numpy sampling
and GalSim. The sky models (``models/sky.py``) are checked at the end.
"""

from __future__ import annotations

import warnings

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, special

from galfits_nb.models import profiles as pr
from galfits_nb.models import sky
from galfits_nb.models.profiles import PixelGrid, Sampling

# One jitted renderer per profile; grid and sampling are static, so each
# distinct grid compiles once and parameters are traced.
_STATIC = ("grid", "sampling")
sersic = jax.jit(pr.sersic_image, static_argnames=_STATIC)
gaussian = jax.jit(pr.gaussian_image, static_argnames=_STATIC)
render = jax.jit(pr.render_profile, static_argnames=("kind", "grid", "sampling"))

# Few distinct grids, so the jitted renderers compile few times.
GRID_129 = PixelGrid.centred(129, 129, 1.0)
GRID_41 = PixelGrid.centred(41, 41, 0.2)  # the GalSim grid, reused elsewhere


def enable_x64():
    """float64 inside a ``with`` block (the context manager moved between JAX versions)."""
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # JAX < 0.7

    return legacy()


# ---------------------------------------------------------------------------
# Independent references
# ---------------------------------------------------------------------------


def sersic_enclosed_scipy(radius, re, n):
    """Enclosed flux fraction of a circular Sersic law, from scipy."""
    b = special.gammaincinv(2 * n, 0.5)
    return special.gammainc(2 * n, b * (np.asarray(radius) / re) ** (1.0 / n))


def flux_in_polygon(enclosed, vertices):
    """Flux of a circular unit-flux profile (centre at 0) inside a polygon.

    Each edge A->B adds (1 / 2 pi) * integral_0^1 F(|P(t)|) cross(A, B - A)
    / |P(t)|^2 dt, P(t) = A + t (B - A): Green's theorem in polar form,
    integrated with scipy's adaptive quadrature.
    """
    total = 0.0
    count = len(vertices)
    for k in range(count):
        a = np.asarray(vertices[k], float)
        b = np.asarray(vertices[(k + 1) % count], float)
        d = b - a
        cross = a[0] * d[1] - a[1] * d[0]
        if abs(cross) < 1e-14:
            continue
        t_min = float(np.clip(-(a @ d) / (d @ d), 0.0, 1.0))

        def integrand(t, a=a, d=d, cross=cross):
            p = a + t * d
            r2 = p @ p
            return enclosed(np.sqrt(r2)) * cross / r2

        value, _ = integrate.quad(
            integrand, 0.0, 1.0, points=[t_min], epsabs=1e-13, epsrel=1e-11, limit=400
        )
        total += value / (2 * np.pi)
    return total


def grid_polygon_circularised(grid, x0, y0, pa_deg, q):
    """The grid's outer boundary mapped to the circularised frame (u, v / q)."""
    ymin = (-0.5 - grid.cy) * grid.pixel_scale
    ymax = (grid.ny - 0.5 - grid.cy) * grid.pixel_scale
    xmin = (-0.5 - grid.cx) * grid.pixel_scale
    xmax = (grid.nx - 0.5 - grid.cx) * grid.pixel_scale
    corners = [(xmin, ymin), (xmax, ymin), (xmax, ymax), (xmin, ymax)]
    pa = np.deg2rad(pa_deg)
    out = []
    for x, y in corners:
        dx, dy = x - x0, y - y0
        u = -dx * np.sin(pa) + dy * np.cos(pa)
        v = -dx * np.cos(pa) - dy * np.sin(pa)
        out.append((u, v / q))
    return out


def gaussian_pixels_erf(grid, x0, y0, sigma_x, sigma_y):
    """Exact pixel integrals of an axis-aligned unit-flux Gaussian."""
    ye = (np.arange(grid.ny + 1) - 0.5 - grid.cy) * grid.pixel_scale - y0
    xe = (np.arange(grid.nx + 1) - 0.5 - grid.cx) * grid.pixel_scale - x0
    py = np.diff(0.5 * special.erf(ye / (np.sqrt(2) * sigma_y)))
    px = np.diff(0.5 * special.erf(xe / (np.sqrt(2) * sigma_x)))
    return py[:, None] * px[None, :]


# ---------------------------------------------------------------------------
# b_n
# ---------------------------------------------------------------------------


def test_sersic_b_known_values():
    # Ciotti & Bertin (1999); Graham & Driver (2005).
    assert float(pr.sersic_b(1.0)) == pytest.approx(1.678346990, rel=2e-6)
    assert float(pr.sersic_b(4.0)) == pytest.approx(7.669249443, rel=2e-6)


@pytest.mark.parametrize("n", [0.3, 0.36, 0.5, 0.8, 1.0, 2.0, 4.0, 6.5, 8.0, 10.0])
def test_sersic_b_solves_half_light(n):
    b = float(pr.sersic_b(n))
    assert b == pytest.approx(special.gammaincinv(2 * n, 0.5), rel=2e-6)
    assert special.gammainc(2 * n, b) == pytest.approx(0.5, abs=2e-6)


def test_sersic_b_float64_and_gradient():
    with enable_x64():
        for n in (0.5, 1.0, 4.0, 8.0):
            b = float(pr.sersic_b(jnp.float64(n)))
            assert b == pytest.approx(special.gammaincinv(2 * n, 0.5), rel=1e-10)
        # Implicit-function derivative vs a scipy finite difference.
        for n in (0.7, 2.0, 5.0):
            grad = float(jax.grad(pr.sersic_b)(jnp.float64(n)))
            h = 1e-5
            upper = special.gammaincinv(2 * (n + h), 0.5)
            lower = special.gammaincinv(2 * (n - h), 0.5)
            fd = (upper - lower) / (2 * h)
            assert grad == pytest.approx(fd, rel=1e-6)


def test_bessel_k1_matches_scipy():
    x = np.concatenate([np.geomspace(1e-3, 2.0, 40), np.linspace(2.0, 40.0, 40)])
    ours = np.asarray(pr.bessel_k1(jnp.asarray(x)))
    np.testing.assert_allclose(ours, special.k1(x), rtol=3e-6)


# ---------------------------------------------------------------------------
# Sersic total flux: the sum over the grid vs the analytic flux inside it
# ---------------------------------------------------------------------------

FLUX_CASES = [(n, re) for n in (0.5, 1.0, 2.0, 4.0, 8.0) for re in (0.3, 1.0, 3.0, 30.0)]


@pytest.mark.parametrize("geometry", ["centred", "offset_elliptical"])
def test_sersic_flux_within_grid(geometry):
    grid = GRID_129
    if geometry == "centred":
        x0, y0, pa, q = 0.0, 0.0, 0.0, 1.0
    else:
        x0, y0, pa, q = 0.37, -0.21, 30.0, 0.6
    polygon = grid_polygon_circularised(grid, x0, y0, pa, q)
    errors = []
    for n, re in FLUX_CASES:
        total = float(jnp.sum(sersic(x0, y0, re, n, pa, q, grid)))
        expected = flux_in_polygon(lambda r: sersic_enclosed_scipy(r, re, n), polygon)
        errors.append(abs(total / expected - 1.0))
    worst = int(np.argmax(errors))
    assert max(errors) < 1e-3, f"worst (n, Re) = {FLUX_CASES[worst]}: {errors[worst]:.2e}"


def test_sersic_tiny_cusp_total_flux_on_pixel_corner():
    # n = 8, Re = 0.3 px centred exactly on a pixel corner: the block edges pass
    # through the centre (a degenerate case of the edge integral).
    grid = GRID_129
    x0 = y0 = 0.5
    total = float(jnp.sum(sersic(x0, y0, 0.3, 8.0, 10.0, 0.8, grid)))
    polygon = grid_polygon_circularised(grid, x0, y0, 10.0, 0.8)
    expected = flux_in_polygon(lambda r: sersic_enclosed_scipy(r, 0.3, 8.0), polygon)
    assert total == pytest.approx(expected, rel=1e-3)


def test_central_pixels_match_scipy_dblquad():
    # Pixel integrals of an n = 4, Re = 0.5 px Sersic near its off-centre cusp.
    grid = GRID_129
    x0, y0, re, n, q, pa = 0.2, -0.3, 0.5, 4.0, 0.7, 25.0
    image = np.asarray(sersic(x0, y0, re, n, pa, q, grid))
    b = special.gammaincinv(2 * n, 0.5)
    norm = b ** (2 * n) / (2 * np.pi * n * re**2 * special.gamma(2 * n) * q)
    par = np.deg2rad(pa)

    def density(y, x):
        dx, dy = x - x0, y - y0
        u = -dx * np.sin(par) + dy * np.cos(par)
        v = -dx * np.cos(par) - dy * np.sin(par)
        return norm * np.exp(-b * (np.hypot(u, v / q) / re) ** (1.0 / n))

    c = int(grid.cy)
    for i, j in [(c, c), (c - 1, c), (c, c + 1), (c - 1, c - 1), (c + 1, c + 1), (c + 4, c - 3)]:
        y_lo, x_lo = i - 0.5 - grid.cy, j - 0.5 - grid.cx
        # split at the centre so the cusp sits on a sub-domain corner
        xs = sorted({x_lo, x_lo + 1.0, float(np.clip(x0, x_lo, x_lo + 1.0))})
        ys = sorted({y_lo, y_lo + 1.0, float(np.clip(y0, y_lo, y_lo + 1.0))})
        ref = 0.0
        for xa, xb in zip(xs[:-1], xs[1:]):
            for ya, yb in zip(ys[:-1], ys[1:]):
                ref += integrate.dblquad(density, xa, xb, ya, yb, epsabs=1e-11, epsrel=1e-9)[0]
        assert image[i, j] == pytest.approx(ref, rel=2e-4, abs=1e-7)


# ---------------------------------------------------------------------------
# Analytic shapes
# ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fwhm, q, pa, x0, y0",
    [
        (3.0, 1.0, 0.0, 0.0, 0.0),
        (4.0, 0.5, 0.0, 0.3, -0.2),
        (4.0, 0.4, 90.0, -0.45, 0.1),
        (0.5, 0.6, 0.0, 0.1, 0.2),  # FWHM of half a pixel: the exact block
    ],
)
def test_gaussian_matches_erf_pixel_integrals(fwhm, q, pa, x0, y0):
    grid = PixelGrid.centred(31, 31, 1.0)
    image = np.asarray(gaussian(x0, y0, fwhm, pa, q, grid))
    sigma = fwhm / (2 * np.sqrt(2 * np.log(2)))
    # PA = 0: major axis along y; PA = 90: along x.
    sx, sy = (q * sigma, sigma) if pa == 0.0 else (sigma, q * sigma)
    expected = gaussian_pixels_erf(grid, x0, y0, sx, sy)
    assert np.abs(image - expected).max() < 2e-5 * expected.max()


def test_exponential_matches_brute_force_sampling():
    grid = GRID_41
    x0, y0, re, pa, q = 0.05, -0.02, 0.4, 40.0, 0.6
    image = np.asarray(sersic(x0, y0, re, 1.0, pa, q, grid))
    h = re / special.gammaincinv(2.0, 0.5)  # exponential scale length
    k = 48
    sub = (np.arange(k) + 0.5) / k - 0.5
    y = ((np.arange(grid.ny)[:, None] + sub[None, :]).ravel() - grid.cy) * grid.pixel_scale
    x = ((np.arange(grid.nx)[:, None] + sub[None, :]).ravel() - grid.cx) * grid.pixel_scale
    dx, dy = x[None, :] - x0, y[:, None] - y0
    par = np.deg2rad(pa)
    u = -dx * np.sin(par) + dy * np.cos(par)
    v = -dx * np.cos(par) - dy * np.sin(par)
    dens = np.exp(-np.hypot(u, v / q) / h) / (2 * np.pi * q * h * h)
    expected = dens.reshape(grid.ny, k, grid.nx, k).mean(axis=(1, 3)) * grid.pixel_scale**2
    assert np.abs(image - expected).max() < 2e-4 * expected.max()


def test_profile_is_centred_where_asked():
    """Moving the centre by whole pixels moves the image by whole pixels (+x = +column)."""
    grid = GRID_129
    base = np.asarray(sersic(0.3, -0.2, 3.0, 1.5, 20.0, 0.7, grid))
    moved = np.asarray(sersic(0.3 + 5.0, -0.2 - 3.0, 3.0, 1.5, 20.0, 0.7, grid))
    expected = np.roll(base, (-3, 5), axis=(0, 1))
    assert np.abs(moved[10:-10, 10:-10] - expected[10:-10, 10:-10]).max() < 1e-6 * base.max()


def test_profile_centred_on_a_pixel_boundary_is_mirror_symmetric():
    # Centre on the corner between pixels (64, 64) and (65, 65); PA = 0 keeps
    # the mirror symmetries x -> 1 - x and y -> 1 - y (pixel units).
    grid = GRID_129
    image = np.asarray(sersic(0.5, 0.5, 2.0, 3.0, 0.0, 0.6, grid))[1:, 1:]
    assert np.abs(image - image[:, ::-1]).max() < 1e-6 * image.max()
    assert np.abs(image - image[::-1, :]).max() < 1e-6 * image.max()


@pytest.mark.parametrize("pa", [0.0, 30.0, 90.0, 135.0])
def test_position_angle_convention(pa):
    """GALFIT: PA = 0 puts the major axis up (+y), PA = 90 to the left (-x)."""
    grid = PixelGrid.centred(61, 61, 1.0)
    image = np.asarray(gaussian(0.0, 0.0, 12.0, pa, 0.3, grid))
    y, x = grid.pixel_offsets()
    total = image.sum()
    mxx = (image * x * x).sum() / total
    myy = (image * y * y).sum() / total
    mxy = (image * x * y).sum() / total
    # Direction of the major axis from the second moments, as an angle from +x.
    major_from_x = 0.5 * np.degrees(np.arctan2(2 * mxy, mxx - myy))
    expected_from_x = pa + 90.0
    diff = (major_from_x - expected_from_x + 90.0) % 180.0 - 90.0
    assert abs(diff) < 0.1
    if pa == 0.0:
        assert myy > 5 * mxx
    if pa == 90.0:
        assert mxx > 5 * myy
    if pa == 135.0:  # major axis towards lower left / upper right
        assert mxy > 0


def test_oversampled_grid_bins_to_the_same_image():
    grid = GRID_41
    fine = grid.oversampled(3)
    assert (fine.ny, fine.nx, fine.pixel_scale) == (123, 123, pytest.approx(0.2 / 3))
    coarse = np.asarray(sersic(0.13, -0.05, 0.5, 1.5, 30.0, 0.7, grid))
    binned = np.asarray(sersic(0.13, -0.05, 0.5, 1.5, 30.0, 0.7, fine))
    binned = binned.reshape(41, 3, 41, 3).sum(axis=(1, 3))
    assert np.abs(binned - coarse).max() < 1e-5 * coarse.max()


# ---------------------------------------------------------------------------
# Other profiles: analytic normalisation
# ---------------------------------------------------------------------------

OTHER_CASES = {
    "ferrer": {
        "xcen": 0.4, "ycen": -0.3, "rout": 12.0, "alpha": 2.0, "beta": 0.5, "ang": 30.0, "axrat": 0.5,
    },
    "ferrer_cuspy": {
        "xcen": 0.0, "ycen": 0.0, "rout": 8.0, "alpha": 0.8, "beta": 1.6, "ang": -20.0, "axrat": 0.8,
    },
    "edgeondisk": {"xcen": 0.2, "ycen": 0.1, "rs": 5.0, "hs": 1.5, "ang": 60.0},
    "gaussian": {"xcen": -0.3, "ycen": 0.2, "FWHM": 5.0, "ang": 10.0, "axrat": 0.5},
    "gauring": {"xcen": 0.0, "ycen": 0.5, "Rring": 10.0, "width": 2.0, "ang": 45.0, "axrat": 0.6},
    "gauring_filled": {
        "xcen": 0.0, "ycen": 0.0, "Rring": 1.0, "width": 3.0, "ang": 0.0, "axrat": 1.0,
    },
    "sersic_f": {
        "xcen": 0.1, "ycen": -0.2, "Re": 8.0, "n": 1.0, "ang": 20.0, "axrat": 0.7,
        "rin": 3.0, "rout": 12.0, "alpha": 0.5, "thetaout": 120.0,
        "m": 2, "am": 0.3, "thetam": 25.0, "im": 40.0,
    },
    "sersic_f_m1": {
        "xcen": 0.0, "ycen": 0.0, "Re": 6.0, "n": 0.8, "ang": -30.0, "axrat": 0.9,
        "rin": 2.0, "rout": 8.0, "alpha": 1.0, "thetaout": 60.0,
        "m": 1, "am": 0.2, "thetam": 0.0, "im": 0.0,
    },
}


@pytest.mark.parametrize("case", sorted(OTHER_CASES))
def test_profile_unit_flux(case):
    kind = case.replace("_cuspy", "").replace("_filled", "").replace("_m1", "")
    image = render(kind, OTHER_CASES[case], GRID_129)
    assert float(jnp.sum(image)) == pytest.approx(1.0, abs=1e-3)


def test_sersic_f_without_modes_is_sersic():
    params = dict(OTHER_CASES["sersic_f"], am=0.0, thetaout=0.0, im=0.0)
    grid = GRID_129
    sersic_args = (params[k] for k in ("xcen", "ycen", "Re", "n", "ang", "axrat"))
    plain = np.asarray(sersic(*sersic_args, grid))
    modal = np.asarray(render("sersic_f", params, grid))
    # sersic_f sub-samples its central block (16 x 16 points per pixel), the
    # plain Sersic integrates it exactly: they differ at the central kink only.
    assert np.abs(plain - modal).max() < 5e-5 * plain.max()


def test_sersic_f_fourier_mode_orientation():
    """m = 2 with a_m < 0 stretches the profile along theta = -theta_m."""
    grid = PixelGrid.centred(61, 61, 1.0)
    params = dict(OTHER_CASES["sersic_f"], ang=0.0, axrat=1.0, thetaout=0.0, im=0.0,
                  m=2, am=-0.3, thetam=0.0)
    image = np.asarray(render("sersic_f", params, grid))
    # theta is measured from the major axis (PA = 0: +y), so the elongation is along y.
    y, x = grid.pixel_offsets()
    assert (image * y * y).sum() > 1.5 * (image * x * x).sum()


def test_const_is_one_per_pixel():
    image = pr.render_profile("const", {}, PixelGrid.centred(5, 7, 0.2))
    assert image.shape == (5, 7)
    assert np.all(np.asarray(image) == 1.0)


def test_render_profile_errors():
    grid = PixelGrid.centred(5, 5, 1.0)
    with pytest.raises(ValueError, match="unknown profile type"):
        pr.render_profile("moffat", {}, grid)
    with pytest.raises(ValueError, match="point_source_image"):
        pr.render_profile("point", {"xcen": 0.0, "ycen": 0.0}, grid)
    with pytest.raises(KeyError, match="missing"):
        pr.render_profile("sersic", {"xcen": 0.0}, grid)
    # GalfitS spellings are accepted.
    assert pr.canonical_kind("GauRing") == "gauring"
    assert pr.canonical_kind("Gaussian") == "gaussian"


# ---------------------------------------------------------------------------
# jit + grad for every profile
# ---------------------------------------------------------------------------

GRAD_CASES = {
    "sersic": {"xcen": 0.3, "ycen": -0.2, "Re": 0.8, "n": 2.5, "ang": 30.0, "axrat": 0.7},
    **{k: OTHER_CASES[k] for k in ("ferrer", "edgeondisk", "gaussian", "gauring", "sersic_f")},
}


PROFILE_SIZE = {"sersic": "Re", "sersic_f": "Re", "ferrer": "rout", "edgeondisk": "rs",
                "gaussian": "FWHM", "gauring": "Rring"}


def test_jit_and_gradients_are_finite_for_every_profile():
    """One jitted value-and-gradient of all profiles (one compile for the lot)."""
    grid = PixelGrid.centred(24, 24, 1.0)
    params = {
        kind: {
            k: jnp.asarray(v, dtype=jnp.int32 if k == "m" else jnp.float32) for k, v in case.items()
        }
        for kind, case in GRAD_CASES.items()
    }
    # Non-linear weights: a linear ramp would only see flux and centroid.
    weights = jnp.asarray(np.random.default_rng(0).uniform(0.5, 1.5, (24, 24)), jnp.float32)

    # The exact-block path is the same code for sersic and gaussian; it is
    # compiled with gradients once (sersic) to keep this test quick.
    samplings = {kind: Sampling() for kind in GRAD_CASES}
    samplings["gaussian"] = Sampling(block_size=0)

    def loss(kind, p):
        return jnp.sum(weights * pr.render_profile(kind, p, grid, samplings[kind]))

    @jax.jit
    def values_and_grads(all_params):
        return {
            kind: jax.value_and_grad(lambda p, kind=kind: loss(kind, p), allow_int=True)(p)
            for kind, p in all_params.items()
        }

    results = values_and_grads(params)
    # Central differences (float32) on the centre and the main size parameter,
    # from the same compiled function.
    steps = {}
    for kind, p in params.items():
        size = PROFILE_SIZE[kind]
        steps[kind] = (("xcen", 0.02), (size, 0.02 * float(p[size])))
    shifted = [
        {kind: dict(p, **{steps[kind][i][0]: p[steps[kind][i][0]] + sign * steps[kind][i][1]})
         for kind, p in params.items()}
        for i in (0, 1) for sign in (1.0, -1.0)
    ]
    shifted_values = [values_and_grads(q) for q in shifted]
    for kind, (value, grads) in results.items():
        assert np.isfinite(float(value)), kind
        for name, g in grads.items():
            if name != "m":
                assert np.isfinite(np.asarray(g)).all(), (kind, name)
        if kind != "edgeondisk":  # the disk has no axis ratio
            assert float(jnp.abs(grads["axrat"])) > 0, kind
        for i in (0, 1):
            name, step = steps[kind][i]
            up = float(shifted_values[2 * i][kind][0])
            down = float(shifted_values[2 * i + 1][kind][0])
            fd = (up - down) / (2 * step)
            assert float(grads[name]) == pytest.approx(fd, rel=2e-2, abs=1e-4), (kind, name)


@pytest.mark.slow
@pytest.mark.parametrize("x0", [0.3, 0.5, 0.5 + 1e-6])
def test_sersic_gradient_matches_finite_difference_float64(x0):
    """All six parameters, including a centre exactly on a pixel corner (x0 = 0.5)."""
    grid = PixelGrid.centred(24, 24, 1.0)

    with enable_x64():
        weights = jnp.asarray(np.random.default_rng(0).uniform(0.5, 1.5, (24, 24)))

        def loss(p):
            return jnp.sum(weights * pr.sersic_image(p[0], p[1], p[2], p[3], p[4], p[5], grid))

        value = jax.jit(loss)
        p = jnp.asarray([x0, 0.5, 0.8, 2.5, 30.0, 0.7], dtype=jnp.float64)
        grad = np.asarray(jax.jit(jax.grad(loss))(p))
        for i in range(6):
            e = np.zeros(6)
            e[i] = 1e-7
            # one-sided towards -: a centre at x.5 px rounds down, so this
            # difference does not move the accurately integrated block
            fd = (float(value(p)) - float(value(p - e))) / 1e-7
            assert grad[i] == pytest.approx(fd, rel=1e-3, abs=1e-7), i


# ---------------------------------------------------------------------------
# GalSim
# ---------------------------------------------------------------------------

GALSIM_CASES = [
    # n, Re [px], q, PA [deg], offset (dx, dy) [px]
    (1.0, 1.0, 1.0, 0.0, (0.0, 0.0)),
    (4.0, 1.0, 0.6, 30.0, (0.3, -0.2)),
    (0.5, 1.0, 0.5, 120.0, (0.0, 0.0)),
    (2.5, 3.0, 0.4, -60.0, (0.1, 0.4)),
    (4.0, 0.5, 0.8, 75.0, (-0.25, 0.0)),
]


@pytest.mark.parametrize("n, re_px, q, pa, offset", GALSIM_CASES)
def test_sersic_matches_galsim(n, re_px, q, pa, offset):
    galsim = pytest.importorskip("galsim")
    warnings.simplefilter("ignore", galsim.GalSimFFTSizeWarning)
    size, scale, k = 41, 0.2, 3
    grid = GRID_41
    re = re_px * scale
    dx, dy = offset
    gsparams = galsim.GSParams(folding_threshold=1e-3, maxk_threshold=1e-4)
    # GalSim shears conserve area and measure beta from +x: hlr = Re sqrt(q), beta = PA + 90.
    galaxy = galsim.Sersic(n, half_light_radius=re * np.sqrt(q), flux=1.0, gsparams=gsparams)
    galaxy = galaxy.shear(q=q, beta=(pa + 90.0) * galsim.degrees)

    # Without a PSF: real-space integration over each pixel (an FFT would be huge for a cusp).
    reference = galaxy.drawImage(
        nx=size, ny=size, scale=scale, method="real_space", offset=offset
    ).array
    ours = np.asarray(sersic(dx * scale, dy * scale, re, n, pa, q, grid))
    assert np.abs(ours - reference).max() < 1e-3 * reference.max()

    # With a PSF sampled 3x finer than the pixels (render fine, convolve, bin).
    from galfits_nb.models.psf import convolve, psf_transform

    psf = galsim.Moffat(beta=3.0, fwhm=3.0 * scale, trunc=6.0 * scale)
    psf_image = psf.drawImage(nx=45, ny=45, scale=scale / k, method="no_pixel").array
    psf_ft = psf_transform(psf_image, grid.shape, k)
    fine = sersic(dx * scale, dy * scale, re, n, pa, q, grid.oversampled(k))
    ours = np.asarray(jax.jit(convolve, static_argnums=2)(fine, psf_ft, k))
    reference = galsim.Convolve(galaxy, psf).drawImage(
        nx=size, ny=size, scale=scale, method="auto", offset=offset
    ).array
    assert np.abs(ours - reference).max() < 1e-2 * reference.max()


@pytest.mark.parametrize("fwhm_px, upsampling", [(3.0, 3), (2.0, 5)])
@pytest.mark.parametrize("n, re_px, q, pa, offset", GALSIM_CASES)
def test_data_resolution_psf_matches_galsim(n, re_px, q, pa, offset, fwhm_px, upsampling):
    """A PSF image at the data's resolution, as a star gives it (pixel included).

    GalSim draws the galaxy convolved with the continuous PSF and integrated
    over pixels; galfits_nb sees only GalSim's pixelated image of that PSF,
    upsamples it (pixel divided out) and renders on the fine grid, as the
    scene does for I5 = 1.
    """
    galsim = pytest.importorskip("galsim")
    warnings.simplefilter("ignore", galsim.GalSimFFTSizeWarning)
    from galfits_nb.models.psf import convolve, psf_transform, upsample_psf

    size, scale, grid = 41, 0.2, GRID_41
    gsparams = galsim.GSParams(folding_threshold=1e-3, maxk_threshold=1e-4)
    galaxy = galsim.Sersic(n, half_light_radius=re_px * scale * np.sqrt(q), flux=1.0, gsparams=gsparams)
    galaxy = galaxy.shear(q=q, beta=(pa + 90.0) * galsim.degrees)
    psf = galsim.Moffat(beta=3.0, fwhm=fwhm_px * scale, trunc=4.0 * fwhm_px * scale)
    star = psf.drawImage(nx=31, ny=31, scale=scale, method="auto").array
    reference = galsim.Convolve(galaxy, psf).drawImage(
        nx=size, ny=size, scale=scale, method="auto", offset=offset
    ).array

    k = upsampling
    fine_grid = grid.oversampled(k)
    psf_ft = psf_transform(upsample_psf(star, k), grid.shape, k)
    x0, y0 = offset[0] * scale, offset[1] * scale

    def convolved(sampling):
        fine = sersic(x0, y0, re_px * scale, n, pa, q, fine_grid, sampling)
        return np.asarray(jax.jit(convolve, static_argnums=2)(fine, psf_ft, k))

    # The scene's rule on the fine grid (midpoints, 2 x 2 points in a window
    # around the centre) against 3 x 3 Gauss-Legendre points in every fine pixel.
    ours = convolved(pr.fine_grid_sampling(pr.DEFAULT_SAMPLING, k))
    dense = convolved(pr.DEFAULT_SAMPLING)
    error = np.abs(ours - reference).max()
    assert error < 1e-2 * reference.max()
    assert error < 1.25 * np.abs(dense - reference).max() + 1e-4 * reference.max()
    # Convolving at the data's resolution instead is what the upsampling avoids.
    coarse = np.asarray(convolve(sersic(offset[0] * scale, offset[1] * scale, re_px * scale, n, pa, q, grid),
                                 psf_transform(star, grid.shape, 1), 1))
    assert np.abs(ours - reference).max() < np.abs(coarse - reference).max()


def test_fine_grid_sampling_rule():
    base = Sampling()
    assert pr.fine_grid_sampling(base, 1) is base
    assert pr.fine_grid_sampling(base, 3) == base._replace(oversampling=1, window_size=96, window_oversampling=2)
    assert pr.fine_grid_sampling(Sampling(oversampling=5), 2).oversampling == 3
    assert pr.fine_grid_sampling(Sampling(oversampling=1), 3).window_oversampling == 1


@pytest.mark.parametrize("re, n, q", [(0.6, 1.0, 0.6), (1.5, 1.0, 0.5), (3.0, 1.0, 0.4), (2.0, 4.0, 0.7), (0.3, 0.5, 0.9)])
def test_fine_grid_window_keeps_the_pixel_integrals(re, n, q):
    """Midpoint sampling outside a window of 2 x 2 points against 4 x 4 points everywhere (3x SDSS grid)."""
    grid = PixelGrid.centred(120, 120, 0.396).oversampled(3)
    ours = np.asarray(sersic(0.05, -0.03, re, n, 30.0, q, grid, pr.fine_grid_sampling(pr.DEFAULT_SAMPLING, 3)))
    dense = np.asarray(sersic(0.05, -0.03, re, n, 30.0, q, grid, Sampling(oversampling=4)))
    assert abs(ours.sum() - dense.sum()) < 5e-5
    assert np.abs(ours - dense).max() < 5e-5 * dense.max()
    # Without the window (midpoint everywhere) an exponential loses measurably more.
    if n == 1.0 and re >= 1.5:
        bare = np.asarray(sersic(0.05, -0.03, re, n, 30.0, q, grid, Sampling(oversampling=1)))
        assert abs(bare.sum() - dense.sum()) > 4 * abs(ours.sum() - dense.sum())


def test_upsampled_psf_keeps_the_samples_when_no_pixel_is_removed():
    y, x = np.mgrid[-7:8, -7:8]
    psf = np.exp(-0.5 * (x**2 + y**2) / 1.6**2)
    psf /= psf.sum()
    from galfits_nb.models.psf import upsample_psf

    fine = upsample_psf(psf, 3, remove_pixel=False)
    assert fine.shape == (45, 45) and fine.sum() == pytest.approx(1.0)
    np.testing.assert_allclose(fine[1::3, 1::3] * 9, psf, atol=1e-6)
    assert np.unravel_index(fine.argmax(), fine.shape) == (22, 22)
    with pytest.raises(ValueError, match="odd"):
        upsample_psf(psf, 2)


# ---------------------------------------------------------------------------
# Sky (models/sky.py)
# ---------------------------------------------------------------------------


def test_uniform_and_polynomial_sky():
    shape = (5, 7)
    np.testing.assert_allclose(np.asarray(sky.uniform_sky_image(2.5, shape)), 2.5)
    c = jnp.array([1.0, 0.2, -0.3, 0.01, 0.02, 0.03])
    image = np.asarray(sky.polynomial_sky_image(c, shape))
    y = np.arange(5)[:, None] - 2.0
    x = np.arange(7)[None, :] - 3.0
    expected = 1.0 + 0.2 * x - 0.3 * y + 0.01 * x * x + 0.02 * x * y + 0.03 * y * y
    np.testing.assert_allclose(image, expected, rtol=1e-6)
    assert sky.polynomial_degree(1) == 0 and sky.polynomial_degree(10) == 3
    with pytest.raises(ValueError, match="coefficients"):
        sky.polynomial_sky_image(jnp.ones(4), shape)
    grad = jax.grad(lambda cc: jnp.sum(sky.polynomial_sky_image(cc, shape)))(c)
    assert np.isfinite(np.asarray(grad)).all()
