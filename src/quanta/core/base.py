"""The quantizer model every method shares: fit, encode, decode, config.

A subclass declares its ``id``, its constructor parameters (keyword-only,
stored as given) and the names of what it learns (ending in ``_``), and
implements four hooks:

``_check_params()``
    raise :class:`InvalidParameter` for a bad parameter (called by ``fit``,
    ``encode`` and ``from_config``);
``_fit(x, xp)``
    learn from finite data;
``_encode(x, xp)``
    return ``(codes, params, code_bits)``;
``_decode(codes, params, xp)``
    return reconstructed values as floats.

Quantizers that carry state from sample to sample (ADPCM, DPCM ...) set
``stateful = True`` and implement ``_encode_stateful(x, xp, state)``, which
returns ``(codes, params, code_bits, end_state)``; :meth:`Quantizer.stream`
then encodes a signal in pieces, each piece continuing where the last ended.

The base class validates the data (dtype, emptiness, NaN/Inf), keeps
non-finite values aside when ``nan="keep"``, restores shape and dtype, and
builds the :class:`Encoded` with its rate accounting.
"""

from __future__ import annotations

import inspect
import math
from typing import Any, ClassVar

import numpy as np

from quanta.core.encoded import Encoded, _to_numpy
from quanta.errors import (
    CorruptData,
    InvalidInput,
    InvalidParameter,
    MismatchedEncoding,
    NotFitted,
)

__all__ = ["Quantizer", "Stream", "as_data", "namespace", "side_bits_of"]

_NAN_POLICIES = ("raise", "keep")


def namespace(x: Any) -> Any:
    """The array-API namespace of ``x`` (NumPy's for lists and scalars)."""
    if isinstance(x, np.ndarray) or not hasattr(x, "__array_namespace__") and not _is_torch(x):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(x)


def _is_torch(x: Any) -> bool:
    return type(x).__module__.startswith("torch")


def as_data(x: Any, *, name: str = "x") -> Any:
    """``x`` as an array of real numbers, or a clear :class:`InvalidInput`.

    Lists and scalars become NumPy arrays; NumPy, PyTorch and other
    array-API arrays are returned as they are.
    """
    if isinstance(x, np.ndarray) or _is_torch(x) or hasattr(x, "__array_namespace__"):
        arr = x
    else:
        try:
            arr = np.asarray(x)
        except (ValueError, TypeError) as exc:
            raise InvalidInput(f"{name} cannot be read as a numeric array: {exc}") from None
    kind = _dtype_kind(arr)
    if kind == "c":
        raise InvalidInput(
            f"{name} is complex; quantize the real and imaginary parts separately (x.real, x.imag)"
        )
    if kind == "b":
        raise InvalidInput(f"{name} is boolean; convert it first, e.g. x.astype(np.uint8)")
    if kind == "bfloat16":
        raise InvalidInput(
            f"{name} is a bfloat16 tensor, which NumPy cannot hold; quantize x.float() "
            f"and convert the result back with .bfloat16()"
        )
    if kind not in "iuf":
        raise InvalidInput(f"{name} must hold real numbers, got dtype {_dtype_name(arr)}")
    if math.prod(arr.shape) == 0:
        raise InvalidInput(f"{name} is empty (shape {tuple(arr.shape)}); nothing to quantize")
    return arr


def _dtype_kind(arr: Any) -> str:
    if isinstance(arr, np.ndarray | np.generic):
        return arr.dtype.kind
    if _is_torch(arr):
        import torch

        dt = arr.dtype
        if dt.is_complex:
            return "c"
        if dt == torch.bfloat16:
            return "bfloat16"
        if dt == torch.bool:
            return "b"
        return "f" if dt.is_floating_point else ("u" if dt == torch.uint8 else "i")
    return np.dtype(str(arr.dtype).split(".")[-1]).kind


def _dtype_name(arr: Any) -> str:
    return str(getattr(arr, "dtype", type(arr).__name__))


def compute_dtype(xp: Any, dtype: Any) -> Any:
    """float32 for float16/float32 data, float64 otherwise (float64 and integers)."""
    if dtype in (xp.float16, xp.float32):
        return xp.float32
    return xp.float64


