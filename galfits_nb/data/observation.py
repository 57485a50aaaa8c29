"""Every observation a config names, as one ``xr.DataTree``.

Layout of the tree that :func:`read_observation` returns::

    /                          attrs: target, ra, dec, redshift, config
    /atlas/<atlas name>        attrs: the A block (images, bands, spectra,
                               apertures, reference, same_grid, ...);
                               data: the stacked images when A3 = 1 and the
                               images share one grid (see below)
    /atlas/<atlas name>/<band> one image, as :func:`~galfits_nb.data.images.read_image` returns it
                               (a single-pixel image for each row of an A8 photometry table)
    /spectra/<letter>          one spectrum, as :func:`~galfits_nb.data.spectra.read_spectrum` returns it

The stacked dataset at ``/atlas/<name>`` has ``data``, ``sigma``, ``mask``
over ``(band, y, x)`` and ``psf`` over ``(band, stack_psf_y, stack_psf_x)``:
the band PSFs zero-padded to a common size. Its PSF dimensions have their
own names because a DataTree child must match its parent's dimension sizes,
and the band PSFs under it may differ in size (2MASS J is 33 px, H and Ks 21 px).

Nothing here imports jax.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from tqdm.auto import tqdm

from galfits_nb.config.spec import AtlasSpec, Config
from galfits_nb.data.images import ObservationWarning, read_image
from galfits_nb.data.photometry import photometry_image, read_photometry_table
from galfits_nb.data.spectra import read_spectrum
from galfits_nb.errors import ObservationError

__all__ = ["read_observation", "stack_images", "pad_psf", "atlas_nodes", "summarize_observation"]

# Show a progress bar from this many images on.
_PROGRESS_FROM = 5


def pad_psf(psf: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Zero-pad a PSF symmetrically to ``shape``.

    Parameters
    ----------
    psf : ndarray of shape (my, mx)
    shape : tuple of 2 int
        ``(Ny, Nx)`` with ``Ny >= my`` and ``Nx >= mx``.

    Returns
    -------
    ndarray of shape (Ny, Nx)
        The extra rows/columns are split as evenly as possible, the odd one
        after the PSF; when ``Ny - my`` is odd the PSF centre moves by half a
        pixel relative to the array centre (:func:`stack_images` warns).
    """
    dy, dx = shape[0] - psf.shape[0], shape[1] - psf.shape[1]
    return np.pad(psf, ((dy // 2, dy - dy // 2), (dx // 2, dx - dx // 2)))


def stack_images(images: list[xr.Dataset], where: str = "") -> xr.Dataset | None:
    """Stack images on one grid along a new ``band`` dimension.

    Parameters
    ----------
    images : list of xr.Dataset
        Images from :func:`~galfits_nb.data.images.read_image`.
    where : str
        Names the atlas in warnings.

    Returns
    -------
    xr.Dataset or None
        ``data``, ``sigma``, ``mask`` over ``(band, y, x)``, ``psf`` over
        ``(band, stack_psf_y, stack_psf_x)`` with unit sum per band, the
        per-band ``psf_oversampling``, ``zeropoint``, ``flux_conversion``,
        ``total_flux_pixel`` (1 for single-pixel images) and ``letter`` over
        ``band``; None when the images do not share a
        shape, pixel scale and centre pixel (the x/y coordinates must be the
        same for every band).
    """
    if not images:
        return None
    first = images[0]
    for image in images[1:]:
        if (
            image.sizes["y"] != first.sizes["y"]
            or image.sizes["x"] != first.sizes["x"]
            or not np.array_equal(image.x.values, first.x.values)
            or not np.array_equal(image.y.values, first.y.values)
        ):
            return None
    psf_shape = tuple(max(im.sizes[d] for im in images) for d in ("psf_y", "psf_x"))
    psfs = []
    for image in images:
        extra = np.subtract(psf_shape, image.psf.shape)
        if np.any(extra % 2):
            warnings.warn(
                f"{where}: band {image.attrs['band']!r}: PSF {image.psf.shape} padded to {psf_shape} by an odd "
                "number of pixels, so its centre moves by half a pixel in the stacked PSF",
                ObservationWarning,
                stacklevel=3,
            )
        psfs.append(pad_psf(image.psf.values, psf_shape))
    bands = [im.attrs["band"] for im in images]

    def per_band(name: str) -> np.ndarray:
        return np.array([im.attrs[name] for im in images])

    return xr.Dataset(
        {
            "data": (("band", "y", "x"), np.stack([im.data.values for im in images]), first.data.attrs),
            "sigma": (("band", "y", "x"), np.stack([im.sigma.values for im in images]), first.sigma.attrs),
            "mask": (("band", "y", "x"), np.stack([im.mask.values for im in images]), first.mask.attrs),
            "psf": (("band", "stack_psf_y", "stack_psf_x"), np.stack(psfs), {"long_name": "PSF, unit sum, zero-padded"}),
            "psf_oversampling": ("band", per_band("psf_oversampling")),
            "zeropoint": ("band", per_band("zeropoint")),
            "flux_conversion": ("band", per_band("flux_conversion")),
            "total_flux_pixel": ("band", np.array([int(im.attrs.get("total_flux_pixel", 0)) for im in images])),
            "letter": ("band", per_band("letter")),
        },
        coords={"band": ("band", bands), "y": first.y, "x": first.x},
        attrs={
            "pixel_scale": first.attrs["pixel_scale"],
            "centre_pixel": first.attrs["centre_pixel"],
            "east_xy": first.attrs["east_xy"],
            "north_xy": first.attrs["north_xy"],
            "coordinates_note": first.attrs["coordinates_note"],
        },
    )


def _node_name(band: str, taken: set[str], letter: str) -> str:
    name = band.replace("/", "_")
    return f"{name}_{letter}" if name in taken else name


def _atlas_attrs(atlas: AtlasSpec, bands: list[str]) -> dict[str, object]:
    attrs: dict[str, object] = {
        "name": atlas.name,
        "letter": atlas.letter,
        "images": list(atlas.images),
        "bands": bands,
        "same_grid": int(atlas.same_grid),
        "link_shifts": int(atlas.link_shifts),
        "spectra": list(atlas.spectra),
        "reference": [int(i) for i in atlas.reference],
        "photometry": atlas.photometry,
        "stacked": 0,
    }
    # One 1-D attribute per spectrum keeps the tree writable to netCDF:
    # (r,) fibre radius or (PA, a, b) long slit, arcsec (A6).
    for letter, aperture in zip(atlas.spectra, atlas.apertures):
        attrs[f"aperture_{letter}"] = np.asarray(aperture, dtype=float)
    attrs["apertures"] = "; ".join(
        f"{letter}: {tuple(float(v) for v in ap)}" for letter, ap in zip(atlas.spectra, atlas.apertures)
    )
    return attrs


def atlas_nodes(atlas: AtlasSpec, images: list[xr.Dataset]) -> dict[str, xr.Dataset]:
    """The tree nodes of one atlas: ``/atlas/<name>`` and one ``/atlas/<name>/<band>`` per image.

    Parameters
    ----------
    atlas : AtlasSpec
        The A block (its attrs go on the atlas node).
    images : list of xr.Dataset
        The atlas's images in A2 order, as :func:`read_image` returns them.

    Returns
    -------
    dict of str to xr.Dataset
        For ``xr.DataTree.from_dict``. The atlas node holds the images
        stacked along ``band`` when A3 = 1 and they share a grid
        (:func:`stack_images`; a warning when they do not), else no data.
        Image nodes are named by band (``/`` replaced by ``_``), with
        ``_<letter>`` added for a band that appears twice.
    """
    members: list[tuple[str, xr.Dataset]] = []
    for ds in images:
        taken = {name for name, _ in members}
        members.append((_node_name(ds.attrs["band"], taken, ds.attrs["letter"]), ds))
    attrs = _atlas_attrs(atlas, [ds.attrs["band"] for ds in images])
    stacked = None
    if atlas.same_grid and images:
        stacked = stack_images(images, where=f"atlas {atlas.name!r}")
        if stacked is None:
            warnings.warn(
                f"atlas {atlas.name!r}: A3 = 1 but its images differ in shape, pixel scale or centre "
                "pixel; no stacked dataset is made",
                ObservationWarning,
                stacklevel=3,
            )
    node = stacked if stacked is not None else xr.Dataset()
    attrs["stacked"] = int(stacked is not None)
    atlas_node = atlas.name.replace("/", "_")
    nodes: dict[str, xr.Dataset] = {f"/atlas/{atlas_node}": node.assign_attrs(attrs)}
    for name, ds in members:
        nodes[f"/atlas/{atlas_node}/{name}"] = ds
    return nodes


def read_observation(config: Config) -> xr.DataTree:
    """Read every image and spectrum of a config into one tree.

    Parameters
    ----------
    config : Config
        A parsed ``.lyric`` file (or one built in code).

    Returns
    -------
    xr.DataTree
        See the module docstring for the layout. Images appear under every
        atlas that lists them; images in no atlas are not read (GalfitS fits
        only atlas images) and a warning names them.

    Raises
    ------
    ObservationError
        From the readers (file, HDU, band named), or an atlas naming an
        image or spectrum letter the config does not define.
    """
    region = config.region
    source = Path(config.path).name if config.path else "<config>"
    jobs = []  # (atlas, image spec)
    for atlas in config.atlases:
        for letter in atlas.images:
            try:
                jobs.append((atlas, config.image(letter)))
            except KeyError:
                raise ObservationError(
                    f"{source}: atlas {atlas.name!r} (A{atlas.letter}2) lists image {letter!r}, "
                    f"which has no I{letter} block"
                ) from None
        for letter in atlas.spectra:
            if letter not in {s.letter for s in config.spectra}:
                raise ObservationError(
                    f"{source}: atlas {atlas.name!r} (A{atlas.letter}5) lists spectrum {letter!r}, "
                    f"which has no S{letter} block"
                )
    for atlas in config.atlases:
        expanded = any(config.image(letter).table_row is not None for letter in atlas.images)
        if atlas.photometry and not expanded:
            raise ObservationError(
                f"{source}: atlas {atlas.name!r} (A{atlas.letter}8) names the photometry table "
                f"{atlas.photometry}, but no image stands for its rows (was the config read with "
                "check_files=False while the table was missing?); read the config again"
            )
    in_atlas = {spec.letter for _, spec in jobs}
    orphans = [im.letter for im in config.images if im.letter not in in_atlas]
    if orphans:
        warnings.warn(
            f"{source}: image(s) {orphans} belong to no atlas (A2) and are not read",
            ObservationWarning,
            stacklevel=2,
        )

    images: dict[str, list[xr.Dataset]] = {atlas.name: [] for atlas in config.atlases}
    tables: dict[str, xr.Dataset] = {}  # photometry tables (A8), each read once
    # disable=None: tqdm shows the bar on a terminal only (and honours TQDM_DISABLE).
    few = len(jobs) < _PROGRESS_FROM
    progress = tqdm(jobs, desc="reading images", unit="image", disable=True if few else None, leave=False)
    for atlas, spec in progress:
        progress.set_postfix_str(spec.band)
        if spec.table_row is None:
            images[atlas.name].append(read_image(spec, region.ra, region.dec))
            continue
        if spec.data.path not in tables:
            tables[spec.data.path] = read_photometry_table(spec.data.path)
        images[atlas.name].append(photometry_image(spec, region.ra, region.dec, tables[spec.data.path]))

    nodes: dict[str, xr.Dataset | xr.DataTree] = {
        "/": xr.Dataset(
            attrs={
                "target": region.name,
                "ra": float(region.ra),
                "dec": float(region.dec),
                "redshift": float(region.redshift),
                "config": str(config.path),
            }
        )
    }
    for atlas in config.atlases:
        nodes.update(atlas_nodes(atlas, images[atlas.name]))
    for spectrum in config.spectra:
        nodes[f"/spectra/{spectrum.letter}"] = read_spectrum(spectrum, region.redshift)
    return xr.DataTree.from_dict(nodes)


def summarize_observation(tree: xr.DataTree) -> str:
    """A readable table of what was read: one line per image and per spectrum.

    Parameters
    ----------
    tree : xr.DataTree
        From :func:`read_observation`.

    Returns
    -------
    str
        Columns for images: atlas, band, letter, shape (ny x nx), pixel
        scale ["/px], masked fraction, median sigma of unmasked pixels, PSF
        shape, sigma source; for spectra: letter, observed range, fit range
        (observed), pixels used, median S/N, file.
    """
    root = tree.attrs
    lines = [
        f"target {root.get('target', '?')}  RA, Dec = {root.get('ra', float('nan')):.6f}, "
        f"{root.get('dec', float('nan')):.6f}  z = {root.get('redshift', float('nan'))}"
    ]
    scale_label = '"/px'
    header = (
        f"{'atlas':<10} {'band':<14} {'img':<3} {'shape':>9} {scale_label:>7} {'masked':>7} "
        f"{'med sigma':>10} {'psf':>7}  sigma"
    )
    rows = []
    if "atlas" in tree.children:
        for atlas in tree["atlas"].children.values():
            stacked = " (stacked)" if atlas.attrs.get("stacked") else ""
            for band_node in atlas.children.values():
                ds = band_node.to_dataset(inherit=False)
                good = ~ds.mask.values
                med = float(np.median(ds.sigma.values[good])) if good.any() else float("nan")
                source = ds.attrs.get("sigma_source", "")
                source = "estimated" if source.startswith("estimated") else "file"
                shape = f"{ds.sizes['y']}x{ds.sizes['x']}"
                psf = f"{ds.sizes['psf_y']}x{ds.sizes['psf_x']}"
                rows.append(
                    f"{atlas.name:<10} {ds.attrs['band']:<14} {ds.attrs['letter']:<3} {shape:>9} "
                    f"{ds.attrs['pixel_scale']:>7.3f} {1 - good.mean():>7.1%} {med:>10.4g} {psf:>7}  {source}"
                )
            if stacked:
                rows.append(f"{'':<10} (atlas {atlas.name!r}: images stacked along band)")
            if atlas.attrs.get("spectra"):
                rows.append(f"{'':<10} (atlas {atlas.name!r}: spectra {atlas.attrs['spectra']}, apertures {atlas.attrs.get('apertures')})")
    if rows:
        lines += ["", header, "-" * len(header), *rows]
    if "spectra" in tree.children:
        spec_header = f"{'spectrum':<9} {'range [A]':>17} {'fit range [A]':>17} {'used':>6} {'med S/N':>8}  file"
        spec_rows = []
        for node in tree["spectra"].children.values():
            ds = node.to_dataset(inherit=False)
            w = ds.wavelength.values
            used = ~ds.mask.values
            fit = ds.attrs["fit_range_observed"]
            snr = float(np.median(np.abs(ds.flux.values[used]) / ds.error.values[used])) if used.any() else float("nan")
            spec_rows.append(
                f"{ds.attrs['letter']:<9} {w[0]:>8.1f}-{w[-1]:<8.1f} {fit[0]:>8.1f}-{fit[1]:<8.1f} "
                f"{int(used.sum()):>6} {snr:>8.1f}  {Path(ds.attrs['file']).name}"
            )
        lines += ["", spec_header, "-" * len(spec_header), *spec_rows]
    return "\n".join(lines)
