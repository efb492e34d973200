"""`scalemath report RUN_DIR`: one self-contained HTML page (plus the PNGs) for a run directory.

How it works, in full: docs/modules.md (`scalemath.report.html`).
"""

from __future__ import annotations

import base64
import io
import os
import platform
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scalemath.outputs import write_bytes, write_text

SERIES_COLUMNS = ("method", "series", "setting", "model")
X_COLUMNS = ("data_size", "n_train", "train_size", "num_examples")
Y_COLUMNS = ("accuracy", "acc", "greedy", "maj1@1")
MIN_FIT_X = 4  # a series is fitted against data size only with this many distinct sizes


@dataclass
class ReportConfig:
    """Settings of `build_report`."""

    out: str | None = None
    """Output HTML path (default RUN_DIR/report/index.html); PNGs go beside it."""
    ks: tuple[int, ...] = (1, 4, 16)
    """k values for pass@k / maj@k when samples are analyzed."""
    bootstrap: int = 1000
    """Bootstrap replicates for the intervals."""
    seed: int = 0
    """Bootstrap seed."""
    by: tuple[str, ...] = ("meta.level", "meta.subject", "meta.type", "meta.family", "model")
    """Breakdown fields tried on samples (a field absent from samples and problems is dropped)."""
    problems: str | None = None
    """Problems JSONL whose fields (meta.level, meta.steps, ...) are joined to the samples by id;
    default: a `problems.jsonl` beside the sample files or at the top of the run directory."""
    fit_model: str = "auto"
    """Scaling model for accuracy vs data (loglinear, segmented, power, auto)."""
    targets: tuple[float, ...] = ()
    """Accuracies for which to report the data needed (same scale as the results' y column)."""
    max_detailed: int = 6
    """Evaluations that get full plots (the rest are summarized in the table)."""
    title: str = ""
    """Page title (default: the run directory's name)."""


@dataclass
class Section:
    """One evaluation (a directory of sample files or a metrics.json)."""

    name: str
    """What is evaluated: the model(s) of its samples (a demo's labels: SFT, RFT, ...)."""
    result: dict[str, Any]
    images: list[dict[str, str]] = field(default_factory=list)
    place: str = ""
    """Where its files are, relative to the run directory."""
    where: Path | None = None


def _png(fig: Any, out_dir: Path, name: str) -> dict[str, str]:
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    data = buf.getvalue()
    write_bytes(out_dir / name, data)
    return {"file": name, "b64": base64.b64encode(data).decode("ascii")}


def discover(run_dir: Path, exclude: Path | None = None) -> dict[str, Any]:
    """Files the report can use, grouped by directory."""
    sample_dirs: dict[Path, list[Path]] = {}
    metrics_files = []
    for p in sorted(run_dir.rglob("*")):
        if exclude is not None and exclude in p.parents:
            continue
        if p.is_file() and p.suffix in (".jsonl", ".parquet") and ("samples" in p.name or p.name.startswith("greedy")):
            sample_dirs.setdefault(p.parent, []).append(p)
        elif p.is_file() and p.name == "metrics.json":
            metrics_files.append(p)
    return {
        "sample_dirs": sample_dirs,
        "metrics": metrics_files,
        "results": sorted(p for p in run_dir.rglob("results.csv") if exclude is None or exclude not in p.parents),
        "rft_stats": sorted(p for p in run_dir.rglob("rft_stats.json") if exclude is None or exclude not in p.parents),
    }


def _present_fields(paths: Sequence[Path], fields: Sequence[str], head: int = 500) -> list[str]:
    """Breakdown fields that occur in the first records of the given JSONL files."""
    from scalemath.metrics.table import get_path
    from scalemath.records import iter_jsonl_numbered

    seen: set[str] = set()
    for p in paths:
        if p.suffix != ".jsonl":
            return list(fields)
        for i, (_, d) in enumerate(iter_jsonl_numbered(p)):
            if i >= head:
                break
            seen.update(f for f in fields if get_path(d, f) is not None)
    return [f for f in fields if f in seen]


def _problems_for(files: Sequence[Path], run: Path, cfg: ReportConfig) -> Path | None:
    if cfg.problems:
        return Path(cfg.problems)
    for cand in (files[0].parent / "problems.jsonl", run / "problems.jsonl"):
        if cand.is_file():
            return cand
    return None


def _distinct_values_ok(result: dict[str, Any], fld: str) -> bool:
    groups = result["summary"]["by"].get(fld, {})
    return 1 < len(groups) <= 40


