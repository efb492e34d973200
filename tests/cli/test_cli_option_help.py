"""One text per setting: a command-line option that sets a config field shows that
field's own `help` metadata, as TRL's `TrlParser` does, not a second copy that can drift."""

from __future__ import annotations

import dataclasses

import pytest
import typer.main
from typer import _click as click

from scalemath.cli import app
from scalemath.inputs import field_help, help_of
from scalemath.methods.decontam_config import DecontamConfig
from scalemath.methods.rft_config import RFTConfig
from scalemath.metrics.paired_config import PairedConfig
from scalemath.sampling.engine import SamplingParams
from scalemath.serve.config import ServerConfig
from scalemath.training.pretrain_config import PretrainConfig
from scalemath.training.sft_config import SFTRunConfig
from scalemath.training.tiny import TinyConfig

SAMPLING = {name: (SamplingParams, name) for name in ("temperature", "top_p", "top_k", "max_tokens", "seed", "stop")}

# command -> {option's parameter name: (config class, field it sets)}
OPTION_FIELDS: dict[str, dict[str, tuple[type, str]]] = {
    "sample": SAMPLING,
    "eval": SAMPLING,
    "train": {
        name: (SFTRunConfig, field)
        for name, field in {
            "model": "model",
            "data": "data",
            "out": "out",
            "fraction": "fraction",
            "epochs": "epochs",
            "lr": "learning_rate",
            "batch_size": "batch_size",
            "template": "template",
            "chat": "chat",
            "system": "system",
            "seed": "seed",
            "profile": "profile",
            "max_steps": "max_steps",
            "max_minutes": "max_minutes",
            "packing": "packing",
            "threads": "threads",
            "lora_r": "lora_r",
            "lora_alpha": "lora_alpha",
            "load_in_4bit": "load_in_4bit",
            "gradient_checkpointing": "gradient_checkpointing",
            "bf16": "bf16",
            "allow_contamination": "allow_contamination",
            "test_set": "test_sets",
            "control": "control",
            "control_of": "control_of",
        }.items()
    },
    "rft": {
        name: (RFTConfig, field)
        for name, field in {
            "signature": "signature",
            "tie_break": "tie_break",
            "grader": "grading",
            "dataset": "dataset",
            "annotations": "require_annotations_ok",
            "original": "include_original",
            "workers": "workers",
            "max_chars": "max_chars",
            "max_tokens": "max_tokens",
            "check_test_sets": "check_test_sets",
            "allow_contamination": "allow_contamination",
            "test_set": "test_sets",
        }.items()
    },
    # not mapped: --max-body-mb (MiB; the field counts bytes), --model, --engine, --device, --dtype,
    # --threads, --tensor-parallel-size (how the engine loads, not ServerConfig)
    "serve": {
        name: (ServerConfig, field)
        for name, field in {
            "host": "host",
            "port": "port",
            "served_model_name": "model_name",
            "api_key": "api_key",
            "max_batch_prompts": "max_batch_prompts",
            "default_max_tokens": "default_max_tokens",
            "max_model_len": "context_length",
            "max_n": "max_n",
            "max_prompts": "max_prompts",
            "max_choices": "max_choices",
            "fail_every": "fail_every",
            "fail_status": "fail_status",
            "drop_every": "drop_every",
            "read_timeout": "read_timeout",
            "max_connections": "max_connections",
        }.items()
    },
    "decontaminate": {
        name: (DecontamConfig, field)
        for name, field in {
            "ngram": "ngram",
            "threshold": "threshold",
            "shingle": "shingle",
            "minhash": "minhash",
            "fields": "ngram_fields",
        }.items()
    },
    "compare": {
        name: (PairedConfig, field)
        for name, field in {
            "k": "k",
            "bootstrap": "bootstrap",
            "ci": "ci",
            "seed": "seed",
            "intersect": "on_mismatch",
            "dataset": "dataset",
        }.items()
    },
    # not mapped: --seed, --steps, --minutes, --preset (each sets several configs or the demo base's
    # recipe), --hidden, --layers (override a preset's shape)
    "tiny": {
        "vocab": (TinyConfig, "vocab_size"),
        "lr": (PretrainConfig, "learning_rate"),
        "threads": (PretrainConfig, "threads"),
    },
}


def _command(name: str) -> click.Command:
    group = typer.main.get_command(app)
    cmd = group.get_command(click.Context(group), name)  # type: ignore[attr-defined]
    assert cmd is not None, name
    return cmd


@pytest.mark.parametrize("command", sorted(OPTION_FIELDS))
def test_every_option_that_sets_a_config_field_shows_that_fields_help(command):
    params = {p.name: p for p in _command(command).params}
    wrong = []
    for name, (cls, field) in OPTION_FIELDS[command].items():
        assert name in params, f"scalemath {command} has no option {name!r}"
        want = field_help(cls, field)  # raises for a field without help
        got = getattr(params[name], "help", None)
        if got != want:
            wrong.append(f"{command} {name}: {got!r} is not {cls.__name__}.{field}'s help {want!r}")
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("command", sorted(OPTION_FIELDS))
def test_no_other_option_copies_a_field_help(command):
    """An option not in the map whose help is a field's help would be a mapping this test misses."""
    mapped = OPTION_FIELDS[command]
    helps = {help_of(f) for cls, _ in mapped.values() for f in dataclasses.fields(cls) if help_of(f)}
    strays = [p.name for p in _command(command).params if p.name not in mapped and getattr(p, "help", None) in helps]
    assert not strays, f"scalemath {command}: options showing a field's help but not mapped: {strays}"


def test_every_field_of_these_configs_has_help():
    """Every field of a config a command sets is described, whether or not an option sets it."""
    classes = {cls for fields in OPTION_FIELDS.values() for cls, _ in fields.values()}
    bare = [f"{cls.__name__}.{f.name}" for cls in classes for f in dataclasses.fields(cls) if not help_of(f).strip()]
    assert not bare, bare


def test_field_help_names_the_missing_field_or_help():
    @dataclasses.dataclass
    class C:
        a: int = dataclasses.field(default=0, metadata={"help": "A."})
        b: int = 0

    assert field_help(C, "a") == "A."
    with pytest.raises(ValueError, match="C.b has no help"):
        field_help(C, "b")
    with pytest.raises(ValueError, match="no field 'c'"):
        field_help(C, "c")
