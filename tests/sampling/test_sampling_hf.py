"""HFEngine on a throwaway random tiny Llama: reproducibility, greedy, stops, limits."""

import os

import pytest
import torch

from scalemath.sampling import SamplingParams, load_engine
from scalemath.sampling.hf import HFEngine, pick_tokens
from scalemath.testing.tiny_random import save_tiny_llama

PROMPTS = ["Q: 1+1?\nA:", "Q: what is twelve times three, in apples?\nA:", "Q: x\nA:"]


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny models gain nothing from intra-op threads, and on a shared 2-core box they spin-wait
    (the engines take scalemath.threads' default: SCALEMATH_THREADS)."""
    n, env = torch.get_num_threads(), os.environ.get("SCALEMATH_THREADS")
    torch.set_num_threads(1)
    os.environ["SCALEMATH_THREADS"] = "1"
    yield
    torch.set_num_threads(n)
    if env is None:
        os.environ.pop("SCALEMATH_THREADS", None)
    else:
        os.environ["SCALEMATH_THREADS"] = env


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    return save_tiny_llama(tmp_path_factory.mktemp("tiny"))


@pytest.fixture(scope="module")
def engine(model_dir):
    return HFEngine(model_dir, device="cpu", batch_size=4)


def texts(results):
    return [[c.text for c in cs] for cs in results]


def run(engine, prompts, params, n, start_index=0, batch_size=None):
    old = engine.batch_size
    engine.batch_size = batch_size or old
    try:
        return list(engine.generate(prompts, params, n=n, start_index=start_index))
    finally:
        engine.batch_size = old


def test_samples_reproducible_whatever_the_batch(engine):
    params = SamplingParams(temperature=1.0, max_tokens=24, seed=7)
    ref = run(engine, PROMPTS, params, n=4, batch_size=1)
    for bs in (3, 5, 64):
        assert texts(run(engine, PROMPTS, params, n=4, batch_size=bs)) == texts(ref)
    # other neighbours in the batch, a later start_index: the same sample i of the same prompt
    alone = run(engine, [PROMPTS[1]], params, n=4, batch_size=8)
    assert texts(alone)[0] == texts(ref)[1]
    tail = run(engine, PROMPTS, params, n=2, start_index=2, batch_size=6)
    assert texts(tail) == [t[2:] for t in texts(ref)]
    assert [[c.sample_index for c in cs] for cs in tail] == [[2, 3]] * 3
    # another base seed gives other samples
    assert texts(run(engine, PROMPTS, SamplingParams(temperature=1.0, max_tokens=24, seed=8), n=4)) != texts(ref)


def test_k_samples_per_prompt_with_own_seeds(engine):
    out = run(engine, PROMPTS, SamplingParams(temperature=1.0, max_tokens=16), n=5)
    assert len(out) == len(PROMPTS)
    for cs in out:
        assert [c.sample_index for c in cs] == list(range(5))
        assert len({c.seed for c in cs}) == 5
        assert len({c.text for c in cs}) > 1


def test_greedy_equals_argmax_decoding(engine):
    max_tokens = 12
    out = run(engine, PROMPTS, SamplingParams(temperature=0.0, max_tokens=max_tokens), n=2)
    tok, model = engine.tokenizer, engine.model
    for prompt, cs in zip(PROMPTS, out):
        ids = tok(prompt)["input_ids"]
        gen = []
        with torch.inference_mode():
            for _ in range(max_tokens):  # no cache, no padding: the plain definition
                nxt = int(model(input_ids=torch.tensor([ids + gen])).logits[0, -1].argmax())
                if nxt in engine.eos_ids:
                    break
                gen.append(nxt)
        assert cs[0].text == cs[1].text == tok.decode(gen, skip_special_tokens=True)


def test_top_k_1_and_tiny_top_p_are_greedy(engine):
    greedy = texts(run(engine, PROMPTS, SamplingParams(temperature=0.0, max_tokens=10), n=1))
    assert texts(run(engine, PROMPTS, SamplingParams(temperature=1.5, top_k=1, max_tokens=10), n=2)) == [
        t * 2 for t in greedy
    ]
    assert texts(run(engine, PROMPTS, SamplingParams(temperature=1.5, top_p=1e-6, max_tokens=10), n=2)) == [
        t * 2 for t in greedy
    ]


def test_stop_string_cuts_and_stops_the_row(engine):
    params = SamplingParams(temperature=1.0, max_tokens=40, seed=3)
    full = next(c for cs in run(engine, PROMPTS, params, n=4) for c in cs if len(c.text) >= 14)
    stop = full.text[10:12]  # two characters that first occur at (or before) position 10
    cut_at = full.text.find(stop)
    prompt = PROMPTS[[c.seed for cs in run(engine, PROMPTS, params, n=4) for c in cs].index(full.seed) // 4]
    out = run(
        engine,
        [prompt],
        SamplingParams(temperature=1.0, max_tokens=40, seed=3, stop=("@@@", stop)),
        n=1,
        start_index=full.sample_index,
    )
    c = out[0][0]
    assert c.text == full.text[:cut_at]
    assert c.finish_reason == "stop"
    assert c.n_tokens == cut_at + len(stop)  # char tokenizer: generation ended right after the stop


def test_eos_stops_and_is_not_in_the_text(model_dir):
    engine = HFEngine(model_dir, device="cpu", batch_size=8)
    params = SamplingParams(temperature=1.0, max_tokens=40, seed=5)
    full = texts(run(engine, PROMPTS, params, n=3))
    engine.eos_ids = [engine.tokenizer.convert_tokens_to_ids("e")] + engine.eos_ids  # make "e" end a row
    cut = list(engine.generate(PROMPTS, params, n=3))
    for fs, cs in zip(full, cut):
        for f, c in zip(fs, cs):
            if "e" in f:
                assert c.text == f[: f.index("e")] and c.finish_reason == "stop" and c.n_tokens == len(c.text)
            else:
                assert c.text == f


def test_max_tokens_respected(engine):
    for max_tokens in (1, 7):
        for cs in run(engine, PROMPTS, SamplingParams(temperature=1.0, max_tokens=max_tokens), n=3):
            for c in cs:
                assert c.n_tokens <= max_tokens
                assert len(engine.tokenizer(c.text, add_special_tokens=False)["input_ids"]) <= max_tokens
                assert c.finish_reason in ("length", "stop")
                assert (c.finish_reason == "length") == (c.n_tokens == max_tokens)


def test_pick_tokens_follows_the_filtered_distribution():
    torch.manual_seed(0)
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]])
    u = torch.rand(20000, dtype=torch.float64)

    def freq(params):
        toks = pick_tokens(logits.expand(len(u), -1), params, u)
        return torch.bincount(toks, minlength=5).double() / len(u)

    expect = torch.softmax(logits[0] / 0.8, -1).double()
    assert torch.allclose(freq(SamplingParams(temperature=0.8)), expect, atol=0.015)
    f = freq(SamplingParams(temperature=0.8, top_k=2))
    assert f[2:].sum() == 0 and torch.allclose(f[:2], expect[:2] / expect[:2].sum(), atol=0.015)
    # top_p: keep the smallest prefix whose mass reaches top_p
    p = torch.softmax(logits[0], -1)
    f = freq(SamplingParams(temperature=1.0, top_p=float(p[0] + p[1]) - 1e-4))
    assert f[2:].sum() == 0 and f[1] > 0
    assert (freq(SamplingParams(temperature=0.0)) == torch.tensor([1.0, 0, 0, 0, 0], dtype=torch.float64)).all()


