"""Atomic, checksummed files on any filesystem ``tf.io.gfile`` reaches (local paths, ``gs://``,
...).

Every array is an ``.npy`` file written under a temporary name and renamed into place; the JSON
manifest that lists it (with its dtype, shape, size and SHA-256) is written last, the same way. A
reader trusts only files a manifest lists and checks each against its entry, so a run killed at any
moment leaves nothing a reader takes as valid, and a file changed behind the store's back is an
error that names it rather than a wrong array.
"""
from __future__ import annotations

import hashlib
import io
import json
import uuid

import numpy as np
import tensorflow as tf

from pie_tf.errors import StoreError

__all__ = ["StoreError", "join", "is_local", "write_array", "read_array", "write_json",
           "read_json", "TMP_MARK"]

# Temporary files carry this marker; readers never look at them and writers clear stale ones.
TMP_MARK = ".tmp-"
_CHUNK = 1 << 22


def join(*parts):
    return "/".join([str(parts[0]).rstrip("/")] + [str(p).strip("/") for p in parts[1:]])


def is_local(path):
    """True for paths on the local filesystem, which can be memory-mapped."""
    path = str(path)
    return "://" not in path or path.startswith("file://")


def _local(path):
    return path[len("file://"):] if path.startswith("file://") else path


def _atomic_write(path, payload: bytes):
    """Write ``payload`` to a unique temporary name next to ``path``, then rename it into place.

    On object stores (``gs://``) a rename is a copy and a delete, but the object under the final
    name appears whole or not at all, which is the property readers rely on.
    """
    tmp = f"{path}{TMP_MARK}{uuid.uuid4().hex}"
    try:
        with tf.io.gfile.GFile(tmp, "wb") as f:
            f.write(payload)
        tf.io.gfile.rename(tmp, path, overwrite=True)
    except BaseException:
        if tf.io.gfile.exists(tmp):
            tf.io.gfile.remove(tmp)
        raise


def write_array(path, array):
    """Write ``array`` as ``.npy`` atomically; returns its manifest entry (dtype, shape, bytes,
    sha256)."""
    array = np.ascontiguousarray(array)
    if array.dtype == object:
        raise TypeError(f"cannot store an object array at {path}; convert it to a numeric, bytes "
                        "or str dtype first.")
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=False)
    payload = buffer.getvalue()
    _atomic_write(path, payload)
    return {"dtype": array.dtype.str, "shape": list(array.shape), "bytes": len(payload),
            "sha256": hashlib.sha256(payload).hexdigest()}


def _sha256(path):
    digest = hashlib.sha256()
    with tf.io.gfile.GFile(path, "rb") as f:
        while True:
            chunk = f.read(_CHUNK)
            if not chunk:
                break
            digest.update(chunk)
    return digest.hexdigest()


def read_array(path, entry, *, verify=True, mmap=True):
    """Read the ``.npy`` file at ``path`` and check it against its manifest ``entry``.

    Parameters
    ----------
    path : str
    entry : dict
        As returned by :func:`write_array`.
    verify : bool
        Recompute the SHA-256 of the file (reads it once, streaming). Size, dtype and shape are
        always checked.
    mmap : bool
        Memory-map local files (``np.load(mmap_mode="r")``); remote files are read into memory.

    Raises
    ------
    StoreError
        Naming ``path`` when the file is missing, truncated, altered or not an ``.npy`` file.
    """
    if not tf.io.gfile.exists(path):
        raise StoreError(path, "missing, though the manifest lists it (was it deleted?).")
    size = tf.io.gfile.stat(path).length
    if size != entry["bytes"]:
        raise StoreError(path, f"has {size} bytes; the manifest says {entry['bytes']} "
                               "(truncated or replaced).")
    if verify and _sha256(path) != entry["sha256"]:
        raise StoreError(path, "checksum differs from the manifest's (the file was altered or "
                               "corrupted after it was written).")
    try:
        if is_local(path):
            array = np.load(_local(path), mmap_mode="r" if mmap else None, allow_pickle=False)
        else:
            with tf.io.gfile.GFile(path, "rb") as f:
                array = np.load(io.BytesIO(f.read()), allow_pickle=False)
    except (ValueError, OSError, EOFError) as err:
        raise StoreError(path, f"is not a readable .npy file ({err}).") from None
    if array.dtype.str != entry["dtype"] or list(array.shape) != list(entry["shape"]):
        raise StoreError(path, f"holds {array.dtype.str}{list(array.shape)}; the manifest says "
                               f"{entry['dtype']}{list(entry['shape'])}.")
    return array


def write_json(path, obj):
    _atomic_write(path, (json.dumps(obj, indent=1, sort_keys=True) + "\n").encode("utf-8"))


def read_json(path, *, format_name):
    """Read a manifest written by :func:`write_json`; its ``format`` field must be
    ``format_name``."""
    try:
        with tf.io.gfile.GFile(path, "rb") as f:
            obj = json.loads(f.read().decode("utf-8"))
    except tf.errors.NotFoundError:
        raise StoreError(path, "missing.") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise StoreError(path, f"is not valid JSON ({err}); it is corrupt or not a pie_tf "
                               "store file.") from None
    if not isinstance(obj, dict) or obj.get("format") != format_name:
        found = obj.get("format") if isinstance(obj, dict) else type(obj).__name__
        raise StoreError(path, f"is not a {format_name!r} manifest (format={found!r}); a foreign "
                               "file is in the store.")
    return obj