def side_bits_of(params: dict[str, Any]) -> int:
    """Bits taken by the array parameters of an encoding, as stored by ``to_bytes``."""
    total = 0
    for value in params.values():
        value = _to_numpy(value)
        if isinstance(value, np.ndarray):
            total += value.nbytes * 8
    return total


class Quantizer:
    """Base class of every quantizer; see the module docstring."""

    id: ClassVar[str] = ""
    version: ClassVar[int] = 1
    #: Learned attributes, set by ``fit`` (and by ``from_config``).
    _fitted_attrs: ClassVar[tuple[str, ...]] = ()
    nan: str
    #: Quantizing twice gives the same values as quantizing once (false for
    #: methods whose levels depend on the signal's past or its blocks).
    idempotent: ClassVar[bool] = True
    #: The result depends on the order of the values (prediction, step
    #: adaptation, blocks): the analysis sweep gives such methods a contiguous
    #: piece of the data, not a random sample.
    order_matters: ClassVar[bool] = False
    #: Encoding carries state from one call to the next (see :meth:`stream`).
    stateful: ClassVar[bool] = False

    # ------------------------------------------------------------- lifecycle
    def fit(self, x: Any) -> Quantizer:
        """Learn what this quantizer needs from ``x``; returns ``self``."""
        self._check_params()
        x = as_data(x)
        xp = namespace(x)
        finite = self._finite_values(x, xp)
        self._fit(finite, xp)
        return self

    def partial_fit(self, x: Any) -> Quantizer:
        """Learn from one more chunk of data, keeping what earlier chunks taught; returns ``self``.

        After ``partial_fit`` on every piece of a dataset, the quantizer is the
        one ``fit`` on all of it would give (for the methods that support it:
        running statistics such as a min/max range).
        """
        self._check_params()
        x = as_data(x)
        xp = namespace(x)
        finite = self._finite_values(x, xp)
        self._partial_fit(finite, xp)
        return self

    def encode(self, x: Any) -> Encoded:
        """Quantize ``x`` to integer codes plus side information."""
        return self._encode_checked(x, None)[0]

    def stream(self, state: Any = None) -> Stream:
        """A :class:`Stream` that encodes a signal in pieces, from ``state`` (default: reset).

        Only for quantizers that carry state between samples (``stateful``).
        Each piece's :class:`Encoded` decodes on its own (it records the state
        it started from), and the decoded pieces equal the whole signal
        decoded, for ADPCM, Jayant and DPCM with a fixed predictor with any cut
        (LPC: when the pieces are whole blocks); the codes are equal too,
        except where a method shifts its codes per piece (error-bounded DPCM).
        :class:`~quanta.Online` restarts its chunks at each piece, so it
        matches the whole only when pieces are whole numbers of chunks.
        """
        if not self.stateful:
            raise InvalidParameter(
                f"{type(self).__name__} carries no state from one sample to the next; "
                f"encode each piece with .encode(piece)"
            )
        self._check_params()
        return Stream(self, state)

    def _encode_checked(self, x: Any, state: Any) -> tuple[Encoded, Any]:
        self._check_params()
        self._check_fitted()
        x = as_data(x)
        xp = namespace(x)
        fast = self._encode_fast(x, xp) if self.nan == "raise" and not self.stateful else None
        nonfinite = None
        end_state = None
        if fast is not None:
            codes, params, code_bits = fast
        else:
            nonfinite = self._split_nonfinite(x, xp)
            work = x if nonfinite is None else nonfinite[2]
            if self.stateful:
                codes, params, code_bits, end_state = self._encode_stateful(work, xp, state)
            else:
                codes, params, code_bits = self._encode(work, xp)
        if nonfinite is not None:
            params = {**params, "nonfinite_index": nonfinite[0], "nonfinite_values": nonfinite[1]}
        runs = self._width_runs()
        enc = Encoded(
            codes=codes,
            params=params,
            shape=tuple(int(n) for n in x.shape),
            dtype=np.dtype(_numpy_dtype_name(x)),
            method=self.id,
            code_bits=int(code_bits),
            side_bits=side_bits_of(params),
            config=self.get_config(),
            widths_from=None if runs is None else runs[0],
            width_block=0 if runs is None else runs[1],
        )
        return enc, end_state

    def decode(self, enc: Encoded) -> Any:
        """Reconstruct values from ``enc``: same shape and dtype as the encoded data."""
        if not isinstance(enc, Encoded):
            raise InvalidInput(f"decode expects a quanta Encoded, got {type(enc).__name__}")
        if enc.method != self.id:
            raise MismatchedEncoding(
                f"this Encoded was made by {enc.method!r}, not {self.id!r}; decode it with "
                f"quanta.decode(enc) or the quantizer that encoded it"
            )
        source = self._encoder_of(enc)
        source._check_params()
        xp = namespace(enc.codes)
        try:
            values = source._decode(enc.codes, enc.params, xp)
            values = xp.reshape(values, enc.shape)
        except (KeyError, IndexError, TypeError, ValueError, OverflowError) as exc:
            # bytes from an untrusted source
            raise CorruptData(f"Encoded parameters do not fit its codes: {exc!r}") from None
        if "nonfinite_index" in enc.params:
            values = _restore_nonfinite(values, enc.params, xp)
        return _cast_like(values, enc.dtype, xp)

    def _encoder_of(self, enc: Encoded) -> Quantizer:
        """The quantizer whose settings decode ``enc``: ``self``, or the one in ``enc.config``.

        Decoding depends on the settings the data were encoded with (bits,
        granularity, μ ...), which the Encoded records; a quantizer of the same
        kind with other settings decodes it as its encoder would have.
        """
        theirs = {k: v for k, v in enc.config.items() if k != "fitted"}
        if not theirs:
            return self
        own = {k: v for k, v in self.get_config().items() if k != "fitted"}
        return self if own == theirs else type(self).from_config(theirs)

    def quantize(self, x: Any) -> Any:
        """Fit if not fitted yet, then encode and decode: ``x`` as the decoder sees it."""
        if not self.is_fitted:
            self.fit(x)
        out = self.decode(self.encode(x))
        if isinstance(out, np.ndarray) and not isinstance(x, np.ndarray) and _is_torch(x):
            import torch  # methods that work in NumPy: give back what was given

            out = torch.from_numpy(np.ascontiguousarray(out)).to(x.device)
        return out

    @property
    def is_fitted(self) -> bool:
        """True once ``fit`` (or ``from_config`` with fitted state) has run."""
        return all(hasattr(self, a) for a in self._fitted_attrs)

    # ---------------------------------------------------------------- config
    @classmethod
    def _param_names(cls) -> list[str]:
        sig = inspect.signature(cls.__init__)
        return [p for p in sig.parameters if p != "self"]

    def get_params(self) -> dict[str, Any]:
        """The constructor parameters, as given."""
        return {name: getattr(self, name) for name in self._param_names()}

    def get_config(self) -> dict[str, Any]:
        """A plain JSON-able dict: ``{"id", "version", parameters..., "fitted"}``."""
        cfg: dict[str, Any] = {"id": self.id, "version": self.version}
        for name, value in self.get_params().items():
            cfg[name] = _to_json(value)
        if self.is_fitted and self._fitted_attrs:
            cfg["fitted"] = {a: _to_json(getattr(self, a)) for a in self._fitted_attrs}
        return cfg

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Quantizer:
        """Rebuild the quantizer ``get_config`` described, fitted state included."""
        if not isinstance(config, dict):
            raise InvalidParameter(f"a config must be a dict, got {type(config).__name__}")
        cfg = dict(config)
        cfg_id = cfg.pop("id", cls.id)
        if cfg_id != cls.id:
            raise InvalidParameter(f"config is for {cfg_id!r}, not {cls.id!r}")
        version = cfg.pop("version", cls.version)
        if not isinstance(version, int) or version > cls.version:
            raise InvalidParameter(
                f"{cls.id} config version {version!r} is newer than this quanta reads "
                f"({cls.version}); upgrade quanta"
            )
        fitted = cfg.pop("fitted", None)
        names = set(cls._param_names())
        unknown = sorted(set(cfg) - names)
        if unknown:
            raise InvalidParameter(
                f"unknown parameter(s) {unknown} for {cls.id}; allowed: {sorted(names)}"
            )
        obj = cls(**{k: _from_json(v) for k, v in cfg.items()})
        obj._check_params()
        if fitted is not None:
            missing = [a for a in cls._fitted_attrs if a not in fitted]
            if missing:
                raise InvalidParameter(f"{cls.id} config 'fitted' lacks {missing}")
            for attr in cls._fitted_attrs:
                setattr(obj, attr, _from_json(fitted[attr]))
            obj._check_fitted_state()
        return obj

    def clone(self, **changes: Any) -> Quantizer:
        """An unfitted copy with the same parameters, except those given in ``changes``.

        >>> import quanta as qa
        >>> qa.Uniform(4, range="symmetric").clone(nan="keep")
        Uniform(bits=4, range='symmetric', nan='keep')
        """
        config = {k: v for k, v in self.get_config().items() if k != "fitted"}
        return type(self).from_config({**config, **changes})

    def changed_params(self) -> dict[str, Any]:
        """The constructor parameters that differ from their defaults (what ``repr`` shows)."""
        sig = inspect.signature(type(self).__init__)
        changed = {}
        for name, value in self.get_params().items():
            default = sig.parameters[name].default
            if default is inspect.Parameter.empty or not _same(value, default):
                changed[name] = value
        return changed

    def __repr__(self) -> str:
        shown = ", ".join(f"{k}={v!r}" for k, v in self.changed_params().items())
        return f"{type(self).__name__}({shown})"

    def __eq__(self, other: object) -> bool:
        if type(other) is not type(self):
            return NotImplemented
        return self.get_config() == other.get_config()  # type: ignore[attr-defined]

    __hash__ = None  # type: ignore[assignment]

    @classmethod
    def sweep_variants(cls, bits: int) -> list[tuple[str, Quantizer]]:
        """The configurations the analysis sweep tries at ``bits`` bits: ``(label, quantizer)``.

        A quantizer that needs more than a bit depth to be built (a codebook,
        a wrapper) returns ``[]`` and is left out of the sweep.
        """
        return []

    # ----------------------------------------------------------------- hooks
    def _check_params(self) -> None:
        check_choice("nan", self.nan, _NAN_POLICIES)

    def _check_fitted_state(self) -> None:
        """Validate learned state loaded from a config (override where needed)."""

    def _fit(self, x: Any, xp: Any) -> None:
        raise NotImplementedError

    def _partial_fit(self, x: Any, xp: Any) -> None:
        raise InvalidParameter(
            f"{type(self).__name__} cannot learn chunk by chunk: fit it on all the data (or a "
            f"representative sample), or wrap a Uniform in Online(...) for data that drift"
        )

    def _encode(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int]:
        if self.stateful:  # from the reset state
            return self._encode_stateful(x, xp, None)[:3]
        raise NotImplementedError

    def _encode_fast(self, x: Any, xp: Any) -> tuple[Any, dict[str, Any], int] | None:
        """A one-pass encode that checks for NaN/Inf itself, or ``None`` where there is none.

        Used only with ``nan="raise"``; it must raise :class:`InvalidInput`
        (see :func:`nan_message`) if it meets a non-finite value.
        """
        return None

    def _decode(self, codes: Any, params: dict[str, Any], xp: Any) -> Any:
        raise NotImplementedError

    def _width_runs(self) -> tuple[str, int] | None:
        """``(params name, run length)`` for codes of varying width, else ``None``.

        A quantizer whose codes differ in width from run to run (bit
        allocation) names the uint8 ``params`` array that holds each run's
        width; ``code_bits`` is then the widest.
        """
        return None

    def _encode_stateful(
        self, x: Any, xp: Any, state: Any
    ) -> tuple[Any, dict[str, Any], int, Any]:
        """Encode from ``state`` (``None``: the reset state); also return the end state.

        Stateful quantizers implement this instead of ``_encode``; ``params``
        must record the start state so that the piece decodes on its own.
        """
        raise NotImplementedError

    # --------------------------------------------------------------- helpers
    def _check_fitted(self) -> None:
        if not self.is_fitted:
            raise NotFitted(
                f"this {type(self).__name__} is not fitted yet: call .fit(data) first, "
                f"or .quantize(data) which fits and quantizes"
            )

    #: Set by quantizers whose fit needs the data's shape (per-channel ranges):
    #: under ``nan="keep"`` they get non-finite values replaced by NaN, in place,
    #: instead of the finite values alone, flattened.
    _fit_keeps_shape: ClassVar[bool] = False

    def _finite_values(self, x: Any, xp: Any) -> Any:
        """The data to fit on: all of it, or its finite values under ``nan='keep'``."""
        if all_finite(x, xp):
            return x
        bad = ~xp.isfinite(x)
        n_bad = int(xp.sum(xp.astype(bad, xp.int64)))
        if self.nan != "keep":
            raise InvalidInput(nan_message(n_bad, x))
        if n_bad == math.prod(x.shape):
            raise InvalidInput("x has no finite values; there is nothing to fit on")
        if self._fit_keeps_shape:
            return xp.where(bad, xp.asarray(float("nan"), dtype=x.dtype), x)
        return x[~bad]

    def _split_nonfinite(self, x: Any, xp: Any) -> tuple[np.ndarray, np.ndarray, Any] | None:
        """``None`` if every value is finite (the common case, and the fast one)."""
        if all_finite(x, xp):
            return None
        bad = ~xp.isfinite(x)
        if self.nan != "keep":
            raise InvalidInput(nan_message(int(xp.sum(xp.astype(bad, xp.int64))), x))
        flat_bad = np.asarray(_to_numpy(xp.reshape(bad, (-1,))))
        index = np.flatnonzero(flat_bad).astype(np.int64)
        values = np.asarray(_to_numpy(xp.reshape(x, (-1,))))[index].astype(np.float64)
        filler = xp.zeros_like(x)
        return index, values, xp.where(bad, filler, x)


