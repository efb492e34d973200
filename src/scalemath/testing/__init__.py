"""Test doubles for scalemath's own tests and benchmarks, and for anyone testing code built on it.

- `fake_engine.FakeEngine`: a deterministic `Engine` (also `load_engine("fake", ...)` and
  `scalemath serve --model fake`);
- `tiny_random.save_tiny_llama(dir)`: a random-weight Llama with a character tokenizer;
- `quick.quick_sft_model(dir)`: a small trained SFT checkpoint in about a minute of CPU;
- `synthetic.synthetic_samples(SyntheticConfig(...))`: graded samples with known ground truth.

The library never imports this package (tests/project/test_layout.py); it sits just below the CLI.
"""