def analyze_dir(files: Sequence[Path], cfg: ReportConfig, problems: Path | None = None) -> dict[str, Any]:
    from scalemath.metrics.aggregate import MetricsConfig
    from scalemath.metrics.store_summary import AnalyzeConfig, analyze

    present = set(_present_fields(files, cfg.by))
    if problems is not None:
        present |= set(_present_fields([problems], cfg.by))
    by = tuple(f for f in cfg.by if f in present)
    acfg = AnalyzeConfig(
        metrics=MetricsConfig(ks=cfg.ks, bootstrap=cfg.bootstrap, seed=cfg.seed, by=by),
        problems=str(problems) if problems else None,
    )
    return analyze(files, acfg)


def _fit_results(path: Path, name: str, cfg: ReportConfig, out_dir: Path, idx: int) -> dict[str, Any] | None:
    """Scaling fits and series plots for a results.csv."""
    from scalemath.report.plots import series_plot
    from scalemath.scaling.data import read_csv
    from scalemath.scaling.fit_table import fit_table
    from scalemath.scaling.plots import fit_figure

    rows = read_csv(path, allow_empty=True)  # a study with no finished cell yet
    if not rows:
        return None
    cols = list(rows[0])
    y = next((c for c in Y_COLUMNS if c in cols), None)
    if y is None:
        return {"file": name, "note": f"no accuracy column (looked for {Y_COLUMNS})", "images": []}
    group = next((c for c in SERIES_COLUMNS if c in cols and len({r[c] for r in rows}) > 1), None)
    out: dict[str, Any] = {"file": name, "y": y, "group": group, "images": [], "fits": [], "notes": []}
    x = next((c for c in X_COLUMNS if c in cols), None)
    if x:
        try:
            res = fit_table(
                path, x, y, cfg.fit_model, group=group, targets=cfg.targets, seed=cfg.seed, min_x_values=MIN_FIT_X
            )
            objs = res.pop("_results")
            # the log-linear line too (dashed) where another model scored better
            also = {
                g or y: fits["loglinear"]
                for g, fits in res.pop("_all").items()
                if "loglinear" in fits and objs[g].model != "loglinear"
            }
            fig = fit_figure(
                {g or y: r for g, r in objs.items()},
                xlabel=x,
                ylabel=y,
                title=f"{y} vs {x} (best fit, {int(objs[next(iter(objs))].ci * 100)}% band; dashed: log-linear)"
                if also
                else f"{y} vs {x} (fitted curve, {int(objs[next(iter(objs))].ci * 100)}% band)",
                targets=[d for info in res["groups"].values() for d in info.get("targets", [])],
                also=also,
            )
            out["images"].append({"title": f"{y} vs {x}", **_png(fig, out_dir, f"fit_{idx}.png")})
            for g, info in res["groups"].items():
                out["fits"].append({"group": f"{group} = {g}" if group else "", **info})
        except ValueError as e:
            out["notes"].append(f"no fit of {y} vs {x}: {e}")
    if "pretrain_loss" in cols:
        _pretrain_loss(path, rows, cols, y, cfg, out, out_dir, idx)
    for col, label, logx, name in (
        ("k", "k (sampled completions per question)", True, "rft_k"),
        ("sampled_paths", "distinct sampled correct paths per question (D')", False, "rft_sampled"),
        ("distinct_paths", "distinct reasoning paths per question (D ∪ D')", False, "rft_paths"),
    ):
        if col in cols:
            sel = [r for r in rows if r.get(col, "") not in ("", None) and r.get(y, "") not in ("", None)]
            if sel:
                fig = series_plot(sel, col, y, group, label, f"{y} vs {col}", logx=logx)
                out["images"].append({"title": f"{y} vs {col}", **_png(fig, out_dir, f"{name}_{idx}.png")})
    out["table"] = {
        "columns": cols,
        "rows": [[r.get(c, "") for c in cols] for r in rows[:200]],
        "truncated": max(0, len(rows) - 200),
    }
    return out