class Stream:
    """Encodes a signal piece by piece, carrying the quantizer's state between pieces.

    Made by :meth:`Quantizer.stream`. ``state`` is the state after the last
    piece (the method documents its form); set it to resume elsewhere.
    """

    def __init__(self, quantizer: Quantizer, state: Any = None) -> None:
        self.quantizer = quantizer
        self.state = state

    def encode(self, x: Any) -> Encoded:
        """Encode the next piece; its codes continue the previous piece's."""
        enc, self.state = self.quantizer._encode_checked(x, self.state)
        return enc

    def __repr__(self) -> str:
        return f"Stream({self.quantizer!r}, state={self.state!r})"


def all_finite(x: Any, xp: Any) -> bool:
    """True if ``x`` holds no NaN or Inf (two reductions, no temporary array).

    NaN propagates through ``min``/``max`` and an infinity is the min or max,
    so checking those two is exact.
    """
    if _dtype_kind(x) != "f":
        return True
    return bool(math.isfinite(float(xp.min(x))) and math.isfinite(float(xp.max(x))))


def nan_message(n_bad: int, x: Any) -> str:
    return (
        f"x contains {n_bad} NaN/Inf value(s) out of {math.prod(x.shape)}; remove them, "
        f"or pass nan='keep' (--nan keep) to pass them through unquantized"
    )


