"""Read a model file of any common kind, and calibration data, for ``quanta model``.

:func:`load_model` tells the kind of a file by its content, not its name:

- a **quanta checkpoint** (a safetensors file written by :func:`quanta.nn.save`);
- a **TorchScript** archive (a zip holding ``code/``, as ``torch.jit.save`` writes);
- a **state_dict** (``torch.save(model.state_dict())`` in a ``.pt``/``.pth``, or a
  ``.safetensors`` file) together with ``arch``, the name of an architecture of
  :data:`quanta.nn.models.ARCHITECTURES` to load it into;
- a **pickled module** (``torch.save(model)``), read only with ``trust=True``:
  unpickling runs code that the file names.

A TorchScript module cannot be quantized (its layers cannot be given new
state). When ``arch`` is given, or when its weights fit a known architecture by
themselves (the ``silero_vad.jit`` of the ``silero-vad`` wheel does), it is
converted to that Python module; otherwise it is returned as it is, for its
weights to be read.

:func:`load_calibration` splits the arrays of an ``.npz`` file into the batches
:func:`quanta.nn.quantize_` takes as calibration data.

>>> import numpy as np, tempfile, os
>>> path = os.path.join(tempfile.mkdtemp(), "calib.npz")
>>> np.savez(path, np.zeros((70, 3), np.float32))
>>> batches = load_calibration(path, batch_size=32)
>>> [tuple(b.shape) for b in batches], batches[0].dtype
([(32, 3), (32, 3), (6, 3)], torch.float32)
"""

from __future__ import annotations

import contextlib
import inspect
import io
import math
import os
import pickle
import re
import warnings
import zipfile
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from quanta.errors import CorruptData, InvalidInput, InvalidParameter, UnsupportedFormat
from quanta.nn.config import WEIGHT_NAMES

__all__ = [
    "KINDS",
    "LoadedModel",
    "float_nbytes",
    "layer_type",
    "load_calibration",
    "load_model",
    "weight_statistics",
]

#: The kinds of model file :func:`load_model` reads.
KINDS = ("torchscript", "pickle", "state_dict", "quanta")

_ZIP_MAGIC = b"PK\x03\x04"
_MAX_NAMES = 4  # keys named in a mismatch message


@dataclass
class LoadedModel:
    """A model read by :func:`load_model`.

    Attributes
    ----------
    module : torch.nn.Module
        The model, in eval mode, on the CPU. A ``torch.jit.ScriptModule`` only
        when a TorchScript file could not be converted (see :attr:`quantizable`).
    kind : {"torchscript", "pickle", "state_dict", "quanta"}
        What the file held.
    arch : str or None
        The architecture name (:data:`quanta.nn.models.ARCHITECTURES`) the
        module was built as, when known.
    path : pathlib.Path
        The file read.
    notes : tuple of str
        What was done on the way (a TorchScript model converted, keys renamed ...).
    """

    module: nn.Module
    kind: str
    arch: str | None
    path: Path
    notes: tuple[str, ...] = field(default=())

    @property
    def quantizable(self) -> bool:
        """Whether quanta can quantize the module (a Python module, not TorchScript)."""
        return not isinstance(self.module, torch.jit.ScriptModule)


# ---------------------------------------------------------------------- architectures


def _architectures() -> dict[str, Callable[[], nn.Module]]:
    from quanta.nn.models import ARCHITECTURES

    return ARCHITECTURES


def _skeleton(arch: str) -> nn.Module:
    """A new module of architecture ``arch``, to load a state_dict into."""
    from quanta.nn import models

    # Built directly: the catalogue's silero builder reads the trained weights from
    # the silero-vad wheel, which a state_dict about to replace them does not need.
    cheap = {"silero-vad": models.SileroVAD, "digits-cnn": models.DigitsCNN}
    _skeleton_check(arch)
    return (cheap.get(arch) or _architectures()[arch])()