def _pretrain_loss(
    path: Path,
    rows: list[dict[str, str]],
    cols: list[str],
    y: str,
    cfg: ReportConfig,
    out: dict[str, Any],
    out_dir: Path,
    idx: int,
) -> None:
    """Accuracy against the base model's pre-training loss: one point per model, a linear fit per
    series (series: method/series/setting or data_size, never the model itself)."""
    from scalemath.scaling.fit_table import fit_table
    from scalemath.scaling.plots import fit_figure

    sel = [r for r in rows if r.get("pretrain_loss", "") not in ("", None)]
    group = next((c for c in (*SERIES_COLUMNS[:3], *X_COLUMNS) if c in cols and len({r[c] for r in sel}) > 1), None)
    try:
        res = fit_table(path, "pretrain_loss", y, "linear", group=group, seed=cfg.seed)
    except ValueError as e:
        out["notes"].append(f"no fit of {y} vs pretrain_loss: {e}")
        return
    objs = res.pop("_results")
    res.pop("_all")
    fig = fit_figure(
        {(f"{group}={g}" if group else y): r for g, r in objs.items()},
        xlabel="base model pre-training loss",
        ylabel=y,
        title=f"{y} vs pre-training loss (linear fit)",
    )
    out["images"].append({"title": f"{y} vs pretrain_loss", **_png(fig, out_dir, f"ptloss_{idx}.png")})
    for g, info in res["groups"].items():
        out["fits"].append({"group": f"{group} = {g}" if group else "", "x": "pretrain_loss", **info})


def _section_images(sec: Section, out_dir: Path, idx: int) -> None:
    from scalemath.metrics.format import breakdown_columns
    from scalemath.report import plots

    r = sec.result
    s = r["summary"]
    if s.get("curve"):
        sec.images.append(
            {"title": "Pass@n and PassRatio@n vs n", **_png(plots.pass_curves(s), out_dir, f"passn_{idx}.png")}
        )
    if "steps" in r and r["steps"].get("per_step"):
        sec.images.append(
            {"title": "Accuracy vs reasoning steps", **_png(plots.steps_plot(r["steps"]), out_dir, f"steps_{idx}.png")}
        )
    if "errors" in r and r["errors"]["n_classified"]:
        sec.images.append({"title": "Error types", **_png(plots.error_plot(r["errors"]), out_dir, f"errors_{idx}.png")})
    if "paths" in r and len(r["paths"]["sources"]) >= 1 and r["paths"]["pooled"]["paths"]:
        sec.images.append(
            {
                "title": "Distinct reasoning paths per source",
                **_png(plots.paths_plot(r["paths"]), out_dir, f"paths_{idx}.png"),
            }
        )
    for j, fld in enumerate(s["by"]):
        if _distinct_values_ok(r, fld):
            names = [n for n in breakdown_columns(s) if n in ("greedy", "PassRatio@N", "Pass@N")]
            sec.images.append(
                {
                    "title": f"by {fld}",
                    **_png(plots.breakdown_plot(fld, s["by"][fld], names), out_dir, f"by{j}_{idx}.png"),
                }
            )


def _sample_models(files: Sequence[Path], head: int = 200) -> list[str]:
    """Distinct `model` values among the first records of sample files (in order of appearance)."""
    from scalemath.records import iter_jsonl_numbered

    seen: dict[str, None] = {}
    for p in files:
        if p.suffix != ".jsonl":
            continue
        for i, (_, d) in enumerate(iter_jsonl_numbered(p)):
            if i >= head:
                break
            if d.get("model"):
                seen.setdefault(str(d["model"]), None)
    return list(seen)


def _model_label(model: str, run: Path, labels: dict[str, str]) -> str:
    """A model id as the report names it: a checkpoint inside the run by its place there (a demo's
    summary.json labels: sft -> SFT; a study's cells/sft/tiny/f1/s0/model -> sft/tiny/f1/s0)."""
    try:
        rel = Path(model).resolve().relative_to(run.resolve()).as_posix()
    except (ValueError, OSError):
        return model
    if rel in labels:
        return labels[rel]
    rel = rel.removeprefix("cells/").removesuffix("/model")
    return labels.get(rel, rel or model)


def section_name(where: Path, files: Sequence[Path], run: Path, labels: dict[str, str]) -> tuple[str, str]:
    """(name, place) of an evaluation: named by its model(s), never "."; place = its directory
    relative to the run (or its file names when they sit at the run's top)."""
    rel = where.relative_to(run).as_posix() if where != run else ""
    place = rel or ", ".join(sorted(f.name for f in files))
    models = [_model_label(m, run, labels) for m in _sample_models(files)]
    if not models:
        return place, place
    name = ", ".join(models[:3]) + (f" (+{len(models) - 3} more)" if len(models) > 3 else "")
    return name, place


def demo_summary(run: Path) -> dict[str, Any] | None:
    """The demo's summary.json (models, paired comparisons, conclusion) when the run has one."""
    import json

    p = run / "summary.json"
    if not p.is_file():
        return None
    try:
        d = json.loads(p.read_text())
    except json.JSONDecodeError:
        return None
    return d if isinstance(d, dict) and "comparisons" in d and "metrics" in d else None