def _restore_nonfinite(values: Any, params: dict[str, Any], xp: Any) -> Any:
    index = np.asarray(params["nonfinite_index"], dtype=np.int64)
    fill = np.asarray(params["nonfinite_values"], dtype=np.float64)
    if xp is np:
        out = np.array(values, copy=True, order="C")  # reshape(-1) must be a view
        out.reshape(-1)[index] = fill
        return out
    out = xp.reshape(xp.asarray(values, copy=True), (-1,))
    out[xp.asarray(index, device=out.device)] = xp.asarray(
        fill, dtype=out.dtype, device=out.device
    )
    return xp.reshape(out, values.shape)


def _numpy_dtype_name(x: Any) -> str:
    if isinstance(x, np.ndarray | np.generic):
        return x.dtype.str
    return str(x.dtype).split(".")[-1]


def _cast_like(values: Any, dtype: np.dtype, xp: Any) -> Any:
    """Values cast to the original dtype; integers are rounded and clipped to their range."""
    dtype = np.dtype(dtype)
    target = getattr(xp, dtype.name)
    if values.dtype == target:  # already exact values of the target type: nothing to round
        return values
    if dtype.kind in "iu":
        info = np.iinfo(dtype)
        # float(2**63 - 1) rounds up to 2**63, which would wrap: step below it.
        top = float(info.max)
        if top > info.max:
            top = float(np.nextafter(top, 0.0))
        values = xp.clip(xp.round(values), float(info.min), top)
    if values.dtype == target:
        return values
    return xp.astype(values, target)


