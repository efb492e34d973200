"""A study's prompt settings: `sft.chat` / `sft.system` beside `sft.template`, typed and
located (FILE:LINE) like every study field, and one PromptFormat for SFT examples, RFT sampling and
evaluation: a chat study renders the base tokenizer's own chat template everywhere, and turning
chat on reruns every model cell (no result made with another prompt is reused)."""

import json

import pytest
import yaml

from scalemath.experiments.config import StudyConfig, StudyError, field_docs, load_study
from scalemath.experiments.runner import Runner
from scalemath.records import iter_jsonl
from scalemath.testing.tiny_random import CHAT_TEMPLATE, save_tiny_llama

DATA = {"train_n": 4, "test_n": 2, "steps": [1, 1], "number_range": [2, 5], "families": ["ages"]}


@pytest.fixture(scope="module")
def chat_model(tmp_path_factory):
    """A tiny random Llama whose tokenizer has a chat template (as an instruct model's has)."""
    import torch

    torch.set_num_threads(1)
    return save_tiny_llama(tmp_path_factory.mktemp("chat") / "model", chat_template=CHAT_TEMPLATE)


def study(model, **sft):
    return {
        "name": "chat",
        "threads": 1,
        "base_models": [{"name": "m", "path": str(model)}],
        "data": DATA,
        "sft": {"train": {"max_steps": 1, "batch_size": 2, "per_device_batch_size": 2}, **sft},
        "rft": {"k": [1], "sampling": {"max_tokens": 4, "batch_size": 8}},
        "eval": {"max_tokens": 4, "batch_size": 8, "bootstrap": 0},
    }


def write(tmp_path, d):
    p = tmp_path / "s.yaml"
    p.write_text(yaml.safe_dump(d, sort_keys=False))
    return p


def line_of(path, text):
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if text in line)


def test_prompt_fields_are_documented():
    docs = {key: help for key, _, help in field_docs()}
    assert "chat template" in docs["sft.chat"] and "system message" in docs["sft.system"]
    assert "chat" in docs["sft.template"]


@pytest.mark.parametrize(
    ("sft", "key", "message"),
    [
        ({"chat": "yes"}, "chat:", r"sft\.chat: expected true or false, got 'yes'"),
        ({"chat": True, "system": 3}, "system:", r"sft\.system: expected a string, got 3"),
        ({"system": "Be brief."}, "system:", r"sft\.system: a system message needs sft\.chat: true"),
        ({"template": "nope_no_such"}, "template:", r"sft\.template: no prompt template 'nope_no_such'"),
    ],
)
def test_prompt_fields_are_typed_with_file_and_line(tmp_path, sft, key, message):
    p = write(tmp_path, study(tmp_path / "m", **sft))
    with pytest.raises(StudyError, match=rf"s\.yaml:{line_of(p, key)}: {message}"):
        load_study(p)


def test_one_prompt_per_study(tmp_path):
    d = study(tmp_path / "m", chat=True)
    d["rft"]["train"] = {"chat": False}  # RFT cells prompted another way than the model sampled
    with pytest.raises(StudyError, match=r"rft\.train\.chat: set by sft\.chat"):
        StudyConfig.from_dict(d)
    d = study(tmp_path / "m", chat=True)
    d["sft"]["train"]["chat"] = False
    with pytest.raises(StudyError, match=r"sft\.train\.chat: set by sft\.chat"):
        StudyConfig.from_dict(d)
    d = study(tmp_path / "m")
    d["sft"]["train"]["chat"] = True  # training alone in chat: sampling and evaluation would not be
    with pytest.raises(StudyError, match=r"sft\.train\.chat: set it as sft\.chat"):
        StudyConfig.from_dict(d)
    d = study(tmp_path / "m", chat=True)
    d["base_models"] = [{"name": "tiny"}]
    with pytest.raises(StudyError, match=r"base_models\[0\]: sft\.chat .* the\s+embedded tiny base has none"):
        StudyConfig.from_dict(d)


def test_a_base_without_a_chat_template_is_refused_before_running(tmp_path):
    plain = save_tiny_llama(tmp_path / "plain")
    s = StudyConfig.from_dict(study(plain, chat=True))
    with pytest.raises(StudyError, match=r"base_models\[0\]\.path: --chat: this model's tokenizer has no chat"):
        Runner(s, tmp_path / "run", log=lambda _: None).run()
    assert not (tmp_path / "run" / "cells").exists()  # nothing ran


def test_chat_reruns_every_model_cell(tmp_path):
    plain = Runner(StudyConfig.from_dict(study(tmp_path / "m", template="question")), tmp_path / "a")
    chat = Runner(StudyConfig.from_dict(study(tmp_path / "m", template="question", chat=True)), tmp_path / "b")
    system = Runner(
        StudyConfig.from_dict(study(tmp_path / "m", template="question", chat=True, system="Be brief.")),
        tmp_path / "c",
    )
    ids = [c.id for c in plain.cells]
    assert ids == [c.id for c in chat.cells] == [c.id for c in system.cells]
    for c in plain.cells:
        same = plain.identity(c.id) == chat.identity(c.id)
        assert same == (c.kind in ("data", "base")), c.id  # train, sample and eval cells all change
        assert (chat.identity(c.id) == system.identity(c.id)) == same, c.id
    # a study without chat keeps its cells' keys (no new key in their configs)
    assert "chat" not in next(c for c in plain.cells if c.kind == "train").config["train"]


@pytest.mark.timeout(180)
def test_a_chat_study_renders_the_tokenizers_template(tmp_path, chat_model):
    """SFT examples, RFT sampling and evaluation of a `chat: true` study all go through the base
    tokenizer's chat template (with the system message)."""
    from transformers import AutoTokenizer

    from scalemath.experiments.actions import cell_prompt
    from scalemath.prompts import PromptFormat

    p = write(tmp_path, study(chat_model, template="question", chat=True, system="Be brief."))
    s = load_study(p)
    out = tmp_path / "run"
    runner = Runner(s, out, log=lambda _: None, quiet=True)
    result = runner.run()
    assert sorted(result.ran) == sorted(c.id for c in runner.cells)

    tok = AutoTokenizer.from_pretrained(chat_model)
    fmt = PromptFormat("question", chat=True, system="Be brief.", tokenizer=tok)
    q = "What is 2 + 3?"
    expected = "<|system|>Be brief.\n<|user|>What is 2 + 3?\n<|assistant|>\n"
    assert fmt.render(q) == expected
    ctx = runner.context()
    sample = next(c for c in runner.cells if c.kind == "sample")
    prompt = cell_prompt(sample.config["template"], sample.config["model"], ctx)
    assert isinstance(prompt, PromptFormat) and prompt.render(q) == expected
    # what was drawn and evaluated carries that format's hash; the SFT model was trained in it
    samples = list(iter_jsonl(out / "cells" / sample.id / "samples.jsonl"))
    assert samples and {d["prompt_hash"] for d in samples} == {fmt.hash}
    for c in runner.cells:
        if c.kind == "eval":
            greedy = list(iter_jsonl(out / "cells" / c.id / "greedy.jsonl"))
            assert greedy and {d["prompt_hash"] for d in greedy} == {fmt.hash}, c.id
            metrics = json.loads((out / "cells" / c.id / "metrics.json").read_text())
            assert metrics["prompt"] == {"template": "question", "chat": "tokenizer", "system": "Be brief."}
        if c.kind == "train":
            meta = json.loads((out / "cells" / c.id / "model" / "train_meta.json").read_text())
            cfg = meta["config"]
            assert (cfg["template"], cfg["chat"], cfg["system"]) == ("question", True, "Be brief."), c.id
