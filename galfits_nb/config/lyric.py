"""Read and write the GalfitS ``.lyric`` configuration format.

The grammar and the meaning of every key are in CONFIG-FORMAT.md. Parsing
runs in three passes so that keys may come in any order:

1. split the file into ``(line, section, letter, item, value text)`` rows;
2. read the region (R3 gives ``z`` for arithmetic such as ``3800/(1+z)``);
3. read every block with the schema of its section into the frozen
   dataclasses of :mod:`galfits_nb.config.spec`, then check the references
   between blocks (atlas -> images and spectra, galaxy -> profiles) and the
   files on disk.

Every problem raises :class:`~galfits_nb.errors.ConfigError` naming the file,
line, key, what was expected and what was found.

Decisions where the format is loose (also in ``docs/config.md``):

* Parameters written ``[[p]]`` where a single parameter is meant, and ``[p]``
  where a list is meant, are both accepted (the examples do both).
* ``A6) [[2]]`` and ``A6) [2]`` both mean one fibre of radius 2"; ``A7) 0`` and
  ``A7) [0]`` both mean reference image 0.
* ``A5`` may name a spectrum by letter (``['a']``) or by its file's stem
  (``['spectrum']`` for ``spectrum.txt``); it is stored as letters.
* A key given twice is an error (the second would silently win otherwise).
* ``P27`` values outside 0-3 are kept with a warning and treated as 0 (full
  SED) by the model.
* ``I4`` may be absent, blank, ``none`` or ``[Noimg, 0]``: no PSF file (a
  single-pixel image needs none; any other image is then not convolved).
* ``A8`` (an extension) names a photometry table (band, flux, error, unit);
  each row joins the atlas as a single-pixel image with letter
  ``<atlas letter><row - 1>`` (:mod:`galfits_nb.data.photometry`). The
  writer writes ``A8`` back, not those images.
"""

from __future__ import annotations

import math
import os
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from galfits_nb.config.spec import (
    PROFILE_SHAPE_KEYS,
    SED_KEYS,
    AtlasSpec,
    Config,
    FitsRef,
    GalaxySpec,
    ImageSpec,
    NucleusSpec,
    Param,
    ProfileSpec,
    Region,
    SEDSpec,
    SpectrumSpec,
    StarSpec,
)
from galfits_nb.config.values import ValueSyntaxError, format_value, parse_value, strip_comment
from galfits_nb.errors import ConfigError
from galfits_nb.atomic import atomic_path

__all__ = ["read_lyric", "parse_lyric", "write_lyric", "format_lyric", "ConfigWarning"]


class ConfigWarning(UserWarning):
    """Something in a config was accepted but changed or is unusual."""


_KEY = re.compile(r"^\s*([RISAPNFG])([a-z]?)(\d+)\)\s?(.*)$")
_SFH_TYPES = ("burst", "conti", "bins")
_SKY_MODELS = ("uniform", "polynomial")


@dataclass(frozen=True)
class _Row:
    line: int
    section: str
    letter: str
    item: int
    text: str

    @property
    def key(self) -> str:
        return f"{self.section}{self.letter}{self.item}"