def rescale_exponent(peak: float) -> int:
    """``e`` such that data scaled by ``2**-e`` square without over- or underflow, or 0.

    0 (no scaling) for peaks between 2**-500 and 2**500, where squares fit in
    float64; else the binary exponent of ``peak``. Scaling by a power of two is exact.
    """
    if peak > 2.0**500 or 0 < peak < 2.0**-500:
        return math.frexp(peak)[1]
    return 0


def check_choice(name: str, value: Any, allowed: tuple[str, ...]) -> None:
    """Raise :class:`InvalidParameter` unless ``value`` is one of ``allowed``."""
    if not isinstance(value, str) or value not in allowed:
        raise InvalidParameter(
            f"{name} must be one of {', '.join(map(repr, allowed))}; got {value!r}"
        )


def check_number(name: str, value: Any, *, minimum: float = 0.0, inclusive: bool = False) -> float:
    """Raise :class:`InvalidParameter` unless ``value`` is a finite real number above ``minimum``
    (or at least ``minimum`` when ``inclusive``); NumPy scalars are accepted."""
    ok = not isinstance(value, bool) and isinstance(value, int | float | np.integer | np.floating)
    if ok:
        value = float(value)
        ok = math.isfinite(value) and (value >= minimum if inclusive else value > minimum)
    if not ok:
        if inclusive:
            wanted = f"a finite number >= {minimum:g}"
        elif minimum == 0:
            wanted = "a finite positive number"
        else:
            wanted = f"a finite number > {minimum:g}"
        raise InvalidParameter(f"{name} must be {wanted}, got {value!r}")
    return value


