"""The sections of a study file (`StudyConfig`'s fields, in `experiments.config`): base models, data,
SFT, sampling, RFT (pooled, ablations), augmented data, evaluation and the analyses; every field
carries its help text (`scalemath experiment fields` prints them)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any


def setting(default: Any = dataclasses.MISSING, help: str = "", factory: Any = dataclasses.MISSING) -> Any:
    if factory is not dataclasses.MISSING:
        return field(default_factory=factory, metadata={"help": help})
    return field(default=default, metadata={"help": help})


# ------------------------------------------------------------------------------------ sections

CONTROL_HELP = (
    "A compute-matched control beside each of these cells: the same recipe on D (the full training "
    "set) for the same optimizer steps, training tokens or epochs as the cell (steps | tokens | "
    "epochs; null = none). Cell id <series>-control/<base>/k<k>."
)


@dataclass
class BaseModelConfig:
    """A base model every trained cell starts from: the embedded tiny default or a checkpoint."""

    name: str = setting("tiny", "Label of the base in cell ids and results (letters, digits, - _ .).")
    path: str | None = setting(
        None,
        "Checkpoint directory or hub id; None builds the embedded tiny default "
        "(tokenizer + Llama trained from scratch on the procedural corpus).",
    )
    preset: str = setting("nano", "Tiny model shape (training.tiny.PRESETS: nano, micro, small, base).")
    tiny: dict[str, Any] = setting(
        help="TinyConfig overrides (hidden_size, num_layers, vocab_size, ...).", factory=dict
    )
    corpus_lines: int = setting(20000, "Lines of the procedural pre-training corpus.")
    corpus: dict[str, Any] = setting(
        help="Corpus overrides (datasets.pretrain_corpus.PretrainConfig: max_number, "
        "max_factor, weights); keep its arithmetic at the task's scale.",
        factory=dict,
    )
    pretrain_minutes: float | None = setting(1.0, "Wall-clock budget of pre-training (None: use pretrain.max_steps).")
    pretrain: dict[str, Any] = setting(
        help="PretrainConfig overrides (max_steps, batch_size, learning_rate, ...).", factory=dict
    )
    seed: int = setting(0, "Seed of the corpus, the weight initialisation and pre-training.")
    pretrain_loss: float | None = setting(
        None,
        "Known pre-training loss of a `path` model (a tiny base "
        "reports its own held-out loss); fills results' pretrain_loss.",
    )
    recipe: dict[str, Any] | None = setting(
        None,
        "Build the base by a recorded recipe instead (training.tiny.BaseRecipe fields: seed, corpus_lines, "
        "corpus_max_number, corpus_max_factor, model_preset, pretrain_steps, pretrain_batch_size, threads; "
        "{} = its defaults): its own corpus, tokenizer and fixed-step pre-training, the files' sha256 "
        "recorded (training.tiny.build_base). preset, tiny, corpus and pretrain above do not apply.",
    )
    shipped: bool = setting(
        False,
        "With recipe: load the base shipped in the package, checked against its recorded sha256, instead "
        "of building it (the recipe must be the one it was built with).",
    )


@dataclass
class DataConfig:
    """Train and test problems: generated procedurally, or read from files."""

    source: str = setting("procedural", "procedural (the embedded generator) or files (train/test below).")
    train_n: int | None = setting(
        400, "procedural: training problems to generate; files: keep the first n (None = all)."
    )
    test_n: int | None = setting(100, "procedural: test problems to generate; files: keep the first n (None = all).")
    steps: tuple[int, int] = setting((1, 3), "procedural: reasoning steps per problem (min, max).")
    number_range: tuple[int, int] = setting((2, 20), "procedural: operand range (min, max).")
    families: list[str] | None = setting(
        None,
        "procedural: scenario families (datasets.procedural.FAMILIES; "
        "None = all); fewer = less template diversity to learn.",
    )
    seed: int = setting(0, "procedural: generator seed.")
    solution_variety: str = setting(
        "none",
        "procedural: how reference solutions are written: none (one canonical "
        "path), orders (a random valid step order / equivalent program), forms "
        "(also operand orders); see datasets.procedural.ProceduralConfig.",
    )
    train: str | None = setting(
        None, "files: training problems (GSM8K / MATH / scalemath JSONL, any load_problems format)."
    )
    test: str | None = setting(None, "files: test problems.")
    format: str = setting("auto", "files: format passed to datasets.load_problems.")
    dataset: str = setting("gsm8k", "Answer conventions of the grader (gsm8k, math).")


@dataclass
class SFTGridConfig:
    """The SFT cells: one per (base model, data fraction, seed), all starting from the base."""

    fractions: list[float] = setting(
        help="Fractions of the training set (nested: every fraction contains "
        'the smaller ones); numbers or strings like "1/8".',
        factory=lambda: [1.0],
    )
    seeds: list[int] = setting(help="Seeds of the data subset and training; one cell per seed.", factory=lambda: [0])
    template: str = setting(
        "qa",
        "Prompt template (scalemath.prompts name or .txt path) for training, sampling and evaluation; "
        "with chat: true it fills the user message (`question`: the bare question).",
    )
    chat: bool = setting(
        False,
        "Render every prompt with the base model's own chat template (its tokenizer's), as the CLI's "
        "--chat: SFT and RFT examples are written in it (target + the tokenizer's eos), and a trained "
        "model is sampled and evaluated with the prompt it was trained with (one PromptFormat). "
        "Needs base models whose tokenizer has a chat template (not the embedded tiny base).",
    )
    system: str | None = setting(
        None, "chat: a system message in every prompt (as --system; null: the chat template's own default)."
    )
    shuffle: bool = setting(
        True,
        "Draw each data fraction from a seeded shuffle of the training set (nested fractions); false: "
        "the first fraction of the set in file order (fraction 1: D as generated, in its order).",
    )
    long_cot_weight: float = setting(
        0.0,
        "Resample each SFT cell's data with probability ~ steps ** weight "
        "(metrics.steps.long_cot_resample; 0 = off, > 0 favours long solutions).",
    )
    train: dict[str, Any] = setting(
        help="SFTRunConfig fields for every trained cell (epochs, learning_rate, "
        "max_steps, max_minutes, profile, ...); model/data/out/seed are set per cell, and "
        "chat/system come from sft.chat and sft.system.",
        factory=dict,
    )

    def __post_init__(self) -> None:
        # Each trained cell's config carries its prompt settings inside `train` (what SFTRunConfig
        # takes), so a model's fingerprint covers them and its sampling and evaluation cells, which
        # depend on it, render with the same PromptFormat (experiments.actions.cell_prompt). Added
        # only when set: studies without chat keep their cells' fingerprints.
        self.train = {**self.train, **prompt_settings(self.chat, self.system)}


#: the prompt settings of a study (sft.chat, sft.system) as trained cells carry them in `train`
PROMPT_KEYS = ("chat", "system")


def prompt_settings(chat: bool, system: str | None) -> dict[str, Any]:
    """The prompt fields a trained cell's `train` settings carry ({} for a plain template)."""
    out: dict[str, Any] = {}
    if chat:
        out["chat"] = True
    if system is not None:
        out["system"] = system
    return out


