"""VLLMEngine without vLLM: the import guard, and parameter mapping against a fake `vllm` module."""
import sys
import types
from types import SimpleNamespace

import pytest

from scalemath.sampling.engine import SamplingParams, sample_seed
from scalemath.sampling.vllm_engine import VLLMEngine


def test_missing_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)   # makes `import vllm` fail
    with pytest.raises(ImportError, match=r"pip install 'scalemath\[vllm\]'"):
        VLLMEngine("some/model")


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    calls = SimpleNamespace(init=None, generate=[])

    class FakeSP:
        def __init__(self, **kw):
            self.kw = kw

    class FakeTok:
        def apply_chat_template(self, messages, tokenize, add_generation_prompt):
            assert tokenize is False and add_generation_prompt is True
            return f"<user>{messages[0]['content']}</user><assistant>"

    class FakeLLM:
        def __init__(self, **kw):
            calls.init = kw

        def get_tokenizer(self):
            return FakeTok()

        def generate(self, prompts, sps, use_tqdm=True):
            calls.generate.append((list(prompts), sps, use_tqdm))
            return [SimpleNamespace(outputs=[
                SimpleNamespace(index=j, text=f"{p}|{sp.kw['seed']}|{j}", token_ids=[1, 2, 3],
                                finish_reason="length" if j else "stop")
                for j in reversed(range(sp.kw["n"]))]) for p, sp in zip(prompts, sps)]

    mod.LLM, mod.SamplingParams = FakeLLM, FakeSP
    monkeypatch.setitem(sys.modules, "vllm", mod)
    return calls


def test_llm_construction(fake_vllm):
    VLLMEngine("m/path", tensor_parallel_size=4, dtype="bfloat16", gpu_memory_utilization=0.8)
    assert fake_vllm.init == {"model": "m/path", "tensor_parallel_size": 4, "dtype": "bfloat16",
                              "gpu_memory_utilization": 0.8}


def test_per_sample_mapping(fake_vllm):
    eng = VLLMEngine("m", model_id="tiny")
    params = SamplingParams(temperature=0.6, top_p=0.9, top_k=0, max_tokens=50, stop=("\n\n",), seed=2)
    outs = list(eng.generate(["A", "B"], params, n=3, start_index=5))
    prompts, sps, tqdm = fake_vllm.generate[0]
    assert prompts == ["A"] * 3 + ["B"] * 3 and tqdm is False
    kw = sps[0].kw
    assert (kw["n"], kw["temperature"], kw["top_p"], kw["top_k"], kw["max_tokens"], kw["stop"]) == \
        (1, 0.6, 0.9, -1, 50, ["\n\n"])
    assert [sp.kw["seed"] for sp in sps[:3]] == [sample_seed(2, "A", i) for i in (5, 6, 7)]
    assert [c.sample_index for c in outs[1]] == [5, 6, 7]
    c = outs[1][2]
    assert c.seed == sample_seed(2, "B", 7) and c.text == f"B|{c.seed}|0" and c.n_tokens == 3
    assert eng.model_id == "tiny" and eng.name == "vllm"
    # per-prompt base seeds (the server batches requests that differ only in seed)
    outs = list(eng.generate(["A", "B"], params, n=2, base_seeds=[7, 9]))
    assert [c.seed for c in outs[0]] == [sample_seed(7, "A", i) for i in (0, 1)]
    assert [c.seed for c in outs[1]] == [sample_seed(9, "B", i) for i in (0, 1)] and eng.per_prompt_seeds


def test_per_request_n_top_k_and_chat_template(fake_vllm):
    eng = VLLMEngine("m", chat_template=True, seed_mode="per_request")
    params = SamplingParams(top_k=40, seed=1)
    (comps,) = list(eng.generate(["hi"], params, n=4, start_index=8))
    prompts, sps, _ = fake_vllm.generate[0]
    assert prompts == ["<user>hi</user><assistant>"]
    assert sps[0].kw["n"] == 4 and sps[0].kw["top_k"] == 40 and sps[0].kw["stop"] is None
    assert sps[0].kw["seed"] == sample_seed(1, "hi", 8)
    # outputs come back sorted by their index whatever vLLM's order
    assert [c.sample_index for c in comps] == [8, 9, 10, 11]
    assert [c.finish_reason for c in comps] == ["stop", "length", "length", "length"]
    assert comps[0].text.endswith("|0")
    with pytest.raises(ValueError):
        VLLMEngine("m", seed_mode="bad")
