"""Study YAML parsing, validation errors and grid expansion (no training)."""

from pathlib import Path

import pytest
import yaml

from scalemath.experiments.config import StudyConfig, StudyError, field_docs, load_study
from scalemath.experiments.grid import expand, select

STUDIES = Path(__file__).resolve().parents[2] / "src" / "scalemath" / "experiments" / "studies"


def study(**over):
    d = {"name": "t", "data": {"train_n": 8, "test_n": 4}}
    d.update(over)
    return StudyConfig.from_dict(d)


def test_shipped_studies_parse():
    for name in ("rft_quick", "rft_paper", "rft_paper_gsm8k_7b"):
        s = load_study(STUDIES / f"{name}.yaml")
        assert s.name == name
    quick, paper = load_study(STUDIES / "rft_quick.yaml"), load_study(STUDIES / "rft_paper.yaml")
    assert paper.sft.fractions == [1 / 32, 1 / 16, 1 / 8, 1 / 4, 1 / 2, 1.0]
    assert paper.rft.k == [1, 4, 16] and paper.rft.pooled
    assert quick.sft.fractions == paper.sft.fractions[2:]
    gpu = load_study(STUDIES / "rft_paper_gsm8k_7b.yaml")
    assert gpu.rft.k == [1, 3, 6, 12, 25, 50, 100] and gpu.base_models[0].path
    assert gpu.data.source == "files"
    assert paper.data.families and paper.base_models[0].corpus["max_number"] == 100


def test_name_defaults_to_file_stem(tmp_path):
    p = tmp_path / "my_study.yaml"
    p.write_text("data: {train_n: 4, test_n: 2}\n")
    assert load_study(p).name == "my_study"


@pytest.mark.parametrize(
    "d, where",
    [
        ({"sfft": {}}, "study: unknown key 'sfft'"),
        ({"rft": {"kk": [1]}}, "study.rft: unknown key 'kk'"),
        ({"rft": {"ablations": [{"name": "a", "signatur": "none"}]}}, "study.rft.ablations[0]: unknown key 'signatur'"),
        ({"base_models": [{"name": "b", "presett": "nano"}]}, "study.base_models[0]: unknown key 'presett'"),
        ({"eval_sets": ["a"]}, "study.eval_sets: expected a mapping"),
        ({"eval_sets": {"a b": "x.jsonl"}}, "study.eval_sets: 'a b' is not a usable name"),
        ({"rft": {"k": [1, "x"]}}, "study.rft.k[1]: expected an integer"),
        ({"sft": {"fractions": [0]}}, "study.sft.fractions[0]: a fraction must be in (0, 1]"),
        ({"sft": {"fractions": ["1/0"]}}, "study.sft.fractions[0]: expected a fraction"),
        ({"sft": {"train": {"epochz": 3}}}, "study.sft.train: unknown key 'epochz'"),
        ({"sft": {"train": {"model": "x"}}}, "study.sft.train: 'model' is set by the runner"),
        ({"rft": {"collect": {"signature": "x", "dedupe": 1}}}, "study.rft.collect: unknown key 'dedupe'"),
        ({"rft": {"k": [0]}}, "study.rft.k: values must be > 0"),
        ({"rft": {"k": [1], "ablations": [{"name": "rft"}]}}, "series name 'rft' is taken"),
        ({"base_models": [{"name": "a"}, {"name": "a"}]}, "duplicate base model name 'a'"),
        ({"base_models": [{"name": "a/b"}]}, "is not a usable name"),
        ({"data": {"source": "files", "train": "x.jsonl"}}, "needs both train and test"),
        ({"analyses": {"leakage": {"mode": "both"}}}, "must be auto, solution or question"),
        ({"threads": 0}, "study.threads: must be >= 1"),
        ({"data": {"families": ["ages", "pirates"]}}, "study.data.families: unknown ['pirates']"),
        (
            {"base_models": [{"name": "b", "corpus": {"max_numbr": 9}}]},
            "study.base_models[0].corpus: unknown key 'max_numbr'",
        ),
        ({"base_models": [{"name": "b", "corpus": {"n_lines": 9}}]}, "'n_lines' is set by the runner"),
    ],
)
def test_errors_name_the_key(d, where):
    base = {"name": "t", "data": {"train_n": 8, "test_n": 4}}
    for k, v in d.items():
        base[k] = {**base[k], **v} if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    with pytest.raises(StudyError) as e:
        StudyConfig.from_dict(base)
    assert where in str(e.value)


def test_yaml_errors_name_the_file(tmp_path):
    p = tmp_path / "bad.yaml"
    p.write_text("rft: {k: [1, 2}\n")
    with pytest.raises(StudyError, match="bad.yaml: not valid YAML"):
        load_study(p)
    with pytest.raises(StudyError, match="no such study file"):
        load_study(tmp_path / "missing.yaml")
    p.write_text(yaml.safe_dump({"data": {"train_n": 4, "test_n": 2}, "eval": {"kk": 1}}))
    with pytest.raises(StudyError, match=r"bad.yaml:4: eval: unknown key 'kk'"):  # FILE:LINE: key
        load_study(p)


