"""Per-image residuals and Jacobians compiled once per image *layout*.

A multi-band fit renders images that differ in their data but often share
their layout: the same size, PSF sampling, padding, component kinds and sky
model (five SDSS bands, three 2MASS bands). Compiling one program for the
whole fit traces every image separately, and XLA's compile time grows with
the number of images (two minutes for the ten J0056 bands on two CPU cores).
Here each image is evaluated by a program that knows only its layout: the
frame's parameter names are replaced by positions (:func:`canonical_frame`),
so images of one layout share one compiled chi^2 program
(:func:`image_chi2`) and one for the normal terms
(:func:`image_normal_terms`), and the per-image arrays (data, weights, PSF transform,
geometry) are ordinary arguments.

The chain to the free parameters is kept apart: :func:`local_values` maps
the unconstrained free vector ``u`` to every image's local parameter values
(bounds transform, ties, SED-mode fluxes), and its Jacobian ``T`` in ``u``
is cheap (no pixels). The image Jacobian in ``u`` is then
``J_image(theta) @ T_image``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from typing import NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from galfits_nb.inference.likelihood import ImagingProblem, problem_spectrum_residuals, problem_values
from galfits_nb.models import scene as scene_module
from galfits_nb.models.psf import convolve
from galfits_nb.models.scene import ImageArrays, ImageFrame, scene_parameter_names
from galfits_nb.precision import full_precision

__all__ = [
    "ImageLayout",
    "image_layouts",
    "canonical_frame",
    "local_values",
    "local_values_and_jacobian",
    "image_jacobian",
    "image_normal_terms",
    "image_chi2",
    "evaluate",
    "spectrum_jacobian",
]


class ImageLayout(NamedTuple):
    """One image's place in the local vector.

    Attributes
    ----------
    frame : ImageFrame
        The canonical frame (names replaced by positions); static.
    names : tuple of str
        The real parameter names, in the order of the local vector.
    start, stop : int
        Slice of the concatenated local vector of all images.
    """

    frame: ImageFrame
    names: tuple[str, ...]
    start: int
    stop: int


_NO_SHIFT = ("(no shift x)", "(no shift y)")
"""Names of the shift slots of images that may not shift; never table names."""


def _position(j: int) -> str:
    return f"q{j}"


def canonical_frame(frame: ImageFrame) -> tuple[ImageFrame, tuple[str, ...]]:
    """The frame with its names replaced by positions, and the names in that order.

    Two frames with the same layout give equal canonical frames, so a jitted
    function with the frame as a static argument compiles once for both. A
    frame that may not shift (I13 = 0) gets a shift slot all the same, named
    by :data:`_NO_SHIFT` (held at 0 by :func:`local_values`), so that it
    shares the layout of the shifting images of its atlas.
    """
    if not frame.shift and not frame.total_flux:
        frame = frame._replace(shift=_NO_SHIFT)
    names = scene_parameter_names((frame,))
    index = {name: _position(j) for j, name in enumerate(names)}
    components = tuple(
        comp._replace(
            name=f"c{i}",
            params=tuple((key, index[name]) for key, name in comp.params),
            flux=index[comp.flux],
        )
        for i, comp in enumerate(frame.components)
    )
    canonical = frame._replace(
        letter="",
        band="",
        label="",
        path="",
        components=components,
        sky=tuple(index[name] for name in frame.sky),
        shift=tuple(index[name] for name in frame.shift),
    )
    return canonical, names


@functools.lru_cache(maxsize=64)
def _layouts_of(frames: tuple[ImageFrame, ...]) -> tuple[ImageLayout, ...]:
    out = []
    start = 0
    for frame in frames:
        canonical, names = canonical_frame(frame)
        out.append(ImageLayout(canonical, names, start, start + len(names)))
        start += len(names)
    return tuple(out)


def image_layouts(problem: ImagingProblem) -> tuple[ImageLayout, ...]:
    """The layout of every image of a problem (cached on the frames)."""
    return _layouts_of(problem.scene.frames)


def local_values(u: jax.Array, problem: ImagingProblem) -> jax.Array:
    """Every image's local parameter values, concatenated in layout order.

    Parameters
    ----------
    u : array of shape (n_free,)
        Unconstrained free vector.
    problem : ImagingProblem

    Returns
    -------
    array of shape (sum of local sizes,)
    """
    values = problem_values(u, problem)
    values.update(dict.fromkeys(_NO_SHIFT, jnp.zeros((), u.dtype)))
    names = [name for layout in image_layouts(problem) for name in layout.names]
    if not names:  # a spectrum-only problem
        return jnp.zeros((0,), u.dtype)
    return jnp.stack([jnp.asarray(values[name], dtype=u.dtype) for name in names])


_local_values_jit = jax.jit(local_values)


@jax.jit
def local_values_and_jacobian(u: jax.Array, problem: ImagingProblem) -> tuple[jax.Array, jax.Array]:
    """:func:`local_values` and its Jacobian in ``u`` (forward mode; no pixels involved)."""
    theta, tangents = _values_and_tangents(lambda v: local_values(v, problem), u)
    return theta, tangents.T


def _values(theta: jax.Array) -> dict[str, jax.Array]:
    return {_position(j): theta[j] for j in range(theta.shape[0])}


def _weighted(theta: jax.Array, arrays: ImageArrays, frame: ImageFrame) -> tuple[jax.Array, jax.Array]:
    model = scene_module.render_band(_values(theta), frame, arrays.psf_ft, arrays.geometry)
    return ((model - arrays.data) * arrays.inv_sigma).reshape(-1), model


def _dense_jacobian(theta: jax.Array, arrays: ImageArrays, frame: ImageFrame) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Residuals, model and Jacobian by forward mode through the whole rendering (one tangent per parameter)."""
    (r, model), (tangents, _) = _values_and_tangents(lambda t: _weighted(t, arrays, frame), theta)
    return r, model, tangents.T


