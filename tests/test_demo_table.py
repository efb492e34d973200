"""The demo's closing tables read at the common 80-column width: nothing is cut to "…" and no line
is wider than the terminal (the paired-differences table once lost its McNemar p and discordant
counts there)."""

from scalemath.experiments.demo import print_summary


def _row(metric, n, diff, lo, hi, mcnemar=None):
    r = {"metric": metric, "n": n, "a": 0.625, "b": 0.588, "diff": diff, "lo": lo, "hi": hi}
    if mcnemar:
        r.update(p_mcnemar=mcnemar[0], b_only=mcnemar[1], a_only=mcnemar[2])
    return r


def _summary():
    keys = ["maj1@1", "maj@8", "pass@8", "pass_ratio@8"]
    metrics = {m: dict.fromkeys(keys, 0.606) for m in ("sft", "control", "rft")}
    # the widest figures a 1,000-question run prints: three-digit discordant counts, two-sign
    # intervals, a smaller sampled subset named beside its metric
    sampled = [_row(k, 300, -0.053, -0.097, -0.010) for k in ("maj@8", "pass@8", "pass_ratio@8")]
    comps = {
        "rft_vs_control": {
            "questions": 1000,
            "rows": [_row("greedy", 1000, -0.037, -0.066, -0.009, (0.012581, 186, 123)), *sampled],
        },
        "rft_vs_sft": {"questions": 1000, "rows": [_row("greedy", 1000, -0.018, -0.047, 0.010, (0.25, 98, 116))]},
        "control_vs_sft": {
            "questions": 1000,
            "rows": [_row("greedy", 1000, 0.019, -0.009, 0.047, (0.2, 110, 91))],
        },
    }
    return {
        "metrics": metrics,
        "keys": keys,
        "labels": {"control": "SFT on D for the same optimizer steps as RFT"},
        "compute": {m: {"steps": 2740, "epochs": 10.96, "tokens": 2.41e6} for m in metrics},
        "comparisons": comps,
        "conclusion": "Greedy accuracy, RFT − compute-matched control: -3.7 pts (95% CI -6.6 … -0.9).",
        "rft_data": {"originals": 2000, "distinct_paths": 2383, "samples": 8000, "correct": 6305},
        "timing": {"stages": [], "total_seconds": 885.0, "peak_rss_gb": 0.9, "peak_rss_worker_gb": 0.9},
        "provenance": {"threads": 2},
    }


def test_demo_tables_fit_80_columns(monkeypatch, capsys):
    monkeypatch.setenv("COLUMNS", "80")
    print_summary(_summary())
    out = capsys.readouterr().out
    lines = out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(line for line in lines if not line.startswith("Greedy accuracy"))
    row = next(line for line in lines if line.startswith("RFT − control"))
    # every column of the headline row is whole: comparison, metric, interval, p and counts, verdict
    for cell in ("greedy", "-3.7 [-6.6, -0.9]", "0.013 186:123", "control better"):
        assert cell in row, (cell, row)
    assert any("PassRatio@8 (300 q)" in line for line in lines)
