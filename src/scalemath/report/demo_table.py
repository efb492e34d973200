"""The demo's report view: its models side by side, their paired differences with intervals, the
closing sentences generated from those intervals, the RFT data line and the per-stage timing, all
read from the run's summary (summary.json; figures from `metrics.aggregate` / `metrics.paired`)."""

from __future__ import annotations

from typing import Any


def _greedy(comp: dict[str, Any]) -> dict[str, Any]:
    return next(r for r in comp["rows"] if r["metric"] == "greedy")


def conclusion(summary: dict[str, Any]) -> str:
    """What the paired intervals support, in words generated from the numbers."""
    from scalemath.metrics.paired import interval_text, label, verdict

    comps = summary["comparisons"]
    cfg = summary["config"]
    comp = summary.get("compute", {})
    ci = 0.95
    out = []
    rs = _greedy(comps["rft_vs_sft"])
    n = rs["n"]

    def mc(r: dict[str, Any]) -> str:
        return f", McNemar p = {r['p_mcnemar']:.2g}" if "p_mcnemar" in r else ""

    if "rft_vs_control" in comps:
        rc = _greedy(comps["rft_vs_control"])
        kind = cfg["control"]
        steps = comp.get("control", {}).get("steps")
        matched = f"the same {kind} as RFT" + (f", {steps} optimizer steps" if steps else "")
        v = verdict(rc)
        head = f"Greedy accuracy, RFT − compute-matched control ({matched}): {interval_text(rc, ci)}{mc(rc)}"
        if v == "b":
            out.append(
                f"{head}. The interval is above 0: on these {n} questions RFT's gain holds at matched "
                "compute, so it comes from the RFT data (D'), not from the extra steps."
            )
        elif v == "a":
            out.append(
                f"{head}. The interval is below 0: on these {n} questions the same compute spent on D "
                "alone did better than RFT's data."
            )
        else:
            out.append(
                f"{head}. The interval contains 0: this run does not show that the RFT data buys "
                f"anything beyond the same compute spent on D alone (on {n} questions, a difference "
                f"between {100 * rc['lo']:+.1f} and {100 * rc['hi']:+.1f} points is not ruled out)."
            )
        others = [r for r in comps["rft_vs_control"]["rows"] if r["metric"] != "greedy"]
        if others:
            out.append(
                "Sampled figures, RFT − control: "
                + "; ".join(f"{label(r['metric'])} {interval_text(r, ci)}" for r in others)
                + "."
            )
    sft_steps, rft_steps = comp.get("sft", {}).get("steps"), comp.get("rft", {}).get("steps")
    ratio = (
        f" (not compute-matched: RFT took {rft_steps / sft_steps:.2f}× SFT's {sft_steps} steps)"
        if sft_steps and rft_steps
        else ""
    )
    if "rft_vs_nodedup" in comps:
        rn = _greedy(comps["rft_vs_nodedup"])
        out.append(
            f"RFT − no-de-duplication (every correct sample kept, RFT's steps): {interval_text(rn, ci)}{mc(rn)}; "
            + {
                "b": "keeping only distinct paths did better.",
                "a": "keeping every correct sample did better.",
            }.get(verdict(rn), "no difference is shown.")
        )
    out.append(f"RFT − SFT: {interval_text(rs, ci)}{mc(rs)}{ratio}.")
    if "control_vs_sft" in comps:
        cs = _greedy(comps["control_vs_sft"])
        out.append(_control_vs_sft_text(cs, mc(cs), comp, cfg, ci))
    out.append(_supported(comps))
    return " ".join(out)


def _supported(comps: dict[str, Any]) -> str:
    """The closing sentence: which of the three claims the greedy intervals support."""
    from scalemath.metrics.paired import verdict

    claims = (
        ("rft_vs_control", "RFT's data beats the same compute spent on D alone (RFT > control)"),
        ("rft_vs_nodedup", "distinct paths beat every correct sample (RFT > no-dedup)"),
        ("rft_vs_sft", "RFT beats SFT (RFT > SFT)"),
    )
    yes = [text for key, text in claims if key in comps and verdict(_greedy(comps[key])) == "b"]
    no = [text for key, text in claims if key in comps and verdict(_greedy(comps[key])) != "b"]
    return (
        "In sum, the greedy 95% intervals support: "
        + ("; ".join(yes) if yes else "none of the claims")
        + (f". They do not support: {'; '.join(no)}." if no else ".")
    )