def _component_keys(frame: ImageFrame) -> tuple[tuple[str, ...], ...]:
    """The grid-parameter keys of each shaped (non-``const``) component, in frame order."""
    keys = []
    for comp in frame.components:
        if comp.kind == "point":
            keys.append(("xcen", "ycen"))
        elif comp.kind != "const":
            keys.append(tuple(key for key, _ in comp.params))
    return tuple(keys)


def _values_and_tangents(function, x: jax.Array):
    """``function(x)`` and its derivatives along each coordinate of ``x``, stacked first.

    ``function`` may return a pytree of arrays; the tangents come in the same
    tree, each leaf with a leading axis of ``x.shape[0]``.

    One forward-mode pass with all tangents at once (``vmap`` of ``jvp``):
    the primal is computed once, not batched, and tracing it costs about
    half as much as ``linearize`` followed by ``vmap`` of the linear map.
    """
    basis = jnp.eye(x.shape[0], dtype=x.dtype)
    values, tangents = jax.vmap(lambda v: jax.jvp(function, (x,), (v,)), out_axes=(None, 0))(basis)
    return values, tangents


@functools.partial(jax.jit, static_argnames=("kind", "mode", "keys", "grid", "sampling", "oversampling"))
def _unit_image_and_tangents(
    p_c: jax.Array, psf_ft: jax.Array, kind: str, mode: int, keys: tuple[str, ...], grid, sampling, oversampling: int
) -> tuple[jax.Array, jax.Array]:
    """A shaped component at unit flux and its derivatives in its grid parameters ``p_c``.

    A program of its own, keyed by what the rendering depends on (kind,
    Fourier mode, parameter keys, grid, sampling) and not by the
    component's name: the bulge and the disk of an image, both Sersic, are
    traced once, not twice (tracing the Sersic rendering with its
    derivatives is most of the time to build an image's program).

    Returns
    -------
    image : array
        :func:`galfits_nb.models.scene.component_unit_image`.
    tangents : array of shape (len(p_c),) + image.shape
    """
    comp = scene_module.ComponentSpec("", kind, tuple((key, key) for key in keys), "", mode)
    frame = _RenderFrame(grid, sampling, oversampling)

    def unit(v):
        return scene_module.component_unit_image(dict(zip(keys, v)), comp, frame, psf_ft)

    return _values_and_tangents(unit, p_c)


class _RenderFrame(NamedTuple):
    """The fields of an :class:`ImageFrame` that rendering one component reads."""

    grid: object
    sampling: object
    oversampling: int


