"""The AGN spectrum model, checked against what it did not compute itself.

* line and continuum luminosities against closed-form integrals (numpy);
* the thin disk against the Eddington luminosity from astropy's constants,
  a scipy quadrature of the Shakura & Sunyaev temperature profile, and the
  analytic ``L_nu ~ nu**(1/3)`` asymptote (Gamma and zeta functions);
* ISCO radii and efficiencies against Bardeen et al. (1972) / Thorne (1974);
* black bodies against ``astropy.modeling.physical_models.BlackBody``;
* the FeII template against NIST wavelengths of multiplet 42 and the
  published line list's count and intensity sum;
* the nucleus model: parameter rows, ties, errors, jit and gradients in
  float32 and float64.
"""

from __future__ import annotations

import functools
import math
import warnings

import astropy.constants as const
import astropy.units as u
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from astropy.modeling.physical_models import BlackBody
from scipy.integrate import quad
from scipy.special import gamma, zeta

from galfits_nb.config.lyric import ConfigWarning
from galfits_nb.config.spec import NucleusSpec, Param
from galfits_nb.errors import ConfigError
from galfits_nb.inference.parameters import ParameterTable
from galfits_nb.models import agn
from galfits_nb.models import dust as dust_model
from galfits_nb.models.lines import LINE_WAVELENGTHS, air_to_vacuum

L_SUN = 3.826e33  # an output unit that keeps float32 in range

# cgs constants from astropy (CODATA 2018), independent of the module's own.
G = const.G.cgs.value
C = const.c.cgs.value
H = const.h.cgs.value
K_B = const.k_B.cgs.value
SIGMA_SB = const.sigma_sb.cgs.value
M_SUN = const.M_sun.cgs.value
L_EDD_PER_MSUN = 4.0 * math.pi * G * M_SUN * const.m_p.cgs.value * C / const.sigma_T.cgs.value


def enable_x64():
    """float64 inside the block (jax.enable_x64, or the experimental one in older JAX)."""
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(True)
    from jax.experimental import enable_x64 as legacy  # JAX < 0.7

    return legacy()


def log_grid(lo, hi, resolution):
    """Edges with d(ln lambda) = 1 / resolution."""
    n = int(math.ceil(resolution * math.log(hi / lo)))
    return lo * (hi / lo) ** (np.arange(n + 1) / n)


# The functions under test, compiled once per shape and dtype (eager JAX would
# compile every primitive separately, which costs more than one compilation).
gaussian_lines = jax.jit(agn.gaussian_lines, static_argnames=("unit_erg_s",))
power_law = jax.jit(agn.power_law, static_argnames=("unit_erg_s",))
broken_power_law = jax.jit(agn.broken_power_law, static_argnames=("break_aa", "unit_erg_s"))
thin_disk = jax.jit(agn.thin_disk, static_argnames=("r_out_rg", "unit_erg_s"))
hot_dust = jax.jit(agn.hot_dust, static_argnames=("unit_erg_s",))
balmer_continuum = jax.jit(agn.balmer_continuum, static_argnames=("unit_erg_s",))
feii = jax.jit(agn.feii, static_argnames=("unit_erg_s",))
agn_spectrum = jax.jit(agn.agn_spectrum, static_argnames=("spec", "unit_erg_s"))
isco_radius = jax.jit(agn.isco_radius)
radiative_efficiency = jax.jit(agn.radiative_efficiency)
disk_accretion_rate = jax.jit(agn.disk_accretion_rate)
dust_transmission = jax.jit(dust_model.dust_transmission)

COARSE = log_grid(3000.0, 8000.0, 100.0)  # R = 100: ~3000 km/s pixels
FINE = log_grid(3000.0, 8000.0, C / 1e5 / 60.0)  # 60 km/s pixels