def _control_vs_sft_text(cs: dict[str, Any], mcnemar: str, comp: dict[str, Any], cfg: dict[str, Any], ci: float) -> str:
    """Control − SFT in words. The control trains the SFT recipe on D for RFT's compute, which can be
    more or fewer optimizer steps than SFT's (RFT's epochs over D ∪ D' decide), so what the
    difference says about SFT depends on the direction."""
    from scalemath.metrics.paired import interval_text, verdict

    v = verdict(cs)
    head = f"Control − SFT: {interval_text(cs, ci)}{mcnemar}"
    c_steps, s_steps = comp.get("control", {}).get("steps"), comp.get("sft", {}).get("steps")
    if c_steps and s_steps and c_steps < s_steps:
        fewer = f"the control trained fewer steps on D ({c_steps} against SFT's {s_steps})"
        if v == "b":
            return f"{head}: {fewer} and did better, so SFT's longer training went past its best (over-fitting)."
        if v == "a":
            return (
                f"{head}: {fewer} and did worse, so SFT had not saturated on D; at RFT's compute the "
                "control, not SFT, is the fair baseline."
            )
        return f"{head}: {fewer}, which changes accuracy by no measurable amount here."
    if c_steps and s_steps and c_steps == s_steps:
        return f"{head}: the control and SFT trained the same {s_steps} steps on D."
    if v == "b":
        return (
            f"{head}: the extra steps alone raise SFT, so SFT at {cfg['sft_epochs']:g} epochs was not "
            "trained to its best and that much of RFT − SFT is compute, not data."
        )
    if v == "a":
        return f"{head}: more steps on D alone hurt (over-fitting), so SFT was at or past its best."
    return f"{head}: the extra steps alone change SFT by no measurable amount here."


def _cell(row: dict[str, Any] | None) -> str:
    if row is None:
        return "—"
    if row.get("lo") is None:
        return f"{100 * row['diff']:+.1f}"
    return f"{100 * row['diff']:+.1f} [{100 * row['lo']:+.1f}, {100 * row['hi']:+.1f}]"


SHORT = {"sft": "SFT", "control": "control", "nodedup": "no-dedup", "rft": "RFT"}
PAIR_TITLES = (
    ("rft_vs_control", "RFT − control"),
    ("rft_vs_nodedup", "RFT − no-dedup"),
    ("rft_vs_sft", "RFT − SFT"),
    ("control_vs_sft", "control − SFT"),
)


