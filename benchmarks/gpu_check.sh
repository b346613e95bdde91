#!/usr/bin/env bash
# The GPU check: CUDA tests, then the timed CUDA runs of benchmarks/gpu_check.py, in a few
# minutes. Run from the repository root on a machine with an NVIDIA GPU and PyTorch:
#   bash benchmarks/gpu_check.sh            # add --long for one hour of audio at --preset fast
# Packages the machine lacks (soundfile, librosa, ...) are installed from ./.whl if present,
# so an offline machine can be given wheels downloaded elsewhere.
set -uo pipefail
cd "$(dirname "$0")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .whl/*.whl \
    && export PYTHONPATH="/tmp/site${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
python3 -c "import torch; assert torch.cuda.is_available(), 'no CUDA device'; print(torch.cuda.get_device_name(0))" || exit 1
echo "== CUDA tests"
python3 -m pytest -q -m cuda -p no:cacheprovider tests
tests=$?
echo "== timed runs"
python3 benchmarks/gpu_check.py --device cuda "$@"
bench=$?
exit $(( tests != 0 || bench != 0 ))
