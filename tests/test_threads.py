"""One default for torch's CPU threads (`--threads` defaults once differed by command):
`scalemath.threads` owns it, and every command's --threads says so."""

import pytest
import typer.main
from typer import _click as click

from scalemath.cli import app
from scalemath.errors import InputError
from scalemath.threads import ENV, HELP, available_cpus, default_threads, resolve_threads


@pytest.fixture
def clean_env(monkeypatch):
    monkeypatch.delenv(ENV, raising=False)
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    return monkeypatch


def test_default_is_the_cpus_this_process_may_use(clean_env):
    assert default_threads() == available_cpus() >= 1
    assert resolve_threads(None) == resolve_threads(0) == default_threads()
    assert resolve_threads(3) == 3


def test_environment_overrides(clean_env):
    clean_env.setenv("OMP_NUM_THREADS", "1")  # what torch itself reads (teacher demo's server)
    assert default_threads() == 1
    clean_env.setenv(ENV, "3")  # ours wins
    assert default_threads() == 3 and resolve_threads(2) == 2
    clean_env.setenv(ENV, "zero")
    with pytest.raises(InputError, match="SCALEMATH_THREADS='zero'"):
        default_threads()


def test_training_and_the_hf_engine_use_it(clean_env, tmp_path):
    import torch

    from scalemath.sampling.hf import HFEngine
    from scalemath.testing.tiny_random import save_tiny_llama
    from scalemath.training.runtime import setup_threads

    before = torch.get_num_threads()
    try:
        clean_env.setenv(ENV, "1")
        assert setup_threads(None) == 1 == torch.get_num_threads()
        torch.set_num_threads(2)
        HFEngine(save_tiny_llama(tmp_path / "m"), device="cpu")
        assert torch.get_num_threads() == 1  # threads=0: the default, not whatever torch had
    finally:
        torch.set_num_threads(before)


def _threads_options(cmd, path: str = "scalemath"):
    if hasattr(cmd, "list_commands"):
        ctx = click.Context(cmd)
        for name in cmd.list_commands(ctx):
            yield from _threads_options(cmd.get_command(ctx, name), f"{path} {name}")
    for p in cmd.params:
        if p.name == "threads":
            yield path, p


def test_every_threads_option_has_the_one_default():
    found = dict(_threads_options(typer.main.get_command(app)))
    assert {"scalemath sample", "scalemath eval", "scalemath train", "scalemath serve", "scalemath tiny"} <= set(found)
    for where, p in found.items():
        if where in ("scalemath demo", "scalemath teacher demo"):
            # the two commands that run several torch processes at once keep 1 per process
            # (scalemath.threads' docstring says why)
            assert p.default in (None, 1), (where, p.default)
            continue
        assert p.default in (None, 0), (where, p.default)
        assert (p.help or "").endswith(HELP), (where, p.help)
