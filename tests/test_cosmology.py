"""Jax-friendly distances and ages against astropy.cosmology itself."""

from __future__ import annotations

import jax
import numpy as np
import pytest
from astropy.cosmology import FlatLambdaCDM, LambdaCDM, Planck18

from galfits_nb.errors import GalfitsError
from galfits_nb.models import cosmology as cosmo

# Random redshifts (log-uniform from 1e-4 to 20, uniform from 0 to 20), then
# 0, z_max = 20 and 25 (beyond the table); all evaluated in one call.
_RNG = np.random.default_rng(2024)
RANDOM = np.concatenate(
    [10 ** _RNG.uniform(-4.0, np.log10(20.0), 150), _RNG.uniform(0.0, 20.0, 150)]
)
# Shaped (3, 101) to check that any shape goes through.
REDSHIFTS = np.concatenate([RANDOM, [0.0, 20.0, 25.0]]).astype(np.float32).reshape(3, -1)
N_RANDOM = RANDOM.size


@jax.jit
def evaluate(z, table):
    return (
        cosmo.luminosity_distance_cm(z, table),
        cosmo.age_of_universe_gyr(z, table),
        cosmo.lookback_time_gyr(z, table),
    )


@jax.jit
def derivatives(z, table):
    """d D_L / dz [Mpc] and d age / dz [Gyr] at each redshift of ``z``."""
    d_distance = jax.vmap(jax.grad(cosmo.luminosity_distance_mpc), in_axes=(0, None))(z, table)
    d_age = jax.vmap(jax.grad(cosmo.age_of_universe_gyr), in_axes=(0, None))(z, table)
    return d_distance, d_age

CASES = {
    "planck18": (cosmo.default_cosmology, Planck18),
    "bagpipes": (lambda: cosmo.flat_lambda_cdm(70.0, 0.3), FlatLambdaCDM(H0=70.0, Om0=0.3)),
}


@pytest.fixture(scope="module", params=sorted(CASES))
def case(request):
    make, reference = CASES[request.param]
    table = cosmo.distance_table(make())
    values = evaluate(REDSHIFTS, table)
    assert all(v.shape == REDSHIFTS.shape for v in values)
    return table, reference, [np.asarray(v).ravel() for v in values]


def test_distances_and_ages_match_astropy(case) -> None:
    _, reference, (distance, age, lookback) = case
    z = REDSHIFTS.ravel()[:N_RANDOM].astype(float)  # the float32 redshifts evaluated
    np.testing.assert_allclose(
        distance[:N_RANDOM], reference.luminosity_distance(z).to_value("cm"), rtol=1e-4
    )
    np.testing.assert_allclose(age[:N_RANDOM], reference.age(z).to_value("Gyr"), rtol=1e-4)
    np.testing.assert_allclose(
        lookback[:N_RANDOM], reference.lookback_time(z).to_value("Gyr"), rtol=1e-4
    )


def test_redshift_zero_and_beyond_the_table(case) -> None:
    _, reference, (distance, age, lookback) = case
    at_zero, at_max, beyond = N_RANDOM, N_RANDOM + 1, N_RANDOM + 2
    assert distance[at_zero] == 0.0 and lookback[at_zero] == 0.0
    assert age[at_zero] == pytest.approx(reference.age(0).to_value("Gyr"), rel=1e-6)
    # Beyond z_max = 20 the last tabulated value is returned.
    assert distance[beyond] == distance[at_max] and age[beyond] == age[at_max]


def test_gradients_match_astropy_derivatives(case) -> None:
    table, reference, _ = case
    z = np.array([0.01, 0.7, 3.0, 10.0])
    step = 1e-4
    d_distance = (
        reference.luminosity_distance(z + step) - reference.luminosity_distance(z - step)
    ).to_value("Mpc") / (2 * step)
    d_age = (reference.age(z + step) - reference.age(z - step)).to_value("Gyr") / (2 * step)
    ours_distance, ours_age = derivatives(z, table)
    np.testing.assert_allclose(np.asarray(ours_distance), d_distance, rtol=1e-3)
    np.testing.assert_allclose(np.asarray(ours_age), d_age, rtol=1e-3)


def test_cosmology_is_a_hashable_spec() -> None:
    planck = cosmo.default_cosmology()
    assert planck == cosmo.Cosmology.from_astropy(Planck18)
    assert hash(planck) == hash(cosmo.default_cosmology())
    assert planck.H0 == Planck18.H0.value and planck.Om0 == Planck18.Om0
    assert planck.to_astropy().luminosity_distance(2.0) == Planck18.luminosity_distance(2.0)
    bagpipes = cosmo.flat_lambda_cdm(70.0, 0.3)
    assert bagpipes != planck and bagpipes.Tcmb0 == 0.0

    # A Cosmology can be a static argument of jit (it is hashable).
    f = jax.jit(lambda c, x: x * c.H0, static_argnums=0)
    assert float(f(bagpipes, 2.0)) == 140.0


def test_only_flat_lambda_cdm() -> None:
    with pytest.raises(GalfitsError, match="flat Lambda-CDM"):
        cosmo.Cosmology.from_astropy(LambdaCDM(H0=70.0, Om0=0.3, Ode0=0.6))


def test_cached_table_and_default_are_what_astropy_gives(tmp_path, monkeypatch) -> None:
    """The second call reads the cache folder; what it reads equals astropy's values."""
    from astropy.cosmology import Planck18

    monkeypatch.setenv("GALFITS_NB_CACHE", str(tmp_path))
    first = cosmo.default_cosmology()
    assert (tmp_path / "cosmology" / "planck18.json").is_file()
    assert cosmo.default_cosmology() == first == cosmo.Cosmology.from_astropy(Planck18)
    fresh = cosmo.distance_table(first, z_max=5.0, n_redshift=64)
    stored = list((tmp_path / "cosmology").glob("distances-*.npz"))
    assert len(stored) == 1
    again = cosmo.distance_table(first, z_max=5.0, n_redshift=64)
    for name in cosmo.DistanceTable._fields:
        np.testing.assert_array_equal(getattr(again, name), getattr(fresh, name))
    z = np.array([0.1, 1.0, 4.0])
    ages = np.asarray(cosmo.age_of_universe_gyr(z, again))
    assert ages == pytest.approx(Planck18.age(z).to_value("Gyr"), rel=1e-4)  # 64 nodes only
    # Another grid is another file, not the first one's content.
    other = cosmo.distance_table(first, z_max=2.0, n_redshift=64)
    assert other.redshift[-1] == pytest.approx(2.0)
