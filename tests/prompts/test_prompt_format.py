"""Prompt rendering from the CLI: templates used as written, few-shot exemplars, the
tokenizer's chat template, every template checked before a model loads; SFT examples in the same
format; and results keyed by the model's content (a retrained checkpoint is not resumed from)."""

import json

import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.prompts import PromptFormat, load, load_exemplars, prompt_format, prompt_hash
from scalemath.records import InputError, Problem, read_samples, text_hash, write_jsonl
from scalemath.sampling.fingerprint import model_fingerprint
from scalemath.testing.tiny_random import save_tiny_llama
from scalemath.training.data import to_example

CHAT = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>\n{% endif %}"
)
PROBLEMS = [Problem(id=f"p{i}", question=f"What is {i} + {i}?", answer=str(2 * i)) for i in range(3)]
TRAIN = [
    Problem(id=f"t{i}", question=f"What is {i} * 3?", solution=f"{i} * 3 = {3 * i}\n#### {3 * i}") for i in range(5)
]


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    """A tiny random Llama whose tokenizer has a chat template."""
    import torch

    torch.set_num_threads(1)
    path = save_tiny_llama(tmp_path_factory.mktemp("chat") / "model")
    cfg = json.loads((path / "tokenizer_config.json").read_text())
    cfg["chat_template"] = CHAT
    (path / "tokenizer_config.json").write_text(json.dumps(cfg))
    return path


def test_builtin_templates_keep_their_text_and_hash():
    assert load("qa") == "Q: {question}\nA:"
    assert prompt_hash("qa") == text_hash("Q: {question}\nA:")  # samples drawn before still resume


def test_a_template_file_is_used_exactly_as_written(tmp_path):
    t = tmp_path / "chatml.txt"
    t.write_text("<|im_start|>user\n{question}<|im_end|>\n<|im_start|>assistant\n")
    fmt = PromptFormat(str(t))
    assert fmt.render("1+1?") == "<|im_start|>user\n1+1?<|im_end|>\n<|im_start|>assistant\n"
    # an SFT target follows a newline-ended prompt directly, an "A:" prompt after a space
    assert to_example("1+1?", " 2 ", fmt, "<eos>").completion == "2<eos>"
    assert to_example("1+1?", "2", "qa", "<eos>").completion == " 2<eos>"


def test_fewshot_renders_the_exemplars(tmp_path):
    write_jsonl(tmp_path / "train.jsonl", TRAIN)
    fmt = prompt_format("fewshot_qa", exemplars=tmp_path / "train.jsonl", shots=2)
    text = fmt.render("What is 9 * 3?")
    assert text == (
        "Q: What is 0 * 3?\nA: 0 * 3 = 0\n#### 0\n\nQ: What is 1 * 3?\nA: 1 * 3 = 3\n#### 3\n\nQ: What is 9 * 3?\nA:"
    )
    assert fmt.hash != prompt_hash("fewshot_qa") and fmt.describe() == {"template": "fewshot_qa", "shots": 2}
    assert load_exemplars(tmp_path / "train.jsonl", 99) == tuple((p.question, p.solution) for p in TRAIN)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "fewshot_qa"], "--exemplars FILE"),
        (["--template", "{bad}"], "no prompt template"),
        (["--system", "Be brief."], "--system needs --chat"),
    ],
)
def test_template_errors_come_before_the_model_loads(tmp_path, args, message):
    """Regression (issue 23): `--template fewshot_qa` was `internal error: KeyError: 'exemplars'`
    after the model loaded; now a clear error (exit 2) before it; the model here does not exist."""
    write_jsonl(tmp_path / "p.jsonl", PROBLEMS)
    base = ["--model", str(tmp_path / "no-such-model"), "--data", str(tmp_path / "p.jsonl"), "--engine", "hf"]
    for cmd in (["sample", "--out", str(tmp_path / "s.jsonl")], ["eval", "--out", str(tmp_path / "ev")]):
        r = CliRunner().invoke(app, [*cmd, *base, *args])
        assert r.exit_code == 2, r.output
        assert message in r.output and "internal error" not in r.output


def test_unknown_template_field_is_named(tmp_path):
    t = tmp_path / "t.txt"
    t.write_text("Problem: {problem}\nAnswer:")
    with pytest.raises(InputError, match=r"unknown field\(s\) \['problem'\]"):
        PromptFormat(str(t)).check()


