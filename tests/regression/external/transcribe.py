"""Transcribe other graders' public test *cases* into our JSONL corpus format (a maintenance tool).

    python tests/regression/external/transcribe.py --mirrors /work/.mirror --out tests/regression/external

Reads the test files of local clones (bare git mirrors, read with `git show`) and writes one JSONL per
source with the cases found there: prediction, reference, the source's expected verdict, the options
the source test used, and where the case came from (repo @ commit : path : line). Only the literal
case data is taken: the files are parsed with `ast` (never imported or run), so no code of theirs is
executed or copied. Disputed labels (`verdict` + `dispute`) live in `disputes.jsonl` beside the output
and are merged in here, so re-running the tool keeps our written reasons.

PRM800K ships no grader tests: for it the pairs are ours (PRM800K_PAIRS, one per rule its grader
documents) and the labels come from running its grade_answer on a temporary export of its grading/
folder (sympy and pylatexenc must be importable, e.g. `pip install --target /tmp/deps pylatexenc` and
PYTHONPATH=/tmp/deps).

Not run by the tests (the mirrors are not in CI); the JSONL files it writes are committed.
"""

from __future__ import annotations

import argparse
import ast
import json
import subprocess
from pathlib import Path

SOURCES = {
    "math_verify": dict(
        repo="huggingface/Math-Verify",
        mirror="huggingface+Math-Verify",
        license="Apache-2.0",
        files=[
            "tests/test_all.py",
            "tests/test_boxed.py",
            "tests/test_numina_cases.py",
            "tests/test_open_thoughts.py",
            "tests/test_strict.py",
            "tests/test_yujianll.py",
        ],
    ),
    "lighteval": dict(
        repo="huggingface/lighteval",
        mirror="huggingface+lighteval",
        license="MIT",
        files=["tests/unit/metrics/test_extractive_match.py"],
    ),
    "nemo_skills": dict(
        repo="NVIDIA/NeMo-Skills", mirror="NVIDIA+NeMo-Skills", license="Apache-2.0", files=["tests/test_math_equal.py"]
    ),
    "hendrycks_math": dict(
        repo="hendrycks/math", mirror="hendrycks+math", license="MIT", files=["modeling/math_equivalence_test.py"]
    ),
    "dart_math": dict(
        repo="hkust-nlp/dart-math", mirror="hkust-nlp+dart-math", license="MIT", files=["nbs/04_eval.ipynb"]
    ),
    "qwen25_math": dict(
        repo="QwenLM/Qwen2.5-Math", mirror="QwenLM+Qwen2.5-Math", license="MIT", files=["evaluation/grader.py"]
    ),
    "prm800k": dict(repo="openai/prm800k", mirror="openai+prm800k", license="MIT", files=[]),
}


class Skip(Exception):
    """A value that is not a literal (the case is left out)."""


def literal(node):
    """The value of a literal AST node (also 5 / 2 and Language.X as a string), else Skip."""
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, (ast.List, ast.Tuple)):
        return [literal(x) for x in node.elts]
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        return -literal(node.operand)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
        return literal(node.left) / literal(node.right)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return literal(node.left) + literal(node.right)
    if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
        return f"{node.value.id}.{node.attr}"
    raise Skip(ast.dump(node)[:80])


def git_show(mirror: Path, commit: str, path: str) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), "show", f"{commit}:{path}"], check=True, capture_output=True, text=True
    ).stdout


