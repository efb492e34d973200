"""The final-answer forms real models write, one named regression test per class.

Every case here was written for this file (none is copied from a corpus). The policy each class
follows is in docs/grading.md ("Where the answer is" and "No answer").
"""

import pytest

from scalemath.answers import extract, grade


def ok(pred, ref, dataset="math", **kw):
    return grade(pred, ref, dataset, **kw)


# -- final answers outside a box -----------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["math", "gsm8k"])
def test_prm800k_answer_heading(dataset):
    text = "First 2*7 = 14, then half of it is 7.\nSo the ratio is 3/4 of the whole.\n\n# Answer\n\n\\frac{3}{4}"
    assert extract(text, dataset) in ("\\frac{3}{4}", "3/4")
    assert ok(text, "\\frac34", dataset).correct
    assert not ok(text, "4", dataset).correct  # the last number (4) is not the answer
    # the value on the heading's own line, and a heading with nothing under it (cut off)
    assert ok("x = 9 - 2 = 7\n# Answer: 7", "7", dataset).correct
    assert ok("so 6 + 1 = 7\n\n# Answer\n", "7", dataset).reason == "no_answer"


def test_answer_is_colon():
    assert extract("We get 5 + 9 = 14 pencils.\nThe answer is: 14.", "gsm8k") == "14"
    assert ok("Adding, 10 + 4 = 14 and 2 are left.\nThe answer is: 14.", "14").correct


@pytest.mark.parametrize("dataset", ["math", "gsm8k"])
def test_bold_markdown_answer(dataset):
    assert ok("Tom had 3 + 5 = 8 marbles, 2 of them blue.\n\n**8**", "8", dataset).correct
    assert ok("She needs 62 / 2 = 31 hours over 2 weeks.\n\n**Maria needs at least 31 hours**", "31", dataset).correct
    assert not ok("**Step 1:** 4 * 6 = 24\n**Step 2:** 24 - 5 = 19\n\n**19**", "24", dataset).correct


def test_closing_sentence_states_the_value():
    # an equation whose left side names the quantity asked for: its value is the answer
    assert ok("We get y = 2\\sqrt5, so we square it.\nTherefore, \\(y^2 = 20\\).", "20").correct
    assert not ok("Therefore, \\(y^2 = 21\\).", "20").correct
    # several values stated at the end are one list
    text = "The discriminant is 64, so the two values follow.\nThe values of m are \\(m = 3\\) and \\(m = 11\\)."
    assert extract(text, "math") == "m = 3, m = 11"
    assert ok(text, "3, 11").correct and ok(text, "11,3").correct and not ok(text, "11").correct
    # a solution set
    assert ok("It factors as x(x-2)(x+2).\nSo the solution set is \\(x \\in \\{-2, 0, 2\\}\\).", "-2, 0, 2").correct
    assert not ok("So the solution set is \\(x \\in \\{-2, 0\\}\\).", "-2, 0, 2").correct


def test_final_multiple_choice_letter():
    text = "Option A gives 7 and option C gives 12, so only option B fits 3 < 4.\n\nB"
    assert extract(text, "math") == "B"
    assert ok(text, "\\text{(B)}").correct and not ok(text, "\\text{(C)}").correct
    assert ok("Checking all five, the answer is (D).", "\\textbf{(D)}").correct
    assert ok("Only one choice works.\n\n**(E)**", "E").correct


# -- labelled or equation answers in a box --------------------------------------------------------
def test_labelled_box():
    assert ok("Counting the paths, \\boxed{T(50, 7) = 12}", "12").correct
    assert not ok("\\boxed{T(50, 7) = 13}", "12").correct
    assert ok("\\boxed{\\cos\\alpha = \\frac{1+\\sqrt3}{4}}", "\\frac{1+\\sqrt{3}}{4}").correct
    assert not ok("\\boxed{\\cos\\alpha = \\frac{1-\\sqrt3}{4}}", "\\frac{1+\\sqrt{3}}{4}").correct
    assert ok("\\boxed{(p(x), q(x)) = (x, 2)}", "p(x)=x, q(x)=2").correct
    assert not ok("\\boxed{(p(x), q(x)) = (2, x)}", "p(x)=x, q(x)=2").correct
    # an equation that is not a label stays an equation
    assert not ok("\\boxed{x^2 + y^2 = 25}", "25").correct