# ---------------------------------------------------------------------------
# Lines
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("edges", [COARSE, FINE], ids=["R100", "60kms"])
def test_gaussian_line_luminosity_is_kept(edges):
    centres = np.array([4862.68, 5008.24, 6564.61, 7000.3])
    log_l = np.array([41.5, 40.2, 42.0, 39.0])
    sigma = np.array([2000.0, 30.0, 1500.0, 80.0])  # the [O III] line is far narrower than an R100 pixel
    voff = np.array([0.0, -150.0, 300.0, 0.0])
    out = np.asarray(gaussian_lines(jnp.asarray(edges, jnp.float32), centres, log_l, sigma, voff, unit_erg_s=L_SUN))
    total = np.sum(out.astype(np.float64) * np.diff(edges)) * L_SUN
    assert total == pytest.approx(np.sum(10.0**log_l), rel=2e-5)
    with enable_x64():
        single = gaussian_lines(edges, centres[:1], log_l[:1], sigma[:1], voff[:1])
        assert float(jnp.sum(single * jnp.diff(edges))) == pytest.approx(10**41.5, rel=1e-9)


def test_gaussian_line_moments_on_fine_grid():
    with enable_x64():
        one = [np.array([v]) for v in (6564.61, 42.0, 1500.0, 300.0, 400.0)]
        out = np.asarray(gaussian_lines(FINE, *one))
    centres = 0.5 * (FINE[1:] + FINE[:-1])
    weights = out * np.diff(FINE)
    mean = np.sum(weights * centres) / np.sum(weights)
    expected_mean = 6564.61 * (1.0 + 300.0 / 299792.458)
    assert mean == pytest.approx(expected_mean, abs=0.01)
    sd = math.sqrt(np.sum(weights * (centres - mean) ** 2) / np.sum(weights))
    expected_sd = expected_mean * math.hypot(1500.0, 400.0) / 299792.458
    assert sd == pytest.approx(expected_sd, rel=2e-3)
    # Pixel means equal the analytic density at pixel centres, to the pixel-averaging
    # term ~ (dlambda / sigma)**2 (x**2 - 1) / 24 (< 1e-3 within 3 sigma).
    x = (centres - expected_mean) / expected_sd
    density = 1e42 / (math.sqrt(2.0 * math.pi) * expected_sd) * np.exp(-0.5 * x**2)
    near = np.abs(x) < 3
    np.testing.assert_allclose(out[near], density[near], rtol=1e-3)


def test_far_wings_do_not_cancel():
    # A line 300 sigma away: the erf difference must be ~0, not rounding noise or negative.
    edges = jnp.asarray(FINE, jnp.float32)
    out = gaussian_lines(edges, np.array([4000.0]), np.array([42.0]), 50.0, 0.0, unit_erg_s=L_SUN)
    far = np.asarray(out)[FINE[1:] > 5000.0]
    assert np.all(far >= 0.0) and np.all(far < 1e-30)


# ---------------------------------------------------------------------------
# Power laws
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [1.5, 1.0, -0.3])
def test_power_law_exact(alpha):
    edges = np.sort(np.random.default_rng(1).uniform(1000.0, 20000.0, 400))
    with enable_x64():
        out = np.asarray(power_law(edges, 43.0, alpha))
        norm = 1e43 / 5100.0
        a, b = edges[:-1], edges[1:]
        if alpha == 1.0:
            expected = norm * 5100.0 * np.log(b / a) / (b - a)
        else:
            expected = norm * 5100.0**alpha * (b ** (1 - alpha) - a ** (1 - alpha)) / ((1 - alpha) * (b - a))
        np.testing.assert_allclose(out, expected, rtol=1e-8)
        # lambda L_lambda at 5100 A is 10**log_l5100 (a pixel 0.02 A wide around it).
        point = power_law(np.array([5099.99, 5100.01]), 43.0, alpha)
        assert float(point[0]) * 5100.0 == pytest.approx(1e43, rel=1e-8)


