"""End-to-end smoke test of the whole RFT loop (scalemath demo --quick): every stage runs, writes
its records, and a re-run skips every stage."""
import json

from scalemath.experiments.demo import DemoConfig, run_demo
from scalemath.records import iter_jsonl


def test_demo_quick_runs_every_stage_and_resumes(tmp_path):
    out = tmp_path / "demo"
    cfg = DemoConfig.quick(str(out))
    logs: list[str] = []
    summary = run_demo(cfg, log=logs.append)

    ran = [line.split()[-1] for line in logs if line.startswith("[run ]")]
    assert ran == ["data", "pretrain", "sft", "sample", "rft_collect", "rft_train", "eval_sft", "eval_rft"]
    # every stage left its records
    train = list(iter_jsonl(out / "train.jsonl"))
    test = list(iter_jsonl(out / "test.jsonl"))
    assert len(train) == cfg.train_n and len(test) == cfg.test_n
    assert not {p["question"] for p in train} & {p["question"] for p in test}
    samples = list(iter_jsonl(out / "sft_samples.jsonl"))
    assert len(samples) == cfg.train_n * cfg.k
    for s in samples[:5]:  # provenance on every sample
        for key in ("model", "seed", "temperature", "prompt_hash", "grader_version", "correct"):
            assert s[key] is not None
    rft = list(iter_jsonl(out / "rft_data.jsonl"))
    originals = [r for r in rft if r["meta"]["origin"] == "original"]
    assert len(originals) == cfg.train_n  # D is always in D ∪ D'
    for name in ("base", "sft", "rft"):
        assert (out / name / "config.json").exists()
    # the summary holds both models' figures
    for name in ("sft", "rft"):
        row = summary["metrics"][name]
        assert set(row) == set(summary["keys"]) and all(0.0 <= v <= 1.0 for v in row.values())
    assert json.loads((out / "summary.json").read_text())["metrics"] == summary["metrics"]

    # a second run skips every stage
    logs.clear()
    run_demo(cfg, log=logs.append)
    assert not [line for line in logs if line.startswith("[run ]")]