@dataclass
class SamplingConfig:
    """How RFT training paths are sampled from an SFT model."""

    temperature: float = setting(0.7, "Sampling temperature (the paper: 0.7).")
    top_p: float = setting(1.0, "Nucleus mass (1 = off).")
    top_k: int = setting(0, "Top-k (0 = off).")
    max_tokens: int = setting(256, "New tokens per completion.")
    seed: int = setting(
        0,
        "Base seed; sample i of a question uses a seed derived from (seed, prompt, i), "
        "so the first k samples of a k=100 run are the samples of a k run.",
    )
    engine: str = setting("hf", "Sampling engine (scalemath.sampling.ENGINES).")
    batch_size: int = setting(64, "Rows the transformers engine (hf) decodes together (vLLM batches itself).")
    engine_kwargs: dict[str, Any] = setting(help="Extra engine settings (device, dtype, threads, ...).", factory=dict)


@dataclass
class PooledConfig:
    """An RFT cell trained on the pooled samples of several SFT models (the paper pools models)."""

    name: str = setting("rft-pooled", "Series (method) name of the pooled cells.")
    fractions: list[float] = setting(help="SFT fractions whose models are pooled.", factory=lambda: [1.0])
    seeds: list[int] = setting(help="SFT seeds whose models are pooled (with every fraction).", factory=lambda: [0])
    k: list[int] = setting(
        help="Samples per question taken from each pooled model; one cell per value.", factory=lambda: [4]
    )
    control: str | None = setting(None, CONTROL_HELP)


@dataclass
class RFTAblation:
    """An RFT variant: other collection options or sampling temperature, as its own series."""

    name: str = setting("", "Series (method) name, e.g. rft-nodedupe.")
    k: list[int] | None = setting(None, "k values of this variant (None = rft.k).")
    temperature: float | None = setting(
        None, "Sampling temperature (None = rft.sampling.temperature); another temperature means another sampling run."
    )
    collect: dict[str, Any] = setting(
        help="RFTConfig overrides, e.g. {signature: none} for no de-duplication.", factory=dict
    )
    control: str | None = setting(None, CONTROL_HELP)
    match: str | None = setting(
        None,
        "Train each cell of this variant for the compute of the rft cell with the same k: steps | tokens | "
        "epochs (e.g. a no-de-duplication ablation at RFT's optimizer steps); that k must be in rft.k.",
    )