def test_broken_power_law():
    with enable_x64():
        near = np.array([5099.999, 5100.001])
        assert float(broken_power_law(near, 44.0, 1.56, -0.45)[0]) * 5100.0 == pytest.approx(1e44, rel=1e-8)
        around = np.array([4660.99, 4660.999, 4661.001, 4661.01])
        values = np.asarray(broken_power_law(around, 44.0, 1.56, -0.45))
        assert values[0] == pytest.approx(values[2], rel=1e-5)  # continuous at the break
        # Slopes on each side, and the exact integral over a range that contains the break.
        for lo, hi, alpha in ((2000.0, 4000.0, 1.56), (5000.0, 9000.0, -0.45)):
            pair = np.asarray(broken_power_law(np.array([lo, lo + 1e-3, hi, hi + 1e-3]), 44.0, 1.56, -0.45))
            assert math.log(pair[2] / pair[0]) / math.log(hi / lo) == pytest.approx(-alpha, rel=1e-6)
        edges = np.array([3000.0, 7000.0])
        total = float(broken_power_law(edges, 44.0, 1.56, -0.45)[0]) * 4000.0
        red = 1e44 / 5100.0
        f_break = red * (4661.0 / 5100.0) ** 0.45
        blue_part = f_break * 4661.0 / (1 - 1.56) * (1.0 - (3000.0 / 4661.0) ** (1 - 1.56))
        red_part = red * 5100.0 / (1 + 0.45) * ((7000.0 / 5100.0) ** 1.45 - (4661.0 / 5100.0) ** 1.45)
        assert total == pytest.approx(blue_part + red_part, rel=1e-10)


# ---------------------------------------------------------------------------
# Thin disk
# ---------------------------------------------------------------------------


def test_isco_and_efficiency():
    # Bardeen et al. (1972): r_isco = 6, 9, 1.237 (a = 0.998), ~1 at a -> 1; Thorne (1974): eta(0.998) = 0.32.
    assert float(isco_radius(0.0)) == pytest.approx(6.0, abs=1e-6)
    assert float(isco_radius(-1.0)) == pytest.approx(9.0, abs=1e-3)
    assert float(isco_radius(0.998)) == pytest.approx(1.237, abs=1e-3)
    assert float(isco_radius(1.0)) == pytest.approx(1.0, abs=0.1)
    assert float(radiative_efficiency(0.0)) == pytest.approx(1 - math.sqrt(8 / 9), abs=1e-6)
    assert float(radiative_efficiency(0.998)) == pytest.approx(0.321, abs=2e-3)
    # Continuous and differentiable through a = 0, where the series takes over.
    with enable_x64():
        spins = jnp.asarray([0.0, 5e-4, 2e-3, -2e-3])
        slopes = jax.jit(jax.vmap(jax.grad(agn.isco_radius)))(spins)
        np.testing.assert_allclose(slopes, -4 * math.sqrt(2 / 3) - 7 / 9 * spins, atol=1e-3)
    # Mdot = L_bol / (eta c^2) for M = 1e8, L/L_Edd = 0.1, a = 0.
    mdot = 0.1 * L_EDD_PER_MSUN * 1e8 / (float(radiative_efficiency(0.0)) * C**2) / M_SUN * 3.15576e7
    assert float(disk_accretion_rate(8.0, -1.0, 0.0)) == pytest.approx(math.log10(mdot), abs=1e-4)


@pytest.mark.parametrize(("log_mbh", "log_ledd", "spin"), [(8.0, -1.0, 0.0), (7.0, 0.0, 0.9), (9.5, -2.0, -0.5)])
def test_thin_disk_bolometric_luminosity(log_mbh, log_ledd, spin):
    edges = log_grid(5.0, 3e7, 300.0)
    l_edd = L_EDD_PER_MSUN * 10**log_mbh  # astropy constants, not the module's
    x_out = 1e4 / float(isco_radius(spin))
    outer = 1.0 - 3.0 / x_out + 2.0 / x_out**1.5  # the part inside R_out
    out = thin_disk(jnp.asarray(edges, jnp.float32), log_mbh, log_ledd, spin, unit_erg_s=L_SUN)
    total = np.sum(np.asarray(out, np.float64) * np.diff(edges)) * L_SUN
    assert total == pytest.approx(10**log_ledd * l_edd * outer, rel=1e-3)
    assert total == pytest.approx(10**log_ledd * l_edd, rel=3e-3)


