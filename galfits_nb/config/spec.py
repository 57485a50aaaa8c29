"""Frozen, hashable descriptions of a fit: what never changes while it runs.

Everything a ``.lyric`` file says is held here. These objects carry no arrays
and no open files, so they can be passed to ``jax.jit`` as static arguments
and compared for equality (``parse -> write -> parse`` gives equal objects).

Conventions
-----------
* Angles in degrees, positions in arcsec relative to the region centre R2,
  +x towards East (left), as GALFIT.
* Paths are stored absolute (resolved against the config file's folder).
* A :class:`Param` is one GalfitS five-value parameter
  ``[value, min, max, step, vary]``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Union

__all__ = [
    "Param",
    "FitsRef",
    "Region",
    "ImageSpec",
    "SpectrumSpec",
    "AtlasSpec",
    "SEDSpec",
    "ProfileSpec",
    "NucleusSpec",
    "StarSpec",
    "GalaxySpec",
    "Config",
    "PROFILE_SHAPE_KEYS",
    "SED_KEYS",
]


@dataclass(frozen=True)
class Param:
    """One fit parameter as a GalfitS five-value list.

    Attributes
    ----------
    value, min, max : float
        Start value and hard bounds (``min < max``).
    step : float
        Typical step size (used for scaling and as a proposal width).
    vary : bool
        True when the parameter is free.
    """

    value: float
    min: float
    max: float
    step: float = 0.1
    vary: bool = False

    def as_list(self) -> list[float | int]:
        """Return the GalfitS list form ``[value, min, max, step, vary]``."""
        return [self.value, self.min, self.max, self.step, int(self.vary)]


@dataclass(frozen=True)
class FitsRef:
    """A FITS image on disk: file, HDU index and (for sigma maps) I3's third value.

    Attributes
    ----------
    path : str
        Absolute path of the FITS file.
    hdu : int
        HDU index.
    gain : float or None
        I3's third value: multiplies the sigma map read from ``path``
        (docs/data.md); when the sigma map is estimated instead, the gain
        in e-/ADU.
    """

    path: str
    hdu: int = 0
    gain: float | None = None


@dataclass(frozen=True)
class Region:
    """R block: the target and the centre of every cut-out."""

    name: str
    ra: float
    dec: float
    redshift: float


CutoutSize = Union[float, tuple[float, float, float, float]]


@dataclass(frozen=True)
class ImageSpec:
    """I block: one image, its noise, mask, PSF, sky and flux mode.

    Attributes
    ----------
    letter : str
        Instance letter (``'a'`` for ``Ia``).
    data : FitsRef
        I1, the science image.
    band : str
        I2, GalfitS band name (e.g. ``sloan_g``).
    sigma : FitsRef or None
        I3; None means "estimate from the data as GALFIT does".
    psf : FitsRef or None
        I4; None (I4 absent, blank, ``none`` or ``[Noimg, 0]``) means no PSF
        file: a single-pixel image gets a 1x1 unit PSF anyway, any other
        image a delta function (docs/config.md).
    psf_oversampling : int
        I5, PSF pixels per data pixel.
    mask : FitsRef or None
        I6, bad-pixel mask (1 = bad); None for no mask.
    unit : str
        I7, informational unit label.
    cutout : float or tuple of 4 floats
        I8, half size in arcsec, ``(s1, s2, s3, s4)``, or -1 for the whole image.
    flux_conversion : float
        I9, erg/s/cm^2/A -> image units; -1 derives it from the zero point.
    zeropoint : float
        I10, magnitude zero point.
    sky_model : str
        I11, ``uniform`` or ``polynomial``.
    sky : tuple of Param
        I12, one parameter per sky coefficient.
    allow_shift : bool
        I13.
    shift : tuple of 2 Param
        I14, relative shift (x, y) in pixels.
    use_sed : bool
        I15; False is photometry mode (a free flux per component).
    table_row : int or None
        Set for the images an atlas's photometry table (``A8``) stands for:
        the 0-based data row of the table ``data.path`` (whose ``hdu`` is
        then 0 and meaningless). None for images read from FITS files.
    """

    letter: str
    data: FitsRef
    band: str
    sigma: FitsRef | None
    psf: FitsRef | None
    psf_oversampling: int = 1
    mask: FitsRef | None = None
    unit: str = ""
    cutout: CutoutSize = -1.0
    flux_conversion: float = -1.0
    zeropoint: float = 0.0
    sky_model: str = "uniform"
    sky: tuple[Param, ...] = (Param(0.0, -1.0, 1.0, 0.1, False),)
    allow_shift: bool = False
    shift: tuple[Param, Param] = (
        Param(0.0, -5.0, 5.0, 0.1, False),
        Param(0.0, -5.0, 5.0, 0.1, False),
    )
    use_sed: bool = True
    table_row: int | None = None


@dataclass(frozen=True)
class SpectrumSpec:
    """S block: one spectrum.

    Attributes
    ----------
    letter : str
        Instance letter.
    path : str
        S1, absolute path of the text (or FITS) spectrum.
    flux_conversion : float
        S2, file unit -> 1e-17 erg/s/cm^2/A.
    fit_range : tuple of 2 float
        S3, rest-frame fitting range in Angstrom.
    high_resolution : bool
        S4, use the MILES-resolution part of the templates.
    resolution : str or float or None
        S5, instrument resolution: FWHM in A (float), ``'R3500'`` or
        ``'column'``; None when the data have the templates' resolution.
    masked_ranges : tuple of (float, float)
        S6 (an extension), rest-frame ranges [A] inside S3 left out of the
        fit: bad columns, telluric bands, features no component models.
    """

    letter: str
    path: str
    flux_conversion: float = 1.0
    fit_range: tuple[float, float] = (0.0, 1.0e9)
    high_resolution: bool = False
    resolution: str | float | None = None
    masked_ranges: tuple[tuple[float, float], ...] = ()

    @property
    def stem(self) -> str:
        """File name without folder and extension (how A5 may name it)."""
        from pathlib import Path

        return Path(self.path).stem


@dataclass(frozen=True)
class AtlasSpec:
    """A block: images sharing a frame, and the spectra observed through it.

    Attributes
    ----------
    letter, name : str
        Instance letter and A1.
    images : tuple of str
        A2, image letters.
    same_grid : bool
        A3.
    link_shifts : bool
        A4.
    spectra : tuple of str
        A5, spectrum letters (stems in the file are resolved to letters).
    apertures : tuple of tuple of float
        A6, one per spectrum: ``(r,)`` fibre radius or ``(PA, a, b)`` slit, arcsec.
    reference : tuple of int
        A7, index in ``images`` of the reference image per spectrum (-1: none).
    photometry : str
        A8, absolute path of a photometry table (band, flux, error, unit)
        whose rows join the atlas as single-pixel images; ``''`` for none.
        Their image letters (``<atlas letter><row>``, e.g. ``'a0'``) follow
        the A2 letters in ``images``, so A7's indexes into A2 still hold.
    """

    letter: str
    name: str
    images: tuple[str, ...] = ()
    same_grid: bool = True
    link_shifts: bool = False
    spectra: tuple[str, ...] = ()
    apertures: tuple[tuple[float, ...], ...] = ()
    reference: tuple[int, ...] = ()
    photometry: str = ""


# Spatial keys per profile type: item number -> short parameter name. The
# names become table names as ``<component>_<name>`` (``bulge_Re``). Types not
# in GalfitS's documentation follow GALFIT's definitions (Peng et al. 2010, AJ
# 139, 2097): ferrer (r_out, alpha, beta), edge-on disk (r_s, h_s), Gaussian
# (FWHM); the Gaussian ring is a ring of radius R_ring and width sigma.
PROFILE_SHAPE_KEYS: dict[str, dict[int, str]] = {
    "sersic": {5: "Re", 6: "n", 7: "ang", 8: "axrat"},
    "sersic_f": {
        5: "Re", 6: "n", 7: "ang", 8: "axrat",
        17: "rin", 18: "rout", 19: "alpha", 20: "thetaout",
        22: "am", 23: "thetam", 24: "im",
    },
    "ferrer": {5: "rout", 6: "alpha", 7: "ang", 8: "axrat", 17: "beta"},
    "edgeondisk": {5: "rs", 6: "hs", 7: "ang"},
    "GauRing": {5: "Rring", 6: "width", 7: "ang", 8: "axrat"},
    "Gaussian": {5: "FWHM", 7: "ang", 8: "axrat"},
    "const": {},
}

# SED keys: item number -> (short name, kind). kind "list" is a parameter
# list ``[[...], ...]`` (one entry per SFH bin or population), "param" a single
# parameter.
SED_KEYS: dict[int, tuple[str, str]] = {
    9: ("logfrac", "list"),
    10: ("age", "list"),
    11: ("Z", "list"),
    12: ("Av", "list"),
    13: ("sigma", "param"),
    14: ("logM", "param"),
    16: ("logU", "param"),
    26: ("bump", "param"),
    28: ("logMdust", "param"),
    29: ("Umin", "param"),
    30: ("qPAH", "param"),
    31: ("dl_alpha", "param"),
    32: ("dl_gamma", "param"),
}


@dataclass(frozen=True)
class SEDSpec:
    """The SED part of a profile (P9-P16, P26-P32).

    Attributes
    ----------
    sfh : str
        P15: ``burst``, ``conti`` or ``bins``.
    params : tuple of (str, Param or tuple of Param)
        Named SED parameters from :data:`SED_KEYS` (``age`` holds bin edges
        in Gyr as plain floats for ``bins``).
    parts : int
        P27: 0 full, 1 stellar, 2 nebular, 3 dust; other integers are kept.
    """

    sfh: str = "burst"
    params: tuple[tuple[str, object], ...] = ()
    parts: int = 0

    def get(self, name: str, default: object = None) -> object:
        """Return the SED parameter ``name`` (a Param or a tuple of them)."""
        return _lookup(self.params, name, default)


@dataclass(frozen=True)
class ProfileSpec:
    """P block: one galaxy component with a shape and (optionally) an SED.

    Attributes
    ----------
    letter, name, kind : str
        Instance letter, P1 and P2 (profile type).
    xcen, ycen : Param
        P3/P4, centre in arcsec relative to R2.
    shape : tuple of (str, Param)
        Type-dependent spatial parameters, names from :data:`PROFILE_SHAPE_KEYS`.
    fourier_mode : int or None
        P21 for ``sersic_f``.
    sed : SEDSpec or None
        The SED part, None when no SED keys are given.
    """

    letter: str
    name: str
    kind: str
    xcen: Param
    ycen: Param
    shape: tuple[tuple[str, Param], ...] = ()
    fourier_mode: int | None = None
    sed: SEDSpec | None = None


@dataclass(frozen=True)
class NucleusSpec:
    """N block: an AGN, in either layout of CONFIG-FORMAT.md.

    Attributes
    ----------
    letter, name : str
        Instance letter and N1.
    layout : str
        ``'full'`` (27 keys, point source) or ``'shaped'`` (the seed's 18 keys,
        a small Sersic shape).
    params : tuple of (str, Param or tuple of Param)
        Named parameters (``xcen``, ``ycen``, ``logMBH``, ``logLEdd``,
        ``logL5100``, ``alpha`` (tuple of 2), ...).
    broad_lines, narrow_lines : tuple of str
        N12, N13.
    n_broad, n_narrow : int
        N14, N15, Gaussians per line.
    balmer_continuum, feii : bool
        N16, N17.
    continuum : int
        N18 continuum model.
    torus : bool
        N20 (full layout only).
    ebv_galactic : float or None
        N3 in the full layout; None in the seed's layout (taken from the galaxy).
    """

    letter: str
    name: str
    layout: str
    params: tuple[tuple[str, object], ...] = ()
    broad_lines: tuple[str, ...] = ()
    narrow_lines: tuple[str, ...] = ()
    n_broad: int = 1
    n_narrow: int = 1
    balmer_continuum: bool = False
    feii: bool = False
    continuum: int = 0
    torus: bool = False
    ebv_galactic: float | None = None

    def get(self, name: str, default: object = None) -> object:
        """Return the nucleus parameter ``name``."""
        return _lookup(self.params, name, default)


@dataclass(frozen=True)
class StarSpec:
    """F block: a foreground star with a black-body-like SED.

    Attributes
    ----------
    letter, name : str
        Instance letter and F1.
    params : tuple of (str, Param)
        ``xcen``, ``ycen``, ``Teff`` [K], ``logL`` [Lsun at 1 kpc], ``logg``, ``Z``.
    use_sed : bool
        F8; False gives a free flux per band.
    """

    letter: str
    name: str
    params: tuple[tuple[str, Param], ...] = ()
    use_sed: bool = True

    def get(self, name: str, default: object = None) -> object:
        """Return the star parameter ``name``."""
        return _lookup(self.params, name, default)


@dataclass(frozen=True)
class GalaxySpec:
    """G block: profiles that share a redshift.

    Attributes
    ----------
    letter, name : str
        Instance letter and G1.
    profiles : tuple of str
        G2, profile letters.
    redshift : Param
        G3.
    ebv_galactic : float
        G4, Galactic E(B-V) [mag].
    spec_norm : Param
        G5, spectrum normalisation.
    lines : tuple of str
        G6, narrow nebular lines fitted in the spectrum.
    n_line_components : int
        G7.
    """

    letter: str
    name: str
    profiles: tuple[str, ...]
    redshift: Param
    ebv_galactic: float = 0.0
    spec_norm: Param = Param(1.0, 0.5, 2.0, 0.05, False)
    lines: tuple[str, ...] = ()
    n_line_components: int = 1


@dataclass(frozen=True)
class Config:
    """A whole ``.lyric`` file.

    Attributes
    ----------
    region : Region
    path : str
        Absolute path of the file it was read from ('' when built in code).
    images, spectra, atlases, profiles, nuclei, stars, galaxies : tuple
        Blocks in letter order.
    """

    region: Region
    path: str = field(default="", compare=False)
    images: tuple[ImageSpec, ...] = ()
    spectra: tuple[SpectrumSpec, ...] = ()
    atlases: tuple[AtlasSpec, ...] = ()
    profiles: tuple[ProfileSpec, ...] = ()
    nuclei: tuple[NucleusSpec, ...] = ()
    stars: tuple[StarSpec, ...] = ()
    galaxies: tuple[GalaxySpec, ...] = ()
    lines: tuple[tuple[str, int], ...] = field(default=(), compare=False, hash=False)

    def image(self, letter: str) -> ImageSpec:
        """Return the image with instance letter ``letter``."""
        return _by_letter(self.images, letter, "image")

    def spectrum(self, letter: str) -> SpectrumSpec:
        """Return the spectrum with instance letter ``letter``."""
        return _by_letter(self.spectra, letter, "spectrum")

    def profile(self, letter: str) -> ProfileSpec:
        """Return the profile with instance letter ``letter``."""
        return _by_letter(self.profiles, letter, "profile")

    def line_of(self, key: str) -> int | None:
        """Line number in the file where ``key`` (e.g. ``'Ia3'``) was set."""
        return dict(self.lines).get(key)


def _lookup(params: tuple[tuple[str, object], ...], name: str, default: object) -> object:
    for key, value in params:
        if key == name:
            return value
    return default


def _by_letter(blocks: tuple, letter: str, what: str):
    for block in blocks:
        if block.letter == letter:
            return block
    raise KeyError(f"no {what} with letter {letter!r}")
