"""Compute-matched control cells of a study (`control: steps|tokens|epochs` on rft, ablations,
pooled sets and augment sets): grid expansion, validation, and the runner's training config."""

import pytest

from scalemath.experiments.config import StudyConfig, StudyError
from scalemath.experiments.grid import expand


def study(**over):
    d = {"name": "t", "data": {"train_n": 8, "test_n": 4}}
    d.update(over)
    return StudyConfig.from_dict(d)


def test_control_cells_sit_beside_their_cells():
    s = study(
        rft={
            "k": [1, 4],
            "control": "steps",
            "ablations": [{"name": "rft-nodedupe", "k": [4], "collect": {"signature": "none"}, "control": "tokens"}],
            "pooled": [{"fractions": [1], "k": [4]}],
        }
    )
    cells = {c.id: c for c in expand(s)}
    for k in (1, 4):
        ctl = cells[f"rft-control/tiny/k{k}"]
        assert ctl.method == "rft-control" and ctl.kind == "train"
        assert ctl.deps[-1] == f"rft/tiny/k{k}"  # trained after the cell it matches
        cfg = ctl.config
        assert (cfg["recipe"], cfg["fraction"], cfg["control"], cfg["control_of"], cfg["k"]) == (
            "fraction",
            1.0,
            "steps",
            f"rft/tiny/k{k}",
            k,
        )
        assert cfg["train"] == cells[f"rft/tiny/k{k}"].config["train"]  # the same recipe as the cell
        assert f"eval/rft-control/tiny/k{k}" in cells
    assert cells["rft-nodedupe-control/tiny/k4"].config["control"] == "tokens"
    assert not any(c.startswith("rft-pooled-control") for c in cells)  # pooled: no control asked for
    ids = list(cells)
    assert ids.index("rft-control/tiny/k4") > ids.index("rft/tiny/k4")


def test_no_control_by_default():
    assert not any("control" in c.id for c in expand(study(rft={"k": [4]})))


@pytest.mark.parametrize(
    "rft,where",
    [
        ({"k": [4], "control": "flops"}, "rft.control"),
        ({"k": [4], "ablations": [{"name": "a", "control": "step"}]}, "ablations[0].control"),
        ({"k": [4], "control": "steps", "ablations": [{"name": "rft-control"}]}, "taken"),
    ],
)
def test_bad_controls_are_named(rft, where):
    with pytest.raises(StudyError, match=where.replace("[", r"\[").replace("]", r"\]")):
        study(rft=rft)


def test_augment_controls(tmp_path):
    from scalemath.records import write_jsonl

    f = tmp_path / "aug.jsonl"
    write_jsonl(f, [{"question": "q?", "solution": "1+1=<<1+1=2>>2\n#### 2"}])
    s = study(augment=[{"name": "mugglemath", "path": str(f), "amounts": [1], "control": "epochs"}])
    cells = {c.id: c for c in expand(s)}
    ctl = cells["mugglemath-control/tiny/n1"]
    assert ctl.config["control_of"] == "mugglemath/tiny/n1" and ctl.config["control"] == "epochs"


def test_rft_match_trains_rft_cells_for_the_sft_source_compute():
    s = study(
        rft={
            "k": [1, 4],
            "match": "steps",
            "ablations": [{"name": "rft-nodedupe", "k": [4], "collect": {"signature": "none"}}],
        }
    )
    cells = {c.id: c for c in expand(s)}
    for cid in ("rft/tiny/k1", "rft/tiny/k4", "rft-nodedupe/tiny/k4"):
        cfg = cells[cid].config
        assert (cfg["match"], cfg["match_of"]) == ("steps", "sft/tiny/f1/s0")
        assert "sft/tiny/f1/s0" in cells[cid].deps
    assert "match" not in expand(study(rft={"k": [4]}))[-1].config
    with pytest.raises(StudyError, match="rft.match"):
        study(rft={"k": [4], "match": "flop"})