def _disk_reference(wavelength_aa, log_mbh, log_ledd, spin, cos_i=0.5, r_out_rg=1e4):
    """4 pi cos(i) * integral of B_lambda(T(R)) 2 pi R dR by scipy.quad, T from Shakura & Sunyaev."""
    mass = 10**log_mbh * M_SUN
    l_bol = 10**log_ledd * L_EDD_PER_MSUN * 10**log_mbh
    r_g = G * mass / C**2
    r_in = float(isco_radius(spin)) * r_g
    lam = wavelength_aa * 1e-8

    def integrand(log_r):
        r = math.exp(log_r)
        t = (3.0 * l_bol * r_in / (4.0 * math.pi * SIGMA_SB * r**3) * (1.0 - math.sqrt(r_in / r))) ** 0.25
        x = H * C / (lam * K_B * t)
        return 0.0 if x > 700 else 2.0 * H * C**2 / lam**5 / math.expm1(x) * 2.0 * math.pi * r * r

    value, _ = quad(integrand, math.log(r_in), math.log(r_out_rg * r_g), limit=400, epsrel=1e-10)
    return 4.0 * math.pi * cos_i * value * 1e-8  # per A


def test_thin_disk_against_quadrature():
    with enable_x64():
        for log_mbh, log_ledd, spin in ((8.0, -1.0, 0.0), (7.0, 0.0, 0.9)):
            for lam in (700.0, 2500.0, 5100.0, 2e4):
                edges = np.array([lam * (1 - 1e-5), lam * (1 + 1e-5)])
                model = float(thin_disk(edges, log_mbh, log_ledd, spin, 0.8)[0])
                assert model == pytest.approx(_disk_reference(lam, log_mbh, log_ledd, spin, 0.8), rel=1e-5)


def test_thin_disk_nu_one_third_regime():
    # Far from both edges, L_nu = 8 pi^2 cos i R_in^2 (k T_*/h nu)^(8/3) (4/3) (2 h nu^3/c^2)
    # Gamma(8/3) zeta(8/3), with T_*^4 = 3 L_bol / (4 pi sigma R_in^2): L_nu ~ nu^(1/3).
    l_bol = L_EDD_PER_MSUN * 1e8
    r_in = 6.0 * G * 1e8 * M_SUN / C**2
    t_star = (3.0 * l_bol / (4.0 * math.pi * SIGMA_SB * r_in**2)) ** 0.25
    with enable_x64():
        for lam in (1e5, 3e5):
            nu = C / (lam * 1e-8)
            l_nu = (
                8 * math.pi**2 * 0.5 * r_in**2 * (K_B * t_star / (H * nu)) ** (8 / 3)
                * (4 / 3) * 2 * H * nu**3 / C**2 * gamma(8 / 3) * zeta(8 / 3)
            )
            edges = np.array([lam * (1 - 1e-5), lam * (1 + 1e-5)])
            model = float(thin_disk(edges, 8.0, 0.0, 0.0, r_out_rg=1e7)[0])
            assert model == pytest.approx(l_nu * C / (lam * 1e-8) ** 2 * 1e-8, rel=0.015)
        edges = np.geomspace(1e5, 1e6, 20)
        out = np.asarray(thin_disk(edges, 8.0, 0.0, 0.0, r_out_rg=1e7))
        slope = np.polyfit(np.log(np.sqrt(edges[1:] * edges[:-1])), np.log(out), 1)[0]
        assert slope == pytest.approx(-7.0 / 3.0, abs=0.01)


def test_thin_disk_inclination_and_spin():
    edges = log_grid(500.0, 1e4, 200.0)
    face_on = np.asarray(thin_disk(edges, 8.0, -1.0, 0.0, 1.0, unit_erg_s=L_SUN))
    half = np.asarray(thin_disk(edges, 8.0, -1.0, 0.0, 0.5, unit_erg_s=L_SUN))
    np.testing.assert_allclose(face_on, 2.0 * half, rtol=1e-5)
    spinning = np.asarray(thin_disk(edges, 8.0, -1.0, 0.9, 0.5, unit_erg_s=L_SUN))
    assert spinning[0] > half[0]  # hotter inner edge: bluer at the same L_bol


# ---------------------------------------------------------------------------
# Black bodies: hot dust and Balmer continuum
# ---------------------------------------------------------------------------


def _astropy_b_lambda(wavelength_aa, temperature):
    bb = BlackBody(temperature=temperature * u.K, scale=1.0 * u.erg / (u.cm**2 * u.s * u.AA * u.sr))
    return bb(wavelength_aa * u.AA).to_value(u.erg / (u.cm**2 * u.s * u.AA * u.sr))


