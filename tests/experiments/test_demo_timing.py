"""summary.json's timing after a re-run or a resume keeps what the work cost (a re-run of a
finished demo wrote its own ~3 s over the first run's wall time)."""

from scalemath.experiments.timing import merge_timing
from scalemath.report.demo_table import stage_note


def _timing(stages, total):
    return {"stages": stages, "total_seconds": total, "workers": 2, "peak_rss_gb": 0.9, "peak_rss_worker_gb": 0.8}


FIRST = _timing(
    [
        {"stage": "data", "seconds": 1.0, "skipped": False},
        {"stage": "pretrain", "seconds": 399.0, "skipped": False},
        {"stage": "sft", "seconds": 342.0, "skipped": False},
    ],
    742.0,
)


def test_a_run_that_skipped_every_stage_keeps_the_earlier_timing():
    rerun = _timing([{**s, "seconds": 0.0, "skipped": True} for s in FIRST["stages"]], 3.1)
    merged = merge_timing(rerun, FIRST)
    assert merged == {**FIRST, "rerun_seconds": 3.1}
    # and a third run keeps it again (no re-run reads as the work)
    assert merge_timing(_timing(rerun["stages"], 2.9), merged) == {**FIRST, "rerun_seconds": 2.9}


def test_a_resumed_run_gives_skipped_stages_the_earlier_seconds():
    killed = _timing([*FIRST["stages"][:2], {"stage": "sft", "seconds": 0.0, "skipped": True}], 400.0)
    killed["stages"][1] = {**killed["stages"][1], "skipped": False}
    resumed = _timing(
        [
            {"stage": "data", "seconds": 0.0, "skipped": True},
            {"stage": "pretrain", "seconds": 0.0, "skipped": True},
            {"stage": "sft", "seconds": 340.0, "skipped": False},
        ],
        345.0,
    )
    merged = merge_timing(resumed, killed)
    assert [(s["seconds"], s.get("earlier_run", False)) for s in merged["stages"]] == [
        (1.0, True),
        (399.0, True),
        (340.0, False),
    ]
    assert merged["total_seconds"] == 345.0  # this run's wall time; the stages say the rest
    assert [stage_note(s) for s in merged["stages"]] == [" (earlier run)", " (earlier run)", ""]


def test_no_earlier_summary_or_an_unreadable_one():
    now = _timing(FIRST["stages"], 742.0)
    assert merge_timing(now, None) == now
    assert merge_timing(now, {"stages": "?"}) == now
