import json

import numpy as np
import pytest
from typer.testing import CliRunner

from scalemath.cli import app
from scalemath.records import RecordError
from scalemath.scaling.curves import FUNCS, invert
from scalemath.scaling.data import numeric_columns, read_csv
from scalemath.scaling.fit import fit, fit_auto

X = np.repeat(np.geomspace(500, 64_000, 8), 3)  # 8 data sizes x 3 seeds
TRUTH = {"loglinear": (0.05, 0.04), "segmented": (0.15, 0.05, 0.015, np.log(6000.0)), "power": (0.8, 4.0, 0.35)}


def noisy(model, seed, sd=0.006):
    rng = np.random.default_rng(seed)
    return FUNCS[model](X, *TRUTH[model]) + rng.normal(0, sd, len(X))


@pytest.mark.parametrize("model", list(TRUTH))
def test_recovers_known_parameters_within_intervals(model):
    r = fit(X, noisy(model, 11), model)
    for name, true in zip(r.params, TRUTH[model]):
        assert r.lo[name] <= true <= r.hi[name], (name, r.lo[name], true, r.hi[name])
    assert r.r2 > 0.95


@pytest.mark.parametrize("model", list(TRUTH))
def test_interval_coverage_over_seeds(model):
    runs, hits = 40, 0
    for seed in range(runs):
        r = fit(X, noisy(model, 100 + seed), model)
        name = list(r.params)[1]  # the slope / scale parameter
        hits += r.lo[name] <= TRUTH[model][1] <= r.hi[name]
    assert hits >= 0.8 * runs


def test_data_needed_inverts_the_curve():
    for model in TRUTH:
        r = fit(X, noisy(model, 3), model)
        d = r.data_needed(0.55)
        assert r.predict([d["value"]])[0] == pytest.approx(0.55, abs=1e-6)
        assert d["lo"] <= d["value"] <= d["hi"]
    r = fit(X, noisy("power", 3), "power")
    d = r.data_needed(0.95)  # above the asymptote
    assert d["value"] == np.inf and d["unreachable"] > 0.9
    assert invert("loglinear", (0.1, -0.01), 0.5) == np.inf


def test_data_needed_interval_covers_truth():
    true_n = float(np.exp((0.5 - TRUTH["loglinear"][0]) / TRUTH["loglinear"][1]))
    hits = 0
    for seed in range(30):
        d = fit(X, noisy("loglinear", 200 + seed), "loglinear").data_needed(0.5, draws=1000)
        hits += d["lo"] <= true_n <= d["hi"]
    assert hits >= 24


@pytest.mark.parametrize("model", ["segmented", "power"])
def test_auto_prefers_the_true_shape(model):
    best, fits = fit_auto(X, noisy(model, 5, sd=0.003))
    assert best.model == model
    assert sum(f.extra["weight"] for f in fits.values()) == pytest.approx(1.0)


def test_bootstrap_intervals_and_degenerate_knee():
    r = fit(X, noisy("loglinear", 2), "loglinear", interval="bootstrap", bootstrap=200)
    assert r.interval == "bootstrap" and r.lo["b"] <= 0.04 <= r.hi["b"]
    # knee exactly on a data point with few sizes: auto switches to the bootstrap
    x = np.array([1e3, 2e3, 4e3, 8e3, 16e3])
    y = np.array([0.2, 0.25, 0.30, 0.31, 0.32])
    s = fit(x, y, "segmented")
    assert s.interval == "bootstrap" and np.isfinite(s.lo["b1"])
    assert s.to_dict()["breakpoint_n"]["value"] == pytest.approx(4e3)


def test_power_asymptote_is_capped():
    y = 0.05 + 0.04 * np.log(X)  # log-linear data: an uncapped power law runs off to a >> 1
    r = fit(X, y, "power")
    assert r.params["a"] <= 1.0 + 1e-9 and "a" in r.extra["at_bound"]


