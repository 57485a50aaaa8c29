"""Random GalSim-rendered imaging cases with known truth, for recovery checks.

A *case* is drawn from a seed and a layout (1 or 5 bands, 1 or 2 Sersic
components). :func:`draw_case` picks the truth and the start values,
:func:`render_case` draws the noisy images with GalSim, :func:`write_case`
writes FITS files and a photometry-mode ``.lyric`` (every image ``I15 = 0``)
that :func:`galfits_nb.config.lyric.read_lyric` and
:func:`galfits_nb.data.observation.read_observation` read back, and
:func:`make_case` does all three. :func:`fit_case` fits a case through
that user path; :func:`recovery_pulls` turns the
:class:`galfits_nb.inference.fit.FitResult` into pulls ``(fit - truth) /
sigma`` per parameter and :func:`joint_distances` into one covariance-based
distance per parameter type.

Geometry
--------
Images are ``size x size`` pixels of :data:`SCALE` arcsec, North up and East
left, centred on (:data:`RA`, :data:`DEC`) (the ``.lyric``'s R2). All bands
of a case share one pixel grid and sit in one atlas (``A3 = 1``). A
component's ``xcen`` is its offset towards East (``-x`` on the image) and
``ycen`` towards North, in arcsec; GalSim draws it with the pixel offset
``(-xcen, ycen) / SCALE``.

Profiles and PSFs
-----------------
galfits_nb's ``Re`` is the half-light radius along the major axis and ``ang``
the PA from North through East; GalSim's shear keeps the area and measures
``beta`` from ``+x``. So a component is ``galsim.Sersic(n,
half_light_radius=Re * sqrt(q))`` sheared with ``q`` and ``beta = ang + 90``
deg. Every image is ``Convolve(galaxy, psf)`` drawn with GalSim's default
method (integrated over the pixels); the PSF file holds the same PSF sampled
at the centres of its pixels (``method="no_pixel"``), since galfits_nb
integrates its profiles over the pixels itself. Moffat PSFs are truncated
inside the PSF stamp, so the PSF that made the image is exactly the one in
the file. PSF stamps have an odd side, so that their centre is a pixel centre
as galfits_nb expects.

The PSF files are sampled :data:`PSF_OVERSAMPLING` = 3 times finer than the
data (I5 = 3). With a PSF sampled like the data (I5 = 1), the model is the
discrete convolution of the pixel-integrated profile with the sampled PSF,
which differs from the continuous convolution wherever the profile has
structure on the pixel scale. For these cases (8 per layout) the chi^2 of
the model at the true parameters against the noise-free image is 6-120
(median per layout), up to 870, with I5 = 1, enough to bias the fits by
several sigma; with I5 = 3 it is 0.03-0.65 (median), 3 at most.
Fits use :data:`FIT_SAMPLING`, one integration point per fine pixel
(3 x 3 per data pixel) outside the exactly integrated central block: as
accurate here as the default 3 x 3 per fine pixel and 9 times cheaper.

Ranges of the truth
-------------------
One component: ``Re`` 2.5-6 px, ``n`` 0.7-4.5, ``q`` 0.3-0.85, any PA.
Two components: a compact bulge (``Re`` 3-4 px, ``n`` 3-5, ``q`` 0.55-0.85)
and an extended disk (``Re`` 8-11 px, ``n`` 0.8-1.3, ``q`` 0.25-0.85), any
PAs, one common true centre, a bulge-to-total flux ratio of 0.3-0.6 in
``sloan_r`` that is lower in the blue bands and higher in the red ones.
The bulge is at least about as large as the PSF (FWHM 2.25-3.85 px) and the
disk 2-4 times larger than the bulge: bulges well inside the PSF, or
bulges and disks of similar size, make Re, n and the flux split of one band
so degenerate that the Hessian errors no longer describe the scatter (the
fit then lands many "sigma" from the truth at an acceptable chi^2), which is
not what these cases test. Images are 64 px (one component) or 96 px (two)
on a side, more than 5 Re of a single profile and more than 4 Re of a disk
from the centre to the edge: on smaller cut-outs the free sky trades with
the wings of the profile and biases Re and n low by a quarter of their error
(seen at 4 Re, gone at 5.5 Re). ``q`` stays at or below 0.85 so that the PA is a
measurable quantity: for a round profile the PA is undefined and its error
is not Gaussian. Centres are within 1 px of the image centre. The PSF FWHM
is drawn in 2.5-3.5 px per case and varied by up to 10 % between bands; each
band's PSF is a Moffat (beta 2.5-4) or a Gaussian. Each band gets its own
noise sigma (0.5-2 image units) and its total flux is set so that the band's
optimal S/N, ``sqrt(sum(model^2)) / sigma``, is 100-1000 (log-uniform;
:data:`SNR_RANGE`).

Start values and bounds
-----------------------
Start values are the truth perturbed: ``Re`` multiplied or divided by up to
1.5, ``n`` +- up to 1, PA +- up to 20 deg, ``q`` +- up to 0.15, centres +- up
to 0.2 arcsec (1 px), each component on its own. Bounds are wide around the
start (``Re`` start / 4 to start x 4, ``n`` 0.3-8, ``q`` 0.1-1, PA start +- 90
deg, centres start +- 1.5 arcsec, sky +- the band's noise sigma), so the
truth is well inside them. Fluxes (``logNorm_<comp>_<band>``) and sky
(``sky_<band>``, truth 0) are free and start where
:func:`galfits_nb.inference.fit.fit_images` puts them.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from galfits_nb.models.profiles import Sampling

__all__ = [
    "RA",
    "DEC",
    "SCALE",
    "BANDS",
    "LAYOUTS",
    "PARAMETER_TYPES",
    "CaseSpec",
    "Case",
    "draw_case",
    "render_case",
    "write_case",
    "make_case",
    "fit_case",
    "FIT_SAMPLING",
    "PSF_OVERSAMPLING",
    "SNR_RANGE",
    "parameter_type",
    "recovery_pulls",
    "joint_distances",
    "TWO_SIGMA_PROBABILITY",
]

RA, DEC = 150.0, 2.0
"""Centre of every image [deg] (the ``.lyric``'s R2)."""
SCALE = 0.2
"""Pixel scale [arcsec/pixel]."""
BANDS = ("sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z")
"""The bands of a five-band case; one-band cases use ``sloan_r``."""
LAYOUTS = ((1, 1), (1, 2), (5, 1), (5, 2))
"""(number of bands, number of components) of the four kinds of case."""
PSF_SIZE = 25
"""Side of the PSF stamp in data pixels (odd)."""
PSF_OVERSAMPLING = 3
"""Default PSF sampling factor relative to the data (the ``.lyric``'s I5)."""
SIZES = {1: 64, 2: 96}
"""Default image side [pixels] by number of components."""
SNR_RANGE = (100.0, 1000.0)
"""Default range of the optimal S/N per band."""
PARAMETER_TYPES = ("Re", "n", "q", "PA", "flux")
"""The parameter types whose recovery is checked."""
TWO_SIGMA_PROBABILITY = 0.9544997361036416
"""Probability of a Gaussian variable within 2 sigma, ``erf(2 / sqrt(2))``."""

FIT_SAMPLING = Sampling(oversampling=1)
"""Pixel integration for fits of these cases (module docstring, PSF sampling)."""

# Relative bulge-to-total ratio per band (times that of sloan_r): bulges are redder.
_BT_COLOUR = {"sloan_u": 0.45, "sloan_g": 0.75, "sloan_r": 1.0, "sloan_i": 1.15, "sloan_z": 1.25}


@dataclass(frozen=True)
class CaseSpec:
    """Everything that defines a case before rendering.

    Attributes
    ----------
    seed : int
    bands : tuple of str
    components : tuple of str
        ``("gal",)`` or ``("bulge", "disk")``.
    size : int
        Image side [pixels].
    shapes : dict of str to dict of str to float
        Per component: ``xcen``, ``ycen`` [arcsec], ``Re`` [arcsec], ``n``,
        ``ang`` [deg], ``axrat``.
    fluxes : dict of str to dict of str to float
        Per component, per band: total flux [image units].
    starts : dict of str to dict of str to float
        Per component: start values of the shape keys.
    psfs : dict of str to tuple of (str, float, float)
        Per band: (``"moffat"`` or ``"gaussian"``, FWHM [arcsec], Moffat beta).
    noise : dict of str to float
        Per band: Gaussian noise sigma [image units].
    snr : dict of str to float
        Per band: optimal S/N of the noise-free image.
    psf_oversampling : int
        The PSF files are sampled this many times finer than the data (I5).
    """

    seed: int
    bands: tuple[str, ...]
    components: tuple[str, ...]
    size: int
    shapes: dict[str, dict[str, float]]
    fluxes: dict[str, dict[str, float]]
    starts: dict[str, dict[str, float]]
    psfs: dict[str, tuple[str, float, float]]
    noise: dict[str, float]
    snr: dict[str, float]
    psf_oversampling: int = PSF_OVERSAMPLING

    @property
    def layout(self) -> tuple[int, int]:
        """(number of bands, number of components)."""
        return len(self.bands), len(self.components)

    def truth(self) -> dict[str, float]:
        """True values keyed by galfits_nb's parameter names.

        Returns
        -------
        dict of str to float
            ``<comp>_xcen``, ``_ycen``, ``_Re``, ``_n``, ``_ang``, ``_axrat``,
            ``logNorm_<comp>_<band>`` (log10 flux) and ``sky_<band>`` (0).
        """
        out: dict[str, float] = {}
        for comp in self.components:
            for key, value in self.shapes[comp].items():
                out[f"{comp}_{key}"] = float(value)
            for band in self.bands:
                out[f"logNorm_{comp}_{band}"] = float(np.log10(self.fluxes[comp][band]))
        for band in self.bands:
            out[f"sky_{band}"] = 0.0
        return out


@dataclass(frozen=True)
class Case:
    """A case written to disk.

    Attributes
    ----------
    spec : CaseSpec
    path : Path
        The ``.lyric`` file.
    truth : dict of str to float
        ``spec.truth()``.
    """

    spec: CaseSpec
    path: Path
    truth: dict[str, float]


def _log_uniform(rng: np.random.Generator, low: float, high: float) -> float:
    return float(np.exp(rng.uniform(np.log(low), np.log(high))))


def _start_shape(rng: np.random.Generator, shape: dict[str, float]) -> dict[str, float]:
    """Perturbed start values of one component's shape keys (module docstring)."""
    factor = _log_uniform(rng, 1.0 / 1.5, 1.5)
    return dict(
        xcen=shape["xcen"] + rng.uniform(-0.2, 0.2),
        ycen=shape["ycen"] + rng.uniform(-0.2, 0.2),
        Re=shape["Re"] * factor,
        n=float(np.clip(shape["n"] + rng.uniform(-1.0, 1.0), 0.5, 6.0)),
        ang=shape["ang"] + rng.uniform(-20.0, 20.0),
        axrat=float(np.clip(shape["axrat"] + rng.uniform(-0.15, 0.15), 0.15, 0.95)),
    )


def draw_case(
    seed: int,
    n_bands: int,
    n_components: int,
    size: int | None = None,
    psf_oversampling: int = PSF_OVERSAMPLING,
    snr_range: tuple[float, float] = SNR_RANGE,
) -> CaseSpec:
    """Draw a random case (ranges in the module docstring).

    Parameters
    ----------
    seed : int
        Seeds everything: the truth, the start values and the noise.
    n_bands : int
        1 (``sloan_r``) or 5 (:data:`BANDS`).
    n_components : int
        1 (``gal``) or 2 (``bulge`` + ``disk``).
    size : int, optional
        Image side [pixels] (default :data:`SIZES` by number of components).
    psf_oversampling : int
        Sampling factor of the PSF files relative to the data (I5).
    snr_range : (float, float)
        Range of the optimal S/N per band (drawn log-uniform).

    Returns
    -------
    CaseSpec
    """
    if n_bands not in (1, 5) or n_components not in (1, 2):
        raise ValueError(f"no layout with {n_bands} band(s) and {n_components} component(s)")
    rng = np.random.default_rng(seed)
    bands = ("sloan_r",) if n_bands == 1 else BANDS
    size = SIZES[n_components] if size is None else int(size)
    xc, yc = rng.uniform(-1.0, 1.0, 2) * SCALE
    if n_components == 1:
        components = ("gal",)
        shapes = {
            "gal": dict(
                xcen=xc, ycen=yc, Re=rng.uniform(2.5, 6.0) * SCALE, n=_log_uniform(rng, 0.7, 4.5),
                ang=rng.uniform(-90.0, 90.0), axrat=rng.uniform(0.3, 0.85),
            )
        }
        ratios = {"gal": {band: 1.0 for band in bands}}
    else:
        components = ("bulge", "disk")
        shapes = {
            "bulge": dict(
                xcen=xc, ycen=yc, Re=rng.uniform(3.0, 4.0) * SCALE, n=rng.uniform(3.0, 5.0),
                ang=rng.uniform(-90.0, 90.0), axrat=rng.uniform(0.55, 0.85),
            ),
            "disk": dict(
                xcen=xc, ycen=yc, Re=rng.uniform(8.0, 11.0) * SCALE, n=rng.uniform(0.8, 1.3),
                ang=rng.uniform(-90.0, 90.0), axrat=rng.uniform(0.25, 0.85),
            ),
        }
        bt_r = rng.uniform(0.3, 0.6)
        bt = {band: float(np.clip(bt_r * _BT_COLOUR[band] * rng.uniform(0.9, 1.1), 0.05, 0.85)) for band in bands}
        ratios = {"bulge": bt, "disk": {band: 1.0 - bt[band] for band in bands}}
    fwhm = rng.uniform(2.5, 3.5) * SCALE
    psfs: dict[str, tuple[str, float, float]] = {}
    for band in bands:
        kind = "moffat" if rng.uniform() < 0.5 else "gaussian"
        psfs[band] = (kind, fwhm * rng.uniform(0.9, 1.1), rng.uniform(2.5, 4.0))
    noise = {band: _log_uniform(rng, 0.5, 2.0) for band in bands}
    snr = {band: _log_uniform(rng, *snr_range) for band in bands}
    starts = {comp: _start_shape(rng, shapes[comp]) for comp in components}
    # Total flux per band from the S/N of the noise-free image at unit total flux.
    fluxes: dict[str, dict[str, float]] = {comp: {} for comp in components}
    unit = CaseSpec(seed, bands, components, size, shapes, ratios, starts, psfs, noise, snr, psf_oversampling)
    for band in bands:
        model = _render_band(unit, band)
        total = snr[band] * noise[band] / float(np.sqrt(np.sum(model**2)))
        for comp in components:
            fluxes[comp][band] = total * ratios[comp][band]
    return CaseSpec(seed, bands, components, size, shapes, fluxes, starts, psfs, noise, snr, psf_oversampling)


def _galsim_psf(kind: str, fwhm: float, beta: float):
    import galsim

    if kind == "moffat":
        # Truncated inside the stamp: the written PSF is the whole PSF.
        return galsim.Moffat(beta=beta, fwhm=fwhm, trunc=(PSF_SIZE // 2 - 1) * SCALE)
    return galsim.Gaussian(fwhm=fwhm)


def _psf_image(spec: CaseSpec, band: str) -> np.ndarray:
    k = spec.psf_oversampling
    psf = _galsim_psf(*spec.psfs[band])
    side = PSF_SIZE * k + (1 - k % 2)
    return psf.drawImage(nx=side, ny=side, scale=SCALE / k, method="no_pixel").array.astype(float)


def _render_band(spec: CaseSpec, band: str) -> np.ndarray:
    """Noise-free image of one band (pixel-integrated, PSF-convolved)."""
    import galsim

    gsparams = galsim.GSParams(folding_threshold=1e-3, maxk_threshold=1e-4, maximum_fft_size=16384)
    image = np.zeros((spec.size, spec.size))
    for comp in spec.components:
        shape = spec.shapes[comp]
        q = shape["axrat"]
        galaxy = galsim.Sersic(
            n=shape["n"], half_light_radius=shape["Re"] * np.sqrt(q), flux=spec.fluxes[comp][band], gsparams=gsparams
        ).shear(q=q, beta=(shape["ang"] + 90.0) * galsim.degrees)
        offset = (-shape["xcen"] / SCALE, shape["ycen"] / SCALE)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", galsim.GalSimFFTSizeWarning)
            drawn = galsim.Convolve(galaxy, _galsim_psf(*spec.psfs[band]), gsparams=gsparams).drawImage(
                nx=spec.size, ny=spec.size, scale=SCALE, offset=offset
            )
        image += drawn.array
    return image


def render_case(spec: CaseSpec, noise: bool = True) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Images and PSFs of a case.

    Parameters
    ----------
    spec : CaseSpec
    noise : bool
        Add Gaussian noise of sigma ``spec.noise[band]`` (seeded by ``spec.seed``).

    Returns
    -------
    dict of str to (ndarray of shape (size, size), ndarray of shape (m, m))
        Per band: the image [image units] and the PSF sampled at the centres
        of pixels ``psf_oversampling`` times smaller than the data's (``m =
        PSF_SIZE * psf_oversampling``, plus 1 when that is even).
    """
    rng = np.random.default_rng([spec.seed, 1])
    out = {}
    for band in spec.bands:
        image = _render_band(spec, band)
        if noise:
            image = image + rng.normal(0.0, spec.noise[band], image.shape)
        out[band] = (image, _psf_image(spec, band))
    return out


def _param(value: float, low: float, high: float, step: float = 0.1) -> str:
    return f"[{value:.6g},{low:.6g},{high:.6g},{step:g},1]"


def write_case(folder: Path, spec: CaseSpec, noise: bool = True) -> Path:
    """Write a case's FITS files and its ``.lyric``; returns the ``.lyric`` path.

    Parameters
    ----------
    folder : Path
        Created if missing; files are named by band (``sloan_r.fits`` holds
        data and sigma in HDUs 0 and 1, ``sloan_r_psf.fits`` the PSF).
    spec : CaseSpec
    noise : bool
        As in :func:`render_case`.

    Returns
    -------
    Path
    """
    from astropy.io import fits

    from galfits_nb.data.mock import north_up_wcs_header

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    header = north_up_wcs_header(RA, DEC, spec.size, SCALE)
    lines = ["R1) recovery", f"R2) [{RA}, {DEC}]", "R3) 0.05"]
    letters = "abcde"
    for letter, (band, (image, psf)) in zip(letters, render_case(spec, noise).items()):
        sigma = np.full_like(image, spec.noise[band])
        fits.HDUList([fits.PrimaryHDU(image, header), fits.ImageHDU(sigma, header)]).writeto(
            folder / f"{band}.fits", overwrite=True
        )
        fits.PrimaryHDU(psf).writeto(folder / f"{band}_psf.fits", overwrite=True)
        s = spec.noise[band]
        lines += [
            f"I{letter}1) [{band}.fits, 0]",
            f"I{letter}2) {band}",
            f"I{letter}3) [{band}.fits, 1]",
            f"I{letter}4) [{band}_psf.fits, 0]",
            f"I{letter}5) {spec.psf_oversampling}",
            f"I{letter}6) [Noimg, 0]",
            f"I{letter}7) counts",
            f"I{letter}8) -1",
            f"I{letter}9) -1",
            f"I{letter}10) 22.5",
            f"I{letter}11) uniform",
            f"I{letter}12) [{_param(0.0, -s, s, s / 10)}]",
            f"I{letter}13) 0",
            f"I{letter}14) [[0,-5,5,0.1,0],[0,-5,5,0.1,0]]",
            f"I{letter}15) 0",
        ]
    used = ",".join(f"'{letter}'" for letter in letters[: len(spec.bands)])
    lines += ["Aa1) mock", f"Aa2) [{used}]", "Aa3) 1", "Aa4) 0", "Aa5) []", "Aa6) []", "Aa7) []"]
    for letter, comp in zip("ab", spec.components):
        s = spec.starts[comp]
        lines += [
            f"P{letter}1) {comp}",
            f"P{letter}2) sersic",
            f"P{letter}3) {_param(s['xcen'], s['xcen'] - 1.5, s['xcen'] + 1.5)}",
            f"P{letter}4) {_param(s['ycen'], s['ycen'] - 1.5, s['ycen'] + 1.5)}",
            f"P{letter}5) {_param(s['Re'], s['Re'] / 4.0, s['Re'] * 4.0)}",
            f"P{letter}6) {_param(s['n'], 0.3, 8.0)}",
            f"P{letter}7) {_param(s['ang'], s['ang'] - 90.0, s['ang'] + 90.0, 1.0)}",
            f"P{letter}8) {_param(s['axrat'], 0.1, 1.0, 0.01)}",
        ]
    path = folder / "recovery.lyric"
    path.write_text("\n".join(lines) + "\n")
    return path


def make_case(
    folder: Path,
    seed: int,
    n_bands: int,
    n_components: int,
    size: int | None = None,
    psf_oversampling: int = PSF_OVERSAMPLING,
    snr_range: tuple[float, float] = SNR_RANGE,
) -> Case:
    """Draw, render and write a case (:func:`draw_case`, :func:`write_case`).

    Parameters
    ----------
    folder : Path
    seed, n_bands, n_components, size, psf_oversampling, snr_range
        As in :func:`draw_case`.

    Returns
    -------
    Case
    """
    spec = draw_case(seed, n_bands, n_components, size, psf_oversampling, snr_range)
    return Case(spec, write_case(folder, spec), spec.truth())


def fit_case(case: Case, **options):
    """Read a case through the user path and fit it with Levenberg-Marquardt.

    Parameters
    ----------
    case : Case
    **options
        Passed to :func:`galfits_nb.inference.fit.fit_images` (default
        ``method="lm"``, ``progress=False``, ``sampling=FIT_SAMPLING``).

    Returns
    -------
    galfits_nb.inference.fit.FitResult
    """
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.fit import fit_images

    config = read_lyric(case.path)
    tree = read_observation(config)
    options = dict(dict(method="lm", progress=False, sampling=FIT_SAMPLING), **options)
    return fit_images(config, tree, **options)


def parameter_type(name: str) -> str | None:
    """The checked type (:data:`PARAMETER_TYPES`) of a parameter name, or None.

    ``<comp>_Re`` -> ``Re``, ``_n`` -> ``n``, ``_axrat`` -> ``q``, ``_ang`` ->
    ``PA``, ``logNorm_*`` -> ``flux``; centres and sky -> None.
    """
    if name.startswith("logNorm_"):
        return "flux"
    suffix = name.rsplit("_", 1)[-1]
    return {"Re": "Re", "n": "n", "axrat": "q", "ang": "PA"}.get(suffix)


def recovery_pulls(values: dict[str, float], sigma: dict[str, float], truth: dict[str, float]) -> dict[str, float]:
    """Pulls ``(fit - truth) / sigma`` of every fitted parameter with a truth.

    PA differences are wrapped into [-90, 90) deg (a PA is defined modulo
    180). Fluxes are compared as fluxes, ``10**logNorm``, with the error
    carried from ``logNorm`` to the flux to first order
    (``sigma_F = ln(10) F sigma_logNorm``): the requirement is about fluxes,
    and the bulge/disk light trade of a one-band fit is a straight line in
    flux (the sum is what the data fix) but a curve in log flux, where the
    Hessian's quadratic picture fits it worse. A missing or non-finite error
    gives a pull of ``inf``.

    Parameters
    ----------
    values : dict of str to float
        Best-fit values (``FitResult.table.values()``).
    sigma : dict of str to float
        1-sigma errors (``FitResult.sigma``); its keys are the parameters compared.
    truth : dict of str to float

    Returns
    -------
    dict of str to float
    """
    pulls = {}
    for name, error in sigma.items():
        if name not in truth:
            continue
        diff = _differences(values, truth, [name])[0]
        error = error * _flux_scales(values, [name])[0]
        pulls[name] = diff / error if np.isfinite(error) and error > 0 else float("inf")
    return pulls


def _differences(values: dict[str, float], truth: dict[str, float], names) -> np.ndarray:
    diff = np.array([values[name] - truth[name] for name in names], dtype=float)
    for i, name in enumerate(names):
        if name.endswith("_ang"):
            diff[i] = (diff[i] + 90.0) % 180.0 - 90.0
        elif name.startswith("logNorm_"):
            diff[i] = 10.0 ** values[name] - 10.0 ** truth[name]
    return diff


def _flux_scales(values: dict[str, float], names) -> np.ndarray:
    """d(compared value)/d(parameter): ``ln(10) F`` for a logNorm, else 1."""
    return np.array(
        [np.log(10.0) * 10.0 ** values[name] if name.startswith("logNorm_") else 1.0 for name in names]
    )


def joint_distances(
    values: dict[str, float], covariance: np.ndarray, free_names, truth: dict[str, float]
) -> dict[str, tuple[float, int, bool]]:
    """Per parameter type, the fit's distance from the truth with the covariance.

    For the ``k`` fitted values of a type (both Re of a bulge + disk case,
    the ten fluxes of a five-band one) the squared Mahalanobis distance
    ``d2 = D^T C^-1 D`` of the differences ``D`` (PA wrapped as in
    :func:`recovery_pulls`) under their covariance block ``C`` follows a
    chi^2 distribution with ``k`` degrees of freedom when the errors are
    right. The case is "within 2 sigma" for the type when ``d2`` is below
    that distribution's :data:`TWO_SIGMA_PROBABILITY` quantile; for ``k = 1``
    that is ``|pull| <= 2``. Unlike a count over single values, this counts
    each case once, however strongly its values are correlated (the fluxes
    of one component in five bands move together with its shape).

    Parameters
    ----------
    values : dict of str to float
        Best-fit values.
    covariance : ndarray of shape (n_free, n_free)
        ``FitResult.covariance``.
    free_names : sequence of str
        ``FitResult.free_names`` (the order of ``covariance``).
    truth : dict of str to float

    Returns
    -------
    dict of str to (float, int, bool)
        Per type of :data:`PARAMETER_TYPES` present: ``(d2, k, within)``;
        ``d2`` is ``inf`` when the covariance block is not finite or not
        positive definite.
    """
    from scipy.stats import chi2

    free_names = list(free_names)
    out = {}
    for kind in PARAMETER_TYPES:
        names = [name for name in free_names if name in truth and parameter_type(name) == kind]
        if not names:
            continue
        index = [free_names.index(name) for name in names]
        scales = _flux_scales(values, names)
        block = np.asarray(covariance, dtype=float)[np.ix_(index, index)] * np.outer(scales, scales)
        diff = _differences(values, truth, names)
        d2 = float("inf")
        if np.all(np.isfinite(block)):
            try:
                factor = np.linalg.cholesky(block)
                d2 = float(np.sum(np.linalg.solve(factor, diff) ** 2))
            except np.linalg.LinAlgError:
                pass
        out[kind] = (d2, len(names), d2 <= chi2.ppf(TWO_SIGMA_PROBABILITY, len(names)))
    return out