@pytest.mark.parametrize("temperature", [1200.0, 1500.0])
def test_hot_dust_against_astropy(temperature):
    edges = log_grid(5000.0, 1e5, 20000.0)  # narrow pixels: mean = value at the centre to 1e-6
    centres = np.sqrt(edges[1:] * edges[:-1])
    with enable_x64():
        out = np.asarray(hot_dust(edges, 43.0, temperature))
    expected = 1e43 * math.pi * _astropy_b_lambda(centres, temperature) / (SIGMA_SB * temperature**4)
    np.testing.assert_allclose(out, expected, rtol=1e-5)
    wide = log_grid(500.0, 1e8, 200.0)
    f32 = hot_dust(jnp.asarray(wide, jnp.float32), 43.0, temperature, unit_erg_s=L_SUN)
    assert np.sum(np.asarray(f32, np.float64) * np.diff(wide)) * L_SUN == pytest.approx(1e43, rel=1e-4)


def test_balmer_continuum():
    with enable_x64():
        edges = np.array([3645.99, 3645.999, 3646.5, 3700.0])
        out = np.asarray(balmer_continuum(edges, 42.0))
        assert out[0] * 3646.0 == pytest.approx(1e42, rel=1e-5)  # lambda L_lambda just blueward of the edge
        assert out[2] == 0.0
        # The pixel holding the edge: its blue part's integral over the whole width.
        assert out[1] == pytest.approx(out[0] * 0.001 / 0.501, rel=1e-3)
        # Shape: B_lambda(T_e) (1 - exp(-tau (lambda/3646)^3)) (Grandi 1982), astropy's Planck function.
        lam = np.array([1500.0, 2500.0, 3000.0, 3500.0])
        shape = _astropy_b_lambda(lam, 15000.0) * -np.expm1(-((lam / 3646.0) ** 3))
        edge = _astropy_b_lambda(np.array([3646.0]), 15000.0) * -np.expm1(-1.0)
        values = [float(balmer_continuum(np.array([x - 1e-3, x + 1e-3]), 42.0)[0]) for x in lam]
        np.testing.assert_allclose(values, 1e42 / 3646.0 * shape / edge, rtol=1e-6)


# ---------------------------------------------------------------------------
# FeII
# ---------------------------------------------------------------------------


def test_feii_template_is_the_published_list():
    template = agn.load_feii_template()
    assert len(agn.FEII_VC04_BROAD) == 100 and template.wavelength.shape == (100,)
    assert sum(i for _, i, _ in agn.FEII_VC04_BROAD) == pytest.approx(7.83, abs=1e-9)
    assert np.all(np.diff(template.wavelength) > 0)
    # Multiplet 42 (NIST air 4923.927, 5018.440, 5169.033 A) in vacuum; 5019.84 A is
    # the vacuum 5018 line Dong et al. (2008) use as their FeII reference.
    for air, label in ((4923.927, "42"), (5018.440, "42"), (5169.033, "42")):
        row = min(agn.FEII_VC04_BROAD, key=lambda r: abs(r[0] - air))
        assert row[0] == pytest.approx(air, abs=0.02) and row[2] == label
        assert np.min(np.abs(template.wavelength - air_to_vacuum(air))) < 0.02
    assert np.min(np.abs(template.wavelength - 5019.84)) < 0.02


def test_feii_luminosity_window_and_peaks():
    lo, hi = air_to_vacuum([4434.0, 4684.0])
    with enable_x64():
        edges = log_grid(3000.0, 8000.0, 20000.0)
        template = agn.load_feii_template()
        out = np.asarray(feii(edges, template, 41.0, 1000.0, 0.0))
        inside = (edges[:-1] >= lo) & (edges[1:] <= hi)
        window = np.sum((out * np.diff(edges))[inside])
        assert window == pytest.approx(1e41, rel=2e-3)  # pixel edges fall within 0.2 A of the band's
        # Instrumental broadening and an offset move light but keep the total.
        total = np.sum(out * np.diff(edges))
        blurred = np.asarray(feii(edges, template, 41.0, 1000.0, 500.0, 300.0))
        assert np.sum(blurred * np.diff(edges)) == pytest.approx(total, rel=1e-6)
        # A narrow template peaks at the table's strong lines.
        narrow = np.asarray(feii(edges, template, 41.0, 30.0, 0.0))
        centres = np.sqrt(edges[1:] * edges[:-1])
        for air in (4923.92, 5018.45, 5169.03, 5316.61):
            window_mask = np.abs(centres - air_to_vacuum(air)) < 3.0
            assert abs(centres[window_mask][np.argmax(narrow[window_mask])] - air_to_vacuum(air)) < 0.2


