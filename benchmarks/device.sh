#!/usr/bin/env bash
# GPU benchmark on a machine without network: wheels and the template cache are
# carried in wheels/ and .cache/device/ (see benchmarks/README.md). Prints the
# quickstart timings on the GPU and, in the same run, on the machine's CPU.
# CPU=0 skips the CPU run.
set -euo pipefail
cd "$(dirname "$0")/.."
python -m pip install --quiet --no-deps --no-index --target /tmp/site wheels/*.whl
export PYTHONPATH=/tmp/site:$PWD
nvidia-smi -L || true
python -c "import jax; print('jax', jax.__version__, jax.devices())"
python benchmarks/quickstart.py --templates .cache/device/templates --data .cache/device/j0056 --psf-upsampling "${UPSAMPLING:-3}"
[ "${CPU:-1}" = 0 ] || JAX_PLATFORMS=cpu python benchmarks/quickstart.py --templates .cache/device/templates --data .cache/device/j0056 --psf-upsampling "${UPSAMPLING:-3}"