def head(mirror: Path) -> str:
    return subprocess.run(
        ["git", "-C", str(mirror), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
    ).stdout.strip()


def _call_name(node) -> str | None:
    if isinstance(node, ast.Call):
        f = node.func
        return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None
    return None


def _kw(call: ast.Call) -> dict:
    return {k.arg: k.value for k in call.keywords if k.arg}


# -- Math-Verify / lighteval: compare_strings(gold, pred, ...) == expected, parametrized ---------------
def _compare_call(fn: ast.FunctionDef):
    for node in ast.walk(fn):
        if _call_name(node) in ("compare_strings", "verify") and isinstance(node, ast.Call):
            return node
    return None


def _options(call: ast.Call, params: dict, positional: list[str]) -> dict:
    """Source options of one case: match_types, precision, strict, allow_set_relation_comp."""
    opts = {}
    names = ["gold", "pred"] + positional
    for i, arg in enumerate(call.args[2:], 2):
        if i < len(names) and isinstance(arg, ast.Name) and arg.id in params:
            opts[names[i]] = params[arg.id]
        elif i < len(names):
            try:
                opts[names[i]] = literal(arg)
            except Skip:
                pass
    for k, v in _kw(call).items():
        if isinstance(v, ast.Name):
            if v.id in params:
                opts[k] = params[v.id]
            continue
        try:
            opts[k] = literal(v)
        except Skip:
            pass
    return opts


def mv_style(text: str, positional: list[str]) -> list[dict]:
    """Cases of Math-Verify / lighteval tests: compare_strings(gold, pred, ...) == expected."""
    tree = ast.parse(text)
    rows = []
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef) and n.name.startswith("test")]:
        call = _compare_call(fn)
        if call is None:
            continue
        params_dec = [
            d for d in fn.decorator_list if isinstance(d, ast.Call) and getattr(d.func, "attr", "") == "parametrize"
        ]
        if params_dec:
            dec = params_dec[0]
            argnames = [a.strip() for a in literal(dec.args[0]).split(",")]
            for elt in dec.args[1].elts:
                try:
                    values = literal(elt)
                except Skip:
                    continue
                params = dict(zip(argnames, values))
                if "NativeLetters" in (params.get("match_types") or []) + (
                    params.get("match_type") or []
                ) or fn.name in ("test_extraction_abc", "test_multilingual_extraction_abc"):
                    continue  # multiple-choice index extraction: another task (see README)
                gold, pred = params.get("gold"), params.get("pred")
                expected = params.get("expected", params.get("result"))
                if gold is None or pred is None or expected is None:
                    continue
                opts = _options(call, params, positional)
                if "match_type" in params:
                    opts["match_types"] = params["match_type"]
                if "language" in params:
                    opts["language"] = params["language"]
                rows.append(
                    dict(
                        test=fn.name,
                        line=elt.lineno,
                        reference=str(gold),
                        prediction=str(pred),
                        expected=bool(expected),
                        options=opts,
                    )
                )
        else:  # plain asserts: assert compare_strings("a", "b", ...) == 1
            for node in ast.walk(fn):
                if isinstance(node, ast.Compare) and _call_name(node.left) == "compare_strings":
                    c = node.left
                    try:
                        gold, pred = literal(c.args[0]), literal(c.args[1])
                        expected = literal(node.comparators[0])
                    except (Skip, IndexError):
                        continue
                    rows.append(
                        dict(
                            test=fn.name,
                            line=node.lineno,
                            reference=gold,
                            prediction=pred,
                            expected=bool(expected),
                            options=_options(c, {}, positional),
                        )
                    )
    return rows


# -- NeMo-Skills: pairs that must be equal / unequal both ways -------------------------------------------
def nemo(text: str) -> list[dict]:
    tree = ast.parse(text)
    rows = []
    for fn in [n for n in tree.body if isinstance(n, ast.FunctionDef)]:
        dec = next((d for d in fn.decorator_list if isinstance(d, ast.Call)), None)
        if dec is None:
            continue
        expected = "incorrect" not in fn.name
        for elt in dec.args[1].elts:
            try:
                a, b = literal(elt)
            except Skip:
                continue
            if a is None or b is None:
                continue
            # math_equal(gt, pred) is called both ways
            for gt, pred in ((a, b), (b, a)):
                rows.append(
                    dict(
                        test=fn.name,
                        line=elt.lineno,
                        reference=str(gt),
                        prediction=str(pred),
                        expected=expected,
                        options={},
                    )
                )
    return rows