# ---------------------------------------------------------------------------
# The nucleus
# ---------------------------------------------------------------------------


def _nucleus(continuum=0, **kw):
    params = (
        ("z", Param(0.03, 0.0, 1.0, 0.01, False)),
        ("xcen", Param(0.0, -1.0, 1.0, 0.1, False)),
        ("ycen", Param(0.0, -1.0, 1.0, 0.1, False)),
        ("logMBH", Param(8.0, 5.0, 10.0, 0.1, True)),
        ("logLEdd", Param(-1.0, -4.0, 1.0, 0.1, True)),
        ("spin", Param(0.0, -0.99, 0.99, 0.01, True)),
        ("Av", Param(0.3, 0.0, 3.0, 0.1, True)),
        ("logL5100", Param(43.0, 41.0, 47.0, 0.1, True)),
        ("alpha", (Param(1.5, 0.0, 4.0, 0.1, True), Param(0.5, -1.0, 5.0, 0.1, True))),
        ("logLhotdust", (Param(43.5, 40.0, 46.0, 0.1, True), Param(1300.0, 800.0, 2000.0, 50.0, True))),
    )
    fields = dict(
        letter="a",
        name="AGN",
        layout="full",
        params=params,
        broad_lines=("Hb", "Ha", "Hg"),
        narrow_lines=("Hb", "OIII_4959", "OIII_5007", "NII_6549", "NII_6583", "OI_6302", "OI_6365", "SII_6716"),
        n_broad=2,
        n_narrow=2,
        balmer_continuum=True,
        feii=True,
        continuum=continuum,
    )
    fields.update(kw)
    return NucleusSpec(**fields)


def _table(nucleus):
    from galfits_nb.config.companions import ParamRow

    rows = []
    for key, value in nucleus.params:
        if key == "alpha":
            rows += [ParamRow(f"AGN_alpha{k + 1}", p.value, p.min, p.max, p.step, p.vary) for k, p in enumerate(value)]
        elif key == "logLhotdust":
            rows.append(ParamRow("AGN_logLhotdust", value[0].value, value[0].min, value[0].max, 0.1, True))
            rows.append(ParamRow("AGN_Thotdust", value[1].value, value[1].min, value[1].max, 50.0, True))
        else:
            rows.append(ParamRow(f"AGN_{key}", value.value, value.min, value.max, value.step, value.vary))
    return ParameterTable(tuple(rows + agn.agn_parameter_rows(nucleus)))


def test_parameter_rows():
    nucleus = _nucleus()
    rows = {row.name: row for row in agn.agn_parameter_rows(nucleus)}
    for row in rows.values():
        assert row.name.startswith("AGN_") and row.min <= row.value <= row.max
    assert rows["AGN_Hb_b1_logL"].value == pytest.approx(41.5 - math.log10(2))
    assert rows["AGN_OIII_5007_n1_logL"].value == pytest.approx(41.0)
    assert rows["AGN_Hb_b2_sigma"].value > rows["AGN_Hb_b1_sigma"].value
    assert rows["AGN_n2_sigma"].value > rows["AGN_n1_sigma"].value
    for weak, strong in (("OIII_4959", "OIII_5007"), ("NII_6549", "NII_6583"), ("OI_6365", "OI_6302")):
        for k in (1, 2):
            assert rows[f"AGN_{weak}_n{k}_logL"].tie.startswith(f"AGN_{strong}_n{k}_logL-")
    assert {"AGN_feii_logL", "AGN_feii_sigma", "AGN_feii_voff", "AGN_bac_logL"} <= set(rows)
    assert all(rows[n].vary for n in rows if rows[n].tie is None)
    assert not any("SII_6731" in n for n in rows)
    # Every name the spectrum reads is in the table; the table's ties resolve.
    table = _table(nucleus)
    spec = agn.agn_spec(nucleus)
    assert set(agn.agn_parameter_names(spec)) <= set(table.names)
    values = table.values()
    assert values["AGN_OI_6365_n2_logL"] == pytest.approx(values["AGN_OI_6302_n2_logL"] - math.log10(3.13))
    # Starts follow the continuum's start.
    bright = _nucleus(params=tuple((k, Param(45.0, 41.0, 47.0, 0.1, True)) if k == "logL5100" else (k, v)
                                   for k, v in nucleus.params))
    bright_rows = {r.name: r for r in agn.agn_parameter_rows(bright)}
    assert bright_rows["AGN_Hb_b1_logL"].value == pytest.approx(43.5 - math.log10(2))


