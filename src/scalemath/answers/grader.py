"""`grade(prediction, reference)`: the one entry point every metric and the RFT collector use."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .boxes import boxed_answer
from .clean import clean_latex, is_text_answer, unit_word
from .compare import Pending, ast_of, compare, prepare
from .extract import extract, extract_gsm8k, extract_math, strip_debris
from .numbers import Num, number_entry, numbers_equal
from .policy import DEFAULT_POLICY, GradePolicy, make_policy, with_question
from .spans import clean_answer, unitless_number_entry
from .verdict import ERROR, MATCH, MISMATCH, NO_ANSWER, NO_REFERENCE, TIMEOUT, Verdict

_DATASETS = ("auto", "gsm8k", "math")
DATASETS = _DATASETS  # the answer conventions a command may name (--dataset)
_CACHE_MAX = 200_000
# per dataset: reference text -> (answer, parsed plain number or None, resolved dataset)
_REF_CACHE: dict[str, dict[str, tuple[str | None, Num | None, str]]] = {d: {} for d in _DATASETS}


def _as_number(ans: str) -> Num | None:
    """A plain number, also after dropping trailing unit words ("18 dollars")."""
    entry = unitless_number_entry(ans)
    return entry[0] if entry is not None else None


def _parse_reference(reference: str, dataset: str) -> tuple[str | None, Num | None, str]:
    entry = number_entry(reference)
    if entry is not None:
        # "377,610" stays as written: it may also be read as the list 377, 610 ("377, 610" is that)
        written = reference.strip() if "," in reference and dataset != "gsm8k" else entry[1]
        out: tuple[str | None, Num | None, str] = (written, entry[0], "gsm8k" if dataset == "auto" else dataset)
    else:
        ans = extract(reference, dataset)
        resolved = dataset
        num = _as_number(ans) if ans is not None else None
        if dataset == "auto":
            resolved = "gsm8k" if ("####" in reference or (num is not None and "\\boxed" not in reference)) else "math"
        out = (ans, num, resolved)
    cache = _REF_CACHE[dataset]
    if len(cache) >= _CACHE_MAX:
        cache.clear()
    cache[reference] = out
    return out


_MARKERS = ("\\boxed", "\\fbox", "####", "answer", "Answer", "ANSWER")


def _has_marker(text: str) -> bool:
    return any(m in text for m in _MARKERS)


def _words_only(ans: str) -> bool:
    """Letters and spaces only, no digits or LaTeX: a word answer such as "Monday"."""
    return is_text_answer(clean_latex(ans)) and not any(ch.isdigit() for ch in ans)


def grade(
    prediction: str,
    reference: str,
    dataset: str = "auto",
    *,
    question: str | None = None,
    finish_reason: str | None = None,
    **policy,
) -> Verdict:
    """Grade one prediction against one reference.

    Args:
        prediction: a full solution text (its final answer is extracted, see `extract`) or a bare
            answer.
        reference: a full solution text (a GSM8K "... #### 18", a MATH solution with \\boxed{}) or
            a bare answer.
        dataset: "gsm8k", "math" or "auto" (GSM8K extraction rules when the reference is a plain
            number or has "####", MATH rules otherwise).
        question: the question's text, when known. Two things are read from it: a question that
            asks for its answers in a stated order ("in increasing order", "from least to
            greatest", "in alphabetical order") makes the default unordered lists ordered
            (`policy.asks_for_order`; docs/grading.md, "Lists"), and an answer that is one of the
            question's own expressions, where the reference is not, computed nothing and is a
            mismatch (`restates_question`; docs/grading.md, "An answer that restates the question").
        finish_reason: why the model stopped, when known ("stop", "length", ...). "length": the
            completion was cut off by the token limit before its final statement, so only an
            answer given by a marker (`####`, `\\boxed{}`, "The answer is", "Final Answer", `# Answer`)
            counts, never its last number or math span (docs/grading.md, "The final statement").
        **policy: options of `GradePolicy`: rel_tol, abs_tol, decimal_places, percent,
            equation_rhs, symbolic, timeout_s.

    Returns:
        a `Verdict`. Bad input text never raises (reason "error" at worst) and a slow symbolic check
        ends with reason "timeout" after `timeout_s`; an unknown dataset or policy option raises.
    """
    pol = make_policy(policy) if policy else DEFAULT_POLICY
    if dataset not in _DATASETS:
        raise ValueError(f"dataset must be one of {_DATASETS}, not {dataset!r}")
    out = grade_in_context(prediction, reference, dataset, pol, question, finish_reason)
    return resolve(out, pol.timeout_s) if isinstance(out, Deferred) else out


def grade_context(question: object = None, meta: object = None) -> tuple[str | None, str | None]:
    """(question, finish_reason) for `grade`, from a sample's `question` and `meta` fields: the one
    place that reads them, for `scalemath sample`, `grade_samples` and `scalemath grade` alike.
    The finish reason is `meta["finish_reason"]` (as `Sample.meta` stores it); an empty or
    non-text value counts as not given."""
    q = question if isinstance(question, str) and question else None
    finish = meta.get("finish_reason") if isinstance(meta, dict) else None
    return q, finish if isinstance(finish, str) and finish else None


def grade_in_context(
    prediction: str,
    reference: str,
    dataset: str,
    pol: GradePolicy,
    question: str | None = None,
    finish_reason: str | None = None,
) -> Verdict | Deferred:
    """`grade_fast` for one case with what is known about it: the question's text (it may make
    lists ordered) and the finish reason ("length": cut off, only a marked answer counts)."""
    if question:
        pol = with_question(pol, question)
    out = grade_fast(prediction, reference, dataset, pol, cut_off=finish_reason == "length")
    if (
        question
        and (isinstance(out, Deferred) or out.correct)
        and restates_question(out.extracted, out.reference, question)
    ):
        return Verdict(False, MISMATCH, out.extracted, out.reference)
    return out


# the math spans of a question: $$...$$, $...$, \(...\), \[...\] (an escaped dollar is not one)
_QUESTION_SPAN = re.compile(r"\$\$(.+?)\$\$|\$(.+?)\$|\\\((.+?)\\\)|\\\[(.+?)\\\]", re.DOTALL)
_RELATION = re.compile(r"[=<>≤≥]|\\(?:le|ge|leq|geq|ne|neq|in|lt|gt|approx)(?![a-zA-Z])")
_SPAN_KEYS: dict[str, frozenset[str]] = {}


def _form(ans: str) -> str:
    """An answer's written form, not its value: its parse tree (`\\frac58` and `\\dfrac{5}{8}` are
    one form; `2+3` and `5` are two), else its cleaned text without spaces."""
    p = prepare(ans)
    tree = ast_of(p)
    return repr(tree) if tree is not None else p.key


def _question_forms(question: str) -> frozenset[str]:
    hit = _SPAN_KEYS.get(question)
    if hit is None:
        spans = (
            next(g for g in m.groups() if g is not None) for m in _QUESTION_SPAN.finditer(question.replace("\\$", ""))
        )
        hit = frozenset(_form(sp) for sp in spans if sp.strip() and len(sp) <= 400)
        if len(_SPAN_KEYS) >= _CACHE_MAX:
            _SPAN_KEYS.clear()
        _SPAN_KEYS[question] = hit
    return hit


def _literal(tree: tuple) -> bool:
    """A number as written: an integer, decimal or fraction of two of them, signed or not (a value,
    not an operation left undone)."""
    if tree[0] == "neg":
        tree = tree[1]
    if tree[0] == "div":
        return all(isinstance(t, tuple) and t[0] == "num" for t in tree[1:])
    return tree[0] == "num"


def restates_question(answer: str | None, reference: str | None, question: str) -> bool:
    """Is `answer` one of the question's own expressions, written as the question writes it, where
    the reference is not? ("Compute $\\sin 90^\\circ$." answered "$\\sin 90^\\circ$": equal to 1
    in value, but nothing was computed.) A number as written (`7`, `-\\frac{5}{8}`), a word answer
    and an equation or relation never count, and a reference that the question itself writes (a
    choice among its expressions: "Which is larger, $\\sqrt{5}$ or $2^{1.2}$?") turns the rule
    off (docs/grading.md, "An answer that restates the question")."""
    if not answer or not reference or ("$" not in question and "\\(" not in question and "\\[" not in question):
        return False
    try:
        p = prepare(answer)
        if p.num is not None or p.text is not None or p.ast is None or _literal(p.ast) or _RELATION.search(p.clean):
            return False
        forms = _question_forms(question)
        return bool(forms) and repr(p.ast) in forms and _form(reference) not in forms
    except Exception:  # an unreadable question leaves the verdict as it was
        return False


@dataclass(frozen=True, slots=True)
class Deferred:
    """A grade waiting for the symbolic stage: `checks` are (prediction, reference, extracted)
    triples tried in order; the first that the symbolic stage finds equal makes it a match."""

    checks: tuple[tuple[str, str, str | None], ...]
    extracted: str
    reference: str


def resolve(d: Deferred, timeout_s: float) -> Verdict:
    """Run a deferred grade's symbolic checks (Math-Verify in a worker process)."""
    from .symbolic import symbolic_equal

    timed_out = False
    try:
        for pred, ref, extracted in d.checks:
            out = symbolic_equal(pred, ref, timeout_s)
            if out:
                return Verdict(True, MATCH, extracted, d.reference)
            timed_out = timed_out or out is None
    except Exception:
        return Verdict(False, ERROR, d.extracted, d.reference)
    return Verdict(False, TIMEOUT if timed_out else MISMATCH, d.extracted, d.reference)


