import pytest

from scalemath.records import Problem, RecordError, Sample, iter_jsonl, read_samples, write_jsonl


def test_roundtrip(tmp_path):
    p = tmp_path / "p.jsonl"
    write_jsonl(p, [Problem(id="a", question="q?", answer="3", meta={"steps": 2})])
    (rec,) = list(iter_jsonl(p))
    assert rec["id"] == "a" and rec["meta"] == {"steps": 2} and rec["schema"] == 1


def test_malformed_line_names_file_and_line(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(RecordError) as e:
        list(iter_jsonl(p))
    assert str(p) in str(e.value) and ":3:" in str(e.value)


def test_missing_field_is_named(tmp_path):
    p = tmp_path / "s.jsonl"
    p.write_text('{"question": "q"}\n')
    with pytest.raises(RecordError, match="completion"):
        list(read_samples(p))


def test_sample_defaults(tmp_path):
    p = tmp_path / "s.jsonl"
    write_jsonl(p, [{"question": "q", "completion": "c", "answer": "1"}])
    (s,) = list(read_samples(p))
    assert isinstance(s, Sample) and s.problem_id and s.completion == "c"
