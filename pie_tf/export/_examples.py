"""Examples in, in chunks: arrays, or tf.data of tensors, ``(x, y)`` tuples or pie_tf example dicts.

Both the exporter (int8 calibration data) and the runtime (:meth:`TFLiteModel.predict`,
:func:`pie_tf.compare_deployment`) read their inputs through :func:`iter_examples`.
"""
from __future__ import annotations

import numpy as np

from pie_tf._keras import tf

__all__ = ["iter_examples", "element_parts", "check_positive_int"]


def element_parts(element, input_key, label_key, id_key):
    """(x, label or None, id or None) from one dataset element (a dict, tuple or tensor)."""
    if isinstance(element, dict):
        if input_key not in element:
            raise ValueError(f"dataset elements are dicts with keys {sorted(element)}; expected "
                             f"the input under `input_key`={input_key!r}.")
        return element[input_key], element.get(label_key), element.get(id_key)
    if isinstance(element, (tuple, list)):
        if not 1 <= len(element) <= 3:
            raise ValueError("tuple dataset elements must be (x,), (x, y) or "
                             f"(x, y, sample_weight); got a tuple of {len(element)}.")
        return element[0], (element[1] if len(element) > 1 else None), None
    return element, None, None


def iter_examples(data, example_rank, *, input_key="image", label_key="label", id_key="id",
                  labels=None, ids=None, chunk_size=256, limit=None, argname="data"):
    """Yield ``(x, labels, ids)`` chunks of at most ``chunk_size`` examples from any data source.

    Parameters
    ----------
    data : ndarray of shape (n, *example_shape), or tf.data.Dataset
        Dataset elements may be tensors, ``(x, y)`` tuples or pie_tf example dicts
        (``image``, ``label``, ``id``, ...), batched or not: an element whose input has rank
        ``example_rank + 1`` is taken as a batch.
    example_rank : int
        Rank of one example (without batch axis), e.g. 3 for images.
    labels, ids : array_like of shape (n,), optional
        For array ``data`` only.
    limit : int, optional
        Stop after this many examples.

    Yields
    ------
    x : ndarray of shape (m, *example_shape); labels, ids : ndarray of shape (m,) or None.
    """
    if isinstance(data, tf.data.Dataset):
        if labels is not None or ids is not None:
            raise ValueError("`labels`/`ids` are only for array data; a dataset carries them "
                             f"(under {label_key!r} and {id_key!r}, or as the y of (x, y)).")
        source = _dataset_chunks(data, example_rank, input_key, label_key, id_key, argname)
    else:
        source = _array_chunks(data, example_rank, labels, ids, argname)
    yield from _rechunk(source, chunk_size, limit)


def _array_chunks(data, example_rank, labels, ids, argname):
    if isinstance(data, (tf.Tensor, tf.Variable)):
        data = data.numpy()
    if not isinstance(data, np.ndarray):
        try:
            data = np.asarray(data)
        except Exception:
            raise TypeError(f"`{argname}` must be an array or a tf.data.Dataset; got "
                            f"{type(data).__name__}.") from None
    if data.ndim == example_rank:
        data = data[None]
    if data.ndim != example_rank + 1:
        raise ValueError(f"`{argname}` must have shape (n_examples, ...) with examples of rank "
                         f"{example_rank}; got shape {data.shape}.")
    n = len(data)
    for argname_extra, extra in (("labels", labels), ("ids", ids)):
        if extra is not None and len(np.asarray(extra)) != n:
            raise ValueError(f"`{argname_extra}` has {len(np.asarray(extra))} entries but "
                             f"`{argname}` has {n} examples.")
    labels = None if labels is None else np.asarray(labels)
    ids = None if ids is None else np.asarray(ids)
    yield data, labels, ids


def _dataset_chunks(dataset, example_rank, input_key, label_key, id_key, argname):
    for element in dataset.as_numpy_iterator():
        x, y, ids = element_parts(element, input_key, label_key, id_key)
        x = np.asarray(x)
        if x.ndim == example_rank:
            x = x[None]
            y = None if y is None else np.asarray(y)[None]
            ids = None if ids is None else np.asarray(ids)[None]
        elif x.ndim != example_rank + 1:
            raise ValueError(f"`{argname}` yields inputs of shape {x.shape}; the model takes "
                             f"examples of rank {example_rank} (batched or not).")
        y = None if y is None else np.asarray(y).reshape(len(x), *np.shape(y)[1:])
        if y is not None and y.ndim > 1 and y.shape[-1] == 1:
            y = y[..., 0]
        if ids is not None:
            ids = np.asarray(ids).reshape(len(x))
            if ids.dtype == object or ids.dtype.kind == "S":  # tf.string arrives as bytes
                ids = np.array([i.decode("utf-8") if isinstance(i, bytes) else i for i in ids])
        yield x, y, ids


def _rechunk(source, chunk_size, limit):
    """Regroup (x, y, ids) pieces into chunks of ``chunk_size`` examples, stopping at ``limit``."""
    pending, count = [], 0
    pending_n = 0
    for x, y, ids in source:
        if limit is not None and count + len(x) > limit:
            keep = limit - count
            x = x[:keep]
            y = None if y is None else y[:keep]
            ids = None if ids is None else ids[:keep]
        start = 0
        while start < len(x):
            take = min(chunk_size - pending_n, len(x) - start)
            pending.append((x[start:start + take], None if y is None else y[start:start + take],
                            None if ids is None else ids[start:start + take]))
            pending_n += take
            start += take
            if pending_n == chunk_size:
                yield _concat(pending)
                pending, pending_n = [], 0
        count += len(x)
        if limit is not None and count >= limit:
            break
    if pending:
        yield _concat(pending)


def _concat(pieces):
    x = np.concatenate([p[0] for p in pieces])
    y = None if any(p[1] is None for p in pieces) else np.concatenate([p[1] for p in pieces])
    ids = None if any(p[2] is None for p in pieces) else np.concatenate([p[2] for p in pieces])
    return x, y, ids



def check_positive_int(value, argname):
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"`{argname}` must be an integer >= 1; got {value!r}.")