def test_input_validation():
    with pytest.raises(ValueError, match="needs at least"):
        fit([1, 2, 3, 4], [0.1, 0.2, 0.3, 0.35], "segmented")
    with pytest.raises(ValueError, match="positive"):
        fit([0, 1, 2], [0.1, 0.2, 0.3])
    with pytest.raises(ValueError, match="unknown model"):
        fit([1, 2, 3], [0.1, 0.2, 0.3], "cubic")


def write_results(path):
    rng = np.random.default_rng(0)
    lines = ["cell,method,data_size,accuracy"]
    for method, (a, b) in {"sft": (0.02, 0.035), "rft": (0.08, 0.034)}.items():
        for n in (500, 1000, 2000, 4000, 7473):
            lines.append(f"{method}-{n},{method},{n},{a + b * np.log(n) + rng.normal(0, 0.004):.4f}")
    path.write_text("\n".join(lines) + "\n")


def test_csv_errors_name_file_and_line(tmp_path):
    p = tmp_path / "r.csv"
    p.write_text("data_size,accuracy\n100,0.2\n200,abc\n")
    with pytest.raises(RecordError, match=r"r.csv:3"):
        numeric_columns(p, read_csv(p), ["data_size", "accuracy"])
    with pytest.raises(RecordError, match="no column"):
        numeric_columns(p, read_csv(p), ["n", "accuracy"])


def test_fit_command(tmp_path):
    p = tmp_path / "results.csv"
    write_results(p)
    out, png = tmp_path / "fit.json", tmp_path / "fit.png"
    res = CliRunner().invoke(
        app,
        [
            "fit",
            str(p),
            "--x",
            "data_size",
            "--y",
            "accuracy",
            "--group",
            "method",
            "--model",
            "loglinear",
            "--target",
            "0.4",
            "--plot",
            str(png),
            "--out",
            str(out),
        ],
        env={"COLUMNS": "200"},
    )
    assert res.exit_code == 0, res.output
    d = json.loads(out.read_text())
    assert set(d["groups"]) == {"sft", "rft"}
    rft = d["groups"]["rft"]
    assert rft["fits"]["loglinear"]["lo"]["b"] <= 0.034 <= rft["fits"]["loglinear"]["hi"]["b"]
    assert rft["targets"][0]["value"] < d["groups"]["sft"]["targets"][0]["value"]
    assert png.read_bytes()[:4] == b"\x89PNG"
    res = CliRunner().invoke(app, ["fit", str(p), "--y", "nope"])
    assert res.exit_code == 2 and "no column" in " ".join(res.output.split())


def test_fit_table_skips_series_with_too_few_sizes(tmp_path):
    from scalemath.scaling.fit_table import fit_table

    p = tmp_path / "results.csv"
    rows = ["method,data_size,accuracy"] + [f"sft,{n},{0.1 + 0.02 * i}" for i, n in enumerate((100, 200, 400, 800))]
    rows += ["rft,900,0.3", "rft,1000,0.31", "rft,1100,0.33"]
    p.write_text("\n".join(rows) + "\n")
    res = fit_table(p, "data_size", "accuracy", "loglinear", group="method", min_x_values=4)
    assert set(res["_results"]) == {"sft"}
    assert "3 distinct data_size values" in res["groups"]["rft"]["error"]
    assert set(fit_table(p, "data_size", "accuracy", "loglinear", group="method")["_results"]) == {"sft", "rft"}


def test_figure_draws_the_loglinear_line_beside_a_better_fit():
    from scalemath.scaling.plots import fit_figure

    n = np.array([63, 125, 250, 500, 1000, 2000, 4000], dtype=float)
    y = np.where(np.log(n) < np.log(500), 0.02 + 0.01 * np.log(n / 63), 0.04 + 0.25 * np.log(n / 500))
    best, fits = fit_auto(n, y)
    assert best.model != "loglinear"
    fig = fit_figure({"sft": best}, also={"sft": fits["loglinear"]})
    styles = [line.get_linestyle() for line in fig.axes[0].get_lines()]
    assert styles.count("--") == 1 and "-" in styles
