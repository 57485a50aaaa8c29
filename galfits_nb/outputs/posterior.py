"""Files of a posterior run (``--fit_method nuts``): the draws, their summary, the errors in ``.gssummary``."""

from __future__ import annotations

import os
from pathlib import Path

from galfits_nb.atomic import atomic_path
from galfits_nb.config.spec import Config
from galfits_nb.outputs.imaging import imaging_summary
from galfits_nb.outputs.summary import write_gssummary

__all__ = ["write_posterior_outputs"]


def write_posterior_outputs(workplace: str | os.PathLike, config: Config, posterior) -> dict[str, Path]:
    """Write the draws and the posterior errors of a :class:`~galfits_nb.inference.sample.PosteriorResult`.

    Parameters
    ----------
    workplace : path-like
        Output folder (the best fit's files are already there).
    config : Config
    posterior : PosteriorResult

    Returns
    -------
    dict of str to Path
        ``posterior_nc``: the ``arviz.InferenceData`` as NetCDF
        (``arviz.from_netcdf`` reads it back); ``posterior_csv``: ``arviz``'s
        summary (mean, sd, 68 % HDI, ESS, R-hat per parameter);
        ``gssummary``: rewritten with the best fit's values and chi^2 and the
        posterior standard deviations as the ``sigma`` column.
        Empty when the run was interrupted before the first draw.
    """
    from galfits_nb.inference.sample import posterior_summary

    if posterior.posterior is None:
        return {}
    folder = Path(workplace)
    target = config.region.name
    written = {}
    path = folder / f"{target}.posterior.nc"
    with atomic_path(path) as tmp:
        posterior.posterior.to_netcdf(str(tmp))
    written["posterior_nc"] = path
    summary = posterior_summary(posterior)
    path = folder / f"{target}.posterior.csv"
    with atomic_path(path) as tmp:
        summary.to_csv(tmp, index_label="parameter")
    written["posterior_csv"] = path
    draws = posterior.posterior.posterior
    worst = summary["r_hat"].max()
    header = {
        "errors": (
            f"posterior sd (nuts, {draws.sizes['chain']} chains x {draws.sizes['draw']} draws, "
            f"max R-hat {worst:.3f}, {posterior.n_divergent} divergent)"
        )
    }
    if posterior.interrupted:
        header["sampling interrupted"] = "True (draws finished so far)"
    mode = posterior.mode._replace(sigma=dict(posterior.sigma))
    written["gssummary"] = write_gssummary(folder / f"{target}.gssummary", imaging_summary(config, mode, header))
    return written
