"""The judge-LLM error taxonomy: label parsing, voting, agreement with the judge-free rule, and the
CLI through the real OpenAI-compatible client and server."""

import json

import pytest
from typer.testing import CliRunner

from scalemath.metrics.judge import JudgeConfig, JudgeStats, judge_errors, parse_label, summarize
from scalemath.records import Sample, write_jsonl
from scalemath.sampling.engine import Completion


@pytest.mark.parametrize(
    "text, label",
    [
        ("Error type: calculation\nReason: 12 * 3 is 36", "calculation"),
        (" wrong_method\nReason: adds instead of multiplying", "wrong_method"),
        ("**Error type:** Missing step. The cost is never doubled.", "missing_step"),
        ("Error Type - unit conversion\nReason: minutes", "units"),
        ("error type: Misreading of the question", "misread"),
        ("Error type: arithmetic error", "calculation"),
        ('The error type is "calculation".', "calculation"),
        ('The student\'s error type is "multiple of calculation"', None),
        ('The student\'s error type is: "3"', None),
        ("I think the student is confused.", None),
        ("Error type: banana", None),
    ],
)
def test_parse_label(text, label):
    assert parse_label(text) == label


class Judge:
    """A stand-in judge: calculation when the solution has a slip, else wrong_method; votes vary."""

    name, model_id = "stub", "judge-stub"

    def __init__(self, replies=None):
        self.replies = replies
        self.prompts = []

    def generate(self, prompts, params, n=1, start_index=0):
        for p in prompts:
            self.prompts.append(p)
            student = p.split("### Student solution:")[1]
            if self.replies is not None:
                texts = self.replies[:n]
            elif "= 38" in student:
                texts = ["Error type: calculation\nReason: 12 * 3 = 36, not 38"] * n
            elif "gibberish" in student:
                texts = ["no idea"] * n
            else:
                texts = ["Error type: wrong_method\nReason: adds instead of multiplying"] * n
            yield [Completion(text=t, sample_index=start_index + i) for i, t in enumerate(texts)]


def samples():
    mk = lambda i, text, ok, ext="38": Sample(
        problem_id=f"q{i}",
        question="3 boxes of 12. How many?",
        answer="36",
        completion=text,
        correct=ok,
        extracted=ext,
        sample_index=0,
        model="m",
    )
    return [
        mk(0, "3 boxes of 12: 12 * 3 = 38. #### 38", False),
        mk(1, "3 + 12 = 15. #### 15", False, "15"),
        mk(2, "12 * 3 = 36. #### 36", True, "36"),
        mk(3, "gibberish", False, None),
        Sample(problem_id="q4", question="?", answer="1", completion="x"),
    ]  # ungraded: skipped


def test_judge_records_types_rule_types_and_agreement():
    st = JudgeStats()
    judge = Judge()
    recs = list(judge_errors(samples(), judge, JudgeConfig(), stats=st))
    assert [r["problem_id"] for r in recs] == ["q0", "q1", "q3"]  # wrong ones only
    assert [r["judge_type"] for r in recs] == ["calculation", "wrong_method", "unparsed"]
    assert [r["rule_type"] for r in recs] == ["calculation", "reasoning", "format"]
    assert recs[0]["judge_reason"] == "12 * 3 = 36, not 38" and recs[0]["judge_model"] == "judge-stub"
    assert "Reference answer:\n36" in judge.prompts[0] and "12 * 3 = 38" in judge.prompts[0]
    assert st.judged == 3 and st.shares()["unparsed"] == pytest.approx(1 / 3)
    a = st.agreement()
    assert (a["n"], a["agree"]) == (2, 2) and a["confusion"]["format->unparsed"] == 1
    assert summarize(recs).to_dict() == st.to_dict()
    assert len(list(judge_errors(samples(), Judge(), JudgeConfig(limit=1)))) == 1


def test_votes_majority_and_first_voted_tie_rule():
    replies = ["Error type: units", "Error type: misread", "Error type: misread", "?"]
    (r, *_) = judge_errors(samples()[:1], Judge(replies), JudgeConfig(votes=4, temperature=0.7))
    assert r["judge_type"] == "misread" and r["judge_votes"] == {"units": 1, "misread": 2}
    (r, *_) = judge_errors(samples()[:1], Judge(replies[:2]), JudgeConfig(votes=2, temperature=0.7))
    assert r["judge_type"] == "units"
    with pytest.raises(ValueError, match="votes"):
        list(judge_errors(samples(), Judge(), JudgeConfig(votes=0)))


def test_cli_through_the_real_client_and_server(tmp_path):
    pytest.importorskip("aiohttp")
    from scalemath.cli import app
    from scalemath.serve.config import ServerConfig
    from scalemath.serve.server import ServerThread

    write_jsonl(tmp_path / "s.jsonl", samples())
    out = tmp_path / "judged.jsonl"
    with ServerThread(Judge(), ServerConfig(port=0)) as srv:
        args = [
            "judge",
            str(tmp_path / "s.jsonl"),
            "--out",
            str(out),
            "--judge-url",
            srv.url,
            "--judge-model",
            "judge-stub",
            "--completions",
        ]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        first = out.read_text()
        r = CliRunner().invoke(app, args)  # second run: all from the cache
        assert r.exit_code == 0 and out.read_text() == first
        assert srv.stats.requests == 3
    recs = [json.loads(line) for line in first.splitlines()]
    assert [x["judge_type"] for x in recs] == ["calculation", "wrong_method", "unparsed"]
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["by_type"] == {"calculation": 1, "wrong_method": 1, "unparsed": 1}
    assert "agreement with the judge-free rule" in " ".join(r.output.split())
