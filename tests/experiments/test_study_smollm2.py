"""The checked-in real-model study: it parses, and it is the small LoRA run it says it is."""

from pathlib import Path

from scalemath.experiments.config import load_study
from scalemath.training.sft_config import MIN_STEPS_PER_EPOCH, SFTRunConfig

STUDY = Path(__file__).resolve().parents[2] / "src" / "scalemath" / "experiments" / "studies" / "rft_smollm2.yaml"


def test_rft_smollm2_study_is_a_small_lora_run_on_real_gsm8k():
    s = load_study(STUDY)
    assert s.name == "rft_smollm2" and s.data.source == "files" and s.data.train.endswith("gsm8k/train.jsonl")
    assert s.data.train_n == 32 and s.data.test_n == 50 and s.rft.k == [4] and s.rft.control == "steps"
    train = SFTRunConfig.from_dict(s.sft.train)  # every field is an SFTRunConfig field
    assert train.lora_r == 16 and train.batch_size is not None
    assert s.data.train_n // train.batch_size >= MIN_STEPS_PER_EPOCH  # no batch shrinking needed
    # the model's own chat template for SFT examples, sampling and evaluation (issue 23)
    assert s.sft.chat and s.sft.template == "question" and train.chat  # cells carry it in train
