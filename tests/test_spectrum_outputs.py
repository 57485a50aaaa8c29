"""Spectrum outputs: the .spec.png figure, the .gssummary spectrum lines, spectrum-only
results, the spectra in the model cube and in the SED figure. No fitting: the results
are built from a synthetic spectrum."""

from __future__ import annotations

import struct

import numpy as np
import pytest
import xarray as xr
from astropy.io import fits

from galfits_nb.config.companions import ParamRow
from galfits_nb.config.spec import AtlasSpec, Config, FitsRef, ImageSpec, Region, SpectrumSpec
from galfits_nb.inference.fit import FitResult
from galfits_nb.inference.parameters import ParameterTable
from galfits_nb.outputs.imaging import imaging_summary, write_imaging_outputs
from galfits_nb.outputs.sed_figure import binned_spectrum, sed_figure, write_sed_png
from galfits_nb.outputs.spectrum_figure import (
    emission_lines,
    mask_intervals,
    spectrum_figure,
    write_spectrum_png,
)
from galfits_nb.outputs.summary import read_gssummary, write_gssummary

REDSHIFT = 0.05
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def _gaussian(wave, centre, sigma, peak):
    return peak * np.exp(-0.5 * ((wave - centre) / sigma) ** 2)


def _spectrum(letter: str = "a", n_wave: int = 1500, seed: int = 0, n_free: int = 3) -> xr.Dataset:
    """A FitResult.spectra entry: two continua and narrow lines, noise, masked edges and a gap."""
    rng = np.random.default_rng(seed)
    wave = np.linspace(4600.0, 7100.0, n_wave)
    bulge = 20.0 * (wave / 5500.0) ** -1.0
    disk = 8.0 + 0.002 * (wave - 4600.0)
    peaks = ((4862.68, 15.0), (5008.24, 40.0), (6564.61, 60.0))  # Hb, [OIII]5008, Ha
    lines = sum(_gaussian(wave, rest * (1 + REDSHIFT), 3.0, peak) for rest, peak in peaks)
    model = bulge + disk + lines
    error = np.full(n_wave, 1.5)
    data = model + rng.normal(0.0, 1.0, n_wave) * error
    data[n_wave // 2] += 500.0  # a cosmic ray the y-range must ignore
    mask = np.zeros(n_wave, dtype=bool)
    mask[:20] = mask[-15:] = True
    mask[400:430] = True
    mask[n_wave // 2 + 100] = True
    good = ~mask
    chi2 = float(np.sum(((data - model) / error)[good] ** 2))
    unit = {"units": "1e-17 erg/s/cm^2/A"}
    return xr.Dataset(
        {
            "data": ("wavelength", data, unit),
            "error": ("wavelength", error, unit),
            "model": ("wavelength", model, unit),
            "residual": ("wavelength", data - model, unit),
            "mask": ("wavelength", mask),
            "component_bulge": ("wavelength", bulge, unit),
            "component_disk": ("wavelength", disk, unit),
            "component_lines_host": ("wavelength", lines, unit),
        },
        coords={"wavelength": wave},
        attrs={
            "letter": letter,
            "chi2": chi2,
            "n_good": int(good.sum()),
            "n_free": n_free,
            "reduced_chi2": chi2 / int(good.sum()),
            "weight": 1.0,
            "redshift": REDSHIFT,
        },
    )


def _image(seed: int = 0) -> xr.Dataset:
    """A FitResult.models entry: a 16 x 16 Gaussian blob with noise."""
    rng = np.random.default_rng(seed)
    x = y = (np.arange(16) - 7.5) * 0.4
    model = 50.0 * np.exp(-0.5 * (x[None, :] ** 2 + y[:, None] ** 2))
    sigma = np.ones((16, 16))
    data = model + rng.normal(size=(16, 16))
    mask = np.zeros((16, 16), dtype=bool)
    chi2 = float(np.sum(((data - model) / sigma) ** 2))
    return xr.Dataset(
        {
            "data": (("y", "x"), data),
            "model": (("y", "x"), model),
            "residual": (("y", "x"), data - model),
            "sigma": (("y", "x"), sigma),
            "mask": (("y", "x"), mask),
        },
        coords={"y": y, "x": x},
        attrs={"band": "sloan_r", "letter": "a", "label": "sloan_r", "chi2": chi2, "n_good": 256,
               "n_free": 3, "reduced_chi2": chi2 / 256, "wcs_header": ""},
    )


def _result(spectra: dict[str, xr.Dataset], models: dict[str, xr.Dataset]) -> FitResult:
    """A FitResult as fit_images builds it, for the given datasets."""
    table = ParameterTable(
        (
            ParamRow("bulge_Re", 1.2, 0.1, 10.0, 0.1, True, None),
            ParamRow("specnorm_host", 0.9, 0.5, 2.0, 0.05, True, None),
            ParamRow("z_host", REDSHIFT, 0.0, 1.0, 0.01, False, None),
        )
    )
    n_free = 2
    everything = [*spectra.values(), *models.values()]
    chi2 = sum(float(ds.attrs["chi2"]) for ds in everything)
    n_good = sum(int(ds.attrs["n_good"]) for ds in everything)
    return FitResult(
        table=table,
        method="lm",
        free_names=("bulge_Re", "specnorm_host"),
        chi2=chi2,
        chi2_per_image={label: ds.attrs["chi2"] for label, ds in models.items()},
        n_good={label: ds.attrs["n_good"] for label, ds in models.items()},
        n_free=n_free,
        reduced_chi2=chi2 / (n_good - n_free),
        bic=chi2 + n_free * np.log(n_good),
        sigma={"bulge_Re": 0.05, "specnorm_host": 0.01},
        covariance=None,
        models=models,
        n_steps=12,
        wall_time=3.0,
        converged=True,
        interrupted=False,
        history=np.zeros(12),
        spectra=spectra,
    )


def _config(images: bool) -> Config:
    spectra = (SpectrumSpec("a", "/nowhere/a.txt"), SpectrumSpec("b", "/nowhere/b.txt"))
    if not images:
        return Config(Region("T", 14.0, -0.3, REDSHIFT), spectra=spectra)
    return Config(
        Region("T", 14.0, -0.3, REDSHIFT),
        images=(ImageSpec("a", FitsRef("/nowhere/r.fits"), "sloan_r", None, None),),
        spectra=spectra,
        atlases=(
            AtlasSpec("a", "sdss", images=("a",), spectra=("a", "b"), apertures=((1.5,), (1.5,)), reference=(0, 0)),
        ),
    )


def _png_size(path) -> tuple[int, int]:
    """(width, height) in pixels from the PNG header, which must be valid."""
    head = path.read_bytes()[:24]
    assert head[:8] == PNG_SIGNATURE and head[12:16] == b"IHDR"
    return struct.unpack(">II", head[16:24])


def test_spectrum_png_is_a_valid_png(tmp_path):
    one = write_spectrum_png(tmp_path / "one.spec.png", {"a": _spectrum()}, title="T: spectra")
    two = write_spectrum_png(tmp_path / "two.spec.png", {"a": _spectrum(), "b": _spectrum("b", seed=1)})
    width, height = _png_size(one)
    assert 800 <= width <= 2000 and 300 <= height <= width
    assert _png_size(two)[1] > 1.8 * height  # one block per spectrum
    assert sorted(p.name for p in tmp_path.iterdir()) == ["one.spec.png", "two.spec.png"]  # no temporary left


def test_spectrum_figure_panels_and_line_labels():
    ds = _spectrum()
    fig = spectrum_figure(ds, lines={"Ha": 6564.61, "Lya": 1215.67}, redshift=0.06)
    top, bottom = fig.axes
    assert [t.get_text() for t in top.get_legend().get_texts()] == ["data", "bulge", "disk", "lines_host", "model"]
    labels = {t.get_text(): t.get_position()[0] for t in top.texts}
    assert labels == {"Ha": pytest.approx(6564.61 * 1.06)}  # Lya falls outside the spectrum
    # The cosmic ray does not set the y-range; the model's tallest line does fit.
    assert top.get_ylim()[1] < 150.0 and top.get_ylim()[1] > ds.model.max()
    assert bottom.get_ylim()[1] < 10.0 and bottom.get_ylim()[0] == -bottom.get_ylim()[1]
    # By default the labels sit at ds.attrs['redshift'].
    default = spectrum_figure(ds, lines={"Ha": 6564.61})
    assert default.axes[0].texts[0].get_position()[0] == pytest.approx(6564.61 * (1 + REDSHIFT))


def test_default_line_list_is_usable():
    lines = emission_lines()
    assert lines and all(np.isfinite(w) and 900.0 < w < 1e6 for w in lines.values())


def test_mask_intervals_cover_runs_of_masked_pixels():
    wave = np.arange(10.0) * 2.0 + 100.0
    mask = np.array([1, 1, 0, 0, 1, 0, 0, 1, 1, 1], dtype=bool)
    assert mask_intervals(wave, mask) == [(99.0, 4.0), (107.0, 2.0), (113.0, 6.0)]
    assert mask_intervals(wave, np.zeros(10, bool)) == []


def test_spectrum_lines_round_trip_through_the_gssummary(tmp_path):
    spectra = {"a": _spectrum(), "b": _spectrum("b", n_wave=900, seed=2)}
    result = _result(spectra, {"sloan_r": _image()})
    path = write_gssummary(tmp_path / "T.gssummary", imaging_summary(_config(images=True), result))
    text = path.read_text().splitlines()
    spectrum_lines = [line for line in text if line.startswith("# spectrum:")]
    assert len(spectrum_lines) == 2
    # After the image lines, before the fitting summary.
    assert text.index(spectrum_lines[0]) > max(i for i, line in enumerate(text) if "image number:" in line)
    assert text.index(spectrum_lines[1]) < text.index("############ fitting summary ############")

    contents = read_gssummary(path)
    header, images, table = contents  # callers written before spectra keep working
    assert header["fitting mode"] == "images + spectra" and len(images) == 1
    assert list(table["pname"]) == ["bulge_Re", "specnorm_host"]
    assert [s["letter"] for s in contents.spectra] == ["a", "b"]
    for line, ds in zip(contents.spectra, spectra.values()):
        good = ~ds["mask"].values
        chi2 = np.sum(((ds.data.values - ds.model.values) / ds.error.values)[good] ** 2)
        assert line["chisq"] == pytest.approx(chi2, abs=0.006)
        assert line["dof"] == good.sum()  # unmasked pixels, as an image line's dof
        assert line["reduced_chisq"] == pytest.approx(chi2 / good.sum(), abs=6e-5)


def test_reads_the_galfits_spectrum_line(tmp_path):
    path = tmp_path / "g.gssummary"
    path.write_text(
        "# target: J\n############# data summary ##############\n"
        "# spectrum: a  chisq: [3551.2]  dof: [3390.]  reduced chisq: [1.0475]\n"
        "############ fitting summary ############\n# free parameters:\npname    best_value\nx    1.0\n"
    )
    contents = read_gssummary(path)
    assert contents.spectra == [{"letter": "a", "chisq": 3551.2, "dof": 3390, "reduced_chisq": 1.0475}]
    assert contents.images == [] and contents.header["target"] == "J"


def test_spectrum_only_result_writes_params_summary_and_figure(tmp_path):
    result = _result({"a": _spectrum(), "b": _spectrum("b", seed=3)}, {})
    written = write_imaging_outputs(tmp_path, _config(images=False), result)
    assert set(written) == {"params", "gssummary", "spec_png"}
    assert all(path.exists() for path in written.values())
    _png_size(written["spec_png"])
    contents = read_gssummary(written["gssummary"])
    assert contents.header["fitting mode"] == "spectra" and contents.images == []
    assert [s["letter"] for s in contents.spectra] == ["a", "b"]
    assert float(contents.header["chisq"]) == pytest.approx(result.chi2, abs=0.006)


def test_joint_result_puts_the_spectra_in_the_model_cube(tmp_path):
    ds = _spectrum()
    result = _result({"a": ds}, {"sloan_r": _image()})
    written = write_imaging_outputs(tmp_path, _config(images=True), result)
    assert {"residual_png", "spec_png", "model_fits"} <= set(written)
    with fits.open(written["model_fits"]) as hdus:
        assert [h.name for h in hdus] == ["PRIMARY", "SLOAN_R", "SPEC_A"]
        table = hdus["SPEC_A"]
        np.testing.assert_allclose(table.data["WAVELENGTH"], ds.wavelength.values)
        np.testing.assert_allclose(table.data["MODEL"], ds.model.values, rtol=1e-6)
        lines = ds.component_lines_host.values
        np.testing.assert_allclose(table.data["COMPONENT_LINES_HOST"], lines, rtol=1e-6, atol=1e-6)
        np.testing.assert_array_equal(table.data["MASK"], ds["mask"].values)
        assert table.header["NGOOD"] == ds.attrs["n_good"] and table.header["REDSHIFT"] == REDSHIFT


def _photometry() -> xr.Dataset:
    pivots = np.array([4700.0, 6200.0, 7600.0])
    model = np.array([2.0e-16, 1.6e-16, 1.3e-16])
    return xr.Dataset(
        {
            "pivot": ("band", pivots),
            "model": ("band", model),
            "measured": ("band", model * 1.02),
            "error": ("band", model * 0.05),
            "bulge": ("band", model * 0.7),
        },
        coords={"band": ["sloan_g", "sloan_r", "sloan_i"]},
    )


def test_binned_spectrum_for_the_sed_figure():
    ds = _spectrum()
    points = binned_spectrum(ds, n_bins=200)
    assert points.sizes["wavelength"] == 200
    good = np.flatnonzero(~ds["mask"].values)
    first = good[: int(np.ceil(good.size / 200))]  # np.array_split puts the longer bins first
    weight = 1.0 / ds.error.values[first] ** 2
    expected = np.sum(weight * ds.data.values[first]) / weight.sum() * 1e-17
    assert points.data.values[0] == pytest.approx(expected)
    assert points.wavelength.values[0] == pytest.approx(ds.wavelength.values[first].mean())
    assert points.error.values[0] == pytest.approx(1e-17 / np.sqrt(weight.sum()))
    assert np.all(np.diff(points.wavelength.values) > 0)


def test_sed_figure_shows_the_spectrum_points(tmp_path):
    wave = np.geomspace(3000.0, 12000.0, 300)
    components = {"bulge": (wave, 1.5e-16 * (wave / 5000.0) ** -1.5)}
    points = {"a": binned_spectrum(_spectrum())}
    fig = sed_figure(components, _photometry(), "T", spectrum_points=points)
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert "spectrum a" in labels and "spectrum a model" in labels
    low, high = fig.axes[0].get_ylim()
    assert low < points["a"].data.values.min() and high > points["a"].data.values.max()
    # The former signature still works, and so does the new keyword.
    assert write_sed_png(tmp_path / "old.sed.png", components, _photometry(), "T").exists()
    _png_size(write_sed_png(tmp_path / "new.sed.png", components, _photometry(), spectrum_points=points))