def _structured_jacobian(theta: jax.Array, arrays: ImageArrays, frame: ImageFrame) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Residuals, model and Jacobian, differentiating each component only in its own parameters.

    The model is ``sum_c f_c PSF * P_c(p_c) + sky``, with ``P_c`` a unit-flux
    rendering that depends on the few grid parameters ``p_c`` of component
    ``c`` (centre on the grid, radius, index, angle, axis ratio). Forward
    mode through the whole rendering would push every local parameter
    (other components', fluxes, sky, shifts) through every component's
    rendering; here each ``P_c`` is linearised in its own ``p_c`` only, the
    convolution (linear) is applied to those derivative images, and the
    chain to the local parameters, ``d p_c / d theta`` and ``d f_c / d
    theta``, is a Jacobian of a handful of scalars. On the ten J0056
    images this takes 14 renderings and 14 convolutions per SDSS band
    instead of 36 and 18 (benchmarks/jacobian.py: 1.76 times faster).
    """
    ny, nx = frame.shape
    p = frame.padding
    geometry = arrays.geometry
    shaped = [comp for comp in frame.components if comp.kind != "const"]
    keys = _component_keys(frame)

    def grid_parameters(t: jax.Array) -> jax.Array:
        local = _values(t)
        out = []
        for comp, comp_keys in zip(shaped, keys):
            params = scene_module.component_grid_parameters(local, comp, frame, geometry)
            out.extend(params[key] for key in comp_keys)
            out.append(local[comp.flux])
        return jnp.stack([jnp.asarray(v, dtype=t.dtype) for v in out])

    grid_values, tangents = _values_and_tangents(grid_parameters, theta)
    chain = tangents.T  # (n_rows, n_local)
    extended, extended_rows, direct, direct_rows = [], [], [], []
    row = 0
    for comp, comp_keys in zip(shaped, keys):
        m = len(comp_keys)
        p_c = grid_values[row : row + m]
        flux = 10.0 ** grid_values[row + m]

        image, tangents = _unit_image_and_tangents(
            p_c, arrays.psf_ft, comp.kind, comp.mode, comp_keys, frame.grid, frame.sampling, frame.oversampling
        )
        columns = jnp.concatenate([flux * tangents, (jnp.log(10.0) * flux * image)[None]], axis=0)
        (direct if comp.kind == "point" else extended).append(columns)
        (direct_rows if comp.kind == "point" else extended_rows).extend(range(row, row + m + 1))
        row += m + 1

    pieces, rows = [], []
    if extended:
        convolved = jax.vmap(convolve, in_axes=(0, None, None))(
            jnp.concatenate(extended, axis=0), arrays.psf_ft, frame.oversampling
        )
        pieces.append(convolved)
        rows.extend(extended_rows)
    if direct:
        pieces.append(jnp.concatenate(direct, axis=0))
        rows.extend(direct_rows)
    columns = jnp.concatenate(pieces, axis=0)[:, p : p + ny, p : p + nx]  # (n_rows, ny, nx)
    chain = chain[np.asarray(rows)]
    # Each component's flux column is ln(10) f_c (PSF * P_c): the model is their sum / ln(10).
    flux_rows = np.cumsum([len(k) + 1 for k in keys]) - 1
    position = {r: i for i, r in enumerate(rows)}
    shaped_model = jnp.sum(columns[np.asarray([position[r] for r in flux_rows])], axis=0) / jnp.log(10.0)

    def rest(t: jax.Array) -> jax.Array:
        local = _values(t)
        flat = sum((10.0 ** local[c.flux] for c in frame.components if c.kind == "const"), jnp.zeros((), t.dtype))
        return jnp.broadcast_to(flat + scene_module._sky_image(local, frame), (ny, nx))

    rest_image, rest_tangents = _values_and_tangents(rest, theta)
    model = (shaped_model + rest_image).astype(arrays.data.dtype)
    weights = arrays.inv_sigma.reshape(-1, 1)
    jacobian = (columns.reshape(columns.shape[0], -1).T @ chain + rest_tangents.reshape(-1, ny * nx).T) * weights
    r = ((model - arrays.data) * arrays.inv_sigma).reshape(-1)
    return r, model, jacobian.astype(r.dtype)


@functools.partial(jax.jit, static_argnames=("frame",))
def image_jacobian(theta: jax.Array, arrays: ImageArrays, frame: ImageFrame) -> tuple[jax.Array, jax.Array, jax.Array]:
    """Residuals, model and the Jacobian of the residuals in ``theta``, shape (n_pix, n_local).

    Images whose components are all shaped or flat are differentiated
    component by component (:func:`_structured_jacobian`); single-value
    images (``total_flux``, pure SED fitting) through the whole model.
    """
    if frame.total_flux or not any(comp.kind != "const" for comp in frame.components):
        return _dense_jacobian(theta, arrays, frame)
    return _structured_jacobian(theta, arrays, frame)


@functools.partial(jax.jit, static_argnames=("frame", "size"))
def image_normal_terms(
    theta: jax.Array, chain: jax.Array, start: jax.Array, arrays: ImageArrays, frame: ImageFrame, size: int
) -> tuple[jax.Array, jax.Array, jax.Array, jax.Array]:
    """One image's chi^2, model and its share of ``J^T J`` and ``J^T r`` in ``u``.

    The image's local values are ``theta[start : start + size]`` and their
    Jacobian in ``u`` the same rows of ``chain``; both are cut inside the
    compiled program (``start`` is an argument, not a constant, so images of
    one layout still share it). The normal matrix is formed in the local
    parameters first and then chained, ``T^T (J^T J) T``: n_pix x n_local^2
    multiplications instead of n_pix x n_free^2.

    Parameters
    ----------
    theta : array of shape (n_local_all,)
        :func:`local_values`.
    chain : array of shape (n_local_all, n_free)
        Their Jacobian in ``u``.
    start : int scalar array
    arrays : ImageArrays
    frame : ImageFrame
        Canonical (static).
    size : int
        The image's number of local values (static).

    Returns
    -------
    chi2 : scalar array
    model : array of shape (ny, nx)
    jtj : array of shape (n_free, n_free)
    jtr : array of shape (n_free,)
    """
    local = jax.lax.dynamic_slice_in_dim(theta, start, size)
    rows = jax.lax.dynamic_slice_in_dim(chain, start, size, axis=0)
    r, model, jacobian = image_jacobian(local, arrays, frame)
    # Columns of local values no free parameter moves (a fixed sky) are left
    # out before squaring: in physical units (pure SED photometry in
    # erg/s/cm^2/A) their entries, 1/sigma, reach 4e20, whose square
    # overflows float32, and inf times the zero chain is NaN.
    jacobian = jnp.where(jnp.any(rows != 0, axis=1)[None, :], jacobian, 0.0)
    return jnp.dot(r, r), model, rows.T @ (jacobian.T @ jacobian) @ rows, rows.T @ (jacobian.T @ r)


@functools.partial(jax.jit, static_argnames=("frame", "size"))
def image_chi2(
    theta: jax.Array, start: jax.Array, arrays: ImageArrays, frame: ImageFrame, size: int
) -> tuple[jax.Array, jax.Array]:
    """One image's chi^2 and model at ``theta[start : start + size]`` (see :func:`image_normal_terms`)."""
    r, model = _weighted(jax.lax.dynamic_slice_in_dim(theta, start, size), arrays, frame)
    return jnp.dot(r, r), model


@jax.jit
def _summed(parts: tuple) -> tuple:
    """Element-wise sums of a tuple of equally structured tuples (one program, not one per addition)."""
    return tuple(functools.reduce(jnp.add, column) for column in zip(*parts))


def _image_call(layout: ImageLayout, arrays: ImageArrays, theta: jax.Array, chain: jax.Array | None):
    start = jnp.asarray(layout.start, jnp.int32)
    size = layout.stop - layout.start
    if chain is None:
        return image_chi2(theta, start, arrays, layout.frame, size)
    return image_normal_terms(theta, chain, start, arrays, layout.frame, size)


def _in_callers_context(function):
    """``function`` to run on a pool thread under the caller's thread-local JAX settings.

    JAX's configuration contexts (matrix-product precision, 64-bit mode) are
    thread-local and a pool's threads start from the global defaults: under
    :func:`galfits_nb.precision.full_precision` (GPUs) they would trace and
    compile programs the caller never uses, and in a caller's 64-bit context
    they would cut float64 inputs to float32.
    """
    precision = jax.config.jax_default_matmul_precision
    x64 = bool(jax.config.jax_enable_x64)

    def run(*args):
        with contextlib.ExitStack() as stack:
            if precision:
                stack.enter_context(jax.default_matmul_precision(precision))
            if x64 != bool(jax.config.jax_enable_x64):
                stack.enter_context(_enable_x64(x64))
            return function(*args)

    return run


def _enable_x64(on: bool):
    """JAX's 64-bit context: ``jax.enable_x64`` (JAX >= 0.7) or the experimental one before it."""
    if callable(getattr(jax, "enable_x64", None)):
        return jax.enable_x64(on)
    from jax.experimental import disable_x64, enable_x64

    return enable_x64() if on else disable_x64()


_POOL = None


def _pool():
    """The process's threads for image programs (one per core, made on first use)."""
    global _POOL
    if _POOL is None:
        from concurrent.futures import ThreadPoolExecutor

        _POOL = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="galfits_nb-images")
    return _POOL