class _Reader:
    """Per-file context: the file name for messages and ``z`` for arithmetic."""

    def __init__(self, filename: str, base: Path, z: float | None, check_files: bool):
        self.filename = filename
        self.base = base
        self.z = z
        self.check_files = check_files
        self._hdu_cache: dict[str, list[tuple[int, ...] | None]] = {}

    def error(self, row: _Row, expected: str, found: str | None = None, detail: str = "") -> ConfigError:
        return ConfigError(
            detail,
            file=self.filename,
            line=row.line,
            key=row.key,
            expected=expected,
            found=row.text.strip() if found is None else found,
        )

    def value(self, row: _Row) -> object:
        names = {"z": self.z} if self.z is not None else {}
        try:
            return parse_value(row.text, names)
        except ValueSyntaxError as err:
            raise self.error(row, "a value in the .lyric grammar", detail=str(err)) from None

    # ---- kinds -------------------------------------------------------
    def word(self, row: _Row) -> str:
        text = row.text.strip()
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1]
        if not text or text.startswith("["):
            raise self.error(row, "a name")
        return text

    def number(self, row: _Row) -> float:
        value = self.value(row)
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], float):
            value = value[0]
        if not isinstance(value, float) or not math.isfinite(value):
            raise self.error(row, "a number")
        return value

    def integer(self, row: _Row) -> int:
        value = self.number(row)
        if not value.is_integer():
            raise self.error(row, "an integer")
        return int(value)

    def flag(self, row: _Row) -> bool:
        value = self.integer(row)
        if value not in (0, 1):
            raise self.error(row, "0 or 1")
        return bool(value)

    def choice(self, options: tuple[str, ...]) -> Callable[[_Row], str]:
        def read(row: _Row) -> str:
            word = self.word(row)
            if word not in options:
                raise self.error(row, "one of " + ", ".join(options), found=repr(word))
            return word

        return read

    def param(self, row: _Row, value: object = None) -> Param:
        value = self.value(row) if value is None else value
        if isinstance(value, list) and len(value) == 1 and isinstance(value[0], list):
            value = value[0]
        expected = "a parameter [value, min, max, step, vary]"
        if not isinstance(value, list) or len(value) != 5:
            found = f"a list of {len(value)} items" if isinstance(value, list) else None
            raise self.error(row, expected, found=found)
        for item in value:
            if not isinstance(item, float) or not math.isfinite(item):
                raise self.error(row, expected + " of numbers", found=repr(item))
        start, lo, hi, step, vary = value
        if vary not in (0.0, 1.0):
            raise self.error(row, "vary (5th value) to be 0 or 1", found=format_value(vary))
        if not lo < hi:
            raise self.error(row, "min < max", found=f"min {format_value(lo)} >= max {format_value(hi)}")
        if not lo <= start <= hi:
            clipped = min(max(start, lo), hi)
            warnings.warn(
                f"{self.filename}:{row.line}: {row.key}: value {format_value(start)} outside "
                f"[{format_value(lo)}, {format_value(hi)}], clipped to {format_value(clipped)}",
                ConfigWarning,
                stacklevel=2,
            )
            start = clipped
        return Param(start, lo, hi, step, bool(vary))

    def param_list(self, row: _Row) -> tuple[Param, ...]:
        value = self.value(row)
        if isinstance(value, list) and value and all(isinstance(v, list) for v in value):
            return tuple(self.param(row, v) for v in value)
        return (self.param(row, value),)

    def numbers(self, row: _Row, count: int | None = None) -> tuple[float, ...]:
        value = self.value(row)
        what = f"a list of {count} numbers" if count else "a list of numbers"
        if not isinstance(value, list) or (count is not None and len(value) != count):
            found = f"a list of {len(value)} items" if isinstance(value, list) else None
            raise self.error(row, what, found=found)
        if not all(isinstance(v, float) for v in value):
            raise self.error(row, what)
        return tuple(value)

    def words(self, row: _Row) -> tuple[str, ...]:
        value = self.value(row)
        if value is None:
            return ()
        if isinstance(value, str):
            value = [value]
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            raise self.error(row, "a list of names such as ['a','b']")
        return tuple(value)

    def path(self, row: _Row, name: str) -> str:
        path = Path(name)
        if not path.is_absolute():
            path = self.base / path
        path = Path(os.path.normpath(path))
        if self.check_files and not path.is_file():
            raise self.error(row, "an existing file", found=f"{name!r} (no such file: {path})")
        return str(path)

    def fits(self, row: _Row, optional: bool = False, with_gain: bool = False) -> FitsRef | None:
        value = self.value(row)
        if value is None or (isinstance(value, str) and value.lower() in ("none", "noimg")):
            if optional:
                return None
            raise self.error(row, "[fits_file, hdu]")
        if isinstance(value, str):
            value = [value, 0.0]
        counts = "[fits_file, hdu] or [fits_file, hdu, gain]" if with_gain else "[fits_file, hdu]"
        if not isinstance(value, list) or len(value) not in ((2, 3) if with_gain else (2,)):
            found = f"a list of {len(value)} items" if isinstance(value, list) else None
            raise self.error(row, counts, found=found)
        name = value[0]
        if name is None or (isinstance(name, str) and name.lower() in ("none", "noimg")):
            if optional:
                return None
            raise self.error(row, "a FITS file name")
        if not isinstance(name, str):
            raise self.error(row, "a FITS file name first", found=format_value(name))
        hdu = value[1]
        if not isinstance(hdu, float) or not hdu.is_integer() or hdu < 0:
            raise self.error(row, "a non-negative integer HDU index", found=format_value(hdu))
        gain = None
        if len(value) == 3:
            if not isinstance(value[2], float) or value[2] <= 0:
                raise self.error(row, "a positive gain", found=format_value(value[2]))
            gain = value[2]
        path = self.path(row, name)
        if self.check_files:
            self._check_hdu(row, path, int(hdu))
        return FitsRef(path, int(hdu), gain)

    def _check_hdu(self, row: _Row, path: str, hdu: int) -> None:
        if path not in self._hdu_cache:
            from astropy.io import fits

            try:
                with fits.open(path, memmap=True) as hdul:
                    shapes = [tuple(h.shape) if h.is_image and h.header.get("NAXIS", 0) else None for h in hdul]
            except (OSError, ValueError) as err:
                raise self.error(row, "a readable FITS file", found=f"{Path(path).name}: {err}") from None
            self._hdu_cache[path] = shapes
        shapes = self._hdu_cache[path]
        if hdu >= len(shapes):
            raise self.error(
                row, f"an HDU index below {len(shapes)}", found=f"HDU {hdu} in {Path(path).name} ({len(shapes)} HDUs)"
            )
        if shapes[hdu] is None or len(shapes[hdu]) != 2:
            raise self.error(row, "an HDU holding a 2-D image", found=f"HDU {hdu} of {Path(path).name}: {shapes[hdu]}")


# ---------------------------------------------------------------------------
# Schemas: item number -> (field, reader name). Each block reads its rows with
# these; the writer walks the same tables so the two cannot drift apart.
# ---------------------------------------------------------------------------

