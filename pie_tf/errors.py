"""The errors pie_tf raises on purpose, so user code can catch them by type.

Every class also derives from the builtin a caller would expect (``ValueError`` for a bad value,
``KeyError`` for something absent), so code written against the builtins keeps working. No pie_tf
code decides anything by reading an error's message: it catches one of these types instead.

This module imports nothing from the rest of pie_tf, so every part (the store included) can use it.
"""
from __future__ import annotations

__all__ = [
    "PieTfError",
    "InvalidArgumentError",
    "NotProbabilitiesError",
    "StoreError",
    "DataFileError",
    "ModelFileError",
    "CheckpointError",
    "NotAFlatbufferError",
    "MissingEvaluationError",
    "ConfigMismatchError",
    "IncompletePruningError",
    "PieTfWarning",
    "PruningWarning",
]


class PieTfError(Exception):
    """Base class of every error pie_tf raises on purpose."""


class InvalidArgumentError(PieTfError, ValueError):
    """An argument, flag or option has a value pie_tf cannot use; the message names it."""


class NotProbabilitiesError(InvalidArgumentError):
    """Scores declared (or required) to be probabilities are not: negative, non-finite, or rows
    that do not sum to one within the stated tolerance."""


class _FileError(PieTfError, ValueError):
    """An error about one file or folder; the message starts with its path.

    Attributes
    ----------
    path : str
        The offending file or folder.
    """

    def __init__(self, path, message):
        self.path = str(path)
        super().__init__(f"{path}: {message}")


class StoreError(_FileError):
    """A file in a prediction store is missing, corrupt, or not one the store wrote
    (``path``: the offending file or folder)."""


class DataFileError(_FileError):
    """A data file (e.g. a Fashion-MNIST IDX file) is corrupt, truncated or of the wrong format
    (``path``: the offending file)."""


class ModelFileError(_FileError):
    """A model file (e.g. a ``.tflite`` flatbuffer) is garbage or truncated (``path``: the file)."""


class CheckpointError(_FileError):
    """A training checkpoint kept for resuming is unreadable (``path``: its folder)."""


class NotAFlatbufferError(InvalidArgumentError):
    """Bytes given as a TFLite model are not a valid flatbuffer."""


class MissingEvaluationError(PieTfError, KeyError):
    """A store holds no predictions for the requested (evaluation set, variant) pair."""

    def __str__(self):  # KeyError would repr() the message
        return str(self.args[0]) if self.args else ""


class ConfigMismatchError(PieTfError, ValueError):
    """A run asked to reuse stored members or evaluation sets produced by another configuration.

    Attributes
    ----------
    differences : dict
        ``{key: (stored, requested)}`` for every key that differs.
    """

    def __init__(self, message, differences=None):
        self.differences = dict(differences or {})
        super().__init__(message)


class IncompletePruningError(PieTfError, RuntimeError):
    """Training ended before the pruning schedule reached its target sparsity
    (``PruneCallback(if_incomplete="raise")``).

    Attributes
    ----------
    reached, target : float
        The sparsity the masks reached (over all pruned tensors) and the target.
    """

    def __init__(self, message, *, reached, target):
        self.reached, self.target = float(reached), float(target)
        super().__init__(message)


class PieTfWarning(UserWarning):
    """Base class of the warnings pie_tf issues (filter them with ``warnings`` by type)."""


class PruningWarning(PieTfWarning):
    """A PruneCallback did something the user should know of: a schedule that training cut short
    (and how it was finished), restored weights pruned again, frozen layers pruned."""
