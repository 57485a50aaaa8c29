"""The imaging scene: model images, sky convention, PSF, photometry-mode fluxes.

Every check compares against image moments computed here with numpy, not
against the package's own geometry code.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import xarray as xr

from galfits_nb.config.spec import (
    AtlasSpec,
    Config,
    FitsRef,
    ImageSpec,
    NucleusSpec,
    Param,
    ProfileSpec,
    Region,
    StarSpec,
)
from galfits_nb.errors import ConfigError
from galfits_nb.inference.parameters import build_parameter_table
from galfits_nb.models import scene as sc

SIZE = 64
SCALE = 0.2  # arcsec per pixel
CENTRE = (31.5, 31.5)  # (x, y) pixel of R2, as a North-up TAN header centred on the image puts it
NORTH_UP = ((-1.0, 0.0), (0.0, 1.0))  # east_xy, north_xy: East left
FLIPPED = ((1.0, 0.0), (0.0, 1.0))  # East right
ROTATED = ((0.0, 1.0), (1.0, 0.0))  # North towards +x, East towards +y (a 90 deg turn)

render = jax.jit(sc.render_scene)


def fixed(value: float) -> Param:
    return Param(value, value - 10.0, value + 10.0, 0.1, False)


def gaussian_psf(size: int, sigma_pixels: float) -> np.ndarray:
    half = size // 2
    y, x = np.mgrid[-half : size - half, -half : size - half]
    psf = np.exp(-0.5 * (x**2 + y**2) / sigma_pixels**2)
    return psf / psf.sum()


def make_config(*, profiles=(), nuclei=(), stars=(), use_sed=False, sky_model="uniform", n_sky=1) -> Config:
    image = ImageSpec(
        letter="a",
        data=FitsRef("/nowhere/image.fits"),
        band="sloan_r",
        sigma=None,
        psf=FitsRef("/nowhere/psf.fits"),
        sky_model=sky_model,
        sky=tuple(fixed(0.0) for _ in range(n_sky)),
        use_sed=use_sed,
    )
    return Config(
        region=Region("mock", 150.0, 2.0, 0.05),
        images=(image,),
        atlases=(AtlasSpec("a", "mock", images=("a",)),),
        profiles=tuple(profiles),
        nuclei=tuple(nuclei),
        stars=tuple(stars),
    )


def sersic_profile(name="gal", kind="sersic", **shape) -> ProfileSpec:
    return ProfileSpec("a", name, kind, fixed(0.0), fixed(0.0), tuple((k, fixed(v)) for k, v in shape.items()))


def make_tree(geometry=NORTH_UP, *, oversampling=1, psf_sigma=1.5, size=SIZE) -> xr.DataTree:
    east, north = geometry
    psf = gaussian_psf(15 * oversampling + (1 - oversampling % 2), psf_sigma * oversampling)
    ds = xr.Dataset(
        {
            "data": (("y", "x"), np.zeros((size, size))),
            "sigma": (("y", "x"), np.ones((size, size))),
            "mask": (("y", "x"), np.zeros((size, size), dtype=bool)),
            "psf": (("psf_y", "psf_x"), psf),
        },
        attrs={
            "band": "sloan_r",
            "letter": "a",
            "pixel_scale": SCALE,
            "psf_oversampling": oversampling,
            "centre_pixel": np.array(CENTRE),
            "east_xy": np.array(east),
            "north_xy": np.array(north),
        },
    )
    return xr.DataTree.from_dict({"/": xr.Dataset(), "/atlas/mock": xr.Dataset(), "/atlas/mock/sloan_r": ds})


def model_image(config, tree, **values) -> np.ndarray:
    table = build_parameter_table(config)
    scene = sc.build_imaging_scene(config, tree, table)
    all_values = {**table.values(), **values}
    (image,) = render({k: jnp.asarray(v, dtype=jnp.result_type(float)) for k, v in all_values.items()}, scene)
    return np.asarray(image, dtype=float)


def moments(image: np.ndarray) -> tuple[float, float, float, float, float, float]:
    """Flux, centroid (x = column, y = row) and second moments, by numpy."""
    y, x = np.mgrid[: image.shape[0], : image.shape[1]]
    total = image.sum()
    xc = (image * x).sum() / total
    yc = (image * y).sum() / total
    ixx = (image * (x - xc) ** 2).sum() / total
    iyy = (image * (y - yc) ** 2).sum() / total
    ixy = (image * (x - xc) * (y - yc)).sum() / total
    return total, xc, yc, ixx, iyy, ixy


SERSIC = dict(Re=0.6, n=1.0, ang=0.0, axrat=1.0)


@pytest.fixture(scope="module")
def sersic_config() -> Config:
    return make_config(profiles=[sersic_profile(**SERSIC)])


def test_unit_flux_sersic_sums_to_one(sersic_config):
    image = model_image(sersic_config, make_tree(), gal_ang=30.0, gal_axrat=0.6)
    total, xc, yc, *_ = moments(image)
    assert total == pytest.approx(1.0, abs=2e-4)
    assert (xc, yc) == pytest.approx(CENTRE, abs=2e-3)


def test_flux_parameter_scales_the_image(sersic_config):
    image = model_image(sersic_config, make_tree(), logNorm_gal_sloan_r=3.0, sky_sloan_r=0.5)
    assert (image - 0.5).sum() == pytest.approx(1000.0, rel=3e-4)
    assert image.min() == pytest.approx(0.5, abs=1e-5)


@pytest.mark.parametrize("geometry", [NORTH_UP, FLIPPED, ROTATED], ids=["north_up", "flipped", "rotated"])
def test_centre_offsets_are_sky_offsets(sersic_config, geometry):
    image = model_image(sersic_config, make_tree(geometry), gal_xcen=1.0, gal_ycen=0.4)
    _, xc, yc, *_ = moments(image)
    east, north = np.array(geometry[0]), np.array(geometry[1])
    expected = np.array(CENTRE) + (1.0 * east + 0.4 * north) / SCALE
    assert (xc, yc) == pytest.approx(tuple(expected), abs=2e-3)


def test_north_up_east_left_image():
    """The plain statement: +1" East lands at a lower column index; +y North at a higher row."""
    config = make_config(profiles=[sersic_profile(**SERSIC)])
    image = model_image(config, make_tree(NORTH_UP), gal_xcen=1.0, gal_ycen=0.0)
    _, xc, yc, *_ = moments(image)
    assert xc == pytest.approx(CENTRE[0] - 5.0, abs=2e-3)
    assert yc == pytest.approx(CENTRE[1], abs=2e-3)