# -- several values -------------------------------------------------------------------------------
def test_several_values():
    assert ok("The two numbers are \\boxed{377, 610}", "377,610").correct
    assert not ok("The two numbers are \\boxed{377, 611}", "377,610").correct
    assert ok("\\boxed{377610}", "377,610").correct  # read as one number it is that number too
    assert ok("\\boxed{x = 4 \\quad \\text{and} \\quad x = -3}", "4,-3").correct
    assert ok(
        "\\boxed{\\frac{\\pi}{4} + k\\pi, \\frac{3\\pi}{4} + k\\pi}", "x=\\frac{1}{4}\\pi+\\pi k, x=\\frac34\\pi+\\pi k"
    ).correct


def test_boxes_separated_by_a_divider_are_one_answer():
    # a run of one symbol between two boxes ("----", "***", "+++++") is a divider: it holds no
    # reasoning, so the earlier box is part of the answer, not an intermediate result
    assert extract("The sides are \\boxed{12} ---- \\boxed{7}", "math") == "12, 7"
    assert ok("The sides are \\boxed{12} ---- \\boxed{7}", "7, 12").correct
    assert ok("\\boxed{-2}\n\n***\n\n\\boxed{9}", "9, -2").correct
    assert ok("$\\\\boxed{3} +++++ \\\\boxed{11}$", "\\{3, 11\\}").correct  # backslashes doubled
    # the last box alone still counts (last_box), and a single operator is no divider
    assert ok("\\boxed{-2}\n\n---\n\n\\boxed{9}", "9").correct
    assert extract("so \\boxed{4} + \\boxed{6}", "math") == "6"
    assert extract("so \\boxed{4} = \\boxed{6}", "math") == "6"
    assert extract("so \\boxed{4} -- \\boxed{6}", "math") == "6"
    # words between the boxes are reasoning: the earlier box was intermediate
    assert extract("so \\boxed{4} --- which we double: \\boxed{8}", "math") == "8"


def test_ordered_lists_need_the_policy_switch():
    # a bare reference list is a list of solutions (any order) unless the policy says lists are
    # ordered: the reference's own order is no signal (MATH's "2, -3, 4" lists roots in any order)
    assert ok("\\boxed{4, -3, 2}", "2, -3, 4").correct
    assert ok("\\boxed{1, 5, 9}", "1,9,5").correct
    assert not ok("\\boxed{1, 5, 9}", "1,9,5", lists="ordered").correct
    assert ok("\\boxed{1, 9, 5}", "1,9,5", lists="ordered").correct


def test_ordered_lists_when_the_question_asks_for_an_order():
    # written for this test: a question that states the order of its answers makes a bare list
    # ordered; one that does not (or no question at all) leaves it a list of solutions
    down = "The three widths are whole numbers. Write them in decreasing order, separated by commas."
    up = "Find every value of $t$ with $t^2 = 49$ and list them from smallest to largest."
    assert not ok("So the widths are \\boxed{3, 8, 11}", "11, 8, 3", question=down).correct
    assert ok("So the widths are \\boxed{11, 8, 3}", "11, 8, 3", question=down).correct
    assert not ok("\\boxed{7, -7}", "-7, 7", question=up).correct
    assert ok("\\boxed{-7, 7}", "-7, 7", question=up).correct
    assert ok("Thus $t = -7$ or $t = 7$.", "-7, 7", question=up).correct
    # no stated order: any order, as before (and without a question)
    roots = "Find every value of $t$ with $t^2 = 49$. Enter them separated by commas."
    assert ok("\\boxed{7, -7}", "-7, 7", question=roots).correct
    assert ok("\\boxed{3, 8, 11}", "11, 8, 3").correct
    # an order phrase where the answer is one value changes nothing
    one = "The odd numbers are listed in increasing order. What is the fifth one listed?"
    assert ok("\\boxed{9}", "9", question=one).correct
    # an explicit policy is kept: "sets" stays sets, "ordered" stays ordered
    assert ok("\\boxed{3, 8, 11}", "11, 8, 3", question=down, lists="sets").correct
    assert not ok("\\boxed{7, -7}", "-7, 7", question=roots, lists="ordered").correct


