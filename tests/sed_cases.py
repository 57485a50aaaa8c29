"""Pure SED fitting cases: bagpipes-made photometry fitted by galfits_nb (tests and benchmarks).

:func:`write_case` asks bagpipes (``bagpipes_reference``) for the noisy
photometry of a known galaxy in :data:`BANDS` (GALEX to WISE, 14 bands), writes
it as a photometry table (band, flux, error, unit) and a ``.lyric`` that
points to it with ``A8`` and holds one profile with fixed spatial parameters
and free SFH (``burst``), Z, A_V and mass. Both codes then share the
templates (BC03 + MILES), the cosmology (flat H0 = 70, Om0 = 0.3), the
attenuation curve (Calzetti) and the filter curves (sedpy); bagpipes' dust
emission and nebular emission are off and the profile's SED is stellar only
(P27 = 1).
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

import bagpipes_reference as ref

BANDS = [
    "galex_fuv", "galex_nuv", "sloan_u", "sloan_g", "sloan_r", "sloan_i", "sloan_z",
    "j", "h", "ks", "wise_w1", "wise_w2", "wise_w3", "wise_w4",
]

TRUTHS = [
    dict(sfh="burst", age=3.0, log_f_recent=-1.5, Z=0.012, Av=0.6, z=0.05, log_formed_mass=10.5),
    dict(sfh="burst", age=8.0, log_f_recent=-3.0, Z=0.03, Av=0.2, z=0.08, log_formed_mass=11.0),
    dict(sfh="burst", age=1.0, log_f_recent=-0.8, Z=0.006, Av=1.2, z=0.03, log_formed_mass=9.5),
]


class SEDCase(NamedTuple):
    """One written case: the config, the truth and bagpipes' living mass."""

    config: Path
    truth: dict
    log_living_mass: float
    flux: object
    error: object


LYRIC = """R1) mock_sed
R2) [150.0,2.0]
R3) {z}

Aa1) 'catalogue'
Aa2) []
Aa3) 1
Aa4) 0
Aa5) []
Aa6) []
Aa7) []
Aa8) photometry.txt

Pa1) gal
Pa2) sersic
Pa3) [0,-1,1,0.1,0]
Pa4) [0,-1,1,0.1,0]
Pa5) [1,0.1,5,0.1,0]
Pa6) [1,0.5,6,0.1,0]
Pa7) [0,-90,90,1,0]
Pa8) [1,0.1,1,0.01,0]
Pa9) [[-2,-6,0,0.1,1]]
Pa10) [[5,0.01,12,0.1,1]]
Pa11) [[0.02,0.001,0.04,0.001,1]]
Pa12) [[0.7,0,3,0.1,1]]
Pa13) [100,40,200,1,0]
Pa14) [10,8,12.5,0.1,1]
Pa15) burst
Pa16) [-2,-4,-2,0.1,0]
Pa26) [0,0,5,0.1,0]
Pa27) 1

Ga1) mock
Ga2) ['a']
Ga3) [{z},0.0,3.0,0.01,0]
Ga4) 0
"""


def write_case(folder: Path, truth: dict, snr: float = 20.0, seed: int = 0) -> SEDCase:
    """Write the photometry table and config of one case into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    flux, error = ref.bagpipes_mock_photometry(truth, BANDS, snr=snr, seed=seed)
    living = ref.bagpipes_model(truth, BANDS).log_living_mass
    lines = ["band flux error unit"]
    lines += [f"{band} {f:.6e} {e:.6e} erg/s/cm2/A" for band, f, e in zip(BANDS, flux, error)]
    (folder / "photometry.txt").write_text("\n".join(lines) + "\n")
    config = folder / "sed.lyric"
    config.write_text(LYRIC.format(z=truth["z"]))
    return SEDCase(config, truth, living, flux, error)


def fit_case(case: SEDCase, **options):
    """Fit a case with galfits_nb (Levenberg-Marquardt, bagpipes' cosmology); returns the FitResult."""
    from galfits_nb.config.lyric import read_lyric
    from galfits_nb.data.observation import read_observation
    from galfits_nb.inference.fit import fit_images
    from galfits_nb.models.cosmology import flat_lambda_cdm

    config = read_lyric(case.config)
    tree = read_observation(config)
    options.setdefault("progress", False)
    return fit_images(config, tree, sed_options={"cosmology": flat_lambda_cdm(70.0, 0.3)}, **options)