_IMAGE_ITEMS = {
    1: "data", 2: "band", 3: "sigma", 4: "psf", 5: "psf_oversampling", 6: "mask", 7: "unit",
    8: "cutout", 9: "flux_conversion", 10: "zeropoint", 11: "sky_model", 12: "sky",
    13: "allow_shift", 14: "shift", 15: "use_sed",
}
_IMAGE_REQUIRED = (1, 2)
_SPECTRUM_ITEMS = {
    1: "path",
    2: "flux_conversion",
    3: "fit_range",
    4: "high_resolution",
    5: "resolution",
    6: "masked_ranges",
}
_ATLAS_ITEMS = {
    1: "name", 2: "images", 3: "same_grid", 4: "link_shifts", 5: "spectra", 6: "apertures", 7: "reference",
    8: "photometry",
}
_STAR_ITEMS = {2: "xcen", 3: "ycen", 4: "Teff", 5: "logL", 6: "logg", 7: "Z"}
_GALAXY_ITEMS = {
    1: "name", 2: "profiles", 3: "redshift", 4: "ebv_galactic", 5: "spec_norm", 6: "lines", 7: "n_line_components",
}
# Nucleus layouts: item -> (name, kind) with kind param / params (a list) / a
# field of NucleusSpec read as words, int or flag.
_NUCLEUS_FULL = {
    2: ("z", "param"), 3: ("ebv_galactic", "number"), 4: ("xcen", "param"), 5: ("ycen", "param"),
    6: ("logMBH", "param"), 7: ("logLEdd", "param"), 8: ("spin", "param"), 9: ("Av", "param"),
    10: ("logL5100", "param"), 11: ("alpha", "params"), 12: ("broad_lines", "words"),
    13: ("narrow_lines", "words"), 14: ("n_broad", "int"), 15: ("n_narrow", "int"),
    16: ("balmer_continuum", "flag"), 17: ("feii", "flag"), 18: ("continuum", "int"),
    19: ("specnorm", "param"), 20: ("torus", "flag"), 21: ("logLtorus", "param"),
    22: ("torus_a", "param"), 23: ("torus_h", "param"), 24: ("torus_N0", "param"),
    25: ("torus_i", "param"), 26: ("imgnorm", "param"), 27: ("logLhotdust", "params"),
}
_NUCLEUS_SHAPED = {
    2: ("xcen", "param"), 3: ("ycen", "param"), 4: ("Re", "param"), 5: ("n", "param"),
    6: ("ang", "param"), 7: ("axrat", "param"), 8: ("logLEdd", "param"), 9: ("logMBH", "param"),
    10: ("logL5100", "param"), 11: ("alpha", "params"), 12: ("broad_lines", "words"),
    13: ("narrow_lines", "words"), 14: ("n_broad", "int"), 15: ("n_narrow", "int"),
    16: ("balmer_continuum", "flag"), 17: ("feii", "flag"), 18: ("continuum", "int"),
}
_NUCLEUS_FIELDS = {
    "ebv_galactic", "broad_lines", "narrow_lines", "n_broad", "n_narrow", "balmer_continuum",
    "feii", "continuum", "torus",
}