def test_ordered_lists_from_the_question_field_in_bulk(tmp_path):
    import json

    from scalemath.answers.bulk import BulkConfig, grade_file

    q = "Write the two numbers in increasing order, separated by commas."
    rows = [
        {"completion": "\\boxed{5, 2}", "answer": "2, 5", "question": q},
        {"completion": "\\boxed{2, 5}", "answer": "2, 5", "question": q},
        {"completion": "\\boxed{5, 2}", "answer": "2, 5"},
    ]
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    grade_file(str(src), str(dst), "completion", "answer", BulkConfig(workers=1))
    got = [json.loads(line)["correct"] for line in dst.read_text().splitlines()]
    assert got == [False, True, True]
    grade_file(str(src), str(dst), "completion", "answer", BulkConfig(workers=1), question_field=None)
    assert [json.loads(line)["correct"] for line in dst.read_text().splitlines()] == [True, True, True]


def test_bulk_grade_reads_the_finish_reason_from_meta(tmp_path):
    # `scalemath grade` on a samples file: a line's meta.finish_reason is read as `sample` and
    # `grade_samples` read it (grader.grade_context), so a completion cut off by the length limit
    # counts only an answer a marker gave
    import json

    from scalemath.answers.bulk import BulkConfig, grade_file
    from scalemath.records import Sample
    from scalemath.sampling.run import grade_samples

    cut = "Each crate holds 6 jars, and there are 4 crates, so we multiply by 4"
    marked = "Each crate holds 6 jars and there are 4 crates. The answer is 24. Now we check 24 / 6 = 4"
    rows = [
        {"completion": cut, "answer": "4", "meta": {"finish_reason": "length"}},
        {"completion": cut, "answer": "4", "meta": {"finish_reason": "stop"}},
        {"completion": cut, "answer": "4"},
        {"completion": marked, "answer": "24", "meta": {"finish_reason": "length"}},
        {"completion": cut, "answer": "4", "meta": {"finish_reason": ""}},
    ]
    want = [False, True, True, True, True]
    src, dst = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows))
    for workers in (1, 2):
        grade_file(str(src), str(dst), "completion", "answer", BulkConfig(workers=workers, inline_below_bytes=0))
        out = [json.loads(line) for line in dst.read_text().splitlines()]
        assert [r["correct"] for r in out] == want, workers
        assert out[0]["reason"] == "no_answer"
    # the same verdicts as grade_samples gives the same records
    samples = [
        Sample(problem_id=str(i), question="", answer=r["answer"], completion=r["completion"], meta=r.get("meta") or {})
        for i, r in enumerate(rows[:4])
    ]
    assert [s.correct for s in grade_samples(samples, "gsm8k")] == want[:4]


def test_answer_that_restates_the_question():
    # given the question, an answer written as one of the question's own expressions computed
    # nothing, though it equals the reference in value
    q = "Evaluate $\\cos 0^\\circ + \\tan 45^\\circ$ and give the result."
    restated = "We need the value of $\\cos 0^\\circ + \\tan 45^\\circ$."
    assert ok(restated, "2").correct  # the text alone: the span is evaluated (2)
    v = ok(restated, "2", question=q)
    assert not v.correct and v.reason == "mismatch"
    assert not ok("\\boxed{\\cos 0^{\\circ}+\\tan 45^\\circ}", "2", question=q).correct  # same form, other spacing
    assert ok("The sum is $1 + 1 = 2$.", "2", question=q).correct  # computed
    assert ok("\\boxed{2}", "2", question=q).correct
    q2 = "Simplify $\\sqrt{72}$."
    assert not ok("\\boxed{\\sqrt{72}}", "6\\sqrt{2}", question=q2).correct
    assert ok("\\boxed{6\\sqrt2}", "6\\sqrt{2}", question=q2).correct
    # a choice among the question's expressions: the reference is written in the question
    q3 = "Which is greater, $\\sqrt{7}$ or $2^{1.4}$?"
    assert ok("The greater one is $\\sqrt7$.", "\\sqrt{7}", question=q3).correct
    # a number as written is a value, not an operation left undone
    q4 = "Write $\\frac{6}{8}$ in another way, or keep it: any equal number counts."
    assert ok("\\boxed{\\frac{6}{8}}", "\\frac34", question=q4).correct
    # an equation restated from the question is not this rule's concern
    q5 = "If $y = 3 + 4$, find $y$."
    assert ok("\\boxed{y = 7}", "7", question=q5).correct
    # the same through bulk grading, with the question field
    import json
    import tempfile
    from pathlib import Path

    from scalemath.answers.bulk import BulkConfig, grade_file

    with tempfile.TemporaryDirectory() as d:
        src, dst = Path(d) / "in.jsonl", Path(d) / "out.jsonl"
        rows = [{"completion": restated, "answer": "2", "question": q}, {"completion": restated, "answer": "2"}]
        src.write_text("".join(json.dumps(r) + "\n" for r in rows))
        grade_file(str(src), str(dst), "completion", "answer", BulkConfig(workers=1))
        assert [json.loads(line)["correct"] for line in dst.read_text().splitlines()] == [False, True]