def _silero_jit_keys(state: Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor] | None:
    """The 16 kHz weights of ``silero_vad.jit`` renamed to :class:`~quanta.nn.models.SileroVAD`'s.

    The scripted model holds a 16 kHz (``_model.*``) and an 8 kHz (``_model_8k.*``)
    network; the 16 kHz one is kept.
    """
    from quanta.nn.models import silero_jit_names

    names = silero_jit_names()
    for prefix in ("_model.", ""):
        if all(prefix + k in state for k in names):
            return {new: state[prefix + old] for old, new in names.items()}
    return None


#: Renamings of other tools' state_dict keys to a known architecture's, tried in turn.
_KEY_MAPS: dict[str, Callable[[Mapping[str, torch.Tensor]], dict[str, torch.Tensor] | None]] = {
    "silero-vad": _silero_jit_keys,
}
_MAP_NOTES = {
    "silero-vad": "silero_vad.jit's 16 kHz network (_model.*) renamed to SileroVAD's layers; "
    "its 8 kHz network is dropped, and the module takes frames of 64 + 512 samples "
    "(quanta.nn.models.SileroVAD.forward)",
}


def _fits(module: nn.Module, state: Mapping[str, torch.Tensor]) -> bool:
    own = module.state_dict()
    return set(own) == set(state) and all(
        tuple(own[k].shape) == tuple(state[k].shape) for k in own
    )


def _mismatch(module: nn.Module, state: Mapping[str, torch.Tensor]) -> str:
    own = module.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(own[k].shape)}"
        for k in own
        if k in state and tuple(own[k].shape) != tuple(state[k].shape)
    ]
    parts = []
    for what, keys in (("missing", missing), ("unexpected", unexpected), ("shape", shapes)):
        if keys:
            more = f" and {len(keys) - _MAX_NAMES} more" if len(keys) > _MAX_NAMES else ""
            parts.append(f"{what} {', '.join(keys[:_MAX_NAMES])}{more}")
    return "; ".join(parts)


def _into(arch: str, state: Mapping[str, torch.Tensor], path: Path) -> tuple[nn.Module, str]:
    """A module of ``arch`` holding ``state`` (keys as they are, or renamed); a note."""
    module = _skeleton(arch)
    candidates: list[tuple[Mapping[str, torch.Tensor], str]] = [(state, "")]
    stripped = _strip_prefix(state)
    if stripped is not state:
        candidates.append((stripped, "the keys' 'module.' prefix was removed"))
    renamer = _KEY_MAPS.get(arch)
    if renamer is not None:
        renamed = renamer(state)
        if renamed is not None:
            candidates.append((renamed, _MAP_NOTES[arch]))
    for candidate, note in candidates:
        if _fits(module, candidate):
            module.load_state_dict(dict(candidate), strict=True)
            module.quanta_architecture = arch
            return module.eval(), note
    raise CorruptData(
        f"'{path}' does not hold the weights of architecture {arch!r} "
        f"({_mismatch(module, stripped)}); check --arch (library: arch=)"
    )


def _strip_prefix(state: Mapping[str, torch.Tensor]) -> Mapping[str, torch.Tensor]:
    """``state`` without DataParallel's ``module.`` prefix, when every key has it."""
    if state and all(k.startswith("module.") for k in state):
        return {k.removeprefix("module."): v for k, v in state.items()}
    return state


def _detect_arch(state: Mapping[str, torch.Tensor]) -> tuple[str, nn.Module, str] | None:
    """The known architecture whose layers ``state`` fits, possibly after renaming."""
    from quanta.nn import models

    for arch, build in (("silero-vad", models.SileroVAD), ("digits-cnn", models.DigitsCNN)):
        module = build()
        renamer = _KEY_MAPS.get(arch)
        renamed = renamer(state) if renamer is not None else None
        for candidate, note in ((state, ""), (renamed, _MAP_NOTES.get(arch, ""))):
            if candidate is not None and _fits(module, candidate):
                module.load_state_dict(dict(candidate), strict=True)
                module.quanta_architecture = arch
                return arch, module.eval(), note
    return None


