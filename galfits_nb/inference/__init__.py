"""Parameters, likelihoods and fitters.

Public names (implementation in the submodules):

* :class:`ParameterTable`, :func:`build_parameter_table` (``parameters``):
  every parameter of a configuration with bounds, vary flags and ties;
* :func:`fit_images`, :class:`FitResult`, :data:`FIT_METHODS`,
  :func:`build_problem` (``fit``): fits of images and spectra;
* :func:`staged_fit` (``stages``): images alone, then images + spectra;
* :func:`sample_posterior`, :class:`SampleSettings`, :func:`posterior_summary`
  (``sample``): NUTS posteriors from the best fit (BlackJAX, ArviZ);
* :func:`levenberg_marquardt`, :func:`lbfgs`, :func:`adam`, :func:`run`,
  :func:`parameter_errors` (``optimize``): the fitters on a problem pytree;
* :func:`chi2`, :func:`reduced_chi2`, :func:`bic` (``likelihood``).
"""

from galfits_nb.inference.fit import FIT_METHODS, FitResult, build_problem, fit_images
from galfits_nb.inference.likelihood import bic, chi2, reduced_chi2
from galfits_nb.inference.optimize import adam, lbfgs, levenberg_marquardt, parameter_errors, run
from galfits_nb.inference.parameters import ParameterTable, build_parameter_table
from galfits_nb.inference.sample import PosteriorResult, SampleSettings, posterior_summary, sample_posterior
from galfits_nb.inference.stages import staged_fit

__all__ = [
    "ParameterTable",
    "build_parameter_table",
    "fit_images",
    "FitResult",
    "FIT_METHODS",
    "build_problem",
    "staged_fit",
    "sample_posterior",
    "SampleSettings",
    "PosteriorResult",
    "posterior_summary",
    "levenberg_marquardt",
    "lbfgs",
    "adam",
    "run",
    "parameter_errors",
    "chi2",
    "reduced_chi2",
    "bic",
]
