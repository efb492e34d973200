"""One augmentation stage end to end: teacher (cached) -> generator -> decontaminate + dedupe ->
the output file and its JSON report. `scalemath augment query|respond|synth` and the teacher demo
both call these functions."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Iterable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from scalemath.methods.augment.base import Counts
from scalemath.methods.augment.query import QueryConfig
from scalemath.methods.augment.respond import RespondConfig
from scalemath.methods.augment.synth import SynthConfig
from scalemath.records import Problem
from scalemath.sampling.engine import Engine

TEACHER_TIMEOUT = 600.0  # seconds per teacher request (a long completion from a big model)


def make_teacher(
    url: str,
    model: str,
    api_key: str | None = None,
    chat: bool = False,
    seed_mode: str = "per_sample",
    concurrency: int = 16,
    timeout: float = TEACHER_TIMEOUT,
) -> Engine:
    """The OpenAI-compatible teacher engine for `url` and `model` (ValueError for a bad option)."""
    from scalemath.sampling import load_engine

    return load_engine(
        "openai",
        model,
        base_url=url,
        api_key=api_key,
        chat=chat,
        seed_mode=seed_mode,
        concurrency=concurrency,
        timeout=timeout,
    )


@dataclass
class Output:
    """Where a stage writes and what its output goes through.

    Args:
        out: the output JSONL.
        decon: a `Decontaminator` (`methods.contamination.build_decontaminator`); None: no
            decontamination (a choice the report records).
        signature: path signature for distinct-path dedupe of answers ("" off).
        question_threshold: drop questions near-duplicating an earlier one (Jaccard; 0 off).
        report: the JSON report (default OUT.report.json).
        cache: the teacher cache, SQLite (default OUT.cache.sqlite).
        price_in: teacher price per 1M prompt tokens.
        price_out: teacher price per 1M completion tokens.
    """

    out: Path
    decon: Any = None
    signature: str = "auto"
    question_threshold: float = 0.9
    report: Path | None = None
    cache: Path | None = None
    price_in: float = 0.0
    price_out: float = 0.0

    @property
    def report_path(self) -> Path:
        return self.report or self.out.with_suffix(".report.json")

    def cached(self, engine: Engine) -> Any:
        """`engine` behind the content-hash cache of this output (a context manager)."""
        from scalemath.methods.teacher_cache import CachedEngine, Prices

        return CachedEngine(
            engine, self.cache or self.out.with_suffix(".cache.sqlite"), prices=Prices(self.price_in, self.price_out)
        )


def finalize_and_write(
    records: Iterable[Any], output: Output, *, text_field: str, signature: str | None = None
) -> dict[str, Any]:
    """Decontaminate + dedupe `records`, write output.out; returns the report (not yet written).

    Args:
        records: the generator's Problems/Samples (or dicts).
        output: where to write and the decontamination/dedupe settings.
        text_field: the field the dedupe compares ("solution" for problems, "completion" for samples).
        signature: overrides output.signature ("" for query output, which has no answers to compare).

    Returns:
        {"output", "written", "finalize": what decontamination and dedupe removed, and why}.
    """
    from scalemath.methods.augment.pipeline import FinalizeConfig, FinalizeReport, finalize
    from scalemath.records import write_jsonl

    cfg = FinalizeConfig(
        decontaminate=output.decon is not None,
        signature=output.signature if signature is None else signature,
        question_threshold=output.question_threshold,
        text_field=text_field,
    )
    rep = FinalizeReport()
    n = write_jsonl(output.out, finalize(records, cfg, output.decon, rep))
    return {"output": str(output.out), "written": n, "finalize": rep.to_dict()}


def _write_report(report: dict[str, Any], output: Output) -> dict[str, Any]:
    from scalemath.outputs import write_text

    write_text(output.report_path, json.dumps(report, indent=1, ensure_ascii=False, default=str))
    return report


def run_query(seeds: Iterable[Problem], teacher: Engine, config: QueryConfig, output: Output) -> dict[str, Any]:
    """MuggleMath query augmentation of `seeds`, finalized and written with its report.

    Args:
        seeds: the seed problems.
        teacher: the teacher engine (`make_teacher`, or any Engine); cached per `output.cache`.
        config: the query settings (strategies, rounds, template, sampling).
        output: output file, decontamination, dedupe, report, cache.

    Returns:
        The report (also written to output.report_path): counts, finalize, usage, config.
    """
    from scalemath.methods.augment.query import augment_queries

    counts = Counts()
    with output.cached(teacher) as cached:
        rep = finalize_and_write(
            augment_queries(seeds, cached, config, counts), output, text_field="solution", signature=""
        )
        rep.update(generation=counts.to_dict(), usage=cached.usage.summary(), config=dataclasses.asdict(config))
    return _write_report(rep, output)


def run_respond(
    problems: Iterable[Problem],
    teacher: Engine,
    config: RespondConfig,
    output: Output,
    second: Engine | None = None,
) -> dict[str, Any]:
    """Response augmentation: `config.n` answers per question, kept by `config.filter`, finalized
    and written with its report.

    Args:
        problems: the questions.
        teacher: the teacher engine; cached per `output.cache`.
        config: the respond settings (n, filter, template, sampling).
        output: output file, decontamination, dedupe, report, cache.
        second: the second teacher of the two_teacher filter (shares the cache).

    Returns:
        The report (also written to output.report_path).
    """
    from scalemath.methods.augment.respond import respond

    counts = Counts()
    with ExitStack() as stack:
        cached = stack.enter_context(output.cached(teacher))
        second_cached = stack.enter_context(output.cached(second)) if second is not None else None
        records = respond(problems, cached, config, second=second_cached, counts=counts)
        rep = finalize_and_write(records, output, text_field="completion")
        rep.update(generation=counts.to_dict(), usage=cached.usage.summary(), config=dataclasses.asdict(config))
        if second_cached is not None:
            rep["second_usage"] = second_cached.usage.summary()
    return _write_report(rep, output)


def run_synth(references: Iterable[Problem], teacher: Engine, config: SynthConfig, output: Output) -> dict[str, Any]:
    """Xwin-Math synthesis (create, verify/repair, answer) from `references`, finalized and
    written with its report.

    Args:
        references: the reference problems.
        teacher: the teacher engine; cached per `output.cache`.
        config: the synth settings (per_reference, verify, the answer step's RespondConfig).
        output: output file, decontamination, dedupe, report, cache.

    Returns:
        The report (also written to output.report_path).
    """
    from scalemath.methods.augment.synth import synthesize

    counts, acounts = Counts(), Counts()
    with output.cached(teacher) as cached:
        records: Iterator[Any] = synthesize(references, cached, config, counts, acounts)
        rep = finalize_and_write(records, output, text_field="completion")
        rep.update(
            generation=counts.to_dict(),
            answering=acounts.to_dict(),
            usage=cached.usage.summary(),
            config=dataclasses.asdict(config),
        )
    return _write_report(rep, output)