def check_bits(bits: Any, lo: int = 1, hi: int = 16, name: str = "bits") -> int:
    """Raise :class:`InvalidParameter` unless ``bits`` is an integer in ``lo..hi``."""
    if isinstance(bits, bool) or not isinstance(bits, int | np.integer) or not lo <= bits <= hi:
        raise InvalidParameter(f"{name} must be an integer in {lo}..{hi}, got {bits!r}")
    return int(bits)


def _same(a: Any, b: Any) -> bool:
    try:
        return bool(a == b) and type(a) is type(b)
    except (ValueError, TypeError):
        return False


def _to_json(value: Any) -> Any:
    if isinstance(value, Quantizer):
        return value.get_config()
    value = _to_numpy(value)
    if isinstance(value, np.ndarray):
        return {"array": value.tolist(), "dtype": value.dtype.str}
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, tuple):
        return {"tuple": [_to_json(v) for v in value]}
    if isinstance(value, list):
        return [_to_json(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return {"float": repr(value)}
    return value


def _from_json(value: Any) -> Any:
    if isinstance(value, dict):
        if "array" in value and "dtype" in value:
            try:
                return np.asarray(value["array"], dtype=np.dtype(value["dtype"]))
            except (TypeError, ValueError) as exc:
                raise InvalidParameter(f"config holds a malformed array: {exc}") from None
        if "tuple" in value:
            return tuple(_from_json(v) for v in value["tuple"])
        if "float" in value:
            return float(value["float"])
        if "id" in value:
            from quanta.core.registry import from_config

            return from_config(value)
    if isinstance(value, list):
        return [_from_json(v) for v in value]
    return value
