"""The demo's closing tables read at the common 80-column width: nothing is cut to "…" and no line
is wider than the terminal (the paired-differences table once lost its McNemar p and discordant
counts there)."""

from scalemath.report.demo_table import print_summary


def _row(metric, n, diff, lo, hi, mcnemar=None):
    r = {"metric": metric, "n": n, "a": 0.625, "b": 0.588, "diff": diff, "lo": lo, "hi": hi}
    if mcnemar:
        r.update(p_mcnemar=mcnemar[0], b_only=mcnemar[1], a_only=mcnemar[2])
    return r


def _summary():
    keys = ["maj1@1", "maj@8", "Pass@8", "PassRatio@8"]
    metrics = {m: dict.fromkeys(keys, 0.606) for m in ("sft", "control", "nodedup", "rft")}
    # the widest figures a 1,000-question run prints: three-digit discordant counts, two-sign
    # intervals, a smaller sampled subset named beside its metric
    sampled = [_row(k, 300, -0.053, -0.097, -0.010) for k in ("maj@8", "Pass@8", "PassRatio@8")]
    comps = {
        "rft_vs_control": {
            "questions": 1000,
            "rows": [_row("greedy", 1000, -0.037, -0.066, -0.009, (0.012581, 186, 123)), *sampled],
        },
        "rft_vs_nodedup": {
            "questions": 1000,
            "rows": [_row("greedy", 1000, 0.101, 0.071, 0.131, (2.1e-11, 160, 59))],
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
    for cell in ("greedy", "-3.7 [-6.6, -0.9]", "0.013 186:123", "control"):
        assert cell in row, (cell, row)
    row = next(line for line in lines if line.startswith("RFT − no-dedup"))
    for cell in ("greedy", "+10.1 [+7.1, +13.1]", "2.1e-11 160:59", "RFT"):
        assert cell in row, (cell, row)
    assert "no-dedup" in lines[[i for i, line in enumerate(lines) if "metric" in line][0]]  # a column of its own
    assert any("PassRatio@8 (300 q)" in line for line in lines)


def test_demo_tables_fit_80_columns_with_the_widest_figures(monkeypatch, capsys):
    """Regression: a run with RFT 14.6 points below SFT printed "-14.6 [-17.8, -11.…", "RFT − contr…"
    and "control bett…" at 80 columns (two-digit bounds, a p of 1e-18, three-digit counts)."""
    monkeypatch.setenv("COLUMNS", "80")
    s = _summary()
    comps = s["comparisons"]
    comps["rft_vs_sft"]["rows"] = [_row("greedy", 1000, -0.146, -0.178, -0.114, (1.3e-18, 169, 215))]
    comps["control_vs_sft"]["rows"] = [_row("greedy", 1000, -0.075, -0.108, -0.042, (1.2e-05, 107, 182))]
    comps["rft_vs_control"]["rows"][0] = _row("greedy", 1000, -0.071, -0.101, -0.040, (9.5e-06, 191, 262))
    print_summary(s)
    lines = capsys.readouterr().out.splitlines()
    assert max(len(line) for line in lines) <= 80
    assert "…" not in "\n".join(line for line in lines if not line.startswith("Greedy accuracy"))
    row = next(line for line in lines if line.startswith("RFT − SFT"))
    for cell in ("-14.6 [-17.8, -11.4]", "1.3e-18 169:215", "SFT"):
        assert cell in row, (cell, row)


def _conclusion(control_steps: int, sft_steps: int, diff: float, lo: float, hi: float) -> str:
    from scalemath.report.demo_table import conclusion

    s = _summary()
    s["comparisons"]["control_vs_sft"]["rows"] = [_row("greedy", 1000, diff, lo, hi, (0.003, 86, 130))]
    s["compute"] = {"sft": {"steps": sft_steps}, "control": {"steps": control_steps}, "rft": {"steps": control_steps}}
    s["config"] = {"control": "steps", "sft_epochs": 12}
    return conclusion(s)


def test_conclusion_reads_control_minus_sft_by_the_direction_of_the_step_difference():
    """Regression: the control (RFT's 2,850 steps) trained *fewer* steps than SFT (3,000) and did
    worse, and the demo said "more steps on D alone hurt (over-fitting)"."""
    fewer_worse = _conclusion(2850, 3000, -0.044, -0.073, -0.015)
    assert "over-fitting" not in fewer_worse and "more steps" not in fewer_worse
    assert "fewer steps on D (2850 against SFT's 3000) and did worse" in fewer_worse
    fewer_better = _conclusion(2850, 3000, 0.03, 0.01, 0.05)
    assert "did better, so SFT's longer training went past its best" in fewer_better
    more_better = _conclusion(4000, 3000, 0.03, 0.01, 0.05)
    assert "the extra steps alone raise SFT" in more_better
    more_worse = _conclusion(4000, 3000, -0.03, -0.05, -0.01)
    assert "more steps on D alone hurt" in more_worse
    assert "no measurable amount" in _conclusion(2850, 3000, 0.01, -0.02, 0.04)


def test_the_closing_sentence_names_what_the_intervals_support():
    """The conclusion ends with which claims the greedy intervals support: here distinct paths beat
    every correct sample (+10.1, interval above 0), RFT does not beat the control (below 0) nor SFT
    (interval contains 0)."""
    conclusion = _conclusion(2850, 3000, 0.01, -0.02, 0.04)
    assert "RFT − no-de-duplication (every correct sample kept, RFT's steps): " in conclusion
    closing = conclusion[conclusion.index("In sum") :]
    supported, unsupported = closing.split("They do not support:")
    assert "distinct paths beat every correct sample" in supported and "RFT > control" not in supported
    assert "RFT > control" in unsupported and "RFT > SFT" in unsupported