@pytest.mark.parametrize(
    ("geometry", "pa", "expect"),
    [
        (NORTH_UP, 90.0, "x"),  # PA = 90 (East) elongates along the x axis
        (NORTH_UP, 0.0, "y"),  # PA = 0 (North) along y
        (NORTH_UP, 45.0, "-xy"),  # North-East is up-left on the image
        (FLIPPED, 45.0, "+xy"),  # ... and up-right when East is right
        (ROTATED, 0.0, "x"),  # North points along +x
        (ROTATED, 45.0, "+xy"),  # North-East is (+x, +y)
    ],
)
def test_position_angle_is_north_through_east(sersic_config, geometry, pa, expect):
    image = model_image(sersic_config, make_tree(geometry), gal_ang=pa, gal_axrat=0.4)
    _, _, _, ixx, iyy, ixy = moments(image)
    if expect == "x":
        assert ixx > 2.0 * iyy and abs(ixy) < 1e-3 * ixx
    elif expect == "y":
        assert iyy > 2.0 * ixx and abs(ixy) < 1e-3 * iyy
    else:
        assert ixx == pytest.approx(iyy, rel=1e-3)
        assert ixy * (1 if expect == "+xy" else -1) > 0.3 * ixx


def test_oversampled_psf_keeps_flux_and_position():
    config = make_config(profiles=[sersic_profile(kind="Gaussian", FWHM=0.5, ang=0.0, axrat=1.0)])
    tree = make_tree(oversampling=2)
    image = model_image(config, tree, gal_xcen=-0.6, gal_ycen=0.8)
    total, xc, yc, *_ = moments(image)
    assert total == pytest.approx(1.0, abs=1e-4)
    assert (xc, yc) == pytest.approx((CENTRE[0] + 3.0, CENTRE[1] + 4.0), abs=5e-3)


def test_point_sources_and_shaped_nucleus():
    star = StarSpec("a", "star", (("xcen", fixed(-1.0)), ("ycen", fixed(0.6))), use_sed=False)
    full = NucleusSpec("a", "agn", "full", (("xcen", fixed(0.4)), ("ycen", fixed(-0.4))))
    config = make_config(stars=[star], nuclei=[full])
    table = build_parameter_table(config)
    scene = sc.build_imaging_scene(config, make_tree(), table)
    assert [c.kind for c in scene.frames[0].components] == ["point", "point"]
    image = model_image(config, make_tree(), logNorm_star_sloan_r=1.0, logNorm_agn_sloan_r=-10.0)
    total, xc, yc, *_ = moments(image)
    assert total == pytest.approx(10.0, rel=1e-4)
    assert (xc, yc) == pytest.approx((CENTRE[0] + 5.0, CENTRE[1] + 3.0), abs=2e-3)
    shaped = NucleusSpec(
        "a", "agn", "shaped",
        tuple((k, fixed(v)) for k, v in dict(xcen=0.0, ycen=0.0, Re=0.05, n=2.0, ang=0.0, axrat=1.0).items()),
    )
    shaped_config = make_config(nuclei=[shaped])
    frame = sc.build_imaging_scene(shaped_config, make_tree(), build_parameter_table(shaped_config)).frames[0]
    assert frame.components[0].kind == "sersic"
    assert dict(frame.components[0].params)["Re"] == "agn_Re"


