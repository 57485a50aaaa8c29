"""Cosmological distances and ages, jax-friendly, from tables made with astropy.

A :class:`Cosmology` is a frozen, hashable description of a flat Lambda-CDM
universe: part of a fit's static spec. :func:`distance_table` evaluates it
once with ``astropy.cosmology`` on a dense redshift grid (0, then 1e-4 to
``z_max`` log-spaced) and returns a :class:`DistanceTable`, a pytree of
arrays. :func:`luminosity_distance_cm`, :func:`age_of_universe_gyr` and
:func:`lookback_time_gyr` interpolate that table in ``jax.numpy``, so a
fitted redshift may be traced and differentiated.

The interpolation is cubic Hermite, with the exact derivatives
(``d D_L / dz = D_M + (1 + z) D_H / E(z)`` and ``dt / dz = -t_H / ((1 + z)
E(z))`` for a flat universe, Hogg 1999, astro-ph/9905116, eqs. 14-16, 21, 30)
as the slopes at the nodes: the interpolant and its gradient are
continuous, and with 1024 nodes its error is far below float32 precision.
Redshifts beyond ``z_max`` are clamped to it (the gradient is zero there).

The default is Planck 2018 (Planck Collaboration 2020, A&A 641, A6, Table 2,
TT,TE,EE+lowE+lensing+BAO; astropy's ``Planck18``). Bagpipes (Carnall et al.
2018) uses ``flat_lambda_cdm(70.0, 0.3)``, needed to compare with it.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.cache import read_npz, store_npz
from galfits_nb.errors import GalfitsError

__all__ = [
    "MPC_CM",
    "Cosmology",
    "DistanceTable",
    "default_cosmology",
    "flat_lambda_cdm",
    "distance_table",
    "luminosity_distance_mpc",
    "luminosity_distance_cm",
    "age_of_universe_gyr",
    "lookback_time_gyr",
]

# One megaparsec [cm]: the parsec of IAU 2015 Resolution B2 (648000 au / pi)
# with the au of IAU 2012 Resolution B2.
MPC_CM = 3.0856775814913673e24


@dataclass(frozen=True)
class Cosmology:
    """A flat Lambda-CDM cosmology (frozen and hashable: a static spec).

    Attributes
    ----------
    H0 : float
        Hubble constant [km/s/Mpc].
    Om0 : float
        Matter density (dark matter plus baryons, massive neutrinos excluded)
        in units of the critical density today.
    Tcmb0 : float
        CMB temperature today [K]; 0 ignores radiation (and neutrinos).
    Neff : float
        Effective number of neutrino species.
    m_nu : tuple of float
        Neutrino masses [eV], one per species or a single value for all.
    Ob0 : float
        Baryon density today (kept for astropy; distances do not use it).
    name : str
        A label.
    """

    H0: float
    Om0: float
    Tcmb0: float = 0.0
    Neff: float = 3.04
    m_nu: tuple[float, ...] = (0.0,)
    Ob0: float = 0.0
    name: str = ""

    def to_astropy(self):
        """The equivalent ``astropy.cosmology.FlatLambdaCDM``."""
        import astropy.units as u
        from astropy.cosmology import FlatLambdaCDM

        return FlatLambdaCDM(
            H0=self.H0,
            Om0=self.Om0,
            Tcmb0=self.Tcmb0 * u.K,
            Neff=self.Neff,
            m_nu=np.array(self.m_nu) * u.eV,
            Ob0=self.Ob0,
            name=self.name or None,
        )

    @classmethod
    def from_astropy(cls, cosmology) -> Cosmology:
        """Describe an astropy ``FlatLambdaCDM`` (e.g. ``Planck18``).

        Raises
        ------
        GalfitsError
            For any other kind of astropy cosmology.
        """
        from astropy.cosmology import FlatLambdaCDM

        if not isinstance(cosmology, FlatLambdaCDM):
            raise GalfitsError(
                f"only flat Lambda-CDM cosmologies are supported, not {type(cosmology).__name__}"
            )
        m_nu = cosmology.m_nu
        masses = (0.0,) if m_nu is None else tuple(float(m) for m in np.atleast_1d(m_nu.value))
        return cls(
            H0=float(cosmology.H0.value),
            Om0=float(cosmology.Om0),
            Tcmb0=float(cosmology.Tcmb0.value),
            Neff=float(cosmology.Neff),
            m_nu=masses,
            Ob0=float(cosmology.Ob0 or 0.0),
            name=cosmology.name or "",
        )


def default_cosmology() -> Cosmology:
    """Planck 2018 (astropy's ``Planck18``): H0 = 67.66, Om0 = 0.30966, flat.

    Read from astropy once and kept in the cache folder
    (``GALFITS_NB_CACHE/cosmology``): importing ``astropy.cosmology`` costs
    ~1.5 s, a noticeable part of a short fit from the command line.
    """
    import json

    path = _cache_file("planck18.json")
    if path is not None and path.is_file():
        try:
            fields = json.loads(path.read_text())
            return Cosmology(**{**fields, "m_nu": tuple(fields["m_nu"])})
        except (OSError, ValueError, TypeError, KeyError):
            pass  # unreadable: rebuild it
    from astropy.cosmology import Planck18

    cosmology = Cosmology.from_astropy(Planck18)
    if path is not None:
        _write_cache(path, lambda tmp: tmp.write_text(json.dumps(dataclasses.asdict(cosmology))))
    return cosmology


_TABLE_VERSION = 1
"""Bump when :func:`distance_table`'s content changes: cached tables carry it in their names."""


def _cache_file(name: str):
    """``GALFITS_NB_CACHE/cosmology/name``, or None where the folder cannot be made."""
    from galfits_nb.cache import cache_dir

    try:
        return cache_dir("cosmology") / name
    except OSError:
        return None


def _write_cache(path, writer) -> None:
    """Write a cache file atomically; a cache that cannot be written is skipped."""
    from galfits_nb.atomic import atomic_path

    try:
        with atomic_path(path) as tmp:
            writer(tmp)
    except OSError:
        pass


def flat_lambda_cdm(h0: float, om0: float, tcmb0: float = 0.0) -> Cosmology:
    """A flat Lambda-CDM cosmology from H0 [km/s/Mpc] and Om0.

    With the default ``tcmb0 = 0`` radiation is ignored, as in astropy's
    ``FlatLambdaCDM(H0=h0, Om0=om0)``; ``flat_lambda_cdm(70.0, 0.3)`` is the
    cosmology of bagpipes.
    """
    return Cosmology(
        H0=float(h0), Om0=float(om0), Tcmb0=float(tcmb0),
        name=f"FlatLambdaCDM(H0={h0:g}, Om0={om0:g})",
    )


class DistanceTable(NamedTuple):
    """Distances and ages on a redshift grid, with their z-derivatives.

    A NamedTuple, hence a pytree: pass it as an argument of a jitted function.

    Attributes
    ----------
    redshift : array of shape (n,)
        0, then log-spaced from 1e-4 to ``z_max``.
    luminosity_distance_mpc, d_luminosity_distance_dz : array of shape (n,)
        D_L [Mpc] and d D_L / dz [Mpc].
    age_gyr, d_age_dz : array of shape (n,)
        Age of the universe at z [Gyr] and its derivative [Gyr].
    lookback_gyr : array of shape (n,)
        Lookback time to z [Gyr]; its derivative is ``-d_age_dz``.
    """

    redshift: jax.Array
    luminosity_distance_mpc: jax.Array
    d_luminosity_distance_dz: jax.Array
    age_gyr: jax.Array
    d_age_dz: jax.Array
    lookback_gyr: jax.Array


def distance_table(
    cosmology: Cosmology | None = None, z_max: float = 20.0, n_redshift: int = 1024
) -> DistanceTable:
    """Tabulate a cosmology with astropy, for the interpolating functions.

    Parameters
    ----------
    cosmology : Cosmology, optional
        Default :func:`default_cosmology`.
    z_max : float
        Largest redshift tabulated; larger ones are clamped to it.
    n_redshift : int
        Number of nodes (0, then ``n_redshift - 1`` log-spaced from 1e-4).

    Returns
    -------
    DistanceTable
        numpy float64 arrays (converted to the default JAX precision when
        used). Takes ~0.3 s for Planck18 (massive neutrinos), ~2 ms without
        radiation; kept in the cache folder (``GALFITS_NB_CACHE/cosmology``,
        named by a hash of the cosmology and the grid) and read from there
        afterwards.
    """
    cosmology = default_cosmology() if cosmology is None else cosmology
    if not z_max > 1e-4 or n_redshift < 3:
        raise GalfitsError(
            f"distance_table needs z_max > 1e-4 and n_redshift >= 3, not {z_max} and {n_redshift}"
        )
    import hashlib

    key = hashlib.sha1(repr((cosmology, float(z_max), int(n_redshift))).encode()).hexdigest()[:12]
    path = _cache_file(f"distances-v{_TABLE_VERSION}-{key}.npz")
    if path is not None and path.is_file():
        stored = read_npz(path)
        if stored is not None and all(field in stored for field in DistanceTable._fields):
            return DistanceTable(*(stored[field] for field in DistanceTable._fields))
    table = _astropy_distance_table(cosmology, z_max, n_redshift)
    if path is not None:
        store_npz(path, table._asdict())
    return table


def _astropy_distance_table(cosmology: Cosmology, z_max: float, n_redshift: int) -> DistanceTable:
    """The table of :func:`distance_table`, computed with astropy."""
    astro = cosmology.to_astropy()
    z = np.concatenate([[0.0], np.logspace(-4.0, np.log10(z_max), n_redshift - 1)])
    comoving = astro.comoving_transverse_distance(z).to_value("Mpc")
    hubble_distance = astro.hubble_distance.to_value("Mpc")
    hubble_time = astro.hubble_time.to_value("Gyr")
    efunc = np.asarray(astro.efunc(z))
    return DistanceTable(
        redshift=z,
        luminosity_distance_mpc=(1.0 + z) * comoving,
        d_luminosity_distance_dz=comoving + (1.0 + z) * hubble_distance / efunc,
        age_gyr=astro.age(z).to_value("Gyr"),
        d_age_dz=-hubble_time / ((1.0 + z) * efunc),
        lookback_gyr=astro.lookback_time(z).to_value("Gyr"),
    )


def _hermite(
    z: jax.Array, nodes: jax.Array, values: jax.Array, slopes: jax.Array
) -> jax.Array:
    """Cubic Hermite interpolation on increasing ``nodes``, clamped at the ends.

    In numpy when no argument is a JAX array (building a fit), so that no
    small program is compiled for a value computed once.
    """
    xp = jnp if any(isinstance(a, jax.Array) for a in (z, nodes, values, slopes)) else np
    nodes = xp.asarray(nodes)
    z = xp.clip(xp.asarray(z, nodes.dtype), nodes[0], nodes[-1])
    i = xp.clip(xp.searchsorted(nodes, z, side="right") - 1, 0, nodes.size - 2)
    step = nodes[i + 1] - nodes[i]
    t = (z - nodes[i]) / step
    values, slopes = xp.asarray(values), xp.asarray(slopes)
    return (
        (1.0 + 2.0 * t) * (1.0 - t) ** 2 * values[i]
        + t * (1.0 - t) ** 2 * step * slopes[i]
        + t**2 * (3.0 - 2.0 * t) * values[i + 1]
        + t**2 * (t - 1.0) * step * slopes[i + 1]
    )


def luminosity_distance_mpc(z: jax.Array | float, table: DistanceTable) -> jax.Array:
    """Luminosity distance D_L [Mpc] at redshift ``z`` (any shape, may be traced)."""
    return _hermite(
        z, table.redshift, table.luminosity_distance_mpc, table.d_luminosity_distance_dz
    )


def luminosity_distance_cm(z: jax.Array | float, table: DistanceTable) -> jax.Array:
    """Luminosity distance D_L [cm] at redshift ``z``.

    Parameters
    ----------
    z : array of any shape
        Redshift, 0 to ``z_max`` of the table (may be traced).
    table : DistanceTable
        From :func:`distance_table`.

    Returns
    -------
    array of the shape of ``z``
        D_L [cm]. In float32, D_L**2 overflows beyond ~1.8e19 cm (6 pc):
        form flux ratios as ``(L / D_L) / D_L`` or work in Mpc
        (:func:`luminosity_distance_mpc`).
    """
    return luminosity_distance_mpc(z, table) * MPC_CM


def age_of_universe_gyr(z: jax.Array | float, table: DistanceTable) -> jax.Array:
    """Age of the universe [Gyr] at redshift ``z`` (any shape, may be traced)."""
    return _hermite(z, table.redshift, table.age_gyr, table.d_age_dz)


def lookback_time_gyr(z: jax.Array | float, table: DistanceTable) -> jax.Array:
    """Lookback time [Gyr] to redshift ``z`` (any shape, may be traced).

    Interpolated from its own table rather than as ``age(0) - age(z)``, which
    would lose precision at small z in float32.
    """
    return _hermite(z, table.redshift, table.lookback_gyr, -table.d_age_dz)