def _warm_up(problem: ImagingProblem, theta: jax.Array, chain: jax.Array | None) -> None:
    """Compile the programs of every distinct layout at once, on threads.

    XLA compiles one program on one thread; the layouts are independent, so
    compiling them side by side uses every core.
    """
    seen = {}
    for layout, arrays in zip(image_layouts(problem), problem.scene.images):
        seen.setdefault((layout.frame, layout.stop - layout.start), (layout, arrays))
    if len(seen) < 2:
        return
    compile_one = _in_callers_context(_image_call)
    jobs = [_pool().submit(compile_one, layout, arrays, theta, chain) for layout, arrays in seen.values()]
    for job in jobs:
        jax.block_until_ready(job.result())


def _image_groups(problem: ImagingProblem, n_groups: int) -> list[list[int]]:
    """Images split into ``n_groups`` lists of about equal cost (longest first, to the lightest list).

    The cost of an image's program is taken as the size of its padded FFT
    grid (the PSF transform), which sets the rendering and convolution work.
    """
    costs = [int(np.prod(arrays.psf_ft.shape)) for arrays in problem.scene.images]
    groups = [[] for _ in range(n_groups)]
    loads = [0] * n_groups
    for index in sorted(range(len(costs)), key=lambda i: -costs[i]):
        lightest = loads.index(min(loads))
        groups[lightest].append(index)
        loads[lightest] += costs[index]
    return [sorted(group) for group in groups if group]