def read_lyric(path: str | os.PathLike, check_files: bool = True) -> Config:
    """Read a ``.lyric`` file.

    Parameters
    ----------
    path : str or path-like
        The configuration file; relative paths inside it are resolved
        against its folder.
    check_files : bool
        Check that every FITS file and HDU and every spectrum file exists.

    Returns
    -------
    Config

    Raises
    ------
    ConfigError
        With file, line, key, expected and found.
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as err:
        raise ConfigError(f"cannot read the configuration ({err.strerror})", file=str(path)) from None
    return parse_lyric(text, filename=str(path), base=path.resolve().parent, check_files=check_files)


def parse_lyric(text: str, filename: str = "<string>", base: str | os.PathLike = ".", check_files: bool = True) -> Config:
    """Parse ``.lyric`` text (see :func:`read_lyric`)."""
    rows = _split_rows(text, filename)
    blocks: dict[tuple[str, str], dict[int, _Row]] = {}
    for row in rows:
        items = blocks.setdefault((row.section, row.letter), {})
        if row.item in items:
            raise ConfigError(
                f"set twice (first on line {items[row.item].line})", file=filename, line=row.line, key=row.key
            )
        items[row.item] = row
    reader = _Reader(filename, Path(base).resolve(), None, check_files)
    region = _read_region(reader, blocks.get(("R", ""), {}))
    reader.z = region.redshift

    def letters(section: str) -> list[str]:
        return sorted(letter for sec, letter in blocks if sec == section)

    images = tuple(_read_image(reader, letter, blocks[("I", letter)]) for letter in letters("I"))
    spectra = tuple(_read_spectrum(reader, letter, blocks[("S", letter)]) for letter in letters("S"))
    atlases = tuple(_read_atlas(reader, letter, blocks[("A", letter)], images, spectra) for letter in letters("A"))
    if any(atlas.photometry for atlas in atlases):
        expanded = []
        for atlas in atlases:
            if atlas.photometry:
                atlas, table_images = _photometry_images(reader, atlas, blocks[("A", atlas.letter)][8])
                images += table_images
            expanded.append(atlas)
        atlases = tuple(expanded)
    profiles = tuple(_read_profile(reader, letter, blocks[("P", letter)]) for letter in letters("P"))
    nuclei = tuple(_read_nucleus(reader, letter, blocks[("N", letter)]) for letter in letters("N"))
    stars = tuple(_read_star(reader, letter, blocks[("F", letter)]) for letter in letters("F"))
    galaxies = tuple(_read_galaxy(reader, letter, blocks[("G", letter)], profiles) for letter in letters("G"))
    _warn_unused_images(reader, images, atlases)
    if any(atlas.spectra for atlas in atlases):
        _warn_redshift_offsets(reader, blocks, galaxies, nuclei)
    return Config(
        path=str(Path(filename).resolve()) if filename != "<string>" else "",
        region=region,
        images=images,
        spectra=spectra,
        atlases=atlases,
        profiles=profiles,
        nuclei=nuclei,
        stars=stars,
        galaxies=galaxies,
        lines=tuple((row.key, row.line) for row in rows),
    )


def _split_rows(text: str, filename: str) -> list[_Row]:
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        content = strip_comment(raw).strip()
        if not content:
            continue
        match = _KEY.match(content)
        if match is None:
            raise ConfigError(
                "not a 'KEY) VALUE' line",
                file=filename,
                line=number,
                expected="a key such as Ia3) or R1)",
                found=repr(content[:60]),
            )
        section, letter, item, value = match.groups()
        if (section == "R") != (letter == ""):
            what = "no instance letter for R keys" if section == "R" else f"an instance letter after {section}"
            raise ConfigError(file=filename, line=number, key=content.split(")")[0], expected=what, found=repr(content[:40]))
        rows.append(_Row(number, section, letter, int(item), value))
    return rows


def _unknown(reader: _Reader, block: dict[int, _Row], known) -> None:
    for item, row in sorted(block.items()):
        if item not in known:
            allowed = ", ".join(f"{row.section}{row.letter}{k}" for k in sorted(known))
            raise ConfigError("unknown key", file=reader.filename, line=row.line, key=row.key, expected=f"one of {allowed}")


def _require(reader: _Reader, section: str, letter: str, block: dict[int, _Row], required) -> None:
    first = min(block.values(), key=lambda r: r.line)
    for item in required:
        if item not in block:
            raise ConfigError(
                f"block {section}{letter} has no {section}{letter}{item}",
                file=reader.filename,
                line=first.line,
                key=f"{section}{letter}{item}",
                expected="the key to be present",
                found="nothing",
            )


def _read_region(reader: _Reader, block: dict[int, _Row]) -> Region:
    if not block:
        raise ConfigError("no region block", file=reader.filename, key="R1", expected="R1), R2), R3)", found="nothing")
    _unknown(reader, block, (1, 2, 3))
    _require(reader, "R", "", block, (1, 2, 3))
    ra, dec = reader.numbers(block[2], 2)
    if not (0 <= ra <= 360 and -90 <= dec <= 90):
        raise reader.error(block[2], "[RA, Dec] in degrees (0-360, -90-90)")
    return Region(reader.word(block[1]), ra, dec, reader.number(block[3]))


def _read_cutout(reader: _Reader, row: _Row) -> float | tuple[float, float, float, float]:
    value = reader.value(row)
    if isinstance(value, list):
        sides = reader.numbers(row, 4)
        if any(s <= 0 for s in sides):
            raise reader.error(row, "four positive half sizes [s1, s2, s3, s4] in arcsec")
        return sides
    size = reader.number(row)
    if size <= 0 and size != -1:
        raise reader.error(row, "a positive half size in arcsec or -1 for the whole image")
    return size


def _read_image(reader: _Reader, letter: str, block: dict[int, _Row]) -> ImageSpec:
    _unknown(reader, block, _IMAGE_ITEMS)
    _require(reader, "I", letter, block, _IMAGE_REQUIRED)
    fields: dict[str, object] = {"letter": letter}
    readers = {
        1: reader.fits,
        2: reader.word,
        3: lambda r: reader.fits(r, optional=True, with_gain=True),
        4: lambda r: reader.fits(r, optional=True),
        5: reader.integer,
        6: lambda r: reader.fits(r, optional=True),
        7: lambda r: reader.word(r) if r.text.strip() else "",  # informational; may be blank
        8: lambda r: _read_cutout(reader, r),
        9: reader.number,
        10: reader.number,
        11: reader.choice(_SKY_MODELS),
        12: reader.param_list,
        13: reader.flag,
        14: reader.param_list,
        15: reader.flag,
    }
    for item, row in block.items():
        if item in (3, 4) and not row.text.strip():
            fields[_IMAGE_ITEMS[item]] = None
            continue
        fields[_IMAGE_ITEMS[item]] = readers[item](row)
    fields.setdefault("sigma", None)
    fields.setdefault("psf", None)
    if fields.get("psf_oversampling", 1) < 1:
        raise reader.error(block[5], "a positive integer oversampling factor")
    if 14 in block and len(fields["shift"]) != 2:
        raise reader.error(block[14], "two parameters [[shift_x], [shift_y]]", found=f"{len(fields['shift'])}")
    if fields.get("sky_model", "uniform") == "uniform" and 12 in block and len(fields["sky"]) != 1:
        raise reader.error(block[12], "one parameter for a uniform sky", found=f"{len(fields['sky'])} parameters")
    if 9 in block and fields["flux_conversion"] <= 0 and fields["flux_conversion"] != -1:
        raise reader.error(block[9], "a positive conversion factor or -1")
    return ImageSpec(**fields)


def _read_resolution(reader: _Reader, row: _Row) -> str | float | None:
    value = reader.value(row)
    if value is None:
        return None
    if isinstance(value, float) and value > 0:
        return value
    if isinstance(value, str) and (value == "column" or re.fullmatch(r"R\d+(\.\d*)?", value)):
        return value
    raise reader.error(row, "a FWHM in Angstrom, a resolving power such as R3500, or 'column'")


def _read_spectrum(reader: _Reader, letter: str, block: dict[int, _Row]) -> SpectrumSpec:
    _unknown(reader, block, _SPECTRUM_ITEMS)
    _require(reader, "S", letter, block, (1,))
    fields: dict[str, object] = {"letter": letter, "path": reader.path(block[1], reader.word(block[1]))}
    if 2 in block:
        fields["flux_conversion"] = reader.number(block[2])
    if 3 in block:
        lo, hi = reader.numbers(block[3], 2)
        if not lo < hi:
            raise reader.error(block[3], "[lambda_min, lambda_max] with min < max")
        fields["fit_range"] = (lo, hi)
    if 4 in block:
        fields["high_resolution"] = reader.flag(block[4])
    if 5 in block:
        fields["resolution"] = _read_resolution(reader, block[5])
    if 6 in block:
        fields["masked_ranges"] = _read_masked_ranges(reader, block[6])
    return SpectrumSpec(**fields)


def _read_masked_ranges(reader: _Reader, row: _Row) -> tuple[tuple[float, float], ...]:
    """S6: ``[lo, hi]`` or ``[[lo, hi], ...]`` rest-frame ranges [A] left out of the fit."""
    value = reader.value(row)
    expected = "[lambda_min, lambda_max] or a list of such pairs (rest-frame A, min < max)"
    if value is None or value == []:
        return ()
    if not isinstance(value, list):
        raise reader.error(row, expected, found=repr(value))
    pairs = value if all(isinstance(v, list) for v in value) else [value]
    ranges = []
    for pair in pairs:
        if len(pair) != 2 or not all(isinstance(v, float) for v in pair) or not pair[0] < pair[1]:
            raise reader.error(row, expected, found=format_value(pair))
        ranges.append((pair[0], pair[1]))
    return tuple(ranges)


def _read_atlas(reader, letter, block, images, spectra) -> AtlasSpec:
    _unknown(reader, block, _ATLAS_ITEMS)
    _require(reader, "A", letter, block, (1, 2))
    image_letters = reader.words(block[2])
    defined = {im.letter for im in images}
    for name in image_letters:
        if name not in defined:
            raise reader.error(block[2], f"image letters defined by I blocks ({sorted(defined)})", found=repr(name))
    fields: dict[str, object] = {"letter": letter, "name": reader.word(block[1]), "images": image_letters}
    if 3 in block:
        fields["same_grid"] = reader.flag(block[3])
    if 4 in block:
        fields["link_shifts"] = reader.flag(block[4])
    spectrum_letters: tuple[str, ...] = ()
    if 5 in block:
        by_stem = {s.stem: s.letter for s in spectra}
        by_letter = {s.letter for s in spectra}
        resolved = []
        for name in reader.words(block[5]):
            if name in by_letter:
                resolved.append(name)
            elif name in by_stem:
                resolved.append(by_stem[name])
            else:
                raise reader.error(
                    block[5], f"spectrum letters or file stems defined by S blocks ({sorted(by_letter)})", found=repr(name)
                )
        spectrum_letters = tuple(resolved)
    fields["spectra"] = spectrum_letters
    apertures: tuple[tuple[float, ...], ...] = ()
    if 6 in block:
        value = reader.value(block[6])
        if isinstance(value, list) and value and all(isinstance(v, float) for v in value):
            value = [value]
        if not isinstance(value, list) or not all(
            isinstance(v, list) and len(v) in (1, 3) and all(isinstance(x, float) for x in v) for v in value
        ):
            raise reader.error(block[6], "one aperture per spectrum: [[r]] (fibre) or [[PA, a, b]] (slit)")
        apertures = tuple(tuple(v) for v in value)
    if len(apertures) != len(spectrum_letters):
        row = block.get(6) or block.get(5) or block[1]
        raise ConfigError(
            file=reader.filename,
            line=row.line,
            key=f"A{letter}6",
            expected=f"{len(spectrum_letters)} aperture(s), one per spectrum in A{letter}5",
            found=f"{len(apertures)}",
        )
    for aperture in apertures:
        if any(size <= 0 for size in (aperture if len(aperture) == 1 else aperture[1:])):
            raise reader.error(block[6], "positive aperture sizes in arcsec")
    fields["apertures"] = apertures
    reference: tuple[int, ...] = ()
    if 7 in block:
        value = reader.value(block[7])
        value = value if isinstance(value, list) else [value]
        if not all(isinstance(v, float) and v.is_integer() for v in value):
            raise reader.error(block[7], "image indexes such as [0]")
        reference = tuple(int(v) for v in value)
        if len(reference) != len(spectrum_letters):
            raise reader.error(block[7], f"{len(spectrum_letters)} index(es), one per spectrum", found=f"{len(reference)}")
        for index in reference:
            if not (index == -1 or 0 <= index < len(image_letters)):
                raise reader.error(
                    block[7], f"an index into A{letter}2 (0..{len(image_letters) - 1}) or -1", found=str(index)
                )
            if index == -1 and image_letters:
                raise reader.error(block[7], "a reference image index (the atlas has images)", found="-1")
    elif spectrum_letters:
        reference = tuple(0 if image_letters else -1 for _ in spectrum_letters)
    fields["reference"] = reference
    if 8 in block:
        fields["photometry"] = reader.path(block[8], reader.word(block[8]))
    return AtlasSpec(**fields)


def _photometry_images(reader: _Reader, atlas: AtlasSpec, row: _Row) -> tuple[AtlasSpec, tuple[ImageSpec, ...]]:
    """Expand an atlas's photometry table (A8) into single-pixel images.

    With ``check_files=False`` and the table missing, nothing is added
    (``read_observation`` then says so).
    """
    if not Path(atlas.photometry).is_file():
        return atlas, ()
    from galfits_nb.data.photometry import PhotometryTableError, photometry_image_specs, read_photometry_table

    try:
        table = read_photometry_table(atlas.photometry)
    except PhotometryTableError as err:
        raise reader.error(row, "a readable photometry table (band, flux, error, unit)", found=str(err)) from None
    specs = photometry_image_specs(table, letter_prefix=atlas.letter)
    return replace(atlas, images=atlas.images + tuple(s.letter for s in specs)), specs


def _read_profile(reader: _Reader, letter: str, block: dict[int, _Row]) -> ProfileSpec:
    _require(reader, "P", letter, block, (1, 2))
    kind = reader.choice(tuple(PROFILE_SHAPE_KEYS))(block[2])
    shape_keys = PROFILE_SHAPE_KEYS[kind]
    known = {1, 2, 3, 4, 15, 27, *shape_keys, *SED_KEYS}
    if kind == "sersic_f":
        known.add(21)
    _unknown(reader, block, known)
    if kind != "const":
        _require(reader, "P", letter, block, (3, 4, *shape_keys))
    origin = Param(0.0, -5.0, 5.0, 0.1, False)
    xcen = reader.param(block[3]) if 3 in block else origin
    ycen = reader.param(block[4]) if 4 in block else origin
    shape = tuple((name, reader.param(block[item])) for item, name in sorted(shape_keys.items()) if item in block)
    fourier_mode = reader.integer(block[21]) if 21 in block else None
    sed = _read_sed(reader, letter, block)
    return ProfileSpec(letter, reader.word(block[1]), kind, xcen, ycen, shape, fourier_mode, sed)


def _read_sed(reader: _Reader, letter: str, block: dict[int, _Row]) -> SEDSpec | None:
    present = [item for item in (*SED_KEYS, 15, 27) if item in block]
    if not present:
        return None
    _require(reader, "P", letter, block, (9, 10, 11, 12, 14, 15))
    sfh = reader.choice(_SFH_TYPES)(block[15])
    params: list[tuple[str, object]] = []
    for item, (name, kind) in sorted(SED_KEYS.items()):
        if item not in block:
            continue
        if item == 10 and sfh == "bins":
            edges = reader.numbers(block[10])
            if len(edges) < 2 or any(b <= a for a, b in zip(edges, edges[1:])) or edges[0] < 0:
                raise reader.error(block[10], "increasing SFH bin edges in Gyr (at least two)")
            params.append((name, edges))
        elif kind == "list":
            params.append((name, reader.param_list(block[item])))
        else:
            params.append((name, reader.param(block[item])))
    sed = dict(params)
    if sfh == "bins":
        n_bins = len(sed["age"]) - 1
        if len(sed["logfrac"]) != n_bins:
            raise reader.error(block[9], f"{n_bins} parameters, one per SFH bin of P{letter}10", found=f"{len(sed['logfrac'])}")
    else:
        for item, name in ((9, "logfrac"), (10, "age")):
            if len(sed[name]) != 1:
                raise reader.error(block[item], f"one parameter for a {sfh} SFH", found=f"{len(sed[name])}")
    parts = reader.integer(block[27]) if 27 in block else 0
    if parts not in (0, 1, 2, 3):
        warnings.warn(
            f"{reader.filename}:{block[27].line}: P{letter}27 = {parts} is not one of 0-3; "
            "the full SED (0) is used",
            ConfigWarning,
            stacklevel=2,
        )
    return SEDSpec(sfh, tuple(params), parts)


def _read_nucleus(reader: _Reader, letter: str, block: dict[int, _Row]) -> NucleusSpec:
    _require(reader, "N", letter, block, (1,))
    layout = "full"
    if 3 in block:
        layout = "shaped" if isinstance(reader.value(block[3]), list) else "full"
    elif max(block) <= 18 and 2 in block:
        layout = "shaped"
    schema = _NUCLEUS_FULL if layout == "full" else _NUCLEUS_SHAPED
    _unknown(reader, block, {1, *schema})
    _require(reader, "N", letter, block, (2, 3, 4, 5) if layout == "full" else (2, 3))
    params: list[tuple[str, object]] = []
    fields: dict[str, object] = {}
    kinds = {
        "param": reader.param,
        "params": reader.param_list,
        "number": reader.number,
        "words": reader.words,
        "int": reader.integer,
        "flag": reader.flag,
    }
    for item, (name, kind) in sorted(schema.items()):
        if item not in block:
            continue
        value = kinds[kind](block[item])
        if name in _NUCLEUS_FIELDS:
            fields[name] = value
        else:
            params.append((name, value))
    return NucleusSpec(letter, reader.word(block[1]), layout, tuple(params), **fields)


def _read_star(reader: _Reader, letter: str, block: dict[int, _Row]) -> StarSpec:
    _unknown(reader, block, {1, 8, *_STAR_ITEMS})
    _require(reader, "F", letter, block, (1, 2, 3))
    params = tuple((name, reader.param(block[item])) for item, name in sorted(_STAR_ITEMS.items()) if item in block)
    use_sed = reader.flag(block[8]) if 8 in block else True
    return StarSpec(letter, reader.word(block[1]), params, use_sed)


def _read_galaxy(reader, letter, block, profiles) -> GalaxySpec:
    _unknown(reader, block, _GALAXY_ITEMS)
    _require(reader, "G", letter, block, (1, 2, 3))
    names = reader.words(block[2])
    defined = {p.letter for p in profiles}
    for name in names:
        if name not in defined:
            raise reader.error(block[2], f"profile letters defined by P blocks ({sorted(defined)})", found=repr(name))
    fields: dict[str, object] = {
        "letter": letter,
        "name": reader.word(block[1]),
        "profiles": names,
        "redshift": reader.param(block[3]),
    }
    if 4 in block:
        fields["ebv_galactic"] = reader.number(block[4])
    if 5 in block:
        fields["spec_norm"] = reader.param(block[5])
    if 6 in block:
        fields["lines"] = reader.words(block[6])
    if 7 in block:
        fields["n_line_components"] = reader.integer(block[7])
    return GalaxySpec(**fields)


#: Velocity [km/s] beyond which a fixed galaxy redshift and a nucleus
#: redshift in the same spectrum fit are flagged: a host's stars and its AGN's
#: narrow lines agree to a few hundred km/s.
REDSHIFT_OFFSET_WARNING_KMS = 500.0


def _warn_redshift_offsets(reader: _Reader, blocks, galaxies, nuclei) -> None:
    """Warn when a fixed G3 sits far from a full-layout nucleus's N2 (spectrum fits only).

    Why: with the host's redshift fixed, its absorption lines are placed at
    that redshift; a value off by ~1000 km/s cannot be corrected by the fit
    and the stellar features then leave structured residuals.
    """
    c_kms = 299792.458
    for nucleus in nuclei:
        z_nucleus = nucleus.get("z")
        if not isinstance(z_nucleus, Param):
            continue
        for galaxy in galaxies:
            z_galaxy = galaxy.redshift
            if z_galaxy.vary:
                continue
            offset = c_kms * (z_galaxy.value - z_nucleus.value) / (1.0 + z_nucleus.value)
            if abs(offset) > REDSHIFT_OFFSET_WARNING_KMS:
                row = blocks[("G", galaxy.letter)][3]
                warnings.warn(
                    f"{reader.filename}:{row.line}: {row.key}: fixed galaxy redshift {format_value(z_galaxy.value)} "
                    f"is {offset:+.0f} km/s from nucleus N{nucleus.letter}2 ({format_value(z_nucleus.value)}); "
                    "the host's stellar absorption lines are fitted at that offset",
                    ConfigWarning,
                    stacklevel=3,
                )


def _warn_unused_images(reader: _Reader, images, atlases) -> None:
    used = {letter for atlas in atlases for letter in atlas.images}
    for image in images:
        if image.letter not in used:
            warnings.warn(
                f"{reader.filename}: image I{image.letter} ({image.band}) is in no atlas and is not fitted",
                ConfigWarning,
                stacklevel=3,
            )


# ---------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------


def format_lyric(config: Config, folder: str | os.PathLike = ".") -> str:
    """Return ``.lyric`` text for ``config``; paths relative to ``folder``.

    ``parse_lyric(format_lyric(c, d), base=d)`` equals ``c``.
    """
    folder = Path(folder).resolve()

    def rel(path: str) -> str:
        try:
            return os.path.relpath(path, folder)
        except ValueError:
            return path

    def fits(ref: FitsRef | None) -> str:
        if ref is None:
            return "none"
        items = [rel(ref.path), ref.hdu] + ([ref.gain] if ref.gain is not None else [])
        return "[" + ", ".join(format_value(v) for v in items) + "]"

    def param(p: Param) -> str:
        return format_value(p.as_list())

    def params(ps) -> str:
        return "[" + ", ".join(param(p) for p in ps) + "]"

    out: list[str] = ["# galfits_nb configuration in the GalfitS .lyric format", ""]
    r = config.region
    out += ["# Region", f"R1) {format_value(r.name)}", f"R2) {format_value([r.ra, r.dec])}", f"R3) {format_value(r.redshift)}", ""]
    table_letters = {im.letter for im in config.images if im.table_row is not None}
    for im in config.images:
        if im.table_row is not None:
            continue  # written as its atlas's A8
        k = f"I{im.letter}"
        out += [
            f"# Image {im.letter}",
            f"{k}1) {fits(im.data)}",
            f"{k}2) {im.band}",
            f"{k}3) {fits(im.sigma)}",
            f"{k}4) {fits(im.psf)}",
            f"{k}5) {im.psf_oversampling}",
            f"{k}6) {fits(im.mask)}",
            *([f"{k}7) {format_value(im.unit)}"] if im.unit else []),
            f"{k}8) {format_value(im.cutout)}",
            f"{k}9) {format_value(im.flux_conversion)}",
            f"{k}10) {format_value(im.zeropoint)}",
            f"{k}11) {im.sky_model}",
            f"{k}12) {params(im.sky)}",
            f"{k}13) {int(im.allow_shift)}",
            f"{k}14) {params(im.shift)}",
            f"{k}15) {int(im.use_sed)}",
            "",
        ]
    for sp in config.spectra:
        k = f"S{sp.letter}"
        out += [
            f"# Spectrum {sp.letter}",
            f"{k}1) {format_value(rel(sp.path))}",
            f"{k}2) {format_value(sp.flux_conversion)}",
            f"{k}3) {format_value(list(sp.fit_range))}",
            f"{k}4) {int(sp.high_resolution)}",
        ]
        if sp.resolution is not None:
            out.append(f"{k}5) {format_value(sp.resolution)}")
        if sp.masked_ranges:
            out.append(f"{k}6) {format_value([list(r) for r in sp.masked_ranges])}")
        out.append("")
    for at in config.atlases:
        k = f"A{at.letter}"
        out += [
            f"# Atlas {at.letter}",
            f"{k}1) {format_value(at.name)}",
            f"{k}2) {format_value([letter for letter in at.images if letter not in table_letters])}",
            f"{k}3) {int(at.same_grid)}",
            f"{k}4) {int(at.link_shifts)}",
            f"{k}5) {format_value(list(at.spectra))}",
            f"{k}6) {format_value([list(a) for a in at.apertures])}",
            f"{k}7) {format_value(list(at.reference))}",
            *([f"{k}8) {format_value(rel(at.photometry))}"] if at.photometry else []),
            "",
        ]
    for pr in config.profiles:
        k = f"P{pr.letter}"
        out += [f"# Profile {pr.letter}", f"{k}1) {format_value(pr.name)}", f"{k}2) {pr.kind}"]
        out += [f"{k}3) {param(pr.xcen)}", f"{k}4) {param(pr.ycen)}"]
        items = {name: item for item, name in PROFILE_SHAPE_KEYS[pr.kind].items()}
        out += [f"{k}{items[name]}) {param(p)}" for name, p in pr.shape]
        if pr.fourier_mode is not None:
            out.append(f"{k}21) {pr.fourier_mode}")
        if pr.sed is not None:
            sed_items = {name: item for item, (name, _) in SED_KEYS.items()}
            for name, value in pr.sed.params:
                item = sed_items[name]
                if name == "age" and pr.sed.sfh == "bins":
                    text = format_value(list(value))
                elif isinstance(value, tuple):
                    text = params(value)
                else:
                    text = param(value)
                out.append(f"{k}{item}) {text}")
            out += [f"{k}15) {pr.sed.sfh}", f"{k}27) {pr.sed.parts}"]
        out.append("")
    for nu in config.nuclei:
        k = f"N{nu.letter}"
        schema = _NUCLEUS_FULL if nu.layout == "full" else _NUCLEUS_SHAPED
        out += [f"# Nucleus {nu.letter} ({nu.layout} layout)", f"{k}1) {format_value(nu.name)}"]
        values = dict(nu.params)
        for item, (name, kind) in sorted(schema.items()):
            if name in _NUCLEUS_FIELDS:
                value = getattr(nu, name)
                if value is None:
                    continue
                text = format_value(list(value) if isinstance(value, tuple) else value)
            elif name in values:
                text = params(values[name]) if kind == "params" else param(values[name])
            else:
                continue
            out.append(f"{k}{item}) {text}")
        out.append("")
    for st in config.stars:
        k = f"F{st.letter}"
        out += [f"# Star {st.letter}", f"{k}1) {format_value(st.name)}"]
        items = {name: item for item, name in _STAR_ITEMS.items()}
        out += [f"{k}{items[name]}) {param(p)}" for name, p in st.params]
        out += [f"{k}8) {int(st.use_sed)}", ""]
    for ga in config.galaxies:
        k = f"G{ga.letter}"
        out += [
            f"# Galaxy {ga.letter}",
            f"{k}1) {format_value(ga.name)}",
            f"{k}2) {format_value(list(ga.profiles))}",
            f"{k}3) {param(ga.redshift)}",
            f"{k}4) {format_value(ga.ebv_galactic)}",
            f"{k}5) {param(ga.spec_norm)}",
            f"{k}6) {format_value(list(ga.lines))}",
            f"{k}7) {ga.n_line_components}",
            "",
        ]
    return "\n".join(out)


def write_lyric(config: Config, path: str | os.PathLike) -> Path:
    """Write ``config`` to ``path`` (atomically: a temporary file, then rename).

    Returns
    -------
    Path
        The written file.
    """
    path = Path(path)
    text = format_lyric(config, path.resolve().parent)
    with atomic_path(path) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return path