def test_matrix_spacing():
    spaced = "\\begin{pmatrix} 0 & 1 \\\\ 1 & 0 \\end{pmatrix}"
    assert ok("\\boxed{\\begin{pmatrix}0&1\\\\1&0\\end{pmatrix}}", spaced).correct
    assert not ok("\\boxed{\\begin{pmatrix}1&0\\\\0&1\\end{pmatrix}}", spaced).correct


# -- refutations and no answer ----------------------------------------------------------------------
@pytest.mark.parametrize("dataset", ["math", "gsm8k"])
def test_refuting_sentence_is_not_the_answer(dataset):
    text = "Try a = 6 and b = 9: then 6 * 9 = 54, too big.\nSo a = 6 and b = 9 is not a solution."
    v = ok(text, "9", dataset)
    assert v.reason == "no_answer" and v.extracted is None
    # a value stated after a denial of another one is stated
    assert ok("The total is not 10, which is 12.", "12", dataset).correct
    assert ok("The price is not $5$.", "5", dataset).reason == "no_answer"


def test_time_of_day_is_read_whole():
    assert extract("The train leaves at 5:00 PM.", "gsm8k").startswith("5:00")
    assert ok("The train leaves at 5:00 PM.", "5:00 PM", "gsm8k").correct
    assert not ok("The train leaves at 5:00 PM.", "0", "gsm8k").correct


def test_truncated_hashes_line_is_no_answer():
    # the "####" line cut by the length limit: the marker promised a number and none came
    assert ok("He buys 3 * 12 = 36 eggs.\n#### The total is", "36", "gsm8k").reason == "no_answer"
    assert ok("He buys 3 * 12 = 36 eggs.\n#### ", "36", "gsm8k").reason == "no_answer"
    # an earlier complete "####" before a cut-off one, and the value on the next line
    assert ok("#### 36\nQuestion 2: 5 + 5\n#### The", "36", "gsm8k").correct
    assert ok("3 * 12 = 36\n####\n36", "36", "gsm8k").correct


def test_no_answer_policy_same_for_every_dataset():
    for ds in ("math", "gsm8k"):
        assert ok("I am not sure how to solve this problem.", "7", ds).reason == "no_answer"
        assert ok("Let me think about the apples step by step.", "7", ds).reason == "no_answer"


@pytest.mark.parametrize("dataset", ["math", "gsm8k"])
def test_answer_marker_with_nothing_after_it(dataset):
    # "The final answer is:" and then the length limit: the promised value never came
    text = "In May they paid 6400 dollars, so 6400 + 6400 = 12000 dollars in all.\n\nThe final answer is:"
    assert ok(text, "12000", dataset).reason == "no_answer"
    assert ok(text + " 12000", "12000", dataset).correct


@pytest.mark.parametrize("dataset", ["math", "gsm8k"])
def test_text_cut_off_mid_expression_is_no_answer(dataset):
    # written for this test: a completion that stops on "=" or an operator (the length limit) has
    # not stated the value its last expression was heading for; its last number is not the answer
    looping = "We need $3^{x}$. Since $3^{x} = 3^{2(x)} = 3^{2(x)} = 3^{2(x)} ="
    assert ok(looping, "2", dataset).reason == "no_answer"
    assert ok("First 12 + 30 = 42, then 42 - 8 + 2 -", "2", dataset).reason == "no_answer"
    assert ok("The area is 6 \\cdot 7 \\times", "7", dataset).reason == "no_answer"
    # ... or inside a math span it never closes (the \\( form in both datasets; "$" is currency in GSM8K)
    assert (
        ok("The curve \\(y = \\frac{2}{x-1}\\) is a line. The curve \\(y = \\frac{2}{x-1", "1", dataset).reason
        == "no_answer"
    )
    if dataset == "math":
        assert ok("The curve $y = \\frac{2}{x-1}$ is a line. The curve $y = \\frac{2}{x-1", "1").reason == "no_answer"
        assert ok("The slope is $m = 2$. So the answer is $7", "7").correct  # a marker still counts
    assert ok("It costs $5 each, so 3 of them cost 15 dollars.", "15", dataset).correct
    # a finished last statement still counts, and so do markers and bold answers
    assert ok("First 12 + 30 = 42, then 42 - 40 = 2", "2", dataset).correct
    assert ok("So she has\n\n**2**", "2", dataset).correct
    assert ok("The answer is 2. Now 3 + 4 =", "2", dataset).correct


