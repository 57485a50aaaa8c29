"""pPXF on an SDSS spectrum shipped with ppxf, with galfits_nb's spectral templates.

The reference half of the check "the spectrum-only fit's stellar velocity
dispersion agrees with pPXF (Cappellari & Emsellem 2004, PASP 116, 138;
Cappellari 2017, MNRAS 466, 798; Cappellari 2023, MNRAS 526, 3273) run on
the same spectrum with the same templates". :func:`ppxf_kinematics` follows
pPXF's own SDSS kinematics example (``ppxf_example_kinematics_sdss.py``)
and its ``sps_util.sps_lib`` template preparation, with galfits_nb's
templates in place of pPXF's SPS files:

1. Read the spectrum (:func:`galfits_nb.data.spectra.read_spectrum_sdss`:
   vacuum wavelengths ``10**loglam``, flux in 1e-17 erg/s/cm^2/A, error
   ``1/sqrt(ivar)``, FWHM ``2.355 wdisp d lambda`` [A], the instrumental
   resolution of every pixel as in the example) and the SDSS redshift
   (``SPECOBJ`` table, column ``Z``).
2. Bring it to the rest frame (Cappellari 2017, section 2.4): wavelengths
   and FWHM divided by ``1 + z``; keep the fitted range; normalise by the
   median flux. The templates are in vacuum like SDSS, so (unlike the
   example, whose E-MILES templates are in air) no air conversion.
3. Templates: :func:`galfits_nb.models.spectral_templates.load_spectral_templates`
   (vacuum, 50 km/s steps), a chosen set of metallicities and ages, matched
   to the instrument exactly as ``sps_lib`` does: the galaxy FWHM
   interpolated onto the template wavelengths, a Gaussian of
   ``sigma = sqrt(max(FWHM_gal**2 - FWHM_tem**2, 0)) / sqrt(4 ln 4)`` [A]
   applied by ``ppxf_util.varsmooth``, with ``FWHM_tem`` the templates' own
   resolution (:func:`~galfits_nb.models.spectral_templates.template_fwhm`),
   then ``ppxf_util.log_rebin`` to the galaxy's velocity scale (divided by
   ``velscale_ratio``) and one common normalisation (the median, as
   ``sps_lib`` without ``norm_range``).
4. Mask the gas emission lines that ``ppxf_util.determine_mask`` masks
   (:data:`GAS_LINES_AIR`, converted to vacuum here, +-400 km/s: its
   default 800 km/s window; :func:`gas_line_mask`) and the pixels SDSS
   flags (``ivar = 0``), and fit with ``moments=2`` (V, sigma), the file's errors
   as noise, and the polynomials of :data:`DEFAULT_DEGREE` /
   :data:`DEFAULT_MDEGREE`.

Polynomials: an additive Legendre polynomial of degree 4 (pPXF's default,
which absorbs template mismatch in line depths) and no multiplicative
one. The result moves by under 1 % with degree 12, with a multiplicative
polynomial of degree 8 in its place, or with both (see
``tests/test_ppxf_reference.py`` and the numbers in
:data:`REFERENCE_SETUP`).

Run as a script (``python tests/ppxf_reference.py``) to print the fit.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from galfits_nb.data.spectra import read_spectrum_sdss
from galfits_nb.models.kinematics import C_KMS, FWHM_PER_SIGMA, air_to_vacuum, match_resolution
from galfits_nb.models.spectral_templates import template_fwhm
from galfits_nb.models.ssp import StellarTemplates

__all__ = [
    "DEFAULT_FIT_RANGE",
    "DEFAULT_DEGREE",
    "DEFAULT_MDEGREE",
    "GAS_LINES_AIR",
    "REFERENCE_SETUP",
    "shipped_spectrum",
    "gas_line_mask",
    "sdss_redshift",
    "ppxf_templates",
    "ppxf_kinematics",
]

# Rest-frame vacuum range [A] of the fit: the MILES part of the templates
# (3540.5-7350 A air) that the SDSS spectrum covers at z = 0.004.
DEFAULT_FIT_RANGE: tuple[float, float] = (3850.0, 7300.0)
DEFAULT_DEGREE = 4
DEFAULT_MDEGREE = 0

# The lines ppxf_util.determine_mask masks ([O II] 3726, 3729, H-delta,
# H-gamma, H-beta, [O III] 4959, 5007, [O I] 6300, [N II] 6548, 6583,
# H-alpha, [S II] 6716, 6731), in AIR as pPXF lists them.
GAS_LINES_AIR = (3726.03, 3728.82, 4101.76, 4340.47, 4861.33, 4958.92, 5006.84,
                 6300.30, 6548.03, 6583.41, 6562.80, 6716.47, 6730.85)

# The setup of the comparison and what pPXF 9.5.2 returned with it
# (galfits_nb spectral templates v1: solar metallicity, the 104 ages from
# 30 Myr to 14 Gyr; 50 km/s grid). The other half (galfits_nb's own
# spectrum-only fit) uses the same file, redshift, range, mask and
# instrumental FWHM. Other choices move sigma by at most 4 %: all seven
# metallicities 101.6; Z = 0.008-0.05 98.5; degree 12 101.0; mdegree 8
# without additive polynomial 105.2; mdegree 12 101.1; velscale_ratio 2
# 102.4; rest 4200-6800 A 102.6; 3850-8700 A 100.4; templates matched with
# galfits_nb's match_resolution instead of varsmooth 103.6 km/s. The SDSS pipeline
# gives VDISP = 97.4 +- 2.4 km/s for this spectrum.
REFERENCE_SETUP = {
    "file": "ppxf/spectra/NGC3522_SDSS_DR18.fits",
    "redshift": 0.0040180134,  # SPECOBJ Z
    "fit_range_rest_vacuum": DEFAULT_FIT_RANGE,
    "gas_mask": "+-400 km/s around GAS_LINES_AIR converted to vacuum "
                "(gas_line_mask); ivar = 0 pixels",
    "noise": "SDSS 1/sqrt(ivar)",
    "instrument_fwhm": "2.355 * wdisp * d lambda, divided by 1 + z",
    "degree": DEFAULT_DEGREE,
    "mdegree": DEFAULT_MDEGREE,
    "velocity_kms": 4.6,  # relative to the redshift above: z = 0.0040333
    "sigma_kms": 102.5,
    "sigma_error_kms": 1.8,
    "chi2_per_dof": 0.82,
    "n_good_pixels": 2654,
}


def shipped_spectrum(name: str = "NGC3522") -> Path:
    """Path of an SDSS spectrum shipped with ppxf (``NGC3522`` or ``NGC3073``)."""
    return Path(str(resources.files("ppxf") / "spectra" / f"{name}_SDSS_DR18.fits"))


def sdss_redshift(path: str | Path) -> float:
    """The SDSS pipeline redshift (``SPECOBJ`` table, ``Z``) of a spec-lite file."""
    from astropy.io import fits

    with fits.open(path) as hdus:
        return float(hdus["SPECOBJ"].data["Z"][0])


def gas_line_mask(wave_vacuum: np.ndarray, width_kms: float = 800.0) -> np.ndarray:
    """True for pixels outside the windows around :data:`GAS_LINES_AIR`.

    Parameters
    ----------
    wave_vacuum : ndarray of shape (n,)
        Rest-frame vacuum wavelengths [A].
    width_kms : float
        Full width of each masked window [km/s].

    Returns
    -------
    ndarray of bool, shape (n,)
        True = good pixel (pPXF's ``goodpixels`` convention).
    """
    lines = np.log(air_to_vacuum(np.asarray(GAS_LINES_AIR)))
    distance = np.abs(np.log(np.asarray(wave_vacuum, dtype=float))[:, None] - lines[None, :])
    return ~np.any(distance < 0.5 * width_kms / C_KMS, axis=1)


def ppxf_templates(
    stellar: StellarTemplates,
    lam_gal_rest: np.ndarray,
    fwhm_gal_rest: np.ndarray,
    velscale: float,
    metallicities: tuple[float, ...] | None = (0.02,),
    age_range_yr: tuple[float, float] = (3.0e7, 1.4e10),
    age_stride: int = 1,
    velscale_ratio: int = 1,
    smoothing: str = "ppxf",
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """galfits_nb's spectral templates prepared as pPXF's ``sps_lib`` does.

    Parameters
    ----------
    stellar : StellarTemplates
        :func:`~galfits_nb.models.spectral_templates.load_spectral_templates`.
    lam_gal_rest, fwhm_gal_rest : ndarray of shape (n_gal,)
        Rest-frame galaxy wavelengths [A, vacuum] and instrumental FWHM [A].
    velscale : float
        Galaxy velocity scale [km/s per pixel].
    metallicities : tuple of float or None
        Grid metallicities Z to use (None: all seven).
    age_range_yr : (float, float)
        Ages to use [yr], inclusive.
    age_stride : int
        Keep every ``age_stride``-th age of that range.
    velscale_ratio : int
        Templates sampled at ``velscale / velscale_ratio``.
    smoothing : {"ppxf", "galfits"}
        ``"ppxf"``: ``ppxf_util.varsmooth``, as ``sps_lib``. ``"galfits"``:
        :func:`galfits_nb.models.kinematics.match_resolution`, the matching
        galfits_nb's own fit uses. On a grid uniform in ln lambda varsmooth
        works on a stretched, linearly interpolated copy and broadens a
        little more (a test line of 2.72 -> 3.5 A: 4 % of the peak off the
        analytic profile, against 0.04 %); pPXF's sigma for NGC 3522 is
        1 % higher with ``"galfits"`` (103.6 against 102.5 km/s).

    Returns
    -------
    templates : ndarray of shape (n_pix_temp, n_templates)
        Log-rebinned, resolution-matched, divided by one common factor.
    lam_temp : ndarray of shape (n_pix_temp,)
        Their wavelengths [A].
    labels : ndarray of shape (n_templates, 2)
        (Z, age [yr]) of each template.
    """
    import ppxf.ppxf_util as util

    metal = np.asarray(stellar.metallicity, dtype=float)
    ages = np.asarray(stellar.age, dtype=float)
    z_pick = np.arange(metal.size) if metallicities is None else np.array(
        [int(np.argmin(np.abs(metal - z))) for z in metallicities]
    )
    a_pick = np.flatnonzero((ages >= age_range_yr[0]) & (ages <= age_range_yr[1]))[::age_stride]
    lam = np.asarray(stellar.wavelength, dtype=float)
    spectra = np.asarray(stellar.ssp, dtype=float)[np.ix_(z_pick, a_pick)]
    labels = np.stack(np.broadcast_arrays(metal[z_pick][:, None], ages[a_pick][None, :]), -1).reshape(-1, 2)
    spectra = spectra.reshape(-1, lam.size).T  # (n_pix, n_templates), pPXF's layout

    # sps_lib: galaxy FWHM at the template wavelengths (constant beyond the
    # galaxy), difference in quadrature clipped at 0, sigma = FWHM / sqrt(4 ln 4).
    fwhm_gal = np.interp(lam, lam_gal_rest, fwhm_gal_rest)
    fwhm_diff2 = (fwhm_gal**2 - template_fwhm(lam) ** 2).clip(0)
    sigma = np.sqrt(fwhm_diff2) / np.sqrt(4 * np.log(4))
    if smoothing == "ppxf":
        spectra = util.varsmooth(lam, spectra, sigma)
    elif smoothing == "galfits":
        spectra = match_resolution(lam, spectra.T, template_fwhm(lam), np.maximum(fwhm_gal, template_fwhm(lam))).T
    else:
        raise ValueError(f"smoothing: expected 'ppxf' or 'galfits', found {smoothing!r}")
    templates, ln_lam_temp = util.log_rebin(lam, spectra, velscale=velscale / velscale_ratio)[:2]
    templates = templates / np.median(templates[templates > 0])
    return templates, np.exp(ln_lam_temp), labels


def ppxf_kinematics(
    path: str | Path,
    stellar: StellarTemplates,
    *,
    redshift: float | None = None,
    fit_range: tuple[float, float] = DEFAULT_FIT_RANGE,
    metallicities: tuple[float, ...] | None = (0.02,),
    age_range_yr: tuple[float, float] = (3.0e7, 1.4e10),
    age_stride: int = 1,
    degree: int = DEFAULT_DEGREE,
    mdegree: int = DEFAULT_MDEGREE,
    velscale_ratio: int = 1,
    mask_width_kms: float = 800.0,
    start_sigma: float = 150.0,
    smoothing: str = "ppxf",
) -> dict:
    """Stellar velocity and dispersion of an SDSS spectrum with pPXF.

    Parameters
    ----------
    path : path
        SDSS spec-lite FITS file (e.g. :func:`shipped_spectrum`).
    stellar : StellarTemplates
        galfits_nb's spectral templates.
    redshift : float, optional
        Redshift to de-redshift with; default the file's SDSS redshift.
    fit_range : (float, float)
        Rest-frame vacuum wavelengths [A] fitted.
    metallicities, age_range_yr, age_stride, velscale_ratio, smoothing
        Template selection, sampling and resolution matching
        (:func:`ppxf_templates`).
    degree, mdegree : int
        pPXF's additive and multiplicative Legendre degrees (-1 / 0: none).
    mask_width_kms : float
        Full width of the window masked around each gas line.
    start_sigma : float
        Starting guess of sigma [km/s].

    Returns
    -------
    dict
        ``velocity`` [km/s, relative to ``redshift``], ``sigma`` [km/s],
        ``velocity_error``, ``sigma_error`` (formal, scaled by
        sqrt(chi2/DOF)), ``chi2`` (per degree of freedom), ``redshift``
        (the input), ``redshift_fit`` ((1 + z) exp(V/c) - 1, Cappellari 2023,
        eq. 5c), ``velscale`` [km/s], ``fit_range``, ``n_good`` (pixels
        fitted), ``good_wavelength`` (rest-frame wavelengths of the fitted
        pixels), ``n_templates``, ``degree``, ``mdegree``, ``pp`` (the
        ``ppxf`` object).
    """
    from ppxf.ppxf import ppxf

    columns = read_spectrum_sdss(path)
    z = sdss_redshift(path) if redshift is None else float(redshift)
    lam_rest = columns.wavelength / (1.0 + z)
    fwhm_rest = columns.fwhm / (1.0 + z)
    keep = (lam_rest >= fit_range[0]) & (lam_rest <= fit_range[1])
    lam_gal, fwhm_gal = lam_rest[keep], fwhm_rest[keep]
    scale = np.median(columns.flux[keep])
    galaxy = columns.flux[keep] / scale
    noise = columns.error[keep] / scale
    bad = ~(noise > 0) | ~np.isfinite(galaxy)
    noise = np.where(bad, 1.0e10, noise)
    galaxy = np.where(np.isfinite(galaxy), galaxy, 0.0)

    ln_lam = np.log(lam_gal)
    velscale = C_KMS * (ln_lam[-1] - ln_lam[0]) / (ln_lam.size - 1)  # Cappellari 2017, eq. 8
    templates, lam_temp, labels = ppxf_templates(
        stellar, lam_gal, fwhm_gal, velscale, metallicities, age_range_yr, age_stride, velscale_ratio, smoothing
    )
    good = gas_line_mask(lam_gal, mask_width_kms) & ~bad
    pp = ppxf(
        templates, galaxy, noise, velscale, [0.0, start_sigma],
        goodpixels=np.flatnonzero(good), moments=2, degree=degree, mdegree=mdegree,
        lam=lam_gal, lam_temp=lam_temp, velscale_ratio=velscale_ratio, quiet=True,
    )
    errors = pp.error * np.sqrt(pp.chi2)
    return {
        "velocity": float(pp.sol[0]),
        "sigma": float(pp.sol[1]),
        "velocity_error": float(errors[0]),
        "sigma_error": float(errors[1]),
        "chi2": float(pp.chi2),
        "redshift": z,
        "redshift_fit": float((1.0 + z) * np.exp(pp.sol[0] / C_KMS) - 1.0),
        "velscale": float(velscale),
        "fit_range": tuple(float(v) for v in fit_range),
        "n_good": int(good.sum()),
        "good_wavelength": lam_gal[good],
        "n_templates": int(templates.shape[1]),
        "degree": degree,
        "mdegree": mdegree,
        "instrument_sigma_kms": float(np.median(C_KMS * fwhm_gal / FWHM_PER_SIGMA / lam_gal)),
        "pp": pp,
    }


if __name__ == "__main__":  # pragma: no cover
    from galfits_nb.models.spectral_templates import load_spectral_templates

    result = ppxf_kinematics(shipped_spectrum(), load_spectral_templates())
    for key in ("velocity", "sigma", "velocity_error", "sigma_error", "chi2", "redshift", "redshift_fit",
                "velscale", "fit_range", "n_good", "n_templates", "instrument_sigma_kms"):
        print(f"{key:22s} {result[key]}")