# --------------------------------------------------------------------------- reading


@contextlib.contextmanager
def _quiet_torch() -> Iterator[None]:
    """torch's deprecation notices for torch.jit are not the user's concern here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        warnings.simplefilter("ignore", FutureWarning)
        yield


def _head(path: Path, n: int = 16) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _looks_like_safetensors(head: bytes) -> bool:
    if len(head) < 9:
        return False
    n = int.from_bytes(head[:8], "little")
    return head[8:9] == b"{" and 0 < n < (1 << 30)


def _sniff(path: Path) -> str:
    """``"zip"``, ``"pickle"`` or ``"safetensors"``, from the first bytes of the file."""
    head = _head(path)
    if not head:
        raise CorruptData(f"'{path}' is empty; give a model file")
    if head.startswith(_ZIP_MAGIC):
        return "zip"
    if head[:1] == b"\x80" and head[1:2] in (b"\x02", b"\x03", b"\x04", b"\x05"):
        return "pickle"  # torch.save's legacy (pre-1.6) format
    if _looks_like_safetensors(head):
        return "safetensors"
    raise UnsupportedFormat(
        f"'{path}' is not a model file quanta reads; give a TorchScript file, a torch.save "
        f"file (.pt/.pth: a state_dict, or a pickled module with --trust), a .safetensors "
        f"state_dict or a quanta checkpoint"
    )


def _zip_names(path: Path) -> list[str]:
    try:
        with zipfile.ZipFile(path) as z:
            return z.namelist()
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorruptData(
            f"'{path}' is a damaged or truncated zip archive ({exc}); the torch file is "
            f"incomplete: save it again"
        ) from exc


def _is_torchscript(names: list[str]) -> bool:
    return any(re.fullmatch(r"[^/]+/(code/.+|constants\.pkl)", n) for n in names)


def _load_torchscript(path: Path) -> torch.jit.ScriptModule:
    try:
        with _quiet_torch():
            return torch.jit.load(str(path), map_location="cpu")
    except Exception as exc:  # torch raises RuntimeError and others for damaged archives
        raise CorruptData(
            f"'{path}' is a damaged TorchScript archive ({_first_line(exc)})"
        ) from exc


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _untrusted(path: Path) -> InvalidInput:
    return InvalidInput(
        f"'{path}' holds a pickled Python object (a whole model saved with torch.save(model)), "
        f"not only tensors; unpickling executes code from the file, so quanta reads it only "
        f"when told to: pass --trust (library: trust=True) only for files from a trusted source, "
        f"or save the weights instead (torch.save(model.state_dict()) or safetensors) and "
        f"pass --arch"
    )


def _torch_load(path: Path, *, trust: bool) -> tuple[Any, bool]:
    """The object ``torch.load`` reads, and whether it needed full unpickling."""
    try:
        with _quiet_torch():
            return torch.load(str(path), map_location="cpu", weights_only=True), False
    except pickle.UnpicklingError as exc:
        if "global" not in str(exc).lower():
            raise CorruptData(f"'{path}' is a damaged torch file ({_first_line(exc)})") from exc
    except Exception as exc:  # RuntimeError, EOFError ... for damaged files
        raise CorruptData(f"'{path}' is a damaged torch file ({_first_line(exc)})") from exc
    if not trust:
        raise _untrusted(path)
    try:
        with _quiet_torch():
            return torch.load(str(path), map_location="cpu", weights_only=False), True
    except Exception as exc:
        raise CorruptData(
            f"'{path}' could not be unpickled ({type(exc).__name__}: {_first_line(exc)}); the "
            f"file is damaged, or the classes it names cannot be imported here"
        ) from exc


def _as_state_dict(obj: Any) -> dict[str, torch.Tensor] | None:
    """``obj`` as a state_dict (a mapping of names to tensors), unwrapping common checkpoints."""
    if isinstance(obj, Mapping):
        if obj and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items()):
            return dict(obj)
        for key in ("state_dict", "model_state_dict", "model"):
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner is not obj:
                found = _as_state_dict(inner)
                if found is not None:
                    return found
    return None


def _safetensors_state(path: Path) -> dict[str, torch.Tensor]:
    from safetensors.torch import load_file

    try:
        return load_file(str(path))
    except Exception as exc:  # safetensors raises its own error types
        raise CorruptData(f"'{path}' is a damaged safetensors file ({_first_line(exc)})") from exc


def _from_state(
    state: dict[str, torch.Tensor], arch: str | None, path: Path, kind: str
) -> LoadedModel:
    if arch is None:
        names = ", ".join(sorted(_architectures()))
        raise InvalidParameter(
            f"'{path}' holds only weights (a state_dict of {len(state)} tensors), not the "
            f"model's code; name its architecture with --arch NAME (library: arch=), one of: "
            f"{names}"
        )
    module, note = _into(arch, state, path)
    return LoadedModel(module, kind, arch, path, (note,) if note else ())


def _from_quanta(path: Path, arch: str | None) -> LoadedModel:
    from quanta.nn import serialize

    header = serialize.read_header(path)
    named = header.get("architecture")
    if arch is None and named not in _architectures():
        raise InvalidParameter(
            f"'{path}' is a quanta checkpoint of a model quanta cannot build by itself"
            f"{'' if named is None else f' ({named!r})'}; name its architecture with --arch "
            f"NAME (library: arch=), one of: {', '.join(sorted(_architectures()))}"
        )
    use = arch or named
    model = _skeleton(use)
    model.quanta_architecture = use
    module = serialize.load(path, model=model)
    note = (
        "already quantized by quanta: its weights are read decoded, and quantizing it again is "
        "refused (start from the float model)"
    )
    return LoadedModel(module, "quanta", use, path, (note,))


def load_model(
    path: str | os.PathLike[str], *, arch: str | None = None, trust: bool = False
) -> LoadedModel:
    """Read the model in ``path``, telling the file's kind by its content.

    Parameters
    ----------
    path : path
        A TorchScript archive, a ``torch.save`` file (a state_dict; a pickled
        module only with ``trust=True``), a ``.safetensors`` state_dict or a
        quanta checkpoint (:func:`quanta.nn.save`).
    arch : str, optional
        Name of the architecture (:data:`quanta.nn.models.ARCHITECTURES`) to
        load a state_dict into; needed for state_dicts, and turns a TorchScript
        model into that Python module.
    trust : bool
        Allow unpickling a whole pickled module. Unpickling executes code named
        by the file: pass True only for files from a trusted source.

    Returns
    -------
    LoadedModel
        The module (eval mode, CPU), the file's kind, the architecture when
        known, and notes on any conversion.

    Raises
    ------
    InvalidInput
        A pickled module without ``trust``; a missing file.
    InvalidParameter
        A state_dict without ``arch``, or an unknown ``arch``.
    CorruptData
        A truncated or damaged file; weights that do not fit ``arch``.
    UnsupportedFormat
        A file that is no kind of model file.

    Examples
    --------
    >>> import os, tempfile, torch
    >>> from quanta.nn.models import DigitsCNN
    >>> path = os.path.join(tempfile.mkdtemp(), "digits.pt")
    >>> torch.save(DigitsCNN().state_dict(), path)
    >>> loaded = load_model(path, arch="digits-cnn")
    >>> loaded.kind, loaded.arch, type(loaded.module).__name__
    ('state_dict', 'digits-cnn', 'DigitsCNN')
    """
    path = Path(path)
    if not path.is_file():
        raise InvalidInput(
            f"no such file: '{path}'" if not path.exists() else f"'{path}' is not a file"
        )
    if arch is not None:
        _skeleton_check(arch)
    fmt = _sniff(path)
    if fmt == "safetensors":
        return _load_safetensors(path, arch)
    if fmt == "zip" and _is_torchscript(_zip_names(path)):
        return _from_script(_load_torchscript(path), arch, path)
    obj, unpickled = _torch_load(path, trust=trust)
    state = _as_state_dict(obj)
    if state is not None:
        return _from_state(state, arch, path, "state_dict")
    if isinstance(obj, nn.Module):
        return _from_module(obj, arch, path, unpickled)
    raise UnsupportedFormat(
        f"'{path}' holds a {type(obj).__name__}, not a model or a state_dict (a mapping of "
        f"names to tensors); save the model's state_dict() or the module itself"
    )


def _skeleton_check(arch: str) -> None:
    known = _architectures()
    if arch not in known:
        raise InvalidParameter(f"unknown architecture {arch!r}; known: {', '.join(sorted(known))}")


def _load_safetensors(path: Path, arch: str | None) -> LoadedModel:
    from quanta.nn import serialize

    try:
        serialize.read_header(path)
    except UnsupportedFormat:  # a plain safetensors file: a state_dict
        state = _safetensors_state(path)
        if not state:
            raise CorruptData(f"'{path}' holds no tensor") from None
        return _from_state(state, arch, path, "state_dict")
    return _from_quanta(path, arch)


def _from_module(obj: nn.Module, arch: str | None, path: Path, unpickled: bool) -> LoadedModel:
    if arch is not None:  # the user asked for the catalogue's module: move the weights over
        module, note = _into(arch, obj.state_dict(), path)
        return LoadedModel(module, "pickle", arch, path, (note,) if note else ())
    known = getattr(obj, "quanta_architecture", None)
    return LoadedModel(obj.eval(), "pickle", known if isinstance(known, str) else None, path)


def _from_script(scripted: torch.jit.ScriptModule, arch: str | None, path: Path) -> LoadedModel:
    state = {k: v.detach().clone() for k, v in scripted.state_dict().items()}
    converted = "converted from TorchScript to the Python module of {!r}"
    if arch is not None:
        module, note = _into(arch, state, path)
        notes = (converted.format(arch),) + ((note,) if note else ())
        return LoadedModel(module, "torchscript", arch, path, notes)
    found = _detect_arch(state)
    if found is not None:
        name, module, note = found
        notes = (converted.format(name),) + ((note,) if note else ())
        return LoadedModel(module, "torchscript", name, path, notes)
    return LoadedModel(
        scripted.eval(),
        "torchscript",
        None,
        path,
        (
            "a TorchScript model: its weights can be read, but quantizing it needs its Python "
            "module; name the architecture with --arch (library: arch=)",
        ),
    )


# ----------------------------------------------------------------------- statistics


def layer_type(module: nn.Module) -> str:
    """The class name of a layer, also for TorchScript modules (their original class)."""
    if isinstance(module, torch.jit.ScriptModule):
        return str(getattr(module, "original_name", type(module).__name__))
    return type(module).__name__


def _weight_of(module: nn.Module, wname: str) -> torch.Tensor | None:
    from quanta.nn.modules import is_quantized, state_of

    if not isinstance(module, torch.jit.ScriptModule) and is_quantized(module):
        weights = state_of(module).weights
        if wname in weights:
            with torch.no_grad():
                return weights[wname]()
    w = getattr(module, wname, None)
    return w if isinstance(w, torch.Tensor) else None


def weight_statistics(
    model: nn.Module,
    *,
    bits: tuple[int, ...] = (8, 4),
    group_size: int | None = None,
) -> list[dict[str, Any]]:
    """Statistics of every quantizable weight of ``model``, and its SQNR after RTN.

    Parameters
    ----------
    model : torch.nn.Module
        Any module, TorchScript included; a weight quanta has already quantized
        is described as decoded.
    bits : tuple of int
        Bit depths at which to measure the weight's SQNR after round to nearest
        on the symmetric grid (:func:`quanta.nn.weights.quantize_weight`).
    group_size : int, optional
        Scales per group of this many input weights; per channel when None.

    Returns
    -------
    list of dict
        One row per weight: ``layer``, ``weight`` (attribute name), ``type``,
        ``shape``, ``numel``, ``min``, ``max``, ``std``, ``kurtosis`` (excess,
        0 for a Gaussian), ``sqnr_db`` ({bits: dB}: 10 log10 of the weight's
        energy over the squared error's, all in float64).

    Examples
    --------
    >>> import torch
    >>> torch.manual_seed(0) and None
    >>> rows = weight_statistics(torch.nn.Linear(256, 64), bits=(8,))
    >>> rows[0]["layer"], rows[0]["shape"], rows[0]["sqnr_db"][8] > 40
    ('', [64, 256], True)
    """
    from quanta.metrics import sqnr_db
    from quanta.nn.weights import dequantize, quantize_weight

    rows = []
    for name, module in model.named_modules():
        kind = layer_type(module)
        for wname in WEIGHT_NAMES.get(kind, ()):
            w = _weight_of(module, wname)
            if w is None or not torch.is_floating_point(w) or w.numel() == 0:
                continue
            w = w.detach().cpu()
            x = w.double().numpy().ravel()
            mean, std = float(x.mean()), float(x.std())
            kurt = float(np.mean(((x - mean) / std) ** 4) - 3.0) if std > 0 else math.nan
            sqnr = {}
            for b in bits:
                q = quantize_weight(w, bits=b, group_size=group_size, method="rtn")
                x_hat = dequantize(q, torch.float64).reshape(w.shape).numpy().ravel()
                sqnr[b] = float(sqnr_db(x, x_hat))
            rows.append(
                {
                    "layer": name,
                    "weight": wname,
                    "type": kind,
                    "shape": list(w.shape),
                    "numel": int(w.numel()),
                    "min": float(x.min()),
                    "max": float(x.max()),
                    "std": std,
                    "kurtosis": kurt,
                    "sqnr_db": sqnr,
                }
            )
    return rows


def float_nbytes(model: nn.Module) -> int:
    """Bytes of the model's floating-point parameters and buffers (each tensor counted once)."""
    seen: set[int] = set()
    total = 0
    for t in list(model.parameters()) + list(model.buffers()):
        if not torch.is_floating_point(t) or id(t) in seen:
            continue
        seen.add(id(t))
        total += t.numel() * t.element_size()
    return total


# ---------------------------------------------------------------------- calibration


def _forward_names(model: nn.Module | None) -> set[str] | None:
    if model is None:
        return None
    try:
        params = inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return None
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values()):
        return None  # takes any keyword
    return set(params)