def test_spec_errors_and_type2():
    with pytest.raises(ConfigError, match="Na18"):
        agn.agn_spec(_nucleus(continuum=4))
    with pytest.raises(ConfigError, match="Na12.*Hbeta_x"):
        agn.agn_spec(_nucleus(broad_lines=("Hb", "Hbeta_x")))
    with pytest.raises(ConfigError, match="Na13"):
        agn.agn_spec(_nucleus(narrow_lines=("Hb", "Hbeta")))
    no_alpha2 = tuple((k, v[:1]) if k == "alpha" else (k, v) for k, v in _nucleus().params)
    with pytest.raises(ConfigError, match="Na11"):
        agn.agn_spec(_nucleus(continuum=1, params=no_alpha2))
    assert agn.agn_spec(_nucleus(broad_lines=("Halpha",))).broad_lines == ("Ha",)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        spec = agn.agn_spec(_nucleus(continuum=3))
    assert any("Na18" in str(w.message) for w in caught)
    assert spec.broad_lines == () and not spec.feii and not spec.balmer_continuum
    with pytest.warns(ConfigWarning, match="Na18"):
        table = _table(_nucleus(continuum=3))
    parts = agn_spectrum(jnp.asarray(FINE, jnp.float32), table.values(), spec, unit_erg_s=L_SUN)
    assert float(jnp.max(jnp.abs(parts.continuum))) == 0.0 and float(jnp.max(parts.narrow)) > 0.0


@functools.lru_cache(maxsize=None)
def _compiled(x64: bool):
    """The thin-disk nucleus with every part: loss, gradient and parts, compiled once per precision.

    Returns (free names, table, spec, edges, x, outputs); float32 with the
    L_sun/A unit, float64 with erg/s/A.
    """
    nucleus = _nucleus(continuum=2)
    spec = agn.agn_spec(nucleus)
    table = _table(nucleus)
    free = tuple(n for n in agn.agn_parameter_names(spec) if table[n].tie is None)
    unit = 1.0 if x64 else L_SUN
    template = agn.load_feii_template()

    def loss(x, edges):
        values = table.resolve(dict(zip(free, x)))
        parts = agn.agn_spectrum(edges, values, spec, template, 70.0, unit_erg_s=unit)
        return jnp.sum(jnp.log1p(parts.total * jnp.diff(edges))), parts

    with enable_x64() if x64 else warnings.catch_warnings():
        dtype = jnp.float64 if x64 else jnp.float32
        edges = jnp.asarray(log_grid(1200.0, 2e5, 300.0), dtype)
        x = jnp.asarray([table[n].value for n in free], dtype)
        (value, parts), grad = jax.jit(jax.value_and_grad(loss, has_aux=True))(x, edges)
    return free, table, spec, np.asarray(edges, np.float64), (value, parts, grad)