def test_fractions_accept_strings():
    s = study(sft={"fractions": ["1/32", 0.5, 1]})
    assert s.sft.fractions == [1 / 32, 0.5, 1.0]


def test_every_field_is_documented():
    docs = field_docs()
    assert len(docs) > 60
    missing = [k for k, _, h in docs if not h]
    assert not missing


def test_grid_structure():
    s = study(
        sft={"fractions": ["1/4", "1/2", 1], "seeds": [0, 1]},
        rft={
            "k": [1, 4, 16],
            "pooled": [{"fractions": ["1/2", 1], "seeds": [0], "k": [4]}],
            "ablations": [
                {"name": "rft-nodedupe", "k": [4], "collect": {"signature": "none"}},
                {"name": "rft-t1", "temperature": 1.0, "k": [4]},
            ],
        },
        analyses={
            "fewshot": {"shots": [0, 2]},
            "long_cot": {"weights": [1.0]},
            "leakage": {"enabled": True, "control": True},
        },
    )
    cells = expand(s)
    ids = [c.id for c in cells]
    assert len(ids) == len(set(ids))
    pos = {c: i for i, c in enumerate(ids)}
    for c in cells:  # dependencies first
        assert all(pos[d] < pos[c.id] for d in c.deps), c.id
    sft = [c for c in cells if c.kind == "train" and c.method == "sft"]
    assert len(sft) == 6 and all("base/tiny" in c.deps for c in sft)
    # one sampling run per (SFT model, temperature), at the largest k any cell takes from it
    samples = {c.id: c for c in cells if c.kind == "sample"}
    assert set(samples) == {"sample/tiny/f1/s0/t0.7", "sample/tiny/f0.5/s0/t0.7", "sample/tiny/f1/s0/t1"}
    assert samples["sample/tiny/f1/s0/t0.7"].config["k"] == 16
    assert samples["sample/tiny/f0.5/s0/t0.7"].config["k"] == 4
    by = {c.id: c for c in cells}
    for k in (1, 4, 16):
        rc = by[f"rft/tiny/k{k}"]
        assert rc.config["samples"] == ["sample/tiny/f1/s0/t0.7"] and rc.config["k"] == k
    assert by["rft-pooled/tiny/k4"].config["samples"] == ["sample/tiny/f0.5/s0/t0.7", "sample/tiny/f1/s0/t0.7"]
    assert by["rft-nodedupe/tiny/k4"].config["collect"]["signature"] == "none"
    assert by["rft-t1/tiny/k4"].config["samples"] == ["sample/tiny/f1/s0/t1"]
    evals = [c for c in cells if c.kind == "eval"]
    trained = [c for c in cells if c.kind == "train"]
    assert {e.id for e in evals} >= {f"eval/{t.id}" for t in trained}
    assert {
        "fewshot/tiny/0shot",
        "fewshot/tiny/2shot",
        "sft-leaky/tiny",
        "sft-longcot-w1/tiny/f1/s0",
        "eval/sft-leaky/tiny",
    } <= set(ids)
    assert by["eval/sft-leaky/tiny"].config["leakage"] is not None


def test_several_bases_repeat_the_grid():
    s = study(
        base_models=[{"name": "a", "pretrain_minutes": 0.5}, {"name": "b", "pretrain_minutes": 1.0}],
        sft={"fractions": [0.5, 1]},
        rft={"k": [2]},
    )
    ids = [c.id for c in expand(s)]
    for b in ("a", "b"):
        assert {f"base/{b}", f"sft/{b}/f0.5/s0", f"rft/{b}/k2", f"sample/{b}/f1/s0/t0.7"} <= set(ids)


def test_pooled_fraction_outside_the_sft_grid_gets_its_model():
    s = study(sft={"fractions": [1]}, rft={"k": [2], "pooled": [{"fractions": [0.25, 1], "k": [2]}]})
    ids = [c.id for c in expand(s)]
    assert "sft/tiny/f0.25/s0" in ids and "sample/tiny/f0.25/s0/t0.7" in ids


def test_select_brings_dependencies():
    s = study(sft={"fractions": [0.5, 1]}, rft={"k": [1, 2]})
    cells = expand(s)
    got = [c.id for c in select(cells, ["eval/rft/*/k2"])]
    assert got == ["data", "base/tiny", "sft/tiny/f1/s0", "sample/tiny/f1/s0/t0.7", "rft/tiny/k2", "eval/rft/tiny/k2"]
    with pytest.raises(StudyError, match="no cell matches"):
        select(cells, ["nothing/*"])


def test_files_data_need_existing_files(tmp_path):
    s = StudyConfig.from_dict(
        {
            "name": "t",
            "data": {"source": "files", "train": str(tmp_path / "a.jsonl"), "test": str(tmp_path / "b.jsonl")},
        }
    )
    with pytest.raises(StudyError, match="data.train: no such file"):
        expand(s)