def _start_image_terms(problem: ImagingProblem, theta: jax.Array, chain: jax.Array | None):
    """Start every image's program (:func:`_image_call`); return a function that collects them in image order.

    On a CPU with several cores the images run on threads, in groups of
    about equal cost: XLA runs one small program on one core, and the
    image programs release the GIL while they run (the ten J0056 images
    took 142-150 ms instead of 190-218 ms per Jacobian on two cores). The
    caller computes the spectra meanwhile. Results and their order do not
    depend on the threads.
    """
    pairs = list(zip(image_layouts(problem), problem.scene.images))
    n_groups = min(len(pairs), os.cpu_count() or 1)
    if n_groups < 2 or jax.default_backend() != "cpu":
        outputs = [_image_call(layout, arrays, theta, chain) for layout, arrays in pairs]
        return lambda: outputs

    def run(group):
        return [jax.block_until_ready(_image_call(*pairs[i], theta, chain)) for i in group]

    run = _in_callers_context(run)
    groups = _image_groups(problem, n_groups)
    jobs = [_pool().submit(run, group) for group in groups]

    def collect():
        out = [None] * len(pairs)
        for group, job in zip(groups, jobs):
            for index, value in zip(group, job.result()):
                out[index] = value
        return out

    return collect


_WARM: set = set()


@full_precision
def evaluate(u: jax.Array, problem: ImagingProblem, with_jacobian: bool):
    """chi^2, the models and (optionally) ``J^T J`` and ``J^T r`` at ``u``.

    Each image is one call of a compiled program (:func:`image_normal_terms`
    or :func:`image_chi2`); the spectra and priors add their terms, and the
    sums are one more program.

    Returns
    -------
    chi2 : scalar array
    models : tuple of arrays of shape (ny, nx)
    normal : (jtj, jtr) or None
    """
    if with_jacobian:
        theta, chain = local_values_and_jacobian(u, problem)
    else:
        theta, chain = _local_values_jit(u, problem), None
    key = (problem.scene.frames, with_jacobian, u.dtype)
    if key not in _WARM:
        _warm_up(problem, theta, chain)
        _WARM.add(key)
    collect_images = _start_image_terms(problem, theta, chain)
    spectrum_terms, spectra = [], ()
    if problem.spectra is not None:
        if with_jacobian:
            r, spectra, jacobian = spectrum_jacobian(u, problem)
            spectrum_terms.append(_gram(r, jacobian))
        else:
            r, spectra = _spectrum_residuals_jit(u, problem)
            spectrum_terms.append((jnp.dot(r, r),))
    terms = []  # (chi2, jtj, jtr) or (chi2,) per image, spectrum and prior block
    models = []
    for output in collect_images():
        terms.append((output[0],) + tuple(output[2:]))
        models.append(output[1])
    terms.extend(spectrum_terms)
    models.extend(spectra)
    if problem.priors is not None and problem.priors.terms:
        r, jacobian = prior_jacobian(u, problem)
        terms.append(_gram(r, jacobian) if with_jacobian else (jnp.dot(r, r),))
    if not terms:
        n = u.shape[0]
        terms.append((jnp.zeros((), u.dtype), jnp.zeros((n, n), u.dtype), jnp.zeros((n,), u.dtype)))
    total = _summed(tuple(terms))
    return total[0], tuple(models), ((total[1], total[2]) if with_jacobian else None)


