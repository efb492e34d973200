"""The demo's base ships inside the package: built once by its recorded recipe, checked by sha256
before use, and rebuilt by the same recipe with `scalemath demo --pretrain`."""

import dataclasses
import json

import pytest

from scalemath.experiments.demo import DemoConfig, base_recipe
from scalemath.training.tiny import RECIPE_FILE, SHIPPED_BASE, BaseRecipe, base_files, build_base, verify_base


def test_the_shipped_base_matches_its_recorded_recipe_and_files():
    record = verify_base(SHIPPED_BASE, BaseRecipe())
    assert record["recipe"] == dataclasses.asdict(BaseRecipe()) == dataclasses.asdict(base_recipe(DemoConfig()))
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


def test_the_demo_refuses_a_base_recipe_the_shipped_base_was_not_built_with():
    with pytest.raises(ValueError, match="--pretrain builds this one") as e:
        DemoConfig(pretrain_steps=600).validate()
    assert "pretrain_steps 600 (shipped: 1200)" in str(e.value)
    DemoConfig(pretrain_steps=600, pretrain=True).validate()  # --pretrain builds it


def test_rft_never_trains_fewer_epochs_than_sft_by_default():
    cfg = DemoConfig()
    assert cfg.rft_epochs is None and cfg.nodedup and cfg.control == "steps"
    with pytest.raises(ValueError, match="fewer steps than SFT"):
        dataclasses.replace(cfg, rft_epochs=cfg.sft_epochs / 2).validate()


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
