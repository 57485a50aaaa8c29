"""The ``<target>.gssummary`` file: fit statistics and best values, GalfitS layout.

Users' scripts read these files, so the layout is GalfitS's
(CONFIG-FORMAT.md, "The .gssummary layout")::

    # target: J0056-0021
    # config file: quickstart.lyric
    # fitting mode: images - photometry
    # fitting method: lm
    # chisq: 22550.4
    # reduced chisq: 1.0368
    # BIC: 22876.1
    # fitting time: 0.75 mins
    ############# data summary ##############
    # image atlas: sdss
    #    image number: 0  band: sloan_u  chisq: [4211.3]  dof: [4356.]  reduced chisq: [0.9668]
    # spectrum: a  chisq: [3551.2]  dof: [3390.]  reduced chisq: [1.0475]
    ############ fitting summary ############
    # free parameters:
    pname    best_value    sigma
    bulge_Re    0.8695    0.0726

Per image, ``dof`` is the number of unmasked pixels, as GalfitS reports it
(its J0056 summary lists 4356 for every 66 x 66 SDSS cut-out); the total
reduced chi^2 in the header subtracts the free parameters,
``chisq / (N_good - N_free)``. A spectrum's line follows the same rule:
``dof`` is its number of unmasked wavelength pixels and its chi^2 is the
unweighted sum (``--weight_spec`` scales what the fitter minimises, not the
reported value). The table lists the fitted parameters; a
``sigma`` column (1-sigma errors) follows when they were computed, and
samplers add theirs. :func:`read_gssummary` reads the file back.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from astropy.table import Table

from galfits_nb.errors import ConfigError
from galfits_nb.atomic import write_text_lines

__all__ = [
    "ImageStatistics",
    "SpectrumStatistics",
    "FitSummary",
    "SummaryContents",
    "write_gssummary",
    "read_gssummary",
    "format_gssummary",
    "image_statistics",
    "spectrum_statistics",
]

DATA_RULE = "############# data summary ##############"
FIT_RULE = "############ fitting summary ############"


@dataclass(frozen=True)
class ImageStatistics:
    """chi^2 of one image.

    Attributes
    ----------
    atlas : str
        A1 of the atlas holding the image ('' when none does).
    number : int
        Index of the image within its atlas.
    band : str
    chisq : float
    dof : int
        Unmasked pixels.
    """

    atlas: str
    number: int
    band: str
    chisq: float
    dof: int

    @property
    def reduced_chisq(self) -> float:
        return self.chisq / self.dof if self.dof > 0 else float("nan")


@dataclass(frozen=True)
class SpectrumStatistics:
    """chi^2 of one spectrum.

    Attributes
    ----------
    letter : str
        Instance letter of the S block (``a`` for Sa).
    chisq : float
        Unweighted chi^2 over the unmasked wavelength pixels.
    dof : int
        Unmasked wavelength pixels (as ``dof`` of an image line).
    """

    letter: str
    chisq: float
    dof: int

    @property
    def reduced_chisq(self) -> float:
        return self.chisq / self.dof if self.dof > 0 else float("nan")


@dataclass(frozen=True)
class FitSummary:
    """Everything a ``.gssummary`` holds.

    Attributes
    ----------
    target, config_file, mode, method : str
        ``mode`` is ``images - photometry``, ``images - SED``,
        ``images + spectra`` or ``spectra``.
    chisq, reduced_chisq, bic : float
    fitting_time : float
        Seconds.
    images : tuple of ImageStatistics
    parameters : dict of str to dict of str to float
        Column name (``best_value``, ``sigma``, ...) -> parameter -> value, in
        table order; every column names the same parameters.
    extra : dict of str to str
        Further ``# key: value`` header lines (read back verbatim).
    spectra : tuple of SpectrumStatistics
        One line each, after the images.
    """

    target: str
    config_file: str
    mode: str
    method: str
    chisq: float
    reduced_chisq: float
    bic: float
    fitting_time: float
    images: tuple[ImageStatistics, ...] = ()
    parameters: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    extra: Mapping[str, str] = field(default_factory=dict)
    spectra: tuple[SpectrumStatistics, ...] = ()


def _number(value: float) -> str:
    return f"{value:.6g}" if np.isfinite(value) else "nan"


def format_gssummary(summary: FitSummary) -> list[str]:
    """The lines of a ``.gssummary`` file (without newlines)."""
    lines = [
        f"# target: {summary.target}",
        f"# config file: {summary.config_file}",
        f"# fitting mode: {summary.mode}",
        f"# fitting method: {summary.method}",
        f"# chisq: {summary.chisq:.2f}",
        f"# reduced chisq: {summary.reduced_chisq:.4f}",
        f"# BIC: {summary.bic:.2f}",
        f"# fitting time: {summary.fitting_time / 60.0:.2f} mins",
    ]
    lines += [f"# {key}: {value}" for key, value in summary.extra.items()]
    lines.append(DATA_RULE)
    atlas = None
    for image in summary.images:
        if image.atlas != atlas:
            atlas = image.atlas
            lines.append(f"# image atlas: {atlas}")
        lines.append(
            f"#    image number: {image.number}  band: {image.band}  chisq: [{image.chisq:.2f}]  "
            f"dof: [{image.dof}.]  reduced chisq: [{image.reduced_chisq:.4f}]"
        )
    for spectrum in summary.spectra:
        lines.append(
            f"# spectrum: {spectrum.letter}  chisq: [{spectrum.chisq:.2f}]  "
            f"dof: [{spectrum.dof}.]  reduced chisq: [{spectrum.reduced_chisq:.4f}]"
        )
    lines.append(FIT_RULE)
    lines.append("# free parameters:")
    columns = list(summary.parameters)
    if columns:
        names = list(summary.parameters[columns[0]])
        width = max(len("pname"), *(len(n) for n in names)) if names else len("pname")
        lines.append("    ".join(["pname".ljust(width), *columns]))
        for name in names:
            values = [_number(float(summary.parameters[col][name])) for col in columns]
            lines.append("    ".join([name.ljust(width), *values]))
    return lines


def write_gssummary(path: str | os.PathLike, summary: FitSummary) -> Path:
    """Write ``summary`` to ``path`` atomically (an interrupted write keeps the old file)."""
    return write_text_lines(path, format_gssummary(summary))


class SummaryContents(tuple):
    """What :func:`read_gssummary` returns.

    It unpacks as the three-tuple ``(header, images, table)`` that callers
    written before spectra existed expect; the spectrum lines are the
    attribute :attr:`spectra`, so ``header, images, table = read_gssummary(p)``
    keeps working and ``read_gssummary(p).spectra`` reads the new lines.

    Attributes
    ----------
    header : dict of str to str
    images : list of dict
    table : astropy.table.Table
    spectra : list of dict
        Per spectrum line: ``letter``, ``chisq``, ``dof``, ``reduced_chisq``.
    """

    def __new__(
        cls,
        header: dict[str, str],
        images: list[dict[str, object]],
        table: Table,
        spectra: Sequence[dict[str, object]] = (),
    ) -> SummaryContents:
        contents = super().__new__(cls, (header, images, table))
        contents.spectra = list(spectra)
        return contents

    def __getnewargs__(self):  # pickling: rebuild with the spectra
        return (*self, self.spectra)

    @property
    def header(self) -> dict[str, str]:
        return self[0]

    @property
    def images(self) -> list[dict[str, object]]:
        return self[1]

    @property
    def table(self) -> Table:
        return self[2]


def read_gssummary(path: str | os.PathLike) -> SummaryContents:
    """Read a ``.gssummary`` written by galfits_nb or GalfitS.

    Parameters
    ----------
    path : path-like

    Returns
    -------
    SummaryContents
        Unpacks as ``(header, images, table)``:

        header : dict of str to str
            The ``# key: value`` lines before the data summary.
        images : list of dict
            Per image line: ``atlas``, ``number``, ``band``, ``chisq``,
            ``dof``, ``reduced_chisq``.
        table : astropy.table.Table
            The parameter table (``pname``, ``best_value``, further columns).

        and holds the spectrum lines as ``.spectra``: a list of dict with
        ``letter``, ``chisq``, ``dof``, ``reduced_chisq``.

    Raises
    ------
    ConfigError
        The file lacks the parameter table's ``pname`` header, or an image or
        spectrum line cannot be read.
    """
    text = Path(path).read_text(encoding="utf-8").splitlines()
    where = os.fspath(path)
    header: dict[str, str] = {}
    images: list[dict[str, object]] = []
    spectra: list[dict[str, object]] = []
    atlas = ""
    in_data = False
    table_start = None
    for index, line in enumerate(text):
        stripped = line.strip()
        if stripped == DATA_RULE:
            in_data = True
            continue
        if stripped == FIT_RULE:
            in_data = False
            continue
        if stripped.startswith("pname"):
            table_start = index
            break
        if not stripped.startswith("#"):
            continue
        body = stripped.lstrip("#").strip()
        if in_data and body.startswith("image atlas:"):
            atlas = body.split(":", 1)[1].strip()
        elif in_data and body.startswith("image number:"):
            images.append(_image_line(body, atlas, where))
        elif in_data and body.startswith("spectrum:"):
            spectra.append(_spectrum_line(body, where))
        elif not in_data and ":" in body and table_start is None:
            key, value = body.split(":", 1)
            header.setdefault(key.strip(), value.strip())
    if table_start is None:
        raise ConfigError("no parameter table (a line starting with 'pname')", file=where)
    table = Table.read(text[table_start:], format="ascii.basic", delimiter=" ", guess=False)
    return SummaryContents(header, images, table, spectra)


# chisq, dof and reduced chisq in brackets, as GalfitS prints numpy arrays.
_STATISTICS = (
    r"chisq:\s*\[(?P<chisq>[^\]]+)\]\s+dof:\s*\[(?P<dof>[^\]]+)\]\s+reduced chisq:\s*\[(?P<reduced>[^\]]+)\]"
)
_IMAGE_LINE = re.compile(r"image number:\s*(?P<number>\d+)\s+band:\s*(?P<band>\S+)\s+" + _STATISTICS)
_SPECTRUM_LINE = re.compile(r"spectrum:\s*(?P<letter>\S+)\s+" + _STATISTICS)


def _statistics(match: re.Match) -> dict[str, object]:
    return {
        "chisq": float(match["chisq"]),
        "dof": int(float(match["dof"])),
        "reduced_chisq": float(match["reduced"]),
    }


def _image_line(body: str, atlas: str, where: str) -> dict[str, object]:
    match = _IMAGE_LINE.search(body)
    if match is None:
        raise ConfigError(f"cannot read the image line {body!r}", file=where)
    return {"atlas": atlas, "number": int(match["number"]), "band": match["band"], **_statistics(match)}


def _spectrum_line(body: str, where: str) -> dict[str, object]:
    match = _SPECTRUM_LINE.search(body)
    if match is None:
        raise ConfigError(f"cannot read the spectrum line {body!r}", file=where)
    return {"letter": match["letter"], **_statistics(match)}


def image_statistics(
    labels: Sequence[str],
    bands: Mapping[str, str],
    chisq: Mapping[str, float],
    n_good: Mapping[str, int],
    atlas_of: Mapping[str, tuple[str, int]],
) -> tuple[ImageStatistics, ...]:
    """Per-image statistics in atlas order.

    Parameters
    ----------
    labels : sequence of str
        Band labels of the fitted images, in fit order.
    bands : mapping of label to band name
    chisq, n_good : mapping of label to chi^2 / unmasked pixels
    atlas_of : mapping of label to (atlas name, index within the atlas)
    """
    rows = [
        ImageStatistics(*atlas_of.get(lab, ("", i)), bands[lab], chisq[lab], n_good[lab])
        for i, lab in enumerate(labels)
    ]
    order = {name: k for k, name in enumerate(dict.fromkeys(r.atlas for r in rows))}
    return tuple(sorted(rows, key=lambda r: (order[r.atlas], r.number)))


def spectrum_statistics(spectra: Mapping[str, object]) -> tuple[SpectrumStatistics, ...]:
    """Per-spectrum statistics of ``FitResult.spectra``, in fit order.

    Parameters
    ----------
    spectra : mapping of letter to xr.Dataset
        Each with attrs ``chi2`` (unweighted) and ``n_good`` (unmasked
        wavelength pixels).
    """
    return tuple(
        SpectrumStatistics(str(ds.attrs.get("letter", letter)), float(ds.attrs["chi2"]), int(ds.attrs["n_good"]))
        for letter, ds in spectra.items()
    )