# -- Hendrycks MATH: unittest methods with test_in / test_out and assertTrue/assertFalse ---------------
def hendrycks(text: str) -> list[dict]:
    tree = ast.parse(text)
    rows = []
    for node in ast.walk(tree):
        if not (isinstance(node, ast.FunctionDef) and node.name.startswith("test")):
            continue
        vals = {}
        for st in node.body:
            if isinstance(st, ast.Assign) and isinstance(st.targets[0], ast.Name):
                try:
                    vals[st.targets[0].id] = literal(st.value)
                except Skip:
                    pass
            elif isinstance(st, ast.Expr) and _call_name(st.value) in ("assertTrue", "assertFalse"):
                rows.append(
                    dict(
                        test=node.name,
                        line=st.lineno,
                        prediction=vals["test_in"],
                        reference=vals["test_out"],
                        expected=_call_name(st.value) == "assertTrue",
                        options={},
                    )
                )
    return rows


# -- DART-Math: test_eq(math_evaluator.eq(ref, pred[, compare_sets]), bool) in the nbdev notebook -------
def dart(text: str) -> list[dict]:
    nb = json.loads(text)
    rows = []
    for ci, cell in enumerate(nb["cells"]):
        if cell["cell_type"] != "code":
            continue
        src = "".join(cell["source"])
        try:
            tree = ast.parse("\n".join(l for l in src.splitlines() if not l.lstrip().startswith(("%", "!"))))
        except SyntaxError:
            continue
        for node in ast.walk(tree):
            if _call_name(node) != "test_eq" or len(node.args) != 2:
                continue
            inner, want = node.args
            name = _call_name(inner)
            try:
                expected = literal(want)
            except Skip:
                continue
            if name == "eq":
                try:
                    args = [literal(a) for a in inner.args]
                    kws = {k: literal(v) for k, v in _kw(inner).items()}
                except Skip:
                    continue
                ref, pred = args[0], args[1]
                if isinstance(ref, list):  # [text, numeric value]: the text is the reference
                    ref = ref[0]
                opts = {}
                if len(args) > 2:
                    opts["compare_sets"] = args[2]
                opts.update(kws)
                rows.append(
                    dict(
                        test=f"cell {ci}: eq",
                        line=node.lineno,
                        reference=str(ref),
                        prediction=str(pred),
                        expected=bool(expected),
                        options=opts,
                    )
                )
            elif name in ("norm_pm", "norm_deg") and isinstance(expected, str):
                # a normalization is an equivalence claim: its input equals its output
                try:
                    arg = literal(inner.args[0])
                except Skip:
                    continue
                rows.append(
                    dict(
                        test=f"cell {ci}: {name}",
                        line=node.lineno,
                        reference=expected,
                        prediction=arg,
                        expected=True,
                        options={"normalization": name},
                    )
                )
    return rows


# -- Qwen2.5-Math: the commented pred/gt pairs of _test_math_equal (no verdict given) ------------------
def qwen(text: str) -> list[dict]:
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("def _test_math_equal"))
    rows = []
    pending: dict = {}
    for i in range(start + 1, len(lines)):
        code = lines[i].strip().lstrip("#").strip()
        if code.startswith("if __name__") or code.startswith("def "):
            break
        if not code:
            continue
        try:
            tree = ast.parse(code.replace(", gt =", "\ngt ="))
        except SyntaxError:
            continue
        for st in tree.body:
            value = st.value if isinstance(st, (ast.Assign, ast.Expr)) else None
            if isinstance(st, ast.Expr) and _call_name(value) == "print" and _call_name(value.args[0]) == "math_equal":
                try:
                    pred, gt = (literal(a) for a in value.args[0].args[:2])
                except Skip:
                    continue
                rows.append(
                    dict(test="_test_math_equal", line=i + 1, prediction=pred, reference=gt, expected=None, options={})
                )
            elif (
                isinstance(st, ast.Assign)
                and isinstance(st.targets[0], ast.Name)
                and st.targets[0].id in ("pred", "gt")
            ):
                try:
                    pending[st.targets[0].id] = (literal(value), i + 1)
                except Skip:
                    continue
                if "pred" in pending and "gt" in pending:
                    rows.append(
                        dict(
                            test="_test_math_equal",
                            line=min(pending["pred"][1], pending["gt"][1]),
                            prediction=pending["pred"][0],
                            reference=pending["gt"][0],
                            expected=None,
                            options={},
                        )
                    )
                    pending = {}
    return rows