def test_chat_uses_the_tokenizers_template(tmp_path, chat_model):
    fmt = prompt_format("qa", chat=True, system="Be brief.", model=chat_model)
    assert fmt.render("1+1?") == "<|system|>Be brief.\n<|user|>Q: 1+1?\nA:\n<|assistant|>\n"
    assert to_example("1+1?", "2", fmt, "</s>").completion == "2</s>"  # SFT in the prompt's own format
    write_jsonl(tmp_path / "p.jsonl", PROBLEMS)
    r = CliRunner().invoke(
        app,
        [
            "sample", "--model", str(chat_model), "--data", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "s.jsonl"),
            "--engine", "hf", "--chat", "--system", "Be brief.", "--template", "qa", "--k", "1", "--max-tokens", "4", "--threads", "1",
        ],
    )  # fmt: skip
    assert r.exit_code == 0, r.output
    rows = list(read_samples(tmp_path / "s.jsonl"))
    assert {s.prompt_hash for s in rows} == {fmt.hash} and fmt.hash != prompt_hash("qa")
    assert rows[0].meta["prompt"] == {"template": "qa", "chat": "tokenizer", "system": "Be brief."}
    assert rows[0].meta["model_path"] == str(chat_model.resolve())


def test_chat_without_a_chat_template_is_refused(tmp_path):
    model = save_tiny_llama(tmp_path / "plain")
    with pytest.raises(InputError, match="no chat template"):
        prompt_format("qa", chat=True, model=model)


def test_eval_refuses_to_resume_from_a_retrained_model(tmp_path, monkeypatch):
    """Regression (issue 23): retraining into the same folder and re-running `eval --out` reported
    the old model's completions and accuracy; now the run refuses, naming the fingerprint."""
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("SCALEMATH_CACHE_DIR", str(tmp_path / "cache"))
    model = save_tiny_llama(tmp_path / "model", seed=0)
    write_jsonl(tmp_path / "p.jsonl", PROBLEMS)
    cmd = [
        "eval", "--model", str(model), "--data", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "ev"),
        "--engine", "hf", "--k", "0", "--max-tokens", "4", "--threads", "1",
    ]  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(app, cmd).exit_code == 0
    first = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert first["model_path"] == str(model.resolve()) and first["model_fingerprint"] == model_fingerprint(model)
    assert runner.invoke(app, cmd).exit_code == 0  # same model: resumed, nothing drawn again

    save_tiny_llama(model, seed=1)  # "retrain" into the same path
    r = runner.invoke(app, cmd)
    assert r.exit_code == 2, r.output
    assert "model_fingerprint" in r.output and "changed since" in r.output and "--overwrite" in r.output
    r = runner.invoke(app, [*cmd, "--overwrite"])
    assert r.exit_code == 0, r.output
    second = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert second["model_fingerprint"] == model_fingerprint(model) != first["model_fingerprint"]
    assert {s.meta["model_fingerprint"] for s in read_samples(tmp_path / "ev" / "greedy.jsonl")} == {
        second["model_fingerprint"]
    }


def test_fingerprint_follows_the_content_not_the_stat(tmp_path, monkeypatch):
    import os

    monkeypatch.setenv("SCALEMATH_CACHE_DIR", str(tmp_path / "cache"))
    d = tmp_path / "m"
    d.mkdir()
    (d / "model.safetensors").write_bytes(b"a" * 100)
    (d / "config.json").write_text("{}")
    before = model_fingerprint(d)
    st = os.stat(d / "model.safetensors")
    (d / "model.safetensors").write_bytes(b"b" * 100)  # same size, mtime put back as `cp -p` would
    os.utime(d / "model.safetensors", ns=(st.st_atime_ns, st.st_mtime_ns))
    after = model_fingerprint(d)
    assert after != before
    (d / "train_meta.json").write_text("{}")  # not a model file
    assert model_fingerprint(d) == after


def test_a_store_refuses_samples_of_a_retrained_model(tmp_path, monkeypatch):
    """Regression (issue 23), `sample --store`: the store keys samples by the model's path string;
    a checkpoint retrained into the same folder must not be served the old one's samples."""
    import torch

    torch.set_num_threads(1)
    monkeypatch.setenv("SCALEMATH_CACHE_DIR", str(tmp_path / "cache"))
    model = save_tiny_llama(tmp_path / "model", seed=0)
    write_jsonl(tmp_path / "p.jsonl", PROBLEMS)
    cmd = [
        "sample", "--model", str(model), "--data", str(tmp_path / "p.jsonl"), "--out", str(tmp_path / "s.jsonl"),
        "--store", str(tmp_path / "store"), "--engine", "hf", "--k", "1", "--max-tokens", "4", "--threads", "1",
    ]  # fmt: skip
    runner = CliRunner()
    assert runner.invoke(app, cmd).exit_code == 0
    assert runner.invoke(app, cmd).exit_code == 0  # same model: served from the store
    save_tiny_llama(model, seed=1)
    r = runner.invoke(app, cmd)
    assert r.exit_code == 2, r.output
    assert "other model files" in r.output and "new --store" in r.output
