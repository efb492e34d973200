#!/usr/bin/env python3
"""Validate the shipped DeepSpeed JSON files (src/scalemath/training/configs/ds_zero*.json) with DeepSpeed's own parser (DeepSpeedConfig), after
filling the "auto" fields the way the HF Trainer does (per-device 4, accumulation 4, one process, bf16)."""

import copy
import json
import sys

import deepspeed
from deepspeed.runtime.config import DeepSpeedConfig

print("deepspeed", deepspeed.__version__)


def fill(cfg, micro=4, accum=4, world=1):
    c = copy.deepcopy(cfg)
    c["train_micro_batch_size_per_gpu"] = micro
    c["gradient_accumulation_steps"] = accum
    c["train_batch_size"] = micro * accum * world
    c["gradient_clipping"] = 1.0
    c["bf16"]["enabled"] = True
    c["fp16"]["enabled"] = False
    z = c["zero_optimization"]
    for k, v in list(z.items()):
        if v == "auto":
            z[k] = {
                "reduce_bucket_size": 64 * 64,
                "stage3_prefetch_bucket_size": int(0.9 * 64 * 64),
                "stage3_param_persistence_threshold": 10 * 64,
            }[k]
    return c


for name in sys.argv[1:]:
    cfg = json.load(open(name))
    filled = fill(cfg)
    assert "auto" not in json.dumps(filled), name
    ds = DeepSpeedConfig(filled, mpu=None)  # raises on an invalid config
    print(
        name,
        "OK: zero stage",
        ds.zero_optimization_stage,
        "bf16",
        ds.bfloat16_config.enabled if hasattr(ds, "bfloat16_config") else ds.bfloat16_enabled,
        "train_batch",
        ds.train_batch_size,
        "micro",
        ds.train_micro_batch_size_per_gpu,
        "accum",
        ds.gradient_accumulation_steps,
    )
# Usage (DeepSpeed installs on CPU without its CUDA ops):
#   python -m venv /tmp/ds && DS_BUILD_OPS=0 /tmp/ds/bin/pip install -c constraints/main.txt torch deepspeed
#   /tmp/ds/bin/python scripts/check_deepspeed_configs.py src/scalemath/training/configs/ds_zero*.json