# -- PRM800K: no grader tests; our pairs, one per documented rule, labelled by its grade_answer ---------
PRM800K_FILES = ("prm800k/grading/grader.py", "prm800k/grading/math_normalize.py")
PRM800K_PAIRS = [  # (prediction, reference, file index, line, the rule that line documents)
    ("7 3/4", "\\frac{31}{4}", 0, 87, "mixed numbers: 7 3/4 => 7+3/4"),
    ("2/4", "1/2", 0, 276, "fractions that are not reduced are not correct"),
    ("\\frac{2}{4}", "\\frac{1}{2}", 0, 276, "fractions that are not reduced are not correct"),
    ("\\sqrt{4}", "2", 0, 280, "an integer ground truth needs a strict match (no sympy.simplify)"),
    ("3 or 5", "3, 5", 0, 119, "' or ' and ' and ' become commas"),
    ("5 million", "5000000", 0, 122, "million becomes *10^6"),
    ("5 meters", "5", 0, 130, "unit words are removed"),
    ("90^\\circ", "90", 0, 145, "degree signs are removed"),
    ("\\text{Monday}", "Monday", 0, 110, "an enclosing \\text{} is removed"),
    ("YES", "yes", 0, 170, "text answers are not case sensitive"),
    ("(2,1)", "(1,2)", 0, 267, "tuples compare element by element, in order"),
    ("[1,2]", "(1,2)", 0, 267, "a tuple's brackets must match"),
    ("1,000", "1000", 0, 94, "properly formatted thousands commas are removed"),
    ("x^2+2x+1", "(x+1)^2", 0, 208, "sympy.simplify of the difference is 0"),
    ("3.0", "3", 0, 208, "a float that is an integer"),
    ("1/3", "0.333333", 0, 208, "a rounded decimal is not the fraction (sympy difference is not 0)"),
    ("2, 1", "1, 2", 0, 247, "a bare list: string comparison after normalization"),
    ("\\frac12", "\\frac{1}{2}", 1, 151, "\\frac12 --> \\frac{1}{2}"),
    ("\\frac1b", "\\frac{1}{b}", 1, 151, "\\frac1b --> \\frac{1}{b}"),
    ("\\frac1{72}", "\\frac{1}{72}", 1, 151, "\\frac1{72} --> \\frac{1}{72}"),
    ("0.5", "\\frac{1}{2}", 1, 154, "0.5 --> \\frac{1}{2}"),
    ("\\sqrt3", "\\sqrt{3}", 1, 145, "sqrt3 --> sqrt{3}"),
    (".5", "0.5", 1, 131, "' .' is ' 0.'"),
    ("k = 5", "5", 1, 140, "a short 'k = ' prefix is dropped"),
    ("10\\%", "10", 1, 127, "percent signs are removed"),
    ("\\$10", "10", 1, 121, "dollar signs are removed"),
    ("\\left(1,2\\right)", "(1,2)", 1, 112, "\\left and \\right are removed"),
    ("\\dfrac{3}{4}", "\\frac34", 1, 107, "dfrac and tfrac are frac"),
]
_PRM_RUNNER = """
import json, sys
sys.path.insert(0, sys.argv[1])
from grading.grader import grade_answer
pairs = json.load(sys.stdin)
print(json.dumps([bool(grade_answer(p, r)) for p, r in pairs]))
"""