def test_engine_factory_and_template(model_dir):
    e = load_engine("hf", model_dir, device="cpu", template="qa", batch_size=2)
    assert e.name == "hf" and e.model_id == str(model_dir)
    params = SamplingParams(temperature=1.0, max_tokens=8)
    plain = HFEngine(model_dir, device="cpu")
    assert texts(e.generate(["x"], params, n=2)) == texts(plain.generate(["Q: x\nA:"], params, n=2))
    loaded = HFEngine(plain.model, tokenizer=plain.tokenizer, device="cpu")
    assert texts(loaded.generate(["Q: x\nA:"], params, n=2)) == texts(plain.generate(["Q: x\nA:"], params, n=2))
    with pytest.raises(TypeError, match="tokenizer"):
        HFEngine(plain.model)
    with pytest.raises(ValueError, match="unknown engine"):
        load_engine("nope", model_dir)


CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{{ m['role'] }}: {{ m['content'] }}\n{% endfor %}"
    "{% if add_generation_prompt %}assistant:{% endif %}"
)


@pytest.fixture(scope="module")
def bos_model_dir(tmp_path_factory):
    """The tiny Llama with a tokenizer that adds a bos and a chat template that emits one."""
    from tokenizers import processors

    from scalemath.testing.tiny_random import tiny_llama

    model, tok = tiny_llama()
    tok._tokenizer.post_processor = processors.TemplateProcessing(
        single="<s> $A", special_tokens=[("<s>", tok.bos_token_id)]
    )
    tok.chat_template = CHAT_TEMPLATE
    out = tmp_path_factory.mktemp("bos")
    model.save_pretrained(out)
    tok.save_pretrained(out)
    return out