@jax.jit
def _gram(r: jax.Array, jacobian: jax.Array) -> tuple[jax.Array, jax.Array, jax.Array]:
    """``(r.r, J^T J, J^T r)`` of a block of residuals."""
    return jnp.dot(r, r), jacobian.T @ jacobian, jacobian.T @ r


@jax.jit
def prior_jacobian(u: jax.Array, problem: ImagingProblem) -> tuple[jax.Array, jax.Array]:
    """Prior residuals and their Jacobian in ``u`` (pixel-free), shape (n_terms, n_free)."""
    from galfits_nb.inference.likelihood import table_values
    from galfits_nb.inference.priors import prior_residuals

    def residuals(v):
        return prior_residuals(table_values(v, problem), problem.priors).astype(u.dtype)

    return residuals(u), jax.jacfwd(residuals)(u)


@jax.jit
def _spectrum_residuals_jit(u: jax.Array, problem: ImagingProblem):
    return problem_spectrum_residuals(u, problem)


@jax.jit
def spectrum_jacobian(u: jax.Array, problem: ImagingProblem) -> tuple[jax.Array, tuple[jax.Array, ...], jax.Array]:
    """Spectrum residuals, model spectra and the residuals' Jacobian in ``u``, shape (n_pix, n_free).

    The spectra read parameters of every kind (shapes through the aperture,
    SED, AGN, lines), so their Jacobian is taken in ``u``, in forward mode,
    with the aperture fractions held apart: rendering the components onto
    the reference image is the costly part, and the fractions depend only
    on the few shape parameters, so their Jacobian is taken in those alone
    and chained (``dr/du = dr/du|_fractions + dr/dfractions dfractions/dshape
    dshape/du``).
    """
    from galfits_nb.inference.likelihood import table_values
    from galfits_nb.models.spectrum_scene import aperture_fractions, aperture_parameter_names, spectrum_residuals

    spectra = problem.spectra
    names = aperture_parameter_names(spectra)
    values = table_values(u, problem)  # the spectra read no SED band fluxes
    eye = jnp.eye(u.shape[0], dtype=u.dtype)

    def fractions_of(local: jax.Array) -> tuple[jax.Array, ...]:
        updated = dict(values)
        updated.update({name: local[j] for j, name in enumerate(names)})
        return tuple(aperture_fractions(updated, f, a) for f, a in zip(spectra.frames, spectra.spectra))

    def residual(v: jax.Array, fractions: tuple[jax.Array, ...]):
        return spectrum_residuals(table_values(v, problem), spectra, fractions)

    if names:
        local = jnp.stack([jnp.asarray(values[name], u.dtype) for name in names])
        fractions, frac_linear = jax.linearize(fractions_of, local)
        frac_jac = jax.vmap(frac_linear, out_axes=-1)(jnp.eye(len(names), dtype=u.dtype))
        local_jac = jax.jacfwd(lambda v: jnp.stack([jnp.asarray(table_values(v, problem)[n], u.dtype) for n in names]))(u)
    else:
        fractions = fractions_of(jnp.zeros((0,), u.dtype))
    r, linear, models = jax.linearize(lambda v: residual(v, fractions), u, has_aux=True)
    jacobian = jax.vmap(linear, out_axes=1)(eye)
    if names:
        flat = jnp.concatenate(fractions)
        split = [f.shape[0] for f in fractions]

        def by_fractions(f_flat):
            parts = tuple(jnp.split(f_flat, np.cumsum(split)[:-1]))
            return residual(u, parts)[0]

        d_fractions = jax.jacfwd(by_fractions)(flat)  # (n_pix, n_fractions)
        d_local = jnp.concatenate(frac_jac, axis=0)  # (n_fractions, n_local)
        jacobian = jacobian + d_fractions @ (d_local @ local_jac)
    return r, models, jacobian
