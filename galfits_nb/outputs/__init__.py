"""Files and figures a fit leaves behind; every write is atomic.

* :func:`write_imaging_outputs` (``imaging``): ``.params``, ``.gssummary``,
  ``.residual.png``, ``.model.fits`` of an imaging fit;
* :func:`write_gssummary`, :func:`read_gssummary` (``summary``): GalfitS's summary layout;
* :func:`residual_figure` (``figures``): data / model / residual per band;
* :func:`write_model_cube` (``cube``): the FITS cube;
* :func:`parameter_frame` (``tables``): a parameter table as a DataFrame;
* :func:`write_posterior_outputs` (``posterior``): the draws of a NUTS run.
"""

from galfits_nb.outputs.cube import write_model_cube
from galfits_nb.outputs.figures import residual_figure, write_residual_png
from galfits_nb.outputs.imaging import write_imaging_outputs
from galfits_nb.outputs.posterior import write_posterior_outputs
from galfits_nb.outputs.summary import read_gssummary, write_gssummary
from galfits_nb.outputs.tables import parameter_frame

__all__ = [
    "write_imaging_outputs",
    "write_gssummary",
    "read_gssummary",
    "residual_figure",
    "write_residual_png",
    "write_model_cube",
    "parameter_frame",
    "write_posterior_outputs",
]