def load_calibration(
    path: str | os.PathLike[str], batch_size: int = 32, *, model: nn.Module | None = None
) -> list[Any]:
    """Calibration batches from an ``.npz`` file, for :func:`quanta.nn.quantize_`.

    The file's arrays, in the file's order, are the model's inputs: all have the
    same first dimension ``N`` (the samples) and are cut into batches of
    ``batch_size`` along it (the last batch may be shorter). Float arrays
    become float32 tensors, integer ones int64, boolean ones bool.

    Parameters
    ----------
    path : path
        An ``.npz`` file (``np.savez``). Object arrays are refused: they are
        pickles.
    batch_size : int
        Samples per batch.
    model : torch.nn.Module, optional
        The model the batches are for. With arrays named other than
        ``arr_0, arr_1 ...`` (``np.savez(f, input_ids=..., attention_mask=...)``)
        each batch is a dict of keyword inputs — unless ``model`` is given and
        its ``forward`` has no parameter of those names, when the arrays are
        positional inputs in the file's order.

    Returns
    -------
    list
        One batch per ``batch_size`` samples: a tensor (one array), a tuple of
        tensors (positional inputs) or a dict of tensors (keyword inputs).
    """
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameter(f"batch size must be a positive integer, got {batch_size!r}")
    arrays = _read_npz(Path(path))
    names = list(arrays)
    positional = all(re.fullmatch(r"arr_\d+", n) for n in names)
    accepted = _forward_names(model)
    if not positional and accepted is not None and not set(names) <= accepted:
        positional = True
    n = _common_length(arrays, Path(path))
    tensors = {k: _tensor(v, k, Path(path)) for k, v in arrays.items()}
    batches: list[Any] = []
    for start in range(0, n, batch_size):
        part = {k: t[start : start + batch_size] for k, t in tensors.items()}
        if not positional:
            batches.append(part)
        elif len(part) == 1:
            batches.append(next(iter(part.values())))
        else:
            batches.append(tuple(part.values()))
    return batches


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    if not path.is_file():
        raise InvalidInput(f"no such file: '{path}'")
    if not _head(path, 4).startswith(b"PK"):  # an .npz is a zip (an empty one: PK\x05\x06)
        raise UnsupportedFormat(
            f"calibration data must be an .npz file (np.savez), and '{path}' is not one"
        )
    arrays: dict[str, np.ndarray] = {}
    try:
        # Our own handle: np.load leaks its file when the zip is damaged.
        with open(path, "rb") as fh, np.load(fh, allow_pickle=False) as npz:
            for name in npz.files:
                arrays[name] = npz[name]
    except ValueError as exc:
        if "pickle" in str(exc).lower() or "object" in str(exc).lower():
            raise InvalidInput(
                f"'{path}' holds an object array ({exc}); loading it would unpickle code: "
                f"save numeric arrays only"
            ) from exc
        raise CorruptData(f"'{path}' is a damaged .npz file ({_first_line(exc)})") from exc
    except (zipfile.BadZipFile, OSError, EOFError, io.UnsupportedOperation) as exc:
        raise CorruptData(f"'{path}' is a damaged .npz file ({_first_line(exc)})") from exc
    if not arrays:
        raise InvalidInput(f"'{path}' holds no array; save the model's inputs with np.savez")
    return arrays


