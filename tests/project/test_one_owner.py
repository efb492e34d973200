"""One owner per concept: each of the path signature, the calculator pattern, `last_boxed`, the
safe arithmetic evaluator, the engine factory, the metrics engine and the model writer is defined once in
src/scalemath, and everything else calls it (checked on the source's syntax trees)."""

import ast
import inspect
from pathlib import Path

import pytest

import scalemath

SRC = Path(scalemath.__file__).parent
MODULES = {p.relative_to(SRC).as_posix(): ast.parse(p.read_text(), str(p)) for p in sorted(SRC.rglob("*.py"))}


def _defs(*names: str) -> dict[str, list[str]]:
    """name -> modules defining a function of that name (module level or in a class)."""
    out: dict[str, list[str]] = {n: [] for n in names}
    for mod, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name in out:
                out[node.name].append(mod)
    return out


def _calls(pred) -> list[str]:
    """Modules (with line) holding a call for which pred(call) is true."""
    hits = []
    for mod, tree in MODULES.items():
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and pred(node):
                hits.append(f"{mod}:{node.lineno}")
    return hits


def _callee(call: ast.Call) -> str:
    f = call.func
    if isinstance(f, ast.Name):
        return f.id
    if isinstance(f, ast.Attribute):
        base = f.value.id if isinstance(f.value, ast.Name) else ""
        return f"{base}.{f.attr}"
    return ""


def test_one_model_writer():
    """Models and tokenizers are saved through `outputs.save_pretrained`, which gives the files the
    umask's modes (issue 23: weights were written 0600 by safetensors)."""
    hits = _calls(lambda c: isinstance(c.func, ast.Attribute) and c.func.attr == "save_pretrained")
    assert [h.split(":")[0] for h in hits] == ["outputs.py"], hits


def test_one_path_signature():
    defs = _defs("path_signature", "equation_signature", "equations_signature", "fallback_signature")
    assert defs == {
        "path_signature": ["answers/paths.py"],
        "equation_signature": [],
        "equations_signature": ["answers/paths.py"],
        "fallback_signature": ["answers/paths.py"],
    }
    from scalemath.answers.paths import path_signature
    from scalemath.metrics import paths
    from scalemath.sampling import budget

    assert paths.path_signature is path_signature
    assert inspect.signature(budget.budgeted_draw).parameters["signature"].default is path_signature


def test_one_calculator_pattern():
    """The only regular expression written with `<<` is answers.calculator.ANNOTATION_RE."""

    def regex_with_annotation(call: ast.Call) -> bool:
        name = _callee(call)
        if not name.startswith("re.") or not call.args:
            return False
        arg = call.args[0]
        return isinstance(arg, ast.Constant) and isinstance(arg.value, str) and "<<" in arg.value

    hits = _calls(regex_with_annotation)
    assert len(hits) == 1 and hits[0].startswith("answers/calculator.py:"), hits


def test_one_last_boxed():
    defs = _defs("last_boxed")["last_boxed"]
    assert defs == ["answers/boxes.py", "datasets/math.py"]
    import importlib

    boxes = importlib.import_module("scalemath.answers.boxes")
    math_data = importlib.import_module("scalemath.datasets.math")

    # the dataset's reference reader calls the extractor's (it only adds: an unclosed box is no answer)
    assert "extract_last_boxed(" in inspect.getsource(math_data.last_boxed)
    for text in ["a \\boxed{1} b \\boxed{\\frac{1}{2}}", "\\fbox{7} then \\boxed{ 8 }", "so \\boxed 5$.", "none"]:
        assert math_data.last_boxed(text) == boxes.last_boxed(text)


def test_one_safe_evaluator():
    """Only answers.calculator parses arithmetic into a syntax tree; nothing calls eval()."""
    parses = _calls(lambda c: _callee(c) == "ast.parse")
    assert parses and all(h.startswith("answers/calculator.py:") for h in parses), parses
    assert _calls(lambda c: _callee(c) in ("eval", "exec")) == []
    from scalemath.metrics import errors

    assert errors.evaluate("12 * 3") == 36.0 and errors.evaluate("2 ** 2 ** 100") is None


@pytest.mark.parametrize(
    "cls, home",
    [
        ("HFEngine", "sampling/hf.py"),
        ("VLLMEngine", "sampling/vllm_engine.py"),
        ("FakeEngine", "testing/fake_engine.py"),
        ("OpenAIEngine", "sampling/openai_engine.py"),
    ],
)
def test_one_engine_factory(cls, home):
    """Engines are built by sampling.load_engine (its registry names the classes); no other module
    calls an engine's constructor."""
    hits = _calls(lambda c: _callee(c).split(".")[-1] == cls)
    assert all(h.startswith(home + ":") for h in hits), hits
    from scalemath.sampling import ENGINES

    module = "scalemath." + home.replace("/", ".").removesuffix(".py")
    assert any(target.split(":")[0] == module for target in ENGINES.values())


def test_one_metrics_engine():
    """Figures are computed by metrics.aggregate; passk (scalemath eval) and paired (compare) read
    their per-question values from it instead of counting votes themselves."""
    defs = _defs("pass_at_k_array", "majority_pick", "majority_correct", "unit_stats", "point_values")
    assert all(v == ["metrics/aggregate.py"] for v in defs.values()), defs
    from scalemath.metrics import aggregate, passk

    assert passk.unit_stats is aggregate.unit_stats and passk.majority_pick is aggregate.majority_pick
    for mod in (
        "metrics/passk.py",
        "metrics/paired.py",
        "metrics/evaluate.py",
        "experiments/demo.py",
        "experiments/actions.py",
        "report/demo_table.py",
    ):
        src = ast.unparse(MODULES[mod])
        assert "defaultdict(int)" not in src and "Counter(" not in src, mod


def test_one_batcher_one_bad_parameter():
    """Small shared pieces have one home: the streaming batcher (records.chunks) and the turning of
    a config's ValueError into a BadParameter (cli._checks.as_bad_parameter; `augment subset` keeps
    its own, which lets UserError through)."""
    assert _defs("chunks", "_chunks") == {"chunks": ["records.py"], "_chunks": []}
    hits = _calls(lambda c: _callee(c) == "typer.BadParameter" and bool(c.args) and ast.unparse(c.args[0]) == "str(e)")
    assert [h.split(":")[0] for h in hits] == ["cli/_checks.py", "cli/augment.py"], hits


def test_one_reader_of_a_samples_grading_context():
    """A sample's question and `meta.finish_reason` reach the grader through `grade_context` alone:
    `scalemath sample`, `grade_samples`, the bulk `scalemath grade` (issue 26) and RFT's collector
    (in memory and from files: issue 23, one grader everywhere) call it, and no
    other module reads a "finish_reason" key out of a record (openai_engine reads it from a
    server's reply, which is not a sample)."""
    assert _defs("grade_context")["grade_context"] == ["answers/grader.py"]
    callers = sorted(h.split(":")[0] for h in _calls(lambda c: _callee(c).split(".")[-1] == "grade_context"))
    assert callers == [
        "answers/bulk.py",
        "methods/rft_core.py",
        "methods/rft_core.py",
        "methods/rft_files.py",
        "sampling/run.py",
        "sampling/run.py",
    ], callers
    reads = _calls(
        lambda c: (
            isinstance(c.func, ast.Attribute)
            and c.func.attr == "get"
            and bool(c.args)
            and isinstance(c.args[0], ast.Constant)
            and c.args[0].value == "finish_reason"
        )
    )
    assert sorted(h.split(":")[0] for h in reads) == ["answers/grader.py", "sampling/openai_engine.py"], reads