def test_value_the_text_sets_out_to_find_is_not_stated():
    # written for this test: the last math span is the unknown a sentence sets out to find
    # ("to find $\\cot 45^\\circ$"), which equals the reference but was never worked out
    text = "We use the identity for cotangent. Now we can use a right triangle to find $\\cot 45^\\circ$. This is"
    assert ok(text, "1").reason == "no_answer"
    assert ok("Let us compute $\\frac{6}{3}$ first. Let's determine $\\frac{6}{3}$", "2").reason == "no_answer"
    # an imperative that asks for the value (a question echoed) does not state it either
    assert ok("Evaluate $\\cot 45^\\circ.$ Give an exact value.", "1").reason == "no_answer"
    assert ok("We draw the triangle.\nFind $\\frac{6}{3}$", "2").reason == "no_answer"
    # a value the text found is still stated
    assert ok("Using a right triangle we find $\\cot 45^\\circ = 1$.", "1").correct
    assert ok("To find the total we add: $3 + 4 = 7$.", "7").correct


@pytest.mark.parametrize("dataset", ["math", "gsm8k"])
def test_cut_off_completion_counts_only_a_marker(dataset):
    # written for this test: a completion the length limit cut off never reached its final statement
    text = "Each box holds 6 pens, so we multiply the 4 boxes by 6.\n\nSo, the number of pens is"
    assert ok(text, "6", dataset).correct  # the text alone: its last number (the policy's fallback)
    assert grade(text, "6", dataset, finish_reason="length").reason == "no_answer"
    assert grade("We add 1", "1", dataset, finish_reason="length").reason == "no_answer"
    assert grade("24", "24", dataset, finish_reason="length").reason == "no_answer"  # "24" may be "245"
    # a marker written before the cut still counts; a finished completion is graded as before
    marked = "4 * 6 = 24, so the answer is 24.\n\nTo check, 24 / 4 = 6 and 6 *"
    assert grade(marked, "24", dataset, finish_reason="length").correct
    assert grade("So \\boxed{24} pens. Now, to check, we", "24", dataset, finish_reason="length").correct
    assert grade("4 * 6 = 24 pens.", "24", dataset, finish_reason="stop").correct


def test_value_after_the_last_math_span():
    # the later of the last math span and the last number: the closing number is the answer
    text = "We reduce $18^6$ modulo 10 step by step.\n\nSo, the units digit of $18^6$ is 4."
    assert extract(text, "math") == "4"
    # dollars paired across sentences are not a math span
    assert extract("It costs $5 and then $.\n\nSo the digit of $x$ is 7.", "math") == "7"


def test_spacing_in_a_matrix_row():
    assert ok("\\begin{pmatrix} 1 & 2 \\end{pmatrix}", "\\begin{pmatrix}1&2\\end{pmatrix}").correct


def test_the_last_marker_found_from_the_end_is_the_full_scans_last():
    """`last_marker` finds "final answer" / "the answer is" markers from the end with str.rfind in
    ASCII text; it must return the same match as scanning the whole text (`last_match`)."""
    import importlib
    import random

    ex = importlib.import_module("scalemath.answers.extract")
    pieces = ["final", "FINAL", " answer", "Answer:", "ANSWER is", "answer  is :", "réponse", "reponse est",
              "Respuesta es", "antwort ist", "risposta è", "答案", "is", " ", ":", "**", "\n", "x", "fin", "al",
              "final answer:", "FiNaL AnSwEr is", "answeranswer:", "answer**:**", "answer is:answer is", "\t"]  # fmt: skip
    rng = random.Random(0)
    for _ in range(20_000):
        text = "".join(rng.choice(pieces) for _ in range(rng.randint(0, 8)))
        for pattern in ex._MARKER_WORDS:
            full, fast = ex.last_match(pattern, text), ex.last_marker(pattern, text)
            assert (full and full.span()) == (fast and fast.span()), (pattern.pattern, text)