def comparison_view(summary: dict[str, Any]) -> dict[str, Any]:
    """The demo's models side by side with their paired differences, ready for the template."""
    from scalemath.metrics.paired import label, verdict

    models = list(summary["metrics"])
    labels = summary.get("labels", {})
    comps = summary["comparisons"]
    short = {"sft": "SFT", "control": "control", "rft": "RFT"}
    pairs = [
        (key, f"{short.get(key.split('_vs_')[0], key)} − {short.get(key.split('_vs_')[1], key)}")
        for key in ("rft_vs_control", "rft_vs_sft", "control_vs_sft")
        if key in comps
    ]
    own: dict[str, dict[str, dict[str, Any]]] = {}  # model -> metric -> {value, lo, hi}
    for key, _ in pairs:
        b, a = key.split("_vs_")
        for r in comps[key]["rows"]:
            own.setdefault(a, {}).setdefault(r["metric"], {"value": r["a"], "lo": r["a_lo"], "hi": r["a_hi"]})
            own.setdefault(b, {}).setdefault(r["metric"], {"value": r["b"], "lo": r["b_lo"], "hi": r["b_hi"]})
    metrics = [r["metric"] for r in comps[pairs[0][0]]["rows"]] if pairs else []
    rows = []
    for m in metrics:
        cells = []
        for key, _ in pairs:
            r = next((x for x in comps[key]["rows"] if x["metric"] == m), None)
            cells.append(None if r is None else {**r, "verdict": verdict(r)})
        rows.append({"metric": label(m), "models": [own.get(name, {}).get(m) for name in models], "diffs": cells})
    first = comps[pairs[0][0]] if pairs else {}
    return {
        "models": [labels.get(m, m) for m in models],
        "names": models,
        "pairs": [t for _, t in pairs],
        "rows": rows,
        "conclusion": summary.get("conclusion", ""),
        "compute": summary.get("compute", {}),
        "questions": first.get("questions"),
        "bootstrap": first.get("config", {}).get("bootstrap"),
        "notes": sorted({n for c in comps.values() for n in c.get("notes", [])}),
        "rft_data": summary.get("rft_data", {}),
        "timing": summary.get("timing"),
        "provenance": summary.get("provenance", {}),
    }


