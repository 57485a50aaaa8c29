"""Time reading a configuration and its observation (prints figures).

Run: ``.venv/bin/python benchmarks/read_inputs.py``. Reports the median of
several repeats for parsing ``quickstart.lyric`` (with file checks), building
the parameter table, and reading the ten-band observation into an
``xr.DataTree``, next to a bare ``astropy.io.fits.getdata`` of every data,
sigma and mask HDU the config names (the floor any reader pays).
"""

from __future__ import annotations

import os

os.environ.setdefault("TQDM_DISABLE", "1")  # keep the printed figures readable

import statistics
import time
import warnings
from pathlib import Path

from astropy.io import fits

from galfits_nb.config.lyric import read_lyric
from galfits_nb.data.observation import read_observation
from galfits_nb.inference.parameters import build_parameter_table

CONFIG = Path(__file__).resolve().parents[2] / "shared" / "data" / "j0056_quickstart" / "quickstart.lyric"


def _median_time(func, repeats: int = 7) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        func()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    warnings.simplefilter("ignore")
    config = read_lyric(CONFIG)
    refs = [r for im in config.images for r in (im.data, im.sigma, im.mask) if r is not None]
    t_parse = _median_time(lambda: read_lyric(CONFIG))
    t_table = _median_time(lambda: build_parameter_table(config))
    t_tree = _median_time(lambda: read_observation(config))
    t_floor = _median_time(lambda: [fits.getdata(r.path, r.hdu) for r in refs])
    print(f"quickstart.lyric, {len(config.images)} images")
    print(f"  parse .lyric (with FITS checks) {t_parse * 1e3:8.1f} ms")
    print(f"  parameter table                 {t_table * 1e3:8.1f} ms")
    print(f"  read observation (DataTree)     {t_tree * 1e3:8.1f} ms")
    print(f"  astropy getdata of {len(refs)} HDUs     {t_floor * 1e3:8.1f} ms")
    print(f"  observation / bare getdata      {t_tree / t_floor:8.1f} x")


if __name__ == "__main__":
    main()
