"""Metrics over graded sample stores (any JSONL/Parquet of graded `Sample` records).

- `table.load_samples(paths, fields=(), completions=False) -> SampleTable` (columnar, pyarrow fast path)
- `aggregate.summarize(table, MetricsConfig(ks, bootstrap, ci, seed, by)) -> dict`: greedy, unbiased
  pass@k, Pass@N, PassRatio@N, maj@k, Pass@n / PassRatio@n curves, breakdowns, bootstrap intervals
- `aggregate.pass_at_k_array(n, c, k)`: vectorized unbiased pass@k
- `steps.steps_analysis(table, field="meta.steps")`, `steps.long_cot_resample(problems, weight, seed)`
- `errors.error_shares(table)`, `errors.classify(completion, extracted, correct)`
- `paths.distinct_paths(...)`, `paths.path_signature(completion)`
- `store_summary.analyze(paths, AnalyzeConfig(...)) -> dict`: all of the above (what `scalemath metrics` writes)
- `paired.compare(load_evaluation(a), load_evaluation(b), PairedConfig(...))`: two models on the same
  questions: paired bootstrap intervals of B − A, McNemar's exact test (`scalemath compare`)
- `evaluate.evaluate(model, problems, k, ...)`: greedy + k sampled answers, graded, and their metrics
  (`scalemath eval`; `passk.py` holds its scalar functions)
"""
