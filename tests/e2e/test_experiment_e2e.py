"""A whole study end to end on a very small configuration: real pre-training, SFT, sampling, RFT
collection, training and evaluation (a nano-sized model, a handful of problems, a few steps each),
then a second run that does nothing, then the report. Kept under about a minute on 2 CPU cores."""

import csv
import json
import re

import pytest
import yaml

from scalemath.experiments.config import load_study
from scalemath.experiments.runner import Runner
from scalemath.records import iter_jsonl, write_jsonl

STUDY = {
    "name": "e2e",
    "threads": 1,
    "base_models": [
        {
            "name": "tiny",
            "preset": "nano",
            "corpus_lines": 400,
            "pretrain_minutes": None,
            "corpus": {"max_number": 50, "max_factor": 9},
            "tiny": {
                "hidden_size": 48,
                "num_layers": 2,
                "num_heads": 2,
                "intermediate_size": 96,
                "vocab_size": 300,
                "max_positions": 256,
            },
            "pretrain": {"max_steps": 3, "block_size": 64, "batch_size": 4},
        }
    ],
    "data": {"train_n": 8, "test_n": 4, "steps": [1, 2], "number_range": [2, 9], "families": ["ages", "shopping"]},
    "sft": {"fractions": ["1/2", 1], "train": {"max_steps": 2, "batch_size": 4, "per_device_batch_size": 4}},
    "rft": {
        "k": [1, 2],
        "sampling": {"max_tokens": 12, "batch_size": 32},
        "control": "steps",
        "pooled": [{"fractions": ["1/2", 1], "k": [1]}],
    },
    "eval": {"max_tokens": 12, "batch_size": 32, "bootstrap": 50},
    "analyses": {"fewshot": {"shots": [1]}, "leakage": {"enabled": True, "n": 3}},
}


@pytest.mark.timeout(90)
def test_study_end_to_end(tmp_path):
    from scalemath.datasets.procedural import generate

    ood = tmp_path / "ood.jsonl"
    write_jsonl(ood, generate(3, steps=(3, 3), seed=9, split="test"))
    study_file = tmp_path / "e2e.yaml"
    study_file.write_text(yaml.safe_dump({**STUDY, "eval_sets": {"ood": str(ood)}}))
    study = load_study(study_file)
    out = tmp_path / "run"
    logs: list[str] = []
    first = Runner(study, out, log=logs.append, quiet=True).run()
    cells = Runner(study, out).cells
    assert sorted(first.ran) == sorted(c.id for c in cells)

    rows = list(csv.DictReader(open(out / "results.csv", newline="")))
    evals = [c for c in cells if c.kind == "eval"]
    assert [r["cell"] for r in rows] == [c.id.removeprefix("eval/") for c in evals]
    for r in rows:
        assert 0.0 <= float(r["accuracy"]) <= 1.0
        assert float(r["accuracy_lo"]) <= float(r["accuracy"]) <= float(r["accuracy_hi"])
        assert r["leak_gap"] != "" and r["accuracy_ood"] != ""
    by = {r["cell"]: r for r in rows}
    assert by["sft/tiny/f0.5/s0"]["data_size"] == "4" and by["sft/tiny/f1/s0"]["data_size"] == "8"
    assert by["rft/tiny/k2"]["method"] == "rft" and by["rft/tiny/k2"]["k"] == "2"
    assert by["rft/tiny/k2"]["sampled_paths"] != "" and by["sft/tiny/f1/s0"]["sampled_paths"] == ""
    assert by["rft-pooled/tiny/k1"]["method"] == "rft-pooled" and by["fewshot/tiny/1shot"]["shots"] == "1"
    assert (out / "eval_sets" / "ood" / "results.csv").is_file()
    families = {json.loads(line)["meta"]["family"] for line in open(out / "problems.jsonl")}
    assert families <= {"ages", "shopping"}
    corpus = (out / "cells" / "base" / "tiny" / "corpus.txt").read_text()
    assert max(int(n) for n in re.findall(r"\d+", corpus)) <= 50 * 9

    # ONE sampling run of the full-data SFT model at max k; RFT cells take prefixes of it
    runs = sorted(p.relative_to(out).as_posix() for p in (out / "cells" / "sample").rglob("samples.jsonl"))
    assert runs == ["cells/sample/tiny/f0.5/s0/t0.7/samples.jsonl", "cells/sample/tiny/f1/s0/t0.7/samples.jsonl"]
    idx = sorted(d["sample_index"] for d in iter_jsonl(out / runs[1]))
    assert idx == [0] * 8 + [1] * 8
    stats = {k: json.loads((out / "cells" / "rft" / "tiny" / f"k{k}" / "rft_stats.json").read_text()) for k in (1, 2)}
    assert stats[1]["samples"] == 8 and stats[2]["samples"] == 16

    # the compute-matched control of rft/tiny/k2: SFT on the full train set for the same optimizer steps
    ctl = by["rft-control/tiny/k2"]
    assert ctl["control_of"] == "rft/tiny/k2" and ctl["control"] == "steps" and ctl["k"] == "2"
    assert ctl["train_steps"] == by["rft/tiny/k2"]["train_steps"] and ctl["data_size"] == "8"
    meta = json.loads((out / "cells" / "rft-control" / "tiny" / "k2" / "model" / "train_meta.json").read_text())
    assert meta["control"]["match"] == "steps" and meta["control"]["reference"].endswith("cells/rft/tiny/k2/model")

    info = json.loads((out / "cells" / "rft" / "tiny" / "k2" / "cell.json").read_text())
    assert info["versions"]["torch"] and "sha" in (info["git"] or {"sha": None})
    assert info["config"]["samples"] == ["sample/tiny/f1/s0/t0.7"]
    leak = json.loads((out / "cells" / "eval" / "sft" / "tiny" / "f1" / "s0" / "leakage.json").read_text())
    assert leak["checked"] > 0
    assert list((out / "cells" / "fewshot" / "tiny" / "1shot").glob("fewshot-*.txt"))

    second = Runner(study, out, log=logs.append, quiet=True).run()
    assert second.ran == [] and len(second.skipped) == len(cells)

    from scalemath.report.html import ReportConfig, build_report

    html = build_report(out, ReportConfig(max_detailed=0, bootstrap=50)).read_text()
    assert "Scaling: results.csv" in html and "accuracy vs data_size" in html
    assert "Compute-matched controls" in html and "rft-control/tiny/k2 (steps)" in html
    assert "RFT cells against their SFT source" in html and "sft/tiny/f1/s0 (not matched)" in html
    assert by["rft/tiny/k2"]["sft_source"] == "sft/tiny/f1/s0"