def print_summary(summary: dict[str, Any]) -> None:
    """The models side by side, their paired differences, the conclusion, the RFT data and the timings."""
    from rich.console import Console
    from rich.table import Table

    from scalemath.metrics.paired import label, verdict

    rows, keys, labels = summary["metrics"], summary["keys"], summary.get("labels", {})
    comps = summary.get("comparisons", {})
    n = next((c["questions"] for c in comps.values()), None)
    console = Console()
    console.print(
        f"Held-out test split{f' ({n} questions)' if n else ''}, same base and recipe"
        + ("; control = " + labels["control"] if "control" in labels else ""),
        highlight=False,
    )
    table = Table()
    table.add_column("metric")
    for name in rows:
        table.add_column(SHORT.get(name, name), justify="right")
    for key in keys:
        table.add_row(
            "greedy (maj1@1)" if key == "maj1@1" else label(key),
            *(f"{100 * rows[name][key]:.1f}%" if rows[name].get(key) is not None else "—" for name in rows),
        )
    compute = summary.get("compute", {})
    if compute:
        table.add_row("optimizer steps", *(str(compute.get(m, {}).get("steps", "—")) for m in rows))
        table.add_row(
            "epochs",
            *(f"{compute[m]['epochs']:.2f}" if compute.get(m, {}).get("epochs") is not None else "—" for m in rows),
        )
        table.add_row(
            "train tokens",
            *(f"{compute[m]['tokens'] / 1e6:.2f}M" if compute.get(m, {}).get("tokens") else "—" for m in rows),
        )
    console.print(table)
    if comps:
        from rich import box

        # no vertical rules, no row lines, one blank (the box's divider) between columns: one line per figure at 80
        # columns (tests/report/test_demo_table.py renders it at that width)
        pt = Table(
            title="Paired differences on the same questions, points [95% bootstrap interval]",
            box=box.SIMPLE_HEAD,
            show_edge=False,
            padding=0,
            pad_edge=False,
        )
        pt.add_column("comparison", no_wrap=True)
        pt.add_column("metric", no_wrap=True)
        pt.add_column("difference", justify="right", no_wrap=True)
        pt.add_column("McNemar p", justify="right", no_wrap=True)
        pt.add_column("supports", no_wrap=True)
        for key, title in PAIR_TITLES:
            if key not in comps:
                continue
            a, b = key.split("_vs_")[1], key.split("_vs_")[0]
            # every figure for the headline comparison; greedy for the others (all of them are in
            # summary.json and the HTML report)
            shown = comps[key]["rows"] if key == PAIR_TITLES[0][0] else comps[key]["rows"][:1]
            for i, r in enumerate(shown):
                v = verdict(r)
                name = "greedy" if r["metric"] == "greedy" else label(r["metric"])
                if r["n"] != comps[key]["questions"]:
                    name += f" ({r['n']} q)"
                pt.add_row(
                    title if i == 0 else "",
                    name,
                    _cell(r),
                    f"{r['p_mcnemar']:.2g} {r['b_only']}:{r['a_only']}" if "p_mcnemar" in r else "",
                    {"b": SHORT[b], "a": SHORT[a], "none": "no diff.", "unknown": ""}[v],
                )
        console.print(pt)
    if summary.get("conclusion"):
        console.print(summary["conclusion"], highlight=False)
    d = summary["rft_data"]
    paths = d.get("path_counts", {})
    line = (
        f"RFT data (D ∪ D'): {d['originals']} originals + {d['distinct_paths']} distinct sampled paths, "
        f"from {d['samples']} samples ({d['correct']} correct)"
    )
    if paths:
        line += (
            f"; {paths['new_per_question']:.2f} sampled paths per question differ from the reference's "
            f"equations, {paths['distinct_per_question']:.2f} distinct paths per question in D ∪ D'"
        )
    console.print(line + ".", highlight=False)
    t = summary.get("timing")
    if t:
        parts = ", ".join(
            f"{s['stage']} {s['seconds']:.0f}s ({s.get('cpu_seconds', 0):.0f} CPU s){stage_note(s)}"
            for s in t["stages"]
        )
        w = t.get("peak_rss_worker_gb") or 0.0
        mem = f"peak RSS {t['peak_rss_gb']:.2f} GB" + (
            f" + {t.get('workers', 2)} × {w:.2f} GB side-by-side workers at most" if w else ""
        )
        if parts:
            console.print(f"Wall time per stage: {parts}.", highlight=False)
        rerun = f", this re-run {t['rerun_seconds']:.0f}s" if "rerun_seconds" in t else ""
        idle = (
            f"; {t['total_cpu_seconds']:.0f} CPU s, estimated {t['idle_estimate_seconds'] / 60:.1f} min on "
            f"{t['cores']} idle cores (an estimate from CPU time)"
            if "idle_estimate_seconds" in t
            else ""
        )
        console.print(
            f"Wall time: total {t['total_seconds']:.0f}s ({t['total_seconds'] / 60:.1f} min{rerun}){idle}; "
            f"{mem}; {summary['provenance']['threads']} torch thread(s) in pre-training, 1 elsewhere.",
            highlight=False,
        )


def stage_note(stage: dict[str, Any]) -> str:
    """How a stage's seconds were come by, for the timing line: this run, or a run before it."""
    if stage.get("earlier_run"):
        return " (earlier run)"
    return " (skipped)" if stage.get("skipped") else ""
