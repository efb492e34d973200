"""The demo's base ships inside the package: built once by its recorded recipe, checked by sha256
before use, and rebuilt by the same recipe with `scalemath demo --pretrain` (a study's base
`recipe`, `shipped: false`)."""

import dataclasses
import json

import pytest

from scalemath.experiments.config import StudyError, load_study
from scalemath.experiments.demo import DEMO_STUDY, demo_study
from scalemath.training.tiny import RECIPE_FILE, SHIPPED_BASE, BaseRecipe, base_files, build_base, verify_base


def test_the_shipped_base_matches_its_recorded_recipe_and_files():
    record = verify_base(SHIPPED_BASE, BaseRecipe())
    demo_recipe = load_study(DEMO_STUDY).base_models[0].recipe
    assert demo_recipe is not None
    assert record["recipe"] == dataclasses.asdict(BaseRecipe()) == dataclasses.asdict(BaseRecipe(**demo_recipe))
    assert "model.safetensors" in record["files"] and "tokenizer.json" in record["files"]
    size = sum((SHIPPED_BASE / name).stat().st_size for name in record["files"])
    assert size < 8 * 2**20  # a few MB


def test_build_base_is_deterministic_and_verified(tmp_path):
    recipe = BaseRecipe(corpus_lines=400, pretrain_steps=3, pretrain_batch_size=2)
    a = build_base(recipe, tmp_path / "a", quiet=True)
    b = build_base(recipe, tmp_path / "b", quiet=True)
    assert verify_base(a, recipe)["files"] == base_files(b) == base_files(a)  # same recipe, same bytes
    assert not (tmp_path / "a.tmp").exists()
    with pytest.raises(ValueError, match="expected"):  # another recipe
        verify_base(a, dataclasses.replace(recipe, pretrain_steps=4))
    (a / "model.safetensors").write_bytes((a / "model.safetensors").read_bytes()[:-1] + b"\0")
    with pytest.raises(ValueError, match="model.safetensors"):  # a damaged file
        verify_base(a, recipe)
    (b / RECIPE_FILE).unlink()
    with pytest.raises(ValueError, match=RECIPE_FILE):
        verify_base(b)


def _demo_yaml(tmp_path, old: str, new: str):
    text = DEMO_STUDY.read_text()
    assert old in text
    p = tmp_path / "demo.yaml"
    p.write_text(text.replace(old, new, 1))
    return p


def test_the_demo_refuses_a_base_recipe_the_shipped_base_was_not_built_with(tmp_path):
    p = _demo_yaml(tmp_path, "    recipe: {}", "    recipe: {pretrain_steps: 600}")
    with pytest.raises(StudyError, match="--pretrain. builds this one") as e:
        demo_study(p)
    assert "pretrain_steps 600 (shipped: 1200)" in str(e.value)
    line = next(i for i, t in enumerate(p.read_text().splitlines(), 1) if t.startswith("    recipe: {pretrain_steps"))
    assert str(e.value).startswith(f"{p}:{line}: base_models[0].recipe: ")  # FILE:LINE: key
    demo_study(p, pretrain=True)  # --pretrain builds it
    with pytest.raises(StudyError, match=r"threads 2 \(shipped: 1\)"):  # the thread count is part of the recipe
        demo_study(threads=2)
    demo_study(threads=2, pretrain=True)


def test_rft_never_trains_fewer_epochs_than_sft_by_default(tmp_path):
    study = load_study(DEMO_STUDY)
    assert "epochs" not in study.rft.train and study.rft.control == "steps"
    nodedup = study.rft.ablations[0]
    assert nodedup.collect == {"signature": "none"} and nodedup.match == "steps"  # the no-dedup ablation
    p = _demo_yaml(tmp_path, "  ablations:", "  train: {epochs: 3}\n  ablations:")
    with pytest.raises(StudyError, match="fewer steps than SFT"):
        load_study(p)


def test_scalemath_tiny_demo_base_writes_the_recipe(tmp_path, monkeypatch):
    import typer.main

    from scalemath.cli import app
    from scalemath.training import tiny

    built = []
    monkeypatch.setattr(tiny, "build_base", lambda recipe, out, quiet: built.append((recipe, out)))
    args = ["tiny", "--demo-base", "--out", str(tmp_path / "b"), "--steps", "7", "-q"]
    typer.main.get_command(app).main(args=args, prog_name="scalemath", standalone_mode=False)
    assert built == [(dataclasses.replace(BaseRecipe(), pretrain_steps=7), tmp_path / "b")]
    assert json.dumps(dataclasses.asdict(built[0][0]))  # a recipe recorded as JSON