def _common_length(arrays: dict[str, np.ndarray], path: Path) -> int:
    lengths = {}
    for name, a in arrays.items():
        if a.ndim == 0:
            raise InvalidInput(
                f"'{path}': array {name!r} is a scalar; each array needs a first dimension "
                f"of samples"
            )
        lengths[name] = a.shape[0]
    if len(set(lengths.values())) > 1:
        listed = ", ".join(f"{k}: {v}" for k, v in lengths.items())
        raise InvalidInput(
            f"'{path}': the arrays have different numbers of samples (first dimension: "
            f"{listed}); every input needs one row per sample"
        )
    n = next(iter(lengths.values()))
    if n == 0:
        raise InvalidInput(f"'{path}' holds no sample (first dimension 0)")
    return n


def _tensor(a: np.ndarray, name: str, path: Path) -> torch.Tensor:
    if a.dtype.kind == "f":
        if not np.isfinite(a).all():
            raise InvalidInput(f"'{path}': array {name!r} holds NaN or Inf")
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))
    if a.dtype.kind in "iu":
        if a.dtype.kind == "u" and a.dtype.itemsize == 8 and a.size and a.max() > 2**63 - 1:
            raise InvalidInput(f"'{path}': array {name!r} has values beyond int64")
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))
    if a.dtype.kind == "b":
        return torch.from_numpy(np.ascontiguousarray(a))
    raise InvalidInput(
        f"'{path}': array {name!r} has dtype {a.dtype}; calibration inputs must be float, "
        f"integer or boolean"
    )