@dataclass
class RFTGridConfig:
    """The RFT cells: for each k, the first k samples per question of ONE sampling run at max k."""

    k: list[int] = setting(
        help="Samples per training question (the paper: 1, 3, 6, 12, 25, 50, 100); empty = no RFT.", factory=list
    )
    source_fraction: float = setting(1.0, "The SFT fraction whose model samples the RFT paths (paper: full data).")
    source_seed: int = setting(0, "The SFT seed whose model samples the RFT paths.")
    collect: dict[str, Any] = setting(
        help="RFTConfig fields (signature, tie_break, require_annotations_ok, include_original, grading, dataset).",
        factory=dict,
    )
    sampling: SamplingConfig = setting(help="Sampling settings.", factory=SamplingConfig)
    pooled: list[PooledConfig] = setting(help="Pooled-model cells.", factory=list)
    ablations: list[RFTAblation] = setting(help="Variant series (no dedupe, another temperature, ...).", factory=list)
    control: str | None = setting(None, CONTROL_HELP)
    match: str | None = setting(
        None,
        "Train every RFT cell (rft.k, ablations, pooled) for as much compute as the SFT "
        "source model (source_fraction, source_seed): steps | tokens | epochs; then each "
        "RFT cell and that SFT model are compute-matched and the report compares them "
        "question by question. null: the training recipe alone decides (the paper: the "
        "same epochs, so more steps for the larger D ∪ D').",
    )
    train: dict[str, Any] = setting(
        help="SFTRunConfig overrides for RFT cells on top of sft.train "
        "(default: the same recipe, from the base model).",
        factory=dict,
    )


@dataclass
class AugmentSet:
    """Augmented data (e.g. MuggleMath files): SFT on D plus the first n augmented records."""

    name: str = setting("", "Series (method) name.")
    path: str = setting("", "Problem-shaped JSONL (question + solution) of augmented data.")
    amounts: list[int | None] = setting(
        help="Augmented records to add (a nested prefix of the file); None = all; one cell per amount.",
        factory=lambda: [None],
    )
    with_original: bool = setting(True, "Train on D ∪ A (True) or on A alone.")
    format: str = setting("auto", "Format passed to datasets.load_problems.")
    control: str | None = setting(None, CONTROL_HELP.replace("/k<k>", "/n<amount>"))


@dataclass
class EvalConfig:
    """Evaluation of every trained model on the test split (and extra sets)."""

    k: int = setting(0, "Samples per test question for maj@k / pass@k (0 = greedy only).")
    temperature: float = setting(0.7, "Temperature of the k samples.")
    max_tokens: int = setting(256, "New tokens per completion.")
    seed: int = setting(0, "Base sampling seed.")
    engine: str = setting("hf", "Sampling engine.")
    batch_size: int = setting(64, "Rows the transformers engine (hf) decodes together (vLLM batches itself).")
    engine_kwargs: dict[str, Any] = setting(help="Extra engine settings (device, dtype, threads, ...).", factory=dict)
    bootstrap: int = setting(1000, "Bootstrap replicates for accuracy intervals (0 = none).")
    sets_limit: int | None = setting(None, "Evaluate only the first n problems of each set in eval_sets.")
    sampled_n: int | None = setting(
        None,
        "Draw the k samples for the first n test questions only (None = all): greedy accuracy, cheap, "
        "gets every test question.",
    )


@dataclass
class FewShotConfig:
    """Few-shot chain-of-thought evaluation of each base model (no training)."""

    shots: list[int] = setting(help="Exemplar counts; one cell per value per base (empty = off).", factory=list)
    template: str = setting("fewshot_qa", "Frame template with {exemplars} and {question}.")
    exemplar_template: str = setting("fewshot_qa_exemplar", "Exemplar template with {question} and {solution}.")
    separator: str = setting("\n\n", "Text between exemplars (and before the question).")
    seed: int = setting(0, "Seed of the exemplar draw from the train split.")
    stop: list[str] = setting(
        help="Stop strings (the model would go on with the next question).", factory=lambda: ["\n\n", "\nQ:"]
    )


@dataclass
class LeakageConfig:
    """Xwin-Math's leakage check: LM loss on test problems vs the same problems with new numbers."""

    enabled: bool = setting(False, "Run the check in every evaluation (column leak_gap).")
    n: int = setting(100, "Test problems checked.")
    mode: str = setting(
        "auto",
        "solution: loss on the solution given the question, with procedural problems "
        "regenerated from their programs; question: loss on the question text with its "
        "numbers swapped (any dataset); auto: solution when the problems carry programs.",
    )
    seed: int = setting(0, "Seed of the new numbers.")
    batch_size: int = setting(16, "Sequences per forward pass.")
    control: bool = setting(
        False,
        "Also train a deliberately leaked model (SFT on train + test) per base, "
        "so the study shows what a leak looks like.",
    )


@dataclass
class LongCotConfig:
    """Extra SFT series trained on data resampled towards long solutions."""

    weights: list[float] = setting(help="long_cot_resample weights; one series per value (empty = off).", factory=list)
    fractions: list[float] = setting(help="Fractions trained for each weight.", factory=lambda: [1.0])


@dataclass
class AnalysesConfig:
    """Analyses run beside the grid."""

    fewshot: FewShotConfig = setting(help="Few-shot CoT evaluation of base models.", factory=FewShotConfig)
    leakage: LeakageConfig = setting(help="Test-set leakage check.", factory=LeakageConfig)
    long_cot: LongCotConfig = setting(help="Long-CoT resampled SFT series.", factory=LongCotConfig)
    pretrain_loss: bool = setting(
        True,
        "Record each base's pre-training loss in the results (and, with "
        "several bases, write pretrain_loss/results.csv: accuracy vs loss).",
    )
