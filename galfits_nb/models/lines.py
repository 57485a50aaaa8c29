"""Emission-line list: rest wavelengths (vacuum), doublet ratios, air <-> vacuum.

Convention
----------
Every wavelength in galfits_nb is a **vacuum** wavelength, as in SDSS spectra
(and DESI, JWST): spectra read in air are converted on input. The table below
therefore holds vacuum rest wavelengths [A].

Sources
-------
* Optical and infrared lines (lambda > 2000 A): the air wavelengths of the
  NIST Atomic Spectra Database (Kramida, Ralchenko, Reader & NIST ASD Team,
  version 5) converted to vacuum with :func:`air_to_vacuum` (Morton 2000).
  They agree to 0.02 A with the vacuum values of the SDSS line list and of
  Vanden Berk et al. (2001, AJ 122, 549, Table 2).
* Ultraviolet lines (lambda < 2000 A, where air wavelengths are not used) and
  the ultraviolet doublets / multiplets as single lines: Vanden Berk et al.
  (2001, Table 2), who weight the members of each doublet by their
  optically thin (gf) ratio: C IV 1549.06 from 1548.19 + 1550.77, N V
  1240.14 from 1238.82 + 1242.80, Si IV 1396.76 (with O IV]), Mg II 2798.75
  from 2796.35 + 2803.53 (the vacuum NIST values).
* ``OII_3727`` is the [O II] 3726.03 + 3728.82 (air) doublet as one line at
  the mean of the two vacuum wavelengths, 3728.48 A: the doublet is 2.8 A
  wide, less than most spectra resolve; ``OII_3726`` / ``OII_3729`` are the
  members for spectra that do resolve it.
* ``HeI`` (5876) is the gf-weighted mean of the 2p 3P - 3d 3D multiplet
  (Vanden Berk et al. 2001), within 0.05 A of its strongest component.
* Hydrogen Paschen and Brackett lines: NIST air wavelengths converted as
  above (Pa-alpha 18751.0, Pa-beta 12818.08, Pa-gamma 10938.09, Br-gamma
  21655.3 A in air).

Names are those of the GalfitS configuration format (CONFIG-FORMAT.md, "N:
nuclei") with a few aliases (:func:`line_wavelength`); GalfitS's own labels
``NeV`` (3346) and ``NeVI`` (which GalfitS puts at 3426.85, the [Ne V] line)
are accepted as aliases of ``NeV_3346`` and ``NeV_3426``.

Doublet ratios
--------------
:data:`DOUBLET_RATIOS` holds the flux ratios that atomic physics fixes: two
lines from the same upper level, whose energy-flux ratio is
``A_strong / A_weak * lambda_weak / lambda_strong`` at any density and
temperature (the A-values are the transition probabilities).

* [O III] 5007/4959 = 2.98: Storey & Zeippen (2000, MNRAS 312, 813);
  their A-values (2.046e-2 and 6.791e-3 s^-1) give 2.984.
* [N II] 6583/6548 = 2.94: Storey & Zeippen (2000); the A-values of
  Froese Fischer & Tachiev (2004, ADNDT 87, 1), 2.914e-3 and 9.851e-4
  s^-1, give 2.942.
* [O I] 6300/6363 = 3.13: the A-values compiled by Wiese, Fuhr & Deters
  (1996, J. Phys. Chem. Ref. Data Monograph 7), 5.651e-3 and 1.823e-3
  s^-1, i.e. 3.100 in photons and 3.131 in energy.

Air <-> vacuum
--------------
:func:`vacuum_to_air` is the formula the IAU adopted (Morton 2000, ApJS 130,
403, eq. 8), Ciddor's (1996, Appl. Opt. 35, 1566) refractive index of
standard air (15 C, 101 325 Pa, 450 ppm CO2) fitted in vacuum wavenumber.
:func:`air_to_vacuum` inverts it by fixed-point iteration to 1e-10 relative
(rather than using a separate fitted inverse, so that the two functions are
exact inverses of each other). Following the IAU convention, wavelengths
below 2000 A are vacuum wavelengths in both systems and are returned
unchanged.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike

from galfits_nb.errors import ConfigError

__all__ = [
    "LINE_WAVELENGTHS",
    "LINE_ALIASES",
    "DOUBLET_RATIOS",
    "AIR_VACUUM_LIMIT_AA",
    "canonical_line_name",
    "line_wavelength",
    "air_to_vacuum",
    "vacuum_to_air",
]

#: Below this wavelength [A] air and vacuum wavelengths coincide (IAU convention).
AIR_VACUUM_LIMIT_AA = 2000.0

#: Rest wavelengths in vacuum [A], by GalfitS line name (module docstring).
LINE_WAVELENGTHS: dict[str, float] = {
    # Hydrogen: Lyman, Balmer, Paschen, Brackett
    "Lyb": 1025.72,
    "Lya": 1215.67,
    "Ha": 6564.61,
    "Hb": 4862.68,
    "Hg": 4341.68,
    "Hd": 4102.89,
    "He": 3971.19,  # H-epsilon (GalfitS's name; helium lines are HeI / HeII)
    "H8": 3890.15,
    "Paa": 18756.1,
    "Pab": 12821.6,
    "Pag": 10941.1,
    "Brg": 21661.2,
    # Helium
    "HeII": 1640.42,
    "HeII_4686": 4687.02,
    "HeI": 5877.29,
    "HeI_4471": 4472.73,
    "HeI_6678": 6679.99,
    "HeI_7065": 7067.14,
    "HeI_10830": 10833.27,
    # Ultraviolet (Vanden Berk et al. 2001, Table 2)
    "OVI": 1033.82,
    "NV": 1240.14,
    "OI_1304": 1304.35,
    "CII_1335": 1335.30,
    "SiIV": 1396.76,
    "CIV": 1549.06,
    "OIII_1663": 1663.48,
    "AlIII": 1857.40,
    "CIII": 1908.73,
    "CII_2326": 2326.44,
    "MgII": 2798.75,
    # Forbidden optical lines
    "NeV_3346": 3346.78,
    "NeV_3426": 3426.86,
    "OII_3726": 3727.09,
    "OII_3729": 3729.88,
    "OII_3727": 3728.48,
    "NeIII_3869": 3869.86,
    "NeIII_3968": 3968.59,
    "OIII_4363": 4364.44,
    "OIII_4959": 4960.29,
    "OIII_5007": 5008.24,
    "NII_5755": 5756.19,
    "OI_6302": 6302.04,
    "OI_6365": 6365.54,
    "NII_6549": 6549.86,
    "NII_6583": 6585.27,
    "SII_6716": 6718.29,
    "SII_6731": 6732.68,
    "ArIII_7136": 7137.76,
    "SIII_9069": 9071.09,
    "SIII_9531": 9533.21,
}

#: Other spellings accepted by :func:`line_wavelength` -> the table's name.
#: Matching ignores case, spaces, brackets, ``_`` and ``-``.
LINE_ALIASES: dict[str, str] = {
    "halpha": "Ha",
    "hbeta": "Hb",
    "hgamma": "Hg",
    "hdelta": "Hd",
    "hepsilon": "He",
    "heps": "He",
    "lyalpha": "Lya",
    "lybeta": "Lyb",
    "paalpha": "Paa",
    "pabeta": "Pab",
    "pagamma": "Pag",
    "brgamma": "Brg",
    "heii4686": "HeII_4686",
    "heii1640": "HeII",
    "hei5876": "HeI",
    "hei5877": "HeI",
    "oiii4959": "OIII_4959",
    "oiii4960": "OIII_4959",
    "oiii5007": "OIII_5007",
    "oiii5008": "OIII_5007",
    "oiii4363": "OIII_4363",
    "oii": "OII_3727",
    "oii3727": "OII_3727",
    "oii3728": "OII_3727",
    "nii6548": "NII_6549",
    "nii6549": "NII_6549",
    "nii6550": "NII_6549",
    "nii6583": "NII_6583",
    "nii6584": "NII_6583",
    "nii6585": "NII_6583",
    "sii6716": "SII_6716",
    "sii6717": "SII_6716",
    "sii6718": "SII_6716",
    "sii6731": "SII_6731",
    "sii6733": "SII_6731",
    "oi6300": "OI_6302",
    "oi6302": "OI_6302",
    "oi6364": "OI_6365",
    "oi6363": "OI_6365",
    "oi6365": "OI_6365",
    "oi": "OI_1304",
    "neiii": "NeIII_3869",
    "neiii3869": "NeIII_3869",
    "neiii3868": "NeIII_3869",
    "nev": "NeV_3346",  # GalfitS's label for 3346
    "nevi": "NeV_3426",  # GalfitS's (mis)label for [Ne V] 3426
    "nev3426": "NeV_3426",
    "nev3346": "NeV_3346",
    "ciii1909": "CIII",
    "ciii1908": "CIII",
    "civ1549": "CIV",
    "mgii2798": "MgII",
    "mgii2800": "MgII",
    "oiii1666": "OIII_1663",
}

#: Fixed flux ratios of doublets: ``{weak: (strong, F_weak / F_strong)}``
#: (energy flux, module docstring).
DOUBLET_RATIOS: dict[str, tuple[str, float]] = {
    "OIII_4959": ("OIII_5007", 1.0 / 2.98),
    "NII_6549": ("NII_6583", 1.0 / 2.94),
    "OI_6365": ("OI_6302", 1.0 / 3.13),
}


def _key(name: str) -> str:
    return "".join(ch for ch in name.lower() if ch not in " _-[]()")


_LOOKUP: dict[str, str] = {**{_key(k): k for k in LINE_WAVELENGTHS}, **LINE_ALIASES}


def canonical_line_name(name: str) -> str:
    """The table's name of a line given any accepted spelling.

    Parameters
    ----------
    name : str
        A name of :data:`LINE_WAVELENGTHS` or an alias (``'Halpha'``,
        ``'[OIII]5007'``, ``'NII_6584'``); case, spaces, brackets, ``_`` and
        ``-`` are ignored.

    Returns
    -------
    str
        The key of :data:`LINE_WAVELENGTHS` (``'Ha'``, ``'OIII_5007'``).

    Raises
    ------
    ConfigError
        Naming the unknown line and listing the known names.
    """
    if name in LINE_WAVELENGTHS:
        return name
    found = _LOOKUP.get(_key(str(name)))
    if found is None:
        raise ConfigError(
            f"unknown emission line {name!r}",
            expected="one of " + ", ".join(LINE_WAVELENGTHS),
            found=repr(name),
        )
    return found


def line_wavelength(name: str) -> float:
    """Vacuum rest wavelength [A] of a line.

    Parameters
    ----------
    name : str
        Line name or alias (see :func:`canonical_line_name`).

    Returns
    -------
    float
        Wavelength in vacuum [A].

    Raises
    ------
    ConfigError
        For an unknown name (the message lists the known names).

    Examples
    --------
    >>> line_wavelength("Ha")
    6564.61
    >>> line_wavelength("[O III] 5007")
    5008.24
    """
    return LINE_WAVELENGTHS[canonical_line_name(name)]


# Morton (2000, eq. 8): n - 1 = a + b / (c - s^2) + d / (e - s^2), with s the
# vacuum wavenumber in um^-1.
_MORTON = (8.34254e-5, 2.406147e-2, 130.0, 1.5998e-4, 38.9)


def _refractive_index(wavelength_vacuum: np.ndarray) -> np.ndarray:
    a, b, c, d, e = _MORTON
    s2 = (1.0e4 / wavelength_vacuum) ** 2
    return 1.0 + a + b / (c - s2) + d / (e - s2)


def vacuum_to_air(wavelength: ArrayLike) -> np.ndarray:
    """Air wavelength of a vacuum wavelength (Morton 2000, IAU standard).

    Parameters
    ----------
    wavelength : array_like
        Vacuum wavelength [A], > 0.

    Returns
    -------
    ndarray of the same shape (float64)
        Air wavelength [A]; unchanged below 2000 A.

    Examples
    --------
    >>> round(float(vacuum_to_air(6564.61)), 2)
    6562.8
    """
    vac = np.asarray(wavelength, dtype=np.float64)
    air = vac / _refractive_index(np.maximum(vac, AIR_VACUUM_LIMIT_AA))
    return np.where(vac < AIR_VACUUM_LIMIT_AA, vac, air)


def air_to_vacuum(wavelength: ArrayLike) -> np.ndarray:
    """Vacuum wavelength of an air wavelength: the inverse of :func:`vacuum_to_air`.

    Solves ``vacuum_to_air(v) = wavelength`` by the iteration
    ``v <- wavelength * n(v)``, which contracts by a factor ~1e-4 per step.

    Parameters
    ----------
    wavelength : array_like
        Air wavelength [A], > 0.

    Returns
    -------
    ndarray of the same shape (float64)
        Vacuum wavelength [A]; unchanged below 2000 A.

    Examples
    --------
    >>> round(float(air_to_vacuum(6562.80)), 2)
    6564.61
    """
    air = np.asarray(wavelength, dtype=np.float64)
    vac = air.copy()
    for _ in range(6):
        vac = air * _refractive_index(np.maximum(vac, AIR_VACUUM_LIMIT_AA))
    return np.where(air < AIR_VACUUM_LIMIT_AA, air, vac)