def prm800k(mirror: Path, commit: str) -> list[dict]:
    """Label PRM800K_PAIRS with PRM800K's own grade_answer, run from a temporary export of its
    grading/ folder (needs sympy and pylatexenc importable; nothing of it is kept)."""
    import os
    import sys
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        for path in PRM800K_FILES:
            dest = Path(tmp) / "grading" / Path(path).name
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_text(git_show(mirror, commit, path), encoding="utf-8")
        (Path(tmp) / "grading" / "__init__.py").write_text("")
        out = subprocess.run(
            [sys.executable, "-c", _PRM_RUNNER, tmp],
            input=json.dumps([p[:2] for p in PRM800K_PAIRS]),
            capture_output=True,
            text=True,
            check=True,
            env=dict(os.environ),
        )
    verdicts = json.loads(out.stdout)
    return [
        dict(
            test=rule,
            line=line,
            path=PRM800K_FILES[fi],
            prediction=p,
            reference=r,
            expected=v,
            options={},
            label_origin="PRM800K ships no grader tests: the pair is ours, written to exercise the rule this line "
            "documents; expected is the verdict of its grade_answer at that commit (run locally, not "
            "committed)",
        )
        for (p, r, fi, line, rule), v in zip(PRM800K_PAIRS, verdicts)
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mirrors", default="/work/.mirror", type=Path)
    ap.add_argument("--out", default=Path(__file__).parent, type=Path)
    args = ap.parse_args()
    disputes_path = args.out / "labels.jsonl"
    labels = {}
    if disputes_path.exists():
        for line in disputes_path.read_text(encoding="utf-8").splitlines():
            if line.strip():
                d = json.loads(line)
                labels[d["id"]] = d
    for name, src in SOURCES.items():
        mirror = args.mirrors / src["mirror"] / "repo"
        commit = head(mirror)
        rows = prm800k(mirror, commit) if name == "prm800k" else []
        for path in src["files"]:
            text = git_show(mirror, commit, path)
            if name in ("math_verify", "lighteval"):
                positional = (
                    ["language", "match_types", "precision"] if name == "lighteval" else ["match_types", "precision"]
                )
                got = mv_style(text, positional)
            else:
                got = {"nemo_skills": nemo, "hendrycks_math": hendrycks, "dart_math": dart, "qwen25_math": qwen}[name](
                    text
                )
            for r in got:
                r.setdefault("path", path)
            rows.extend(got)
        out = args.out / f"{name}.jsonl"
        seen = set()
        with open(out, "w", encoding="utf-8") as f:
            for r in rows:
                key = (r["prediction"], r["reference"], r["expected"], json.dumps(r["options"], sort_keys=True))
                if key in seen:  # the same case listed twice in one source
                    continue
                seen.add(key)
                rid = f"{name}-{len(seen):04d}"
                row = {
                    "id": rid,
                    "prediction": r["prediction"],
                    "reference": r["reference"],
                    "expected": r["expected"],
                    "options": r["options"],
                    "source": f"{src['repo']} @ {commit} : {r['path']} : line {r['line']} ({r['test']})",
                    "license": src["license"],
                }
                if "label_origin" in r:
                    row["label_origin"] = r["label_origin"]
                lab = labels.get(rid)
                if lab is not None:
                    if lab.get("prediction") not in (None, row["prediction"]) or lab.get("reference") not in (
                        None,
                        row["reference"],
                    ):
                        raise SystemExit(f"{rid}: labels.jsonl names another case; re-check it by hand")
                    for k2 in ("verdict", "dispute", "known_failure"):
                        if k2 in lab:
                            row[k2] = lab[k2]
                f.write(json.dumps(row, ensure_ascii=False) + "\n")
        print(f"{name}: {len(seen)} cases from {src['repo']} @ {commit[:12]} -> {out}")


if __name__ == "__main__":
    main()
