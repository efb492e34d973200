"""Path signatures for distinct-path dedupe, and the MinHash near-duplicate index."""

import re

import numpy as np
import pytest

from scalemath.methods.signatures import (
    NearDupIndex,
    canonical_expression,
    distinct,
    get_signature,
    latex_equations,
    lsh_params,
    math_spans,
    ngram_hashes,
    tokens,
)

GSM = "Janet sells 16 - 3 - 4 = <<16-3-4=9>>9 duck eggs a day.\nShe makes 9 * 2 = $<<9*2=18>>18 every day.\n#### 18"
MATH = (
    "The denominator factors: $x^2+x-6=(x-2)(x+3)$. It is zero when \\(x = 2\\) or $x=-3$, so "
    "\\[\\left( \\dfrac{1}{2} \\right) \\cdot 4 = 2\\]. The graph has $\\boxed{2}$ asymptotes."
)


def test_equations_is_the_papers_formula():
    sig = get_signature("equations")
    paper = "|".join(re.findall(r"<<([^>]*)>>", GSM)).replace(" ", "")
    assert sig(GSM) == paper == "16-3-4=9|9*2=18"
    assert sig("no annotations here") == ""


def test_latex_equations():
    spans = math_spans(MATH)
    assert spans[0] == "x^2+x-6=(x-2)(x+3)" and "\\boxed{2}" in spans
    assert latex_equations(MATH) == ["x^2+x-6=(x-2)(x+3)", "x=2", "x=-3", "(\\frac{1}{2})*4=2"]
    sig = get_signature("latex_equations")
    assert sig(MATH) == sig(MATH.replace("$x=-3$", "$x = -3$").replace("\\cdot", "\\times"))
    assert sig(MATH) != sig(MATH.replace("x = 2", "x = 3"))
    env = "\\begin{align*} a &= 3 \\\\ b &= a + 1 \\end{align*}"
    assert latex_equations(env) == ["a=3", "b=a+1"]


def test_expressions_ignore_order_and_commutation():
    sig = get_signature("expressions")
    a = "She makes 9 * 2 = 18 dollars, and 3 + 4 = 7, then (2 + 3) * 4 = 20."
    b = "First 4 + 3 = 7. Then 4 x (3 + 2) = 20 and 2 x 9 = 18."
    c = "She makes 9 * 2 = 18 dollars, and 3 + 5 = 8."
    assert sig(a) == sig(b) != sig(c)
    assert canonical_expression("(2+3)*4") == canonical_expression("4*(3+2)") == "(2+3)*4"
    assert canonical_expression("10-3") != canonical_expression("3-10")
    annotated = "<<3+4=7>> then <<4*2=8>>"
    assert sig(annotated) == sig("<<2*4=8>> <<4+3=7>>")


def test_auto_picks_by_text():
    auto = get_signature("auto")
    assert auto(GSM) == get_signature("equations")(GSM)
    assert auto(MATH) == get_signature("latex_equations")(MATH)
    plain = "3 + 4 = 7 so the answer is 7"
    assert auto(plain) == get_signature("expressions")(plain)


def test_neardup_index_add_semantics():
    idx = NearDupIndex(threshold=0.7, num_perm=128, ngram=3)
    base = "Tom buys 3 apples at the market and then gives 2 apples to his sister Mia after lunch today"
    assert idx.add("a", base) is True
    assert idx.add("b", base + " again") is False and idx.last_match == "a"
    assert idx.add("c", "A train travels 60 miles per hour for 3 hours; how far does it go in total?") is True
    assert len(idx) == 2
    assert [k for k, _ in idx.query(base)] == ["a"]


def test_minhash_signature_groups_near_duplicates():
    sig = get_signature("minhash", threshold=0.6, ngram=3)
    texts = [
        "First she buys 4 boxes of 6 eggs, which is 24 eggs. Then she uses 5 eggs, leaving 19 eggs.",
        "First she buys 4 boxes of 6 eggs, which is 24 eggs. Then she uses 5 eggs, leaving 19 eggs!",
        "Each box holds 6 eggs so 4 boxes hold 24; after using 5 there are 19 left.",
    ]
    keys = [sig(t) for t in texts]
    assert keys[0] == keys[1] != keys[2]
    assert distinct(texts, get_signature("minhash", threshold=0.6, ngram=3)) == [0, 2]


def test_minhash_estimate_tracks_jaccard():
    idx = NearDupIndex(threshold=0.5, num_perm=256, ngram=1)
    a = " ".join(f"w{i}" for i in range(100))
    b = " ".join(f"w{i}" for i in range(50, 150))  # Jaccard 50/150 = 1/3
    sa, sb = idx.signature(a), idx.signature(b)
    assert abs(np.mean(sa == sb) - 1 / 3) < 0.1


def test_tokens_and_hashes_are_stable():
    assert tokens("Tom's 3 dogs ate 1,200 treats; twice!", mask_numbers=True) == [
        "tom",
        "s",
        "<num>",
        "dogs",
        "ate",
        "<num>",
        "treats",
        "<num>",
    ]
    h = ngram_hashes(tokens("a b c d e f"), 3)
    assert len(h) == 4 and h.dtype == np.uint64
    assert int(h[0]) == int(ngram_hashes(["a", "b", "c"], 3)[0])  # deterministic (blake2b word ids)
    assert len(ngram_hashes(["a"], 3)) == 1 and len(ngram_hashes(["a"], 3, short=False)) == 0


def test_lsh_params_and_registry_errors():
    b, r = lsh_params(0.8, 128)
    assert b * r <= 128 and r > 1
    with pytest.raises(ValueError, match="unknown signature"):
        get_signature("bogus")
    with pytest.raises(ValueError, match="takes no options"):
        get_signature("equations", threshold=0.5)


def test_latex_signature_without_relations_uses_math_spans():
    sig = get_signature("latex_equations")
    a = "Multiply out: $\\dfrac{3}{4} \\cdot 8$ gives $6$, so the answer is $\\boxed{6}$."
    b = "Multiply out: $\\frac{3}{4}\\times 8$ gives $6$; the answer is $\\boxed{6}$."
    c = "Add: $3 + 3$ gives $6$, so the answer is $\\boxed{6}$."
    assert sig(a) == sig(b) == "\\frac{3}{4}*8|6|\\boxed{6}" != sig(c)
