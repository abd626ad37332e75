"""The exceptions quanta raises for mistakes a user can make.

Every error a user can cause is a :class:`QuantaError`; each subclass also
derives from the builtin a Python user would catch (``ValueError``, ...), so
``except ValueError`` keeps working.
"""

from __future__ import annotations

__all__ = [
    "QuantaError",
    "InvalidInput",
    "InvalidParameter",
    "NotFitted",
    "UnsupportedFormat",
    "CorruptData",
    "MismatchedEncoding",
    "OutputError",
    "MissingDependency",
    "DegenerateDataWarning",
]


class QuantaError(Exception):
    """Root of every error quanta raises on purpose."""


class InvalidInput(QuantaError, ValueError):
    """The data cannot be quantized as given (NaN, empty, complex, non-numeric ...)."""


class InvalidParameter(QuantaError, ValueError):
    """A quantizer parameter is outside what is allowed (``bits must be in 1..16, got 20``)."""


class NotFitted(QuantaError, ValueError, AttributeError):
    """The quantizer must be fitted (``fit``) before it can encode."""


class UnsupportedFormat(QuantaError, ValueError):
    """A file's format is not one quanta reads or writes, or not what its name says."""


class CorruptData(QuantaError, ValueError):
    """Bytes or a file that are truncated, inconsistent or hostile."""


class MismatchedEncoding(QuantaError, ValueError):
    """An :class:`~quanta.Encoded` was given to a quantizer that did not produce it."""


class OutputError(QuantaError, OSError):
    """An output cannot be written where asked (missing directory, ...)."""


class MissingDependency(QuantaError, ImportError):
    """An optional dependency is not installed (``pip install quanta[torch]``)."""


class DegenerateDataWarning(UserWarning):
    """The data make the result degenerate (a constant array, ...): defined, but worth knowing."""