def control_comparisons(run: Path, results: Sequence[Path], cfg: ReportConfig) -> list[dict[str, Any]]:
    """A study's cells beside what they are measured against, question by question (paired, from
    the two eval cells' sample files): every cell with a compute-matched control (cell − control),
    and every RFT cell against the SFT model that sampled its data (RFT − SFT; compute-matched
    when the study sets rft.match)."""
    from scalemath.metrics.paired import ComparisonError, PairedConfig, compare, load_evaluation, verdict
    from scalemath.scaling.data import read_csv

    out = []
    for path in results:
        for r in read_csv(path):
            pairs = []
            if r.get("control_of"):  # a control row: the cell it matches − the control
                pairs.append(("control", r["control_of"], r["cell"], r.get("control", "")))
            if r.get("sft_source"):  # an RFT row: the cell − the SFT model that sampled its D'
                pairs.append(("source", r["cell"], r["sft_source"], r.get("matched_to_source") or "not matched"))
            base = path.parent / "cells" / "eval"
            for kind, cell, other, match in pairs:
                item: dict[str, Any] = {
                    "kind": kind,
                    "cell": cell,
                    "control": other,
                    "match": match,
                    "file": str(path.relative_to(run)),
                }
                try:
                    res = compare(
                        load_evaluation(base / other, other),
                        load_evaluation(base / cell, cell),
                        PairedConfig(bootstrap=cfg.bootstrap, seed=cfg.seed),
                    )
                except (ComparisonError, ValueError, OSError) as e:
                    item["error"] = str(e)
                else:
                    item["rows"] = [{**x, "verdict": verdict(x)} for x in res["rows"]]
                    item["notes"] = res["notes"]
                out.append(item)
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("scalemath", "numpy", "scipy", "matplotlib", "pyarrow"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            pass
    return out


def _flatten(d: Any, prefix: str = "") -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    if isinstance(d, dict):
        for k, v in d.items():
            rows += _flatten(v, f"{prefix}.{k}" if prefix else str(k))
    elif isinstance(d, list) and len(d) > 12:
        rows.append((prefix, f"[{len(d)} items]"))
    else:
        rows.append((prefix, str(d) if not isinstance(d, float) else f"{d:.4g}"))
    return rows


def num(v: Any, digits: int = 4) -> str:
    """Compact number: thousands separators for large values, `digits` significant otherwise."""
    if v is None:
        return "-"
    if isinstance(v, str):
        return v
    if abs(v) >= 1e4 and abs(v) < 1e12:
        return f"{v:,.0f}"
    return f"{v:.{digits}g}"


def build_report(run_dir: str | os.PathLike, config: ReportConfig | None = None) -> Path:
    """Write the report for a run directory; returns the HTML path."""
    import jinja2

    from scalemath.metrics.aggregate import figure_names
    from scalemath.metrics.format import breakdown_columns, fmt
    from scalemath.records import load_json_file
    from scalemath.report import plots

    cfg = config or ReportConfig()
    run = Path(run_dir)
    if not run.is_dir():
        raise FileNotFoundError(f"{run}: not a directory")
    out_html = Path(cfg.out) if cfg.out else run / "report" / "index.html"
    out_dir = out_html.parent
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    found = discover(run, exclude=out_dir if out_dir != run else None)
    sections: list[Section] = []
    ours: dict[Path, Any] = {}
    foreign: dict[Path, Any] = {}
    for p in found["metrics"]:
        d = load_json_file(p)  # truncated: FILE:LINE
        (ours if isinstance(d, dict) and "summary" in d else foreign)[p.parent] = d
    demo = demo_summary(run)
    labels = dict((demo or {}).get("labels", {}))
    order = list(labels)
    for where, d in ours.items():
        rel = where.relative_to(run).as_posix() if where != run else ""
        models = [_model_label(str(m), run, labels) for m in (d.get("paths") or {}).get("sources", [])]
        place = rel or "metrics.json"
        sections.append(Section(", ".join(models[:3]) or place, d, place=place, where=where))
    for where, files in found["sample_dirs"].items():
        if where not in ours:
            name, place = section_name(where, files, run, labels)
            sections.append(
                Section(name, analyze_dir(files, cfg, _problems_for(files, run, cfg)), place=place, where=where)
            )
    for sec in sections:
        other = foreign.pop(sec.where, None) if sec.where is not None else None
        if other is not None:
            sec.result = {**sec.result, "stage_metrics": _flatten(other)}
    others = [
        {"file": str((w / "metrics.json").relative_to(run)), "rows": _flatten(d), "images": []}
        for w, d in foreign.items()
    ]

    def sec_key(s: Section) -> tuple:
        label_rank = next((i for i, k in enumerate(order) if labels[k] == s.name), len(order))
        return (0 if "eval" in Path(s.place).parts else 1, label_rank, s.name, s.place)

    sections.sort(key=sec_key)
    for i, sec in enumerate(sections[: cfg.max_detailed]):
        _section_images(sec, out_dir, i)
    results = [
        r for i, p in enumerate(found["results"]) if (r := _fit_results(p, str(p.relative_to(run)), cfg, out_dir, i))
    ]
    rft = []
    for i, p in enumerate(found["rft_stats"]):
        d = load_json_file(p)
        item: dict[str, Any] = {
            "file": str(p.relative_to(run)),
            "images": [],
            "rows": _flatten({k: v for k, v in d.items() if k not in ("paths", "path_counts")}),
            "path_counts": d.get("path_counts"),
            "per_source": {_model_label(k, run, labels): v for k, v in d["per_source"].items()}
            if isinstance(d.get("per_source"), dict)
            else None,
            "stats": {k: d.get(k) for k in ("questions", "samples", "correct", "distinct_paths", "originals")},
        }
        if isinstance(d.get("paths"), dict) and "per_source" in d["paths"]:
            item["images"].append(
                {
                    "title": "Distinct reasoning paths per source",
                    **_png(plots.paths_plot(d["paths"]), out_dir, f"rftstats_paths_{i}.png"),
                }
            )
        rft.append(item)
    comparison = comparison_view(demo) if demo else None
    controls = control_comparisons(run, found["results"], cfg)

    env = jinja2.Environment(
        loader=jinja2.PackageLoader("scalemath.report", "."),
        autoescape=jinja2.select_autoescape(["html"]),
        undefined=jinja2.StrictUndefined,
    )
    env.filters["fig"] = fmt
    env.filters["num"] = num
    page = env.get_template("template.html").render(
        title=cfg.title or f"scalemath report — {run.resolve().name}",
        run_dir=str(run.resolve()),
        generated=time.strftime("%Y-%m-%d %H:%M:%S"),
        sections=sections,
        results=results,
        rft=rft + others,
        figure_names=figure_names,
        breakdown_columns=breakdown_columns,
        versions=_versions(),
        detailed=cfg.max_detailed,
        elapsed=f"{time.perf_counter() - t0:.1f}",
        comparison=comparison,
        controls=controls,
        empty=not (sections or results or rft or others or comparison),
    )
    write_text(out_html, page, encoding="utf-8")
    return out_html
