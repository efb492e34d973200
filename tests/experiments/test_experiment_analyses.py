"""The study analyses: few-shot prompts, number swaps and regenerated problems for the leakage
check, loss computation, path statistics, greedy accuracy intervals."""

import random
import re

import pytest

from scalemath import prompts
from scalemath.answers.calculator import ANNOTATION_RE, check_annotation
from scalemath.datasets.procedural import generate
from scalemath.experiments import analyses as X
from scalemath.records import Problem, write_jsonl


def test_fewshot_template_draws_seeded_exemplars(tmp_path):
    train = generate(10, steps=(1, 2), seed=1)
    train[0].question = "What is {odd} in braces?"  # exemplar text is literal, not a format field
    text = X.fewshot_template(train, 3, seed=4)
    path = X.write_fewshot_template(tmp_path, text)
    rendered = prompts.render(path, question="How many apples?")
    assert rendered.endswith("\n\nQ: How many apples?\nA:")
    assert rendered.count("Q: ") == 4 and rendered.count("#### ") == 3
    assert text == X.fewshot_template(train, 3, seed=4) != X.fewshot_template(train, 3, seed=5)
    picked = [p for p in train if p.solution.strip() in rendered]
    assert len(picked) == 3
    assert (
        prompts.render(X.write_fewshot_template(tmp_path, X.fewshot_template(train, 0)), question="Q1") == "Q: Q1\nA:"
    )
    with pytest.raises(ValueError, match="11 exemplars"):
        X.fewshot_template(train, 11)


def test_swap_numbers_keeps_lengths_and_equalities():
    rng = random.Random(0)
    text = "Tom has 7 bags of 12 apples and 7 more. It costs 1,000 or 2.5 dollars."
    out, mapping = X.swap_numbers(text, rng)
    nums = re.findall(r"\d+", out)
    assert out != text and "1,000" in out and "2.5" in out
    assert len(nums[0]) == 1 and len(nums[1]) == 2 and nums[0] == nums[2]
    assert mapping[7] != 7 and mapping[12] != 12


def test_regenerated_problem_is_consistent():
    rng = random.Random(0)
    probs = generate(30, steps=(1, 3), seed=2, split="test")
    regen = [X.regenerate_procedural(p, rng) for p in probs]
    assert sum(r is not None for r in regen) >= 25
    for p, r in zip(probs, regen):
        if r is None:
            continue
        assert r.question != p.question
        anns = ANNOTATION_RE.findall(r.solution)
        assert anns and all(check_annotation(a) for a in anns)
        assert r.solution.rstrip().endswith(f"#### {r.answer}")
        # the question's numbers are the ones the new solution starts from
        qnums = set(re.findall(r"\d+", r.question))
        first_eq = anns[0].split("=")[0]
        assert set(re.findall(r"\d+", first_eq)) <= qnums | set(re.findall(r"\d+", r.solution))
    assert X.regenerate_procedural(Problem(id="x", question="2 and 3?", solution="5"), rng) is None


def test_numbers_said_in_words_stay():
    rng = random.Random(1)
    probs = [p for p in generate(300, steps=(1, 2), seed=3, families=("ages",)) if "twice" in p.question]
    assert probs
    regen = [X.regenerate_procedural(p, rng) for p in probs[:6]]
    assert sum(r is not None for r in regen) >= 3
    for r in filter(None, regen):  # "Tom is 2. Leo is twice as old": 2 stays, nothing else to swap
        assert "twice" in r.question
        assert any(re.search(r"(^|[^\d])2\*|\*2=", a) for a in ANNOTATION_RE.findall(r.solution))


@pytest.fixture(scope="module")
def tiny_model():
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    from scalemath.training.tokenizer import TokenizerConfig, train_tokenizer

    docs = [f"Q: {p.question}\nA: {p.solution}" for p in generate(60, steps=(1, 2), seed=3)]
    tok = train_tokenizer(docs, TokenizerConfig(vocab_size=300, split_digits=True, model_max_length=256))
    torch.manual_seed(0)
    cfg = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=1,
        num_attention_heads=2,
        num_key_value_heads=2,
        max_position_embeddings=256,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return LlamaForCausalLM(cfg).eval(), tok


def test_completion_losses_score_only_the_completion(tiny_model):
    model, tok = tiny_model
    a = X.completion_losses(model, tok, [("Q: 1\nA:", " 2"), ("Q: 1 and a much longer prompt\nA:", " 2")])
    b = X.completion_losses(model, tok, [("Q: 1\nA:", " 2")], batch_size=1)
    assert a[0] == pytest.approx(b[0], rel=1e-4)
    assert all(x > 0 for x in a)


def test_leakage_check_reports_the_gap(tiny_model):
    model, tok = tiny_model
    probs = generate(12, steps=(1, 2), seed=4, split="test")
    out = X.leakage_check(model, tok, probs, n=8, seed=1, bootstrap=200)
    assert out["mode"] == "solution" and out["checked"] + out["skipped"] == 8
    assert out["gap"] == pytest.approx(out["loss_regenerated"] - out["loss_original"])
    assert out["gap_lo"] <= out["gap"] <= out["gap_hi"]
    q = X.leakage_check(
        model, tok, [Problem(id="g", question="Ann has 3 cats and 4 dogs.", solution="7")], mode="auto", bootstrap=0
    )
    assert q["mode"] == "question" and q["checked"] == 1 and q["gap_lo"] is None


def test_path_stats_counts_distinct_equation_lists():
    recs = [
        {"question": "a", "solution": "1+2=<<1+2=3>>3\n#### 3"},
        {"question": "a", "solution": "2+1=<<2+1=3>>3\n#### 3"},
        {"question": "a", "solution": "So 1+2=<<1+2=3>>3 in all\n#### 3"},
        {"question": "b", "completion": "#### 4"},
    ]
    assert X.path_stats(recs) == {"data_size": 4, "questions": 2, "distinct_paths": 1.5}


def test_pretrain_loss_of(tmp_path):
    assert X.pretrain_loss_of(tmp_path) is None
    (tmp_path / "tiny_meta.json").write_text('{"pretrain": {"heldout_loss": 2.5}}')
    assert X.pretrain_loss_of(tmp_path) == 2.5
    assert X.pretrain_loss_of(tmp_path, given=1.75) == 1.75


def test_greedy_accuracy_interval(tmp_path):
    rows = [
        {
            "problem_id": f"p{i}",
            "question": "q",
            "answer": "1",
            "completion": "x",
            "sample_index": 0,
            "temperature": 0.0,
            "correct": i < 6,
            "extracted": "1",
        }
        for i in range(10)
    ]
    write_jsonl(tmp_path / "greedy.jsonl", rows)
    acc = X.greedy_accuracy(tmp_path / "greedy.jsonl", bootstrap=500)
    assert acc["value"] == pytest.approx(0.6) and acc["n"] == 10
    assert 0.2 < acc["lo"] < 0.6 < acc["hi"] <= 1.0
    assert X.greedy_accuracy(tmp_path / "greedy.jsonl", bootstrap=0)["lo"] is None