def test_spectrum_components():
    free, table, spec, edges, (_, parts, _) = _compiled(False)
    values = table.values()
    total = parts.continuum + parts.balmer + parts.feii + parts.broad + parts.narrow + parts.hot_dust
    np.testing.assert_allclose(np.asarray(parts.total), np.asarray(total), rtol=1e-6)
    for part in parts:
        assert part.shape == (edges.size - 1,) and bool(jnp.all(jnp.isfinite(part))) and bool(jnp.all(part >= 0))
    widths = np.diff(edges)
    # Attenuation: broad lines lose 10**(-0.4 Av A_lambda/A_V) at their centres; narrow lines keep theirs.
    def transmission(wavelength):
        return float(dust_transmission(wavelength, 0.3, 0.0))

    broad_total = float(np.sum(np.asarray(parts.broad, np.float64) * widths)) * L_SUN
    expected = sum(
        10 ** values[f"AGN_{line}_b{k}_logL"] * transmission(LINE_WAVELENGTHS[line])
        for line in ("Hb", "Ha", "Hg")
        for k in (1, 2)
    )
    assert broad_total == pytest.approx(expected, rel=1e-4)
    narrow_total = float(np.sum(np.asarray(parts.narrow, np.float64) * widths)) * L_SUN
    narrow_names = [n for n in values if "_n" in n and n.endswith("_logL")]
    assert narrow_total == pytest.approx(sum(10 ** values[n] for n in narrow_names), rel=1e-4)
    hot_total = float(np.sum(np.asarray(parts.hot_dust, np.float64) * widths)) * L_SUN
    assert hot_total == pytest.approx(10**43.5, rel=2e-2)  # 1300 K: ~1 % falls beyond 20 um
    # (The continuum part itself: test_continuum_models_in_spectrum.)
    assert float(jnp.min(parts.continuum)) > 0.0


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_jit_and_gradients_finite_for_every_parameter(x64):
    free, _, _, _, (value, _, grad) = _compiled(x64)
    assert grad.dtype == (jnp.float64 if x64 else jnp.float32)
    assert bool(jnp.isfinite(value))
    bad = [n for n, g in zip(free, np.asarray(grad)) if not np.isfinite(g)]
    assert not bad
    dead = [n for n, g in zip(free, np.asarray(grad)) if g == 0.0]
    assert not dead  # every parameter changes the spectrum


@pytest.mark.parametrize("continuum", [0, 1, 2])
def test_continuum_models_in_spectrum(continuum):
    # A nucleus with its continuum only: the part equals the standalone function
    # times the Calzetti transmission.
    nucleus = _nucleus(continuum=continuum, broad_lines=(), narrow_lines=(), feii=False, balmer_continuum=False)
    spec = agn.agn_spec(nucleus)
    values = {n: v for n, v in _table(nucleus).values().items() if n in agn.agn_parameter_names(spec)}
    edges = jnp.asarray(log_grid(500.0, 1e4, 200.0), jnp.float32)
    parts = agn_spectrum(edges, values, spec, unit_erg_s=L_SUN)
    if continuum == 0:
        alone = power_law(edges, 43.0, 1.5, unit_erg_s=L_SUN)
    elif continuum == 1:
        alone = broken_power_law(edges, 43.0, 1.5, 0.5, unit_erg_s=L_SUN)
    else:
        alone = thin_disk(edges, 8.0, -1.0, 0.0, 0.5, unit_erg_s=L_SUN)
    transmission = dust_transmission(jnp.sqrt(edges[1:] * edges[:-1]), 0.3, 0.0)
    np.testing.assert_allclose(np.asarray(parts.continuum), np.asarray(alone * transmission), rtol=2e-5)
    assert float(jnp.max(parts.hot_dust)) > 0.0 and float(jnp.max(jnp.abs(parts.broad))) == 0.0


@pytest.mark.parametrize("x64", [False, True], ids=["float32", "float64"])
def test_power_law_gradients(x64):
    # Gradients of the power laws (the disk's are in the full nucleus above), including
    # alpha = 1, where the closed form's 1 / (1 - alpha) is replaced by exprel.
    def loss(p, edges):
        return jnp.sum(jnp.log(agn.power_law(edges, p[0], p[1], unit_erg_s=L_SUN))) + jnp.sum(
            jnp.log(agn.broken_power_law(edges, p[0], p[1], p[2], unit_erg_s=L_SUN))
        )

    with enable_x64() if x64 else warnings.catch_warnings():
        dtype = jnp.float64 if x64 else jnp.float32
        edges = jnp.asarray(log_grid(1000.0, 1e4, 50.0), dtype)
        points = jnp.asarray([[43.0, 1.0, 1.0], [44.0, 1.56, -0.45], [42.0, -0.5, 2.0]], dtype)
        result = np.asarray(jax.jit(jax.vmap(jax.grad(loss), in_axes=(0, None)))(points, edges))
    assert result.dtype == dtype
    assert np.all(np.isfinite(result)) and np.all(result != 0.0)