def test_chat_prompt_gets_one_bos_regression(bos_model_dir):
    """Issue 10: a rendered chat template already starts with bos; the engine added a second one."""
    engine = HFEngine(bos_model_dir, device="cpu")
    bos = engine.tokenizer.bos_token_id
    rendered = engine.tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True
    )
    assert rendered.startswith("<s>")
    ids = engine.encode(rendered)
    assert ids[0] == bos and ids.count(bos) == 1
    assert engine.encode("hi")[:1] == [bos] and engine.count_tokens("hi") == 3  # plain text: bos added
    params = SamplingParams(temperature=0, max_tokens=6)
    # the rendered chat prompt decodes exactly like its single-bos token ids
    assert texts(engine.generate([rendered], params)) == texts(engine.generate(["user: hi\nassistant:"], params))


def test_cache_keyword_is_read_from_the_forward_signature(engine):
    """Issue 10: `past_key_values=` is deprecated in transformers 5.24 and swallowed after 5.40."""
    import inspect

    from scalemath.sampling.hf import cache_keyword

    class New:
        def forward(self, input_ids=None, cache=None, **kw): ...

    class Old:
        def forward(self, input_ids=None, past_key_values=None, **kw): ...

    class Neither:
        def forward(self, input_ids=None, **kw): ...

    assert (cache_keyword(New()), cache_keyword(Old())) == ("cache", "past_key_values")
    with pytest.raises(TypeError, match="neither"):
        cache_keyword(Neither())
    assert engine.cache_kw in inspect.signature(engine.model.forward).parameters


def test_a_model_that_drops_the_cache_is_an_error_not_wrong_samples(model_dir):
    engine = HFEngine(model_dir, device="cpu")
    real = engine.model.forward

    def swallowing(*a, **kw):  # what a transformers that no longer reads the keyword does
        kw.pop(engine.cache_kw)
        return real(*a, **kw)

    engine.model.forward = swallowing
    with pytest.raises(RuntimeError, match="did not fill its KV cache"):
        list(engine.generate(["Q: x\nA:"], SamplingParams(max_tokens=4)))


def test_context_length_is_enforced_before_decoding(model_dir):
    from scalemath.sampling.engine import InvalidRequestError

    engine = HFEngine(model_dir, device="cpu", max_model_len=12)
    assert engine.context_length == 12
    assert HFEngine(model_dir, device="cpu").context_length == 2048  # the config's max positions
    with pytest.raises(InvalidRequestError, match="context is 12"):
        list(engine.generate(["x", "y" * 12], SamplingParams(max_tokens=2)))
    (cs,) = engine.generate(["Q: x\nA:"], SamplingParams(temperature=1.0, max_tokens=50, seed=1), n=3)
    for c in cs:  # 7 prompt tokens: at most 5 more fit
        assert c.n_tokens <= 5 and (c.finish_reason == "length") == (c.n_tokens == 5)