def test_const_component_and_polynomial_sky():
    const = ProfileSpec("a", "flat", "const", fixed(0.0), fixed(0.0))
    config = make_config(profiles=[const], sky_model="polynomial", n_sky=3)
    image = model_image(config, make_tree(), logNorm_flat_sloan_r=np.log10(2.0), sky_sloan_r_0=1.0, sky_sloan_r_1=0.01)
    column = np.arange(SIZE) - (SIZE - 1) / 2.0
    np.testing.assert_allclose(image, 3.0 + 0.01 * column[None, :] * np.ones((SIZE, 1)), atol=1e-5)


def test_sed_fluxes_are_refused_with_the_key():
    config = make_config(profiles=[sersic_profile(**SERSIC)], use_sed=True)
    with pytest.raises(ConfigError, match=r"band sloan_r uses SED fluxes \(I15 = 1\).*set Ia15\) 0"):
        sc.build_imaging_scene(config, make_tree(), build_parameter_table(config))


def test_missing_profile_parameter_is_named():
    config = make_config(profiles=[sersic_profile(kind="ferrer", rout=2.0, alpha=2.0, ang=0.0, axrat=0.5)])
    with pytest.raises(ConfigError, match="gal_beta"):
        sc.build_imaging_scene(config, make_tree(), build_parameter_table(config))


def test_scene_is_a_pytree_with_static_frames(sersic_config):
    table = build_parameter_table(sersic_config)
    scene = sc.build_imaging_scene(sersic_config, make_tree(), table)
    leaves, treedef = jax.tree_util.tree_flatten(scene)
    assert all(isinstance(leaf, jax.Array) for leaf in leaves)
    rebuilt = jax.tree_util.tree_unflatten(treedef, leaves)
    assert rebuilt.frames == scene.frames and hash(scene.frames)
    # A different cut-out centre changes arrays only: same treedef, so no recompilation.
    other = sc.build_imaging_scene(sersic_config, make_tree(FLIPPED), table)
    assert jax.tree_util.tree_structure(other) == treedef


@pytest.mark.parametrize("geometry", [FLIPPED, ROTATED])
def test_componentwise_jacobian_matches_forward_mode_through_the_whole_model(geometry):
    """The fitters' per-component Jacobian (kernels) against plain forward mode on every component kind."""
    from galfits_nb.inference import kernels

    spiral = dict(Re=1.5, n=1.0, ang=20.0, axrat=0.7, rin=0.5, rout=2.5, alpha=0.5, thetaout=120.0,
                  am=0.3, thetam=25.0, im=40.0)
    profiles = [
        sersic_profile("bulge", Re=0.4, n=3.0, ang=35.0, axrat=0.8),
        sersic_profile("arm", kind="sersic_f", **spiral),
        sersic_profile("blob", kind="Gaussian", FWHM=0.6, ang=-10.0, axrat=0.5),
        ProfileSpec("a", "flat", "const", fixed(0.0), fixed(0.0)),
    ]
    star = StarSpec("a", "star", (("xcen", fixed(-1.0)), ("ycen", fixed(0.6))), use_sed=False)
    config = make_config(profiles=profiles, stars=[star], sky_model="polynomial", n_sky=3)
    table = build_parameter_table(config)
    tree = make_tree(geometry)
    scene = sc.build_imaging_scene(config, tree, table)
    frame, names = kernels.canonical_frame(scene.frames[0])
    rng = np.random.default_rng(3)
    values = dict(table.values(), bulge_xcen=0.3, bulge_ycen=-0.2, arm_xcen=-0.1, blob_xcen=0.5, sky_sloan_r_1=0.01)
    values.update({name: v for name, v in zip(names, rng.uniform(-0.5, 0.5, len(names))) if name.startswith("logNorm")})
    values.update({name: 0.3 for name in names if name in kernels._NO_SHIFT})
    theta = jnp.asarray([values[name] for name in names], dtype=jnp.result_type(float))
    arrays = scene.images[0]
    r, model, jacobian = kernels.image_jacobian(theta, arrays, frame)
    r0, model0, jacobian0 = jax.jit(kernels._dense_jacobian, static_argnames="frame")(theta, arrays, frame)
    np.testing.assert_allclose(np.asarray(model), np.asarray(model0), atol=1e-5 * float(jnp.abs(model0).max()))
    scale = np.abs(np.asarray(jacobian0)).max(axis=0)
    assert (scale > 0).sum() >= len(names) - 1  # every parameter moves the image (but a fixed-zero slot)
    np.testing.assert_allclose(np.asarray(jacobian), np.asarray(jacobian0), atol=2e-5 * scale.max(), rtol=0)
    worst = (np.abs(np.asarray(jacobian - jacobian0)).max(axis=0) / np.where(scale > 0, scale, 1.0)).max()
    assert worst < 1e-4