def grade_fast(
    prediction: str, reference: str, dataset: str, pol: GradePolicy, cut_off: bool = False
) -> Verdict | Deferred:
    """`grade` without the symbolic stage: a Verdict, or a `Deferred` for `resolve` (bulk grading
    resolves those in the parent process while the pool keeps grading). `cut_off`: the prediction
    was cut off by the length limit (`grade`'s finish_reason="length")."""
    pred_ans = ref_ans = None
    try:
        if isinstance(reference, str) and reference:
            hit = _REF_CACHE[dataset].get(reference)
            ref_ans, ref_num, ds = hit if hit is not None else _parse_reference(reference, dataset)
        else:
            ref_num, ds = None, dataset
        last_box = None
        num: Num | None
        if isinstance(prediction, str) and prediction:
            entry = number_entry(prediction) if len(prediction) < 64 and not cut_off else None
            if entry is not None:  # fast path: a bare number
                num, pred_ans = entry
            else:
                text = strip_debris(prediction)
                if ds == "gsm8k":
                    pred_ans = extract_gsm8k(text, cut_off)
                else:
                    pred_ans = extract_math(text, cut_off)
                    box = boxed_answer(text)
                    if box is not None and box[0] != box[1] and pred_ans == clean_answer(box[0]):
                        last_box = box[1]
                num = None if pred_ans is None else _as_number(pred_ans)
        else:
            num = None
        if ref_ans is None:
            return Verdict(False, NO_REFERENCE, pred_ans, None)
        if pred_ans is None:
            return Verdict(False, NO_ANSWER, None, ref_ans)
        if pol.units == "match":
            ua, ub = unit_word(pred_ans), unit_word(ref_ans)
            if ua and ub and ua != ub:
                return Verdict(False, MISMATCH, pred_ans, ref_ans)
        if num is not None and ref_num is not None:
            ok = numbers_equal(num, ref_num, pol.rel_tol, pol.abs_tol, pol.percent, pol.decimal_places, pol.decimals)
            return Verdict(ok, MATCH if ok else MISMATCH, pred_ans, ref_ans)
        if ds != "gsm8k" and _words_only(pred_ans) and not _has_marker(prediction) and not _words_only(ref_ans):
            # a few bare words ("no idea") where a math answer is due: no answer was given
            return Verdict(False, NO_ANSWER, None, ref_ans)
        first = compare(pred_ans, ref_ans, pol, defer=True)
        if not isinstance(first, Pending) and first[0]:
            return Verdict(True, MATCH, pred_ans, ref_ans)
        alt = None
        if last_box is not None and pol.last_box:
            # several boxed parts ("\boxed{3} or \boxed{5}"): the last box alone is the answer
            # in the usual last-\boxed convention
            alt = compare(last_box, ref_ans, pol, defer=True)
            if not isinstance(alt, Pending) and alt[0]:
                return Verdict(True, MATCH, last_box, ref_ans)
        checks = tuple((c.pred, c.ref, ex) for c, ex in ((first, pred_ans), (alt, last_box)) if isinstance(c, Pending))
        if checks:
            return Deferred(checks, pred_ans, ref_ans)
        if isinstance(first, Pending):  # never: a Pending `first` is in `checks`
            raise TypeError("'Pending' object is not subscriptable")
        return Verdict(False, first[1], pred_ans, ref_ans)
    except Exception:
        return Verdict(False, ERROR, pred_ans, ref_ans)
