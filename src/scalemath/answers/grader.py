"""`grade(prediction, reference)`: the one entry point every metric and the RFT collector use."""
from __future__ import annotations

from .extract import extract, extract_gsm8k, extract_math
from .normalize import normalize, strip_units
from .numbers import Num, numbers_equal, parse_number
from .policy import DEFAULT_POLICY, GradePolicy, make_policy
from .verdict import ERROR, MATCH, MISMATCH, NO_ANSWER, NO_REFERENCE, Verdict

_DATASETS = ("auto", "gsm8k", "math")
_CACHE_MAX = 200_000
# reference text, dataset -> (answer, parsed number or None, resolved dataset)
_REF_CACHE: dict[tuple[str, str], tuple[str | None, Num | None, str]] = {}


def _as_number(ans: str, policy: GradePolicy) -> Num | None:
    num = parse_number(ans)
    if num is None and policy.units:
        stripped = strip_units(ans)
        if stripped is not ans:
            num = parse_number(stripped)
    return num


def _parse_reference(reference: str, dataset: str) -> tuple[str | None, Num | None, str]:
    key = (reference, dataset)
    hit = _REF_CACHE.get(key)
    if hit is not None:
        return hit
    num = parse_number(reference) if len(reference) < 64 else None
    if num is not None:
        out = (reference.strip(), num, "gsm8k" if dataset == "auto" else dataset)
    else:
        ans = extract(reference, dataset)
        resolved = dataset
        num = _as_number(ans, DEFAULT_POLICY) if ans is not None else None
        if dataset == "auto":
            resolved = "gsm8k" if (num is not None or "####" in reference) else "math"
        out = (ans, num, resolved)
    if len(_REF_CACHE) >= _CACHE_MAX:
        _REF_CACHE.clear()
    _REF_CACHE[key] = out
    return out


def grade(prediction: str, reference: str, dataset: str = "auto", **policy) -> Verdict:
    """Grade one prediction against one reference.

    Args:
        prediction: a full solution text (the final answer is extracted) or a bare answer.
        reference: a full solution text (e.g. a GSM8K "... #### 18" or a MATH solution with
            \\boxed{}) or a bare answer.
        dataset: "gsm8k", "math" or "auto" (GSM8K rules when the reference is a number or has ####).
        **policy: options of `GradePolicy` (rel_tol, abs_tol, percent, units, equation_rhs,
            symbolic, timeout_s).

    Returns:
        a `Verdict`; never raises on bad input text (reason "error" instead), but does raise
        TypeError/ValueError for an unknown dataset or policy option.
    """
    pol = make_policy(policy) if policy else DEFAULT_POLICY
    if dataset not in _DATASETS:
        raise ValueError(f"dataset must be one of {_DATASETS}, not {dataset!r}")
    try:
        ref_ans, ref_num, ds = _parse_reference(reference, dataset) if reference else (None, None, dataset)
        if prediction:
            num = parse_number(prediction) if len(prediction) < 64 else None
            if num is not None:  # fast path: a bare number
                pred_ans = prediction.strip()
            else:
                pred_ans = extract_gsm8k(prediction) if ds == "gsm8k" else extract_math(prediction)
                num = None if pred_ans is None else _as_number(pred_ans, pol)
        else:
            pred_ans, num = None, None
        if ref_ans is None:
            return Verdict(False, NO_REFERENCE, pred_ans, None)
        if pred_ans is None:
            return Verdict(False, NO_ANSWER, None, ref_ans)
        if num is not None and ref_num is not None:
            ok = numbers_equal(num, ref_num, pol.rel_tol, pol.abs_tol, pol.percent)
        else:
            ok = _compare(pred_ans, ref_ans, pol)
        return Verdict(ok, MATCH if ok else MISMATCH, pred_ans, ref_ans)
    except Exception:  # noqa: BLE001 - a grader must not take down a bulk run
        return Verdict(False, ERROR, None, None)


def _compare(pred: str, ref: str, policy: GradePolicy) -> bool:
    """Non-numeric answers: normalized string equality (extended by the MATH stages)."""
    return normalize(pred) == normalize(ref)
