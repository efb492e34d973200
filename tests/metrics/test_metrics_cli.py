import json

from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.records import write_jsonl
from scalemath.testing.synthetic import SyntheticConfig, synthetic_samples


def test_metrics_command_writes_json(tmp_path):
    p = tmp_path / "eval_samples.jsonl"
    write_jsonl(p, synthetic_samples(SyntheticConfig(n_questions=60, n_samples=8, models=("a", "b"))))
    out = tmp_path / "m" / "metrics.json"
    res = CliRunner().invoke(
        app,
        ["metrics", str(p), "--by", "meta.level", "--ks", "1,4", "--bootstrap", "100", "--out", str(out)],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    assert "pass@4" in res.output and "by meta.level" in res.output and "error types" in res.output
    d = json.loads(out.read_text())
    assert d["summary"]["n_questions"] == 60 and d["summary"]["config"]["ks"] == [1, 4]
    assert set(d["summary"]["by"]["meta.level"]) <= {"1", "2", "3", "4", "5"}
    assert d["steps"]["fit"]["acc_step"] is not None
    assert set(d["errors"]["shares"]) == {"calculation", "reasoning", "format"}
    assert d["paths"]["sources"] == ["a", "b"]


def test_metrics_command_reports_bad_input(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"problem_id": "a", "correct": true}\n{oops\n')
    res = CliRunner().invoke(app, ["metrics", str(p)])
    assert res.exit_code == 2 and "bad.jsonl:2" in "".join(res.output.split())
    res = CliRunner().invoke(app, ["metrics", str(p), "--ks", "0"])
    assert res.exit_code != 0
