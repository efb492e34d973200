"""No output loses data: the one output layer (scalemath.outputs) and every command's use of it.

Regression tests for the reported cases: an output equal to an input (`metrics s --out s`,
`rft --stats <samples>`, `audit --out`, `decontaminate --out/--report`, `grade`) replaced the
input with exit 0; in-place writes left truncated JSON and wrote through symlinks (the store's
writer.lock too); SIGKILL left `.NAME.tmpPID` files nobody removed.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from scalemath import outputs
from scalemath.cli import app
from scalemath.outputs import OutputError, atomic_path, check_outputs, clean_stale_tmp, tmp_path, write_json
from scalemath.records import write_jsonl
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples

SRC = str(Path(__file__).resolve().parents[1] / "src")


def _samples(path: Path, n: int = 12) -> bytes:
    write_jsonl(path, synthetic_samples(SyntheticConfig(n_questions=n, n_samples=2, models=("a",))))
    return path.read_bytes()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


# ------------------------------------------------------------------------------- the layer


def test_atomic_write_replaces_whole_and_leaves_no_temp(tmp_path):
    out = tmp_path / "d" / "m.json"
    write_json(out, {"a": 1})
    assert json.loads(out.read_text()) == {"a": 1}
    with pytest.raises(RuntimeError), atomic_path(out) as tmp:
        tmp.write_text('{"trunc')
        raise RuntimeError("disk full")
    assert json.loads(out.read_text()) == {"a": 1}  # the old file, not a truncated one
    assert sorted(p.name for p in out.parent.iterdir()) == ["m.json"]


def test_symlinked_output_is_refused_and_target_untouched(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    link = tmp_path / "out.json"
    link.symlink_to(target)
    with pytest.raises(OutputError, match="symbolic link"):
        write_json(link, {"x": 1})
    with pytest.raises(OutputError, match="symbolic link"):
        check_outputs([], [("--out", link)])
    assert target.read_text() == "keep me" and link.is_symlink()


def test_link_planted_at_the_temp_name_is_not_followed(tmp_path):
    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    out = tmp_path / "out.json"
    tmp_path.joinpath(tmp_path_name := tmp_path_of(out)).symlink_to(target)
    write_json(out, {"x": 1})
    assert target.read_text() == "keep me"
    assert json.loads(out.read_text()) == {"x": 1} and not (tmp_path / tmp_path_name).exists()


def tmp_path_of(out: Path) -> str:
    return tmp_path(out).name


def test_stale_temp_of_a_dead_process_is_removed_live_one_kept(tmp_path):
    out = tmp_path / "s.jsonl"
    dead = out.with_name(f".{out.name}.tmp{_dead_pid()}")
    live = out.with_name(f".{out.name}.tmp{os.getppid()}")
    other = tmp_path / ".other.jsonl.tmp1"
    for p in (dead, live, other):
        p.write_text("partial")
    write_jsonl(out, [{"a": 1}])
    assert not dead.exists() and live.exists() and other.exists()
    assert clean_stale_tmp(out) == 0


def test_sigkilled_writer_leaves_a_temp_that_the_next_run_removes(tmp_path):
    out = tmp_path / "big.jsonl"
    code = (
        "import os, signal; from scalemath.records import write_jsonl\n"
        "def rows():\n"
        "    for i in range(10):\n"
        "        yield {'i': i}\n"
        "    os.kill(os.getpid(), signal.SIGKILL)\n"
        f"write_jsonl({str(out)!r}, rows())\n"
    )
    r = subprocess.run([sys.executable, "-c", code], env={**os.environ, "PYTHONPATH": SRC}, capture_output=True)
    assert r.returncode == -9
    assert [p.name for p in tmp_path.iterdir()] == [f".big.jsonl.tmp{r.args and _only_pid(tmp_path)}"]
    write_jsonl(out, [{"i": 0}])
    assert [p.name for p in tmp_path.iterdir()] == ["big.jsonl"]


def _only_pid(folder: Path) -> str:
    (p,) = folder.iterdir()
    return p.name.rsplit("tmp", 1)[1]


def test_check_outputs_same_file_by_inode_and_by_path(tmp_path):
    a = tmp_path / "a.jsonl"
    a.write_text("x")
    hard = tmp_path / "hard.jsonl"
    os.link(a, hard)
    with pytest.raises(OutputError, match="refusing to replace an input"):
        check_outputs([a], [("--out", hard)])
    with pytest.raises(OutputError):
        check_outputs([str(a)], [("--out", tmp_path / "." / "a.jsonl")])
    with pytest.raises(OutputError, match="same file"):
        check_outputs([], [("--out", tmp_path / "n.json"), ("--stats", tmp_path / "n.json")])
    check_outputs([a, None], [("--out", tmp_path / "new.jsonl"), ("--stats", None)])


def test_lock_file_is_not_followed_through_a_symlink(tmp_path):
    from scalemath.sampling.store import SampleStore
    from scalemath.sampling.store_lock import LOCK_FILE

    target = tmp_path / "precious.txt"
    target.write_text("keep me")
    root = tmp_path / "store"
    root.mkdir()
    (root / LOCK_FILE).symlink_to(target)
    store = SampleStore(root)
    with pytest.raises(OutputError, match="symbolic link"), store.writer():
        pass
    assert target.read_text() == "keep me"
    with pytest.raises(OutputError):
        outputs.open_lock(root / LOCK_FILE)


# --------------------------------------------------------------------- every command, exit 2


def _run(args: list[str]):
    return CliRunner().invoke(app, args, env={"COLUMNS": "200"})


def _assert_refused(res, original: bytes, path: Path) -> None:
    assert res.exit_code == 2, res.output
    assert "refusing" in res.output and "Traceback" not in res.output
    assert path.read_bytes() == original


def test_metrics_out_onto_its_input_is_refused(tmp_path):
    s = tmp_path / "s.jsonl"
    before = _samples(s)
    _assert_refused(_run(["metrics", str(s), "--bootstrap", "0", "--out", str(s)]), before, s)


def test_rft_stats_onto_a_samples_file_is_refused(tmp_path):
    s = tmp_path / "s.jsonl"
    before = _samples(s)
    res = _run(["rft", "--samples", str(s), "--out", str(tmp_path / "o.jsonl"), "--stats", str(s)])
    _assert_refused(res, before, s)
    assert not (tmp_path / "o.jsonl").exists()  # refused before any work


def test_audit_out_onto_its_input_is_refused(tmp_path):
    s = tmp_path / "s.jsonl"
    before = _samples(s)
    _assert_refused(_run(["audit", "sample", "--input", str(s), "--out", str(s)]), before, s)


@pytest.mark.parametrize("which", ["--out", "--report"])
def test_decontaminate_out_or_report_onto_its_input_is_refused(tmp_path, which):
    s = tmp_path / "s.jsonl"
    before = _samples(s)
    other = "--report" if which == "--out" else "--out"
    res = _run(
        ["decontaminate", "--input", str(s), "--against", str(s), which, str(s), other, str(tmp_path / "x.json")]
    )
    _assert_refused(res, before, s)


def test_grade_output_onto_its_input_is_refused(tmp_path):
    s = tmp_path / "s.jsonl"
    before = _samples(s)
    _assert_refused(_run(["grade", "--input", str(s), "--output", str(s), "--workers", "1"]), before, s)


def test_compare_out_onto_an_input_is_refused(tmp_path):
    s = tmp_path / "s.jsonl"
    before = _samples(s)
    _assert_refused(_run(["compare", str(s), str(s), "--out", str(s)]), before, s)


def test_metrics_out_through_a_symlink_is_refused(tmp_path):
    s = tmp_path / "s.jsonl"
    _samples(s)
    target = tmp_path / "precious.json"
    target.write_text("keep me")
    link = tmp_path / "m.json"
    link.symlink_to(target)
    res = _run(["metrics", str(s), "--bootstrap", "0", "--out", str(link)])
    assert res.exit_code == 2 and "symbolic link" in res.output
    assert target.read_text() == "keep me"


def test_eval_samples_metrics_json_is_atomic_and_checked(tmp_path):
    s = tmp_path / "samples.jsonl"
    _samples(s)
    res = _run(["eval", "--samples", str(s), "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert json.loads((tmp_path / "run" / "metrics.json").read_text())["questions"] == 12
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == ["metrics.json"]


# ------------------------------------------------------------- sample --out and the store


def _problems(n: int):
    from scalemath.records import Problem

    return [Problem(id=f"p{i}", question=f"What is {i} + {i}?", answer=str(2 * i)) for i in range(n)]


class _Recording:
    """FakeEngine that records the size of every call (prompts x n)."""

    def __init__(self, batch_size: int = 8):
        from scalemath.testing.fake_engine import FakeEngine

        self.inner = FakeEngine()
        self.name, self.model_id, self.batch_size = "fake", "fake", batch_size
        self.calls: list[int] = []

    def generate(self, prompts, params, n=1, start_index=0):
        self.calls.append(len(prompts) * n)
        return self.inner.generate(prompts, params, n=n, start_index=start_index)


def test_sample_out_large_k_is_drawn_and_appended_in_batches(tmp_path):
    from scalemath.records import read_samples
    from scalemath.sampling import SamplingParams
    from scalemath.sampling.run import sample_problems

    eng = _Recording(batch_size=8)
    out = tmp_path / "s.jsonl"
    k = 2000
    st = sample_problems(_problems(1), eng, SamplingParams(temperature=0.7), k, "qa", out, grade=False, progress=False)
    assert st.samples == k and max(eng.calls) <= 8 * 8 and len(eng.calls) == k // 64 + 1
    got = [(s.sample_index, s.seed) for s in read_samples(out)]
    assert sorted(i for i, _ in got) == list(range(k))
    # the same samples as one unsplit call would give (per-sample seeds come from the index)
    from scalemath.testing.fake_engine import FakeEngine

    (whole,) = FakeEngine().generate([eng_prompt()], SamplingParams(temperature=0.7), n=k)
    assert [s for _, s in got] == [c.seed for c in whole]


def eng_prompt() -> str:
    from scalemath.prompts import render

    return render("qa", question=_problems(1)[0].question)


def test_store_draw_persists_a_large_k_in_batches(tmp_path):
    from scalemath.sampling import SamplingParams
    from scalemath.sampling.store import SampleRequest, SampleStore
    from scalemath.sampling.store_draw import draw

    store = SampleStore(tmp_path / "st", compact_every=0)
    eng = _Recording()
    params = SamplingParams(temperature=0.7)
    seen: list[int] = []
    d = draw(
        eng,
        store,
        [SampleRequest(prompt="Q", problem_id="p")],
        params,
        k=1000,
        on_batch=lambda recs: seen.append(len(SampleStore(tmp_path / "st").indices(recs[0]["key"]))),
        max_samples_per_call=100,
    )
    assert d.written == 1000 and d.batches == 10 and eng.calls == [100] * 10
    assert store.stats.shards == 10 and seen[0] >= 100  # on disk batch by batch, not at the end


def test_two_sample_runs_to_one_out_file_write_no_duplicates(tmp_path):
    out = tmp_path / "same.jsonl"
    code = (
        "from scalemath.records import Problem\n"
        "from scalemath.sampling import SamplingParams\n"
        "from scalemath.sampling.run import sample_problems\n"
        "from scalemath.testing.fake_engine import FakeEngine\n"
        "ps = [Problem(id=f'p{i}', question=f'q{i}', answer='1') for i in range(20)]\n"
        "eng = FakeEngine(latency_per_call=0.05)\n"
        "eng.batch_size = 4\n"
        f"st = sample_problems(ps, eng, SamplingParams(temperature=0.7), 4, 'qa', {str(out)!r}, progress=False)\n"
        "print(st.samples, st.skipped)\n"
    )
    env = {**os.environ, "PYTHONPATH": SRC}
    procs = [
        subprocess.Popen([sys.executable, "-c", code], env=env, stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    pairs = [(d["problem_id"], d["sample_index"]) for d in lines]
    assert len(pairs) == len(set(pairs)) == 80
    assert sorted(int(o[0]) for o in outs) == [0, 80]  # one drew them all, the other waited and skipped


def test_sample_out_through_a_symlink_is_refused(tmp_path):
    from scalemath.sampling import SamplingParams
    from scalemath.sampling.run import sample_problems
    from scalemath.testing.fake_engine import FakeEngine

    target = tmp_path / "precious.jsonl"
    target.write_text("")
    link = tmp_path / "s.jsonl"
    link.symlink_to(target)
    with pytest.raises(OutputError):
        sample_problems(_problems(1), FakeEngine(), SamplingParams(), 1, "qa", link, progress=False)
    assert target.read_text() == ""


def test_save_pretrained_gives_what_it_writes_the_umask_modes(tmp_path):
    """Issue 23: safetensors writes weights through a private temp file (mode 0600); the one model
    writer gives the files and folders a save creates or rewrites 0666/0777 less the umask, and
    leaves files it did not touch alone."""
    import stat

    class Model:  # writes like safetensors: a private file renamed into place, and a sub-folder
        def save_pretrained(self, folder):
            Path(folder).mkdir(parents=True, exist_ok=True)
            fd = os.open(Path(folder) / ".w.tmp", os.O_WRONLY | os.O_CREAT, 0o600)
            os.write(fd, b"weights")
            os.close(fd)
            os.replace(Path(folder) / ".w.tmp", Path(folder) / "model.safetensors")
            os.makedirs(Path(folder) / "sub", mode=0o700, exist_ok=True)
            (Path(folder) / "sub" / "x.json").write_text("{}")

    def mode(p):
        return stat.S_IMODE(p.stat().st_mode)

    old = os.umask(0o022)
    try:
        out = outputs.save_pretrained(tmp_path / "new", Model())
        assert {p.name: mode(p) for p in out.rglob("*")} == {"model.safetensors": 0o644, "sub": 0o755, "x.json": 0o644}
        assert mode(out) == 0o755
        kept = tmp_path / "old"
        kept.mkdir()
        (kept / "notes.txt").write_text("mine")
        os.chmod(kept / "notes.txt", 0o600)
        outputs.save_pretrained(kept, Model())
        assert mode(kept / "notes.txt") == 0o600 and mode(kept / "model.safetensors") == 0o644
    finally:
        os.umask(old)
    with pytest.raises(OutputError, match="symbolic link"):
        (tmp_path / "link").symlink_to(out)
        outputs.save_pretrained(tmp_path / "link", Model())
