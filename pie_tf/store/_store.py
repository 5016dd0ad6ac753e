"""The prediction store: what a population predicted, on disk, for the audit to read.

Layout (one directory, local or on any filesystem ``tf.io.gfile`` reaches)::

    ROOT/STORE.json                                 format, top_k, max_full_classes
    ROOT/eval_sets/NAME/ids.npy                     (n_examples,) int or str
    ROOT/eval_sets/NAME/labels.npy                  (n_examples,) int
    ROOT/eval_sets/NAME/attribute.ATTR.npy          (n_examples,) one per attribute
    ROOT/eval_sets/NAME/class_subset.npy            (n_subset,) int, only for restricted sets
    ROOT/eval_sets/NAME/EVAL_SET.json               written last: sizes, checksums, metadata
    ROOT/members/VARIANT/seed_SEED/EVAL.FIELD.npy   one file per evaluation set and field
    ROOT/members/VARIANT/seed_SEED/MEMBER.json      written last: variant, seed, recipe,
                                                    versions, timing, checksums

A member or evaluation set exists exactly when its JSON manifest does. Every ``.npy`` file is
written to a temporary name and renamed into place, and the manifest that lists it (with its size
and SHA-256) comes last, so a run killed at any moment loses at most the member in flight and
leaves nothing a reader takes as valid.

Fields stored per (member, evaluation set), with ``C`` classes:

``labels`` (always)
    Top-1 label, int16 (int32 when ``C > 32767``), the argmax of the float32 probabilities the
    model produced (before any rounding for storage).
``probs`` (when ``C <= max_full_classes``, default 256)
    All class probabilities, float16 (``C`` x 2 bytes an example).
``topk_labels``, ``topk_probs`` (when ``C > max_full_classes``)
    The ``top_k`` (default 5) most probable labels, most probable first, and their float16
    probabilities. For ImageNet (50,000 x 1000, 200 members) this is 1 MB per member and
    evaluation set instead of 100 MB for full float16 probabilities.
``restricted_labels`` (evaluation sets given a ``class_subset``)
    Argmax over the subset's classes only, in the full label space (ImageNet-A: the 200 of the
    1000 ImageNet classes it contains).

What the audit can compute from each:

- from ``labels``: PIE/CIE (modal labels of a population), per-class recall and the class-impact
  t-tests, label loyalty, top-1 accuracy and error (so corruption error and mCE), attribute
  over-indexing and per-group false positive / false negative rates;
- from ``restricted_labels``: ImageNet-A accuracy as Hendrycks et al. define it;
- from ``topk_labels``: top-k accuracy for k <= ``top_k``;
- only from ``probs``: probability loyalty (Jensen-Shannon), modes of mean probability,
  calibration, and any statistic of the full distribution. With top-k storage these are not
  computable; store full probabilities (raise ``max_full_classes``) if they are needed.
"""
from __future__ import annotations

import dataclasses
import datetime
import platform
import re
import socket
from typing import Mapping, Optional

import numpy as np
import tensorflow as tf

from pie_tf._probabilities import ATOL, rows_off_one
from pie_tf.errors import MissingEvaluationError, NotProbabilitiesError
from pie_tf.store._files import (TMP_MARK, StoreError, is_local, join, read_array, read_json,
                                 write_array, write_json)

__all__ = ["PredictionStore", "EvalSet", "VariantPredictions", "StoreError", "FIELDS"]

FORMAT_VERSION = 1
_STORE_FORMAT = "pie_tf.prediction_store"
_MEMBER_FORMAT = "pie_tf.store.member"
_EVAL_SET_FORMAT = "pie_tf.store.eval_set"
FIELDS = ("labels", "probs", "topk_labels", "topk_probs", "restricted_labels")
# Names become path components on local disks and in buckets: keep them portable.
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@+=-]*$")


# Rows of float32 softmax outputs sum to 1 within ~1e-6, renormalised int8 outputs exactly and
# float16 probabilities within 2**-11: the tolerance is pie_tf's one rule for probabilities
# (pie_tf._probabilities.ATOL, 1e-3), the one the audit reads them back with.
_ROW_SUM_ATOL = ATOL


def _check_new_store_root(root):
    """Refuse to create a store where something else lives: a file, a store whose STORE.json was
    deleted, or any non-empty folder (a run's output folder, a store's ``members/``).

    Temporary files of an atomic write are ignored: a second job creating the same store at the
    same moment may see the first one's ``STORE.json`` before its rename."""
    if not tf.io.gfile.exists(root):
        return
    if not tf.io.gfile.isdir(root):
        raise StoreError(root, "is a file, not a folder; a prediction store is a folder. Give a "
                               "folder path (it is created if absent).")
    entries = [e.rstrip("/") for e in tf.io.gfile.listdir(root) if TMP_MARK not in e]
    if not entries:
        return
    if {"eval_sets", "members"} & set(entries):
        raise StoreError(root, "holds a store's eval_sets/ or members/ but no STORE.json: the "
                               "store's settings file was deleted. Restore it (from a backup, or "
                               "with PredictionStore.restore_settings(root, top_k=..., "
                               "max_full_classes=...) using the values it was created with; "
                               "defaults 5 and 256). pie_tf does not guess them.")
    shown = ", ".join(sorted(entries)[:5]) + (", ..." if len(entries) > 5 else "")
    raise StoreError(root, f"is a non-empty folder that is not a prediction store (it holds "
                           f"{shown}; no STORE.json). Give an empty or new folder, or the folder "
                           "of an existing store.")


def _check_name(value, argname):
    if not isinstance(value, str) or not _NAME.match(value) or TMP_MARK in value:
        raise ValueError(f"`{argname}` must be a non-empty string of letters, digits and "
                         f"'_.@+=-' (starting with a letter or digit); got {value!r}.")
    return value


def _check_seed(seed):
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int; got {seed!r}.")
    return int(seed)


def _label_dtype(n_classes):
    return np.int16 if n_classes <= np.iinfo(np.int16).max else np.int32


@dataclasses.dataclass(frozen=True)
class EvalSet:
    """An evaluation set as stored: what every member's predictions are compared with.

    Attributes
    ----------
    name : str
    ids : ndarray of shape (n_examples,)
        Stable example ids (int or str), in the order of every member's predictions.
    labels : ndarray of int, shape (n_examples,)
    n_classes : int
    attributes : dict of str -> ndarray of shape (n_examples,)
    class_subset : ndarray of int, shape (n_subset,), or None
    info : dict
        Free-form JSON metadata given when the set was written (e.g. corruption and severity).
    identity : dict
        What the set was made from, as the writer described it (a population's data identity:
        image spec, size, digest of the first examples); empty when none was given.
    """
    name: str
    ids: np.ndarray
    labels: np.ndarray
    n_classes: int
    attributes: dict
    class_subset: Optional[np.ndarray]
    info: dict
    identity: dict = dataclasses.field(default_factory=dict)

    @property
    def n_examples(self):
        """How many examples the set holds."""
        return int(self.labels.shape[0])

    @property
    def num_examples(self):
        """:attr:`n_examples` under its older name (the manifests still say ``num_examples``)."""
        return self.n_examples


@dataclasses.dataclass(frozen=True)
class VariantPredictions:
    """Predictions of all (or the chosen) members of one variant on one evaluation set.

    Fields not asked for, or not stored, are None. Member order follows ``seeds`` (ascending).

    Attributes
    ----------
    variant, eval_set : str
    seeds : ndarray of int, shape (n_members,)
    labels : ndarray of int, shape (n_members, n_examples)
    probs : ndarray of float16, shape (n_members, n_examples, n_classes)
    topk_labels : ndarray of int, shape (n_members, n_examples, top_k)
    topk_probs : ndarray of float16, shape (n_members, n_examples, top_k)
    restricted_labels : ndarray of int, shape (n_members, n_examples)
    """
    variant: str
    eval_set: str
    seeds: np.ndarray
    labels: Optional[np.ndarray] = None
    probs: Optional[np.ndarray] = None
    topk_labels: Optional[np.ndarray] = None
    topk_probs: Optional[np.ndarray] = None
    restricted_labels: Optional[np.ndarray] = None

    def __getitem__(self, field):
        if field not in FIELDS:
            raise KeyError(f"unknown field {field!r}; fields are {FIELDS}.")
        return getattr(self, field)


class PredictionStore:
    """A directory of member predictions, written once per member and read per variant.

    Parameters
    ----------
    root : str
        Directory, local or any URL ``tf.io.gfile`` reaches (``gs://bucket/run``). Created if
        absent. Jobs on many machines may fill one store, each writing different members.
    top_k : int, optional
        How many labels to keep per example where full probabilities are not stored. Default 5.
    max_full_classes : int, optional
        Evaluation sets with at most this many classes keep full float16 probabilities; larger
        ones keep top-k. Default 256 (CIFAR-100 and CelebA keep them, ImageNet does not).
    verify : bool
        Recompute each file's SHA-256 when reading it (one streaming read of the asked-for files
        only). Size, dtype and shape are checked regardless.

    Both settings are fixed when the store is created and recorded in ``STORE.json``; opening an
    existing store with different values is an error, leaving them None adopts the stored ones.

    Notes
    -----
    Local files are memory-mapped, so reading a variant touches only the asked-for fields of the
    asked-for evaluation set; stacking members into one array copies those. On remote filesystems
    (``gs://``) each asked-for file is downloaded whole into memory; nothing else is read.

    Examples
    --------
    >>> import tempfile
    >>> store = PredictionStore(tempfile.mkdtemp() + "/store")
    >>> store.write_eval_set("test", ids=np.arange(3), labels=np.array([0, 1, 1]), n_classes=2)
    True
    >>> probs = np.array([[.9, .1], [.2, .8], [.6, .4]], np.float32)
    >>> store.write_member("dense", 0, {"test": probs}, recipe={"epochs": 1})
    >>> store.read("dense", "test").labels
    array([[0, 1, 0]], dtype=int16)
    """

    def __init__(self, root, *, top_k=None, max_full_classes=None, verify=True):
        if not isinstance(root, str) or not root:
            raise TypeError(f"`root` must be a non-empty path string; got {root!r}.")
        for argname, value in (("top_k", top_k), ("max_full_classes", max_full_classes)):
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"`{argname}` must be a positive int or None; got {value!r}.")
        self.root = root.rstrip("/")
        self.verify = bool(verify)
        config_path = join(self.root, "STORE.json")
        if tf.io.gfile.exists(config_path):
            config = read_json(config_path, format_name=_STORE_FORMAT)
            if config.get("format_version", 0) > FORMAT_VERSION:
                raise StoreError(config_path, f"has format version {config['format_version']}; "
                                              f"this pie_tf reads up to {FORMAT_VERSION}.")
            for argname, value in (("top_k", top_k), ("max_full_classes", max_full_classes)):
                if value is not None and value != config[argname]:
                    raise ValueError(f"`{argname}`={value} differs from the existing store's "
                                     f"{config[argname]} ({config_path}); pass None to adopt it.")
        else:
            _check_new_store_root(self.root)
            config = {"format": _STORE_FORMAT, "format_version": FORMAT_VERSION,
                      "top_k": 5 if top_k is None else top_k,
                      "max_full_classes": 256 if max_full_classes is None else max_full_classes,
                      "created": _now()}
            tf.io.gfile.makedirs(self.root)
            # Two jobs creating the same store write identical settings; the last rename wins.
            write_json(config_path, config)
        self.top_k = int(config["top_k"])
        self.max_full_classes = int(config["max_full_classes"])
        self._eval_set_cache = {}

    @classmethod
    def open_existing(cls, root, *, verify=True, argname="root"):
        """Open the store in ``root`` for reading; unlike ``PredictionStore(root)``, never create
        one.

        ``argname`` is the caller's name for ``root``, which the errors name.

        Raises
        ------
        StoreError
            ``root`` does not exist, is a file, or is a folder that holds no store (a run's
            ``--out_dir`` is named as such, with the path of its ``store/``).
        """
        if not isinstance(root, str) or not root:
            raise TypeError(f"`{argname}` must be a non-empty path string; got {root!r}.")
        root, given = root.rstrip("/"), f"(`{argname}`)"
        if tf.io.gfile.exists(join(root, "STORE.json")):
            return cls(root, verify=verify)
        if not tf.io.gfile.exists(root):
            raise StoreError(root, f"does not exist {given}; give the folder of a prediction "
                                   "store (a run's --out_dir/store).")
        if not tf.io.gfile.isdir(root):
            raise StoreError(root, f"is a file {given}, not the folder of a prediction store.")
        if tf.io.gfile.exists(join(root, "store", "STORE.json")):
            raise StoreError(root, f"is a run's output folder {given}, not its prediction "
                                   f"store; give {join(root, 'store')}.")
        entries = sorted(e.rstrip("/") for e in tf.io.gfile.listdir(root) if TMP_MARK not in e)
        if {"eval_sets", "members"} & set(entries):
            _check_new_store_root(root)  # the store's settings were lost: how to restore them
        shown = ", ".join(entries[:5]) + (", ..." if len(entries) > 5 else "") or "nothing"
        raise StoreError(root, f"is not a prediction store {given} (no STORE.json; it holds "
                               f"{shown}). Give the folder of a store a run has filled (its "
                               "--out_dir/store).")

    @classmethod
    def restore_settings(cls, root, *, top_k=5, max_full_classes=256, verify=True):
        """Write ``STORE.json`` again for a store whose settings file was lost, then open it.

        Only for a folder that holds a store's ``eval_sets/`` or ``members/`` and no
        ``STORE.json``; give the ``top_k`` and ``max_full_classes`` the store was created with
        (the defaults unless they were set). Every member's files are then checked against the
        restored settings (:meth:`verify_all`), so wrong values are an error here, not later.
        """
        root = str(root).rstrip("/")
        config_path = join(root, "STORE.json")
        if tf.io.gfile.exists(config_path):
            raise StoreError(config_path, "exists; restore_settings only rewrites a lost one.")
        if not any(tf.io.gfile.isdir(join(root, d)) for d in ("eval_sets", "members")):
            raise StoreError(root, "holds no eval_sets/ or members/: it is not a store whose "
                                   "settings were lost. Open it with PredictionStore(root).")
        write_json(config_path, {"format": _STORE_FORMAT, "format_version": FORMAT_VERSION,
                                 "top_k": int(top_k), "max_full_classes": int(max_full_classes),
                                 "created": _now(), "restored": True})
        store = cls(root, verify=verify)
        try:
            store._check_settings_match_members()
        except StoreError:
            tf.io.gfile.remove(config_path)
            raise
        return store

    def _check_settings_match_members(self):
        """Every member stores the fields (and top-k width) these settings imply."""
        for variant, seed in self.members():
            manifest = self.member_info(variant, seed)
            for eval_set, files in manifest["files"].items():
                expected = self.fields_for(eval_set)
                if set(files) != set(expected):
                    raise StoreError(join(self._member_dir(variant, seed), "MEMBER.json"),
                                     f"stores {sorted(files)} for {eval_set!r} but top_k="
                                     f"{self.top_k}, max_full_classes={self.max_full_classes} "
                                     f"imply {sorted(expected)}: these are not the settings the "
                                     "store was created with.")
                if "topk_labels" in files:
                    width = files["topk_labels"]["shape"][-1]
                    classes = self._eval_set_manifest(eval_set)["num_classes"]
                    if width != min(self.top_k, classes):
                        raise StoreError(join(self._member_dir(variant, seed), "MEMBER.json"),
                                         f"keeps the top {width} labels; top_k={self.top_k} "
                                         "is not the store's setting.")

    def __repr__(self):
        return (f"PredictionStore({self.root!r}, top_k={self.top_k}, "
                f"max_full_classes={self.max_full_classes})")

    # ----------------------------------------------------------------- evaluation sets
    def _eval_set_dir(self, name):
        return join(self.root, "eval_sets", name)

    def write_eval_set(self, name, ids, labels, *, n_classes, attributes=None,
                       class_subset=None, info=None, identity=None):
        """Record an evaluation set's ids, labels and attributes (once).

        Parameters
        ----------
        name : str
            Letters, digits and ``_.@+=-`` (e.g. ``"test"``, ``"gaussian_noise@3"``).
        ids : array_like of shape (n_examples,)
            Unique example ids, int or str (bytes are decoded as UTF-8).
        labels : array_like of int, shape (n_examples,)
        n_classes : int
            Size of the model's output (label space), which fixes how predictions are stored.
        attributes : dict of str -> array_like of shape (n_examples,), optional
            Bool or int attributes (CelebA's ``Male``, ``Young``, ...).
        class_subset : array_like of int, optional
            Classes to restrict the argmax to (ImageNet-A: its 200 ImageNet classes); members then
            also store ``restricted_labels``.
        info : dict, optional
            JSON-serialisable metadata kept with the set.
        identity : dict, optional
            JSON description of what made the set (kept apart from ``info``; see
            :attr:`EvalSet.identity`).

        Returns
        -------
        bool
            True if written; False if an identical set was already stored.

        Raises
        ------
        ValueError
            If the store already holds a different set under ``name``, or arguments are invalid.
        """
        _check_name(name, "name")
        if isinstance(n_classes, bool) or not isinstance(n_classes, (int, np.integer)) \
                or n_classes < 2:
            raise ValueError(f"`n_classes` must be an int >= 2; got {n_classes!r}.")
        n_classes = int(n_classes)
        ids = np.asarray(ids)
        if ids.dtype == object or ids.dtype.kind == "S":
            ids = np.array([i.decode("utf-8") if isinstance(i, bytes) else str(i)
                            for i in ids.ravel()]).reshape(ids.shape)
        if ids.ndim != 1 or ids.dtype.kind not in "iuU":
            raise ValueError(f"`ids` must be a 1-D array of int or str; got {ids.dtype}"
                             f"{ids.shape}.")
        if len(np.unique(ids)) != len(ids):
            raise ValueError(f"`ids` of eval set {name!r} are not unique.")
        labels = np.asarray(labels)
        if labels.shape != ids.shape or labels.dtype.kind not in "iu":
            raise ValueError(f"`labels` must be int of shape {ids.shape}; got {labels.dtype}"
                             f"{labels.shape}.")
        if labels.size and (labels.min() < 0 or labels.max() >= n_classes):
            raise ValueError(f"`labels` must lie in [0, {n_classes}); got [{labels.min()}, "
                             f"{labels.max()}].")
        arrays = {"ids": ids, "labels": labels.astype(_label_dtype(n_classes))}
        for attr, values in (attributes or {}).items():
            _check_name(attr, "attributes key")
            values = np.asarray(values)
            if values.shape != ids.shape or values.dtype.kind not in "biu":
                raise ValueError(f"`attributes[{attr!r}]` must be bool or int of shape "
                                 f"{ids.shape}; got {values.dtype}{values.shape}.")
            arrays[f"attribute.{attr}"] = values
        if class_subset is not None:
            subset = np.asarray(class_subset)
            if subset.ndim != 1 or subset.dtype.kind not in "iu" or subset.size < 2 or \
                    len(np.unique(subset)) != subset.size or subset.min() < 0 or \
                    subset.max() >= n_classes:
                raise ValueError(f"`class_subset` must be >= 2 distinct ints in [0, "
                                 f"{n_classes}); got {subset!r}.")
            arrays["class_subset"] = subset.astype(np.int32)
        manifest_path = join(self._eval_set_dir(name), "EVAL_SET.json")
        if tf.io.gfile.exists(manifest_path):
            existing = self.eval_set(name)
            same = (existing.n_classes == n_classes
                    and np.array_equal(existing.ids, ids)
                    and np.array_equal(existing.labels, arrays["labels"])
                    and set(existing.attributes) == set(attributes or {})
                    and all(np.array_equal(existing.attributes[a], arrays[f"attribute.{a}"])
                            for a in existing.attributes)
                    and ((existing.class_subset is None and class_subset is None) or (
                        class_subset is not None and existing.class_subset is not None
                        and np.array_equal(existing.class_subset, arrays["class_subset"]))))
            if not same:
                raise ValueError(f"eval set {name!r} is already in the store ({manifest_path}) "
                                 "with different ids, labels, attributes, classes or subset; "
                                 "an evaluation set is written once. Use another name.")
            return False
        directory = self._eval_set_dir(name)
        tf.io.gfile.makedirs(directory)
        files = {key: dict(write_array(join(directory, f"{key}.npy"), value), file=f"{key}.npy")
                 for key, value in arrays.items()}
        # "num_examples" / "num_classes" are keys of the on-disk format (stores written before
        # the Python API said n_classes keep reading), not names of the API.
        write_json(manifest_path, {
            "format": _EVAL_SET_FORMAT, "format_version": FORMAT_VERSION, "name": name,
            "num_examples": int(ids.shape[0]), "num_classes": n_classes,
            "attributes": sorted(attributes or {}), "info": info or {}, "files": files,
            "identity": identity or {}, "created": _now()})
        return True

    def remove_eval_set(self, name):
        """Delete evaluation set ``name`` (its manifest first, so it is never half there).

        Members keep their files for it; a run that writes the set again checks them against it.
        Returns True if it was stored.
        """
        directory = self._eval_set_dir(_check_name(name, "name"))
        self._eval_set_cache.pop(name, None)
        return _remove_entry(directory, "EVAL_SET.json")

    def eval_sets(self):
        """Names of the stored evaluation sets, sorted."""
        paths = tf.io.gfile.glob(join(self.root, "eval_sets", "*", "EVAL_SET.json"))
        return sorted(p.rstrip("/").split("/")[-2] for p in paths)

    def has_eval_set(self, name):
        return tf.io.gfile.exists(join(self._eval_set_dir(_check_name(name, "name")),
                                       "EVAL_SET.json"))

    def _eval_set_manifest(self, name):
        _check_name(name, "eval_set")
        if name not in self._eval_set_cache:
            path = join(self._eval_set_dir(name), "EVAL_SET.json")
            if not tf.io.gfile.exists(path):
                raise ValueError(f"eval set {name!r} is not in the store {self.root}; stored: "
                                 f"{self.eval_sets()}.")
            manifest = read_json(path, format_name=_EVAL_SET_FORMAT)
            if manifest.get("name") != name:
                raise StoreError(path, f"names eval set {manifest.get('name')!r}, not {name!r}.")
            self._eval_set_cache[name] = manifest
        return self._eval_set_cache[name]

    def eval_set(self, name):
        """The stored evaluation set ``name`` as an :class:`EvalSet`."""
        manifest = self._eval_set_manifest(name)
        directory = self._eval_set_dir(name)

        def load(key):
            entry = manifest["files"].get(key)
            if entry is None:
                return None
            return np.asarray(read_array(join(directory, entry["file"]), entry,
                                         verify=self.verify, mmap=False))
        return EvalSet(name=name, ids=load("ids"), labels=load("labels"),
                       n_classes=int(manifest["num_classes"]),
                       attributes={a: load(f"attribute.{a}") for a in manifest["attributes"]},
                       class_subset=load("class_subset"), info=manifest.get("info", {}),
                       identity=manifest.get("identity", {}))

    def fields_for(self, eval_set):
        """Fields each member stores for ``eval_set`` (depends on its class count and subset)."""
        manifest = self._eval_set_manifest(eval_set)
        fields = ["labels"]
        fields += (["probs"] if manifest["num_classes"] <= self.max_full_classes
                   else ["topk_labels", "topk_probs"])
        if "class_subset" in manifest["files"]:
            fields.append("restricted_labels")
        return tuple(fields)

    # ----------------------------------------------------------------- members
    def _member_dir(self, variant, seed):
        return join(self.root, "members", _check_name(variant, "variant"),
                    f"seed_{_check_seed(seed)}")

    def has_member(self, variant, seed):
        """True when member (``variant``, ``seed``) is completely written."""
        return tf.io.gfile.exists(join(self._member_dir(variant, seed), "MEMBER.json"))

    def remove_member(self, variant, seed):
        """Delete member (``variant``, ``seed``) (its manifest first). Returns True if stored."""
        return _remove_entry(self._member_dir(variant, seed), "MEMBER.json")

    def members(self, variant=None):
        """Completely written members as sorted ``(variant, seed)`` pairs (of one variant if
        given)."""
        pattern = join(self.root, "members", "*" if variant is None else
                       _check_name(variant, "variant"), "seed_*", "MEMBER.json")
        found = []
        for path in tf.io.gfile.glob(pattern):
            parts = path.rstrip("/").split("/")
            seed = parts[-2][len("seed_"):]
            if seed.isdigit():
                found.append((parts[-3], int(seed)))
        return sorted(found)

    def variants(self):
        """Names of variants with at least one complete member, sorted."""
        return sorted({v for v, _ in self.members()})

    def seeds(self, variant):
        """Seeds of the complete members of ``variant``, ascending."""
        return [s for _, s in self.members(variant)]

    def member_info(self, variant, seed):
        """The member's manifest: variant, seed, recipe, versions, timing, host, files."""
        path = join(self._member_dir(variant, seed), "MEMBER.json")
        if not tf.io.gfile.exists(path):
            raise ValueError(f"member ({variant!r}, {seed}) is not in the store {self.root}.")
        manifest = read_json(path, format_name=_MEMBER_FORMAT)
        if manifest.get("variant") != variant or manifest.get("seed") != seed:
            raise StoreError(path, f"describes member ({manifest.get('variant')!r}, "
                                   f"{manifest.get('seed')!r}), not ({variant!r}, {seed}).")
        return manifest

    def write_member(self, variant, seed, probabilities, *, recipe, timing=None, versions=None,
                     info=None, identity=None):
        """Write one member's predictions on each evaluation set, atomically and once.

        Parameters
        ----------
        variant : str
            e.g. ``"dense"``, ``"prune@0.9"``, ``"qat_int8+tflite_int8"``.
        seed : int
        probabilities : dict of str -> array_like of float, shape (n_examples, n_classes)
            Class probabilities (softmax outputs) on each stored evaluation set, in the order of
            the set's ids. Reduced to the fields :meth:`fields_for` names.
        recipe : dict
            JSON-serialisable training recipe.
        timing : dict of str -> float, optional
            Seconds spent (train, export, predict, ...).
        versions : dict of str -> str, optional
            Library versions; Python's and numpy's are added.
        info : dict, optional
            Further JSON-serialisable metadata.
        identity : dict, optional
            JSON description of the model and data the member was made from (a population
            compares it with a later run's before reusing the member).

        Raises
        ------
        ValueError
            If the member is already stored, an evaluation set is unknown, or shapes or values
            are wrong.
        """
        directory = self._member_dir(variant, seed)
        seed = int(seed)
        manifest_path = join(directory, "MEMBER.json")
        if tf.io.gfile.exists(manifest_path):
            raise ValueError(f"member ({variant!r}, {seed}) is already in the store "
                             f"({manifest_path}); members are written once.")
        if not isinstance(probabilities, Mapping) or not probabilities:
            raise TypeError("`probabilities` must be a non-empty dict of eval set name -> "
                            f"(n_examples, n_classes) array; got {type(probabilities).__name__}.")
        reduced = {}
        for eval_set, probs in probabilities.items():
            manifest = self._eval_set_manifest(eval_set)
            expected = (manifest["num_examples"], manifest["num_classes"])
            probs = np.asarray(probs, dtype=np.float32)
            if probs.shape != expected:
                raise ValueError(f"`probabilities[{eval_set!r}]` must have shape {expected} "
                                 f"(examples, classes of the stored set); got {probs.shape}.")
            if not np.all(np.isfinite(probs)) or (probs.size and probs.min() < 0):
                raise NotProbabilitiesError(f"`probabilities[{eval_set!r}]` must be finite and "
                                            "non-negative (softmax outputs, not logits).")
            sums = probs.sum(axis=1, dtype=np.float64)
            off = rows_off_one(probs, _ROW_SUM_ATOL)
            if off.any():
                row = int(np.flatnonzero(off)[0])
                raise NotProbabilitiesError(
                    f"`probabilities[{eval_set!r}]`: {int(off.sum())} of {len(sums)} rows do not "
                    f"sum to 1 (row {row} sums to {sums[row]:.6g}; tolerance {_ROW_SUM_ATOL}). "
                    "Pass softmax outputs; normalise scores first (p / p.sum(axis=1)).")
            reduced[eval_set] = self._reduce(eval_set, probs)
        tf.io.gfile.makedirs(directory)
        # Nothing without a manifest is valid: clear what a killed run may have left here.
        for leftover in tf.io.gfile.listdir(directory):
            tf.io.gfile.remove(join(directory, leftover))
        files = {}
        for eval_set, fields in reduced.items():
            for field, array in fields.items():
                name = f"{eval_set}.{field}.npy"
                files.setdefault(eval_set, {})[field] = dict(
                    write_array(join(directory, name), array), file=name)
        all_versions = {"python": platform.python_version(), "numpy": np.__version__}
        all_versions.update(versions or {})
        write_json(manifest_path, {
            "format": _MEMBER_FORMAT, "format_version": FORMAT_VERSION, "variant": variant,
            "seed": seed, "recipe": recipe, "timing": dict(timing or {}),
            "versions": all_versions, "info": info or {}, "identity": identity or {},
            "host": socket.gethostname(),
            "created": _now(), "files": files})

    def _reduce(self, eval_set, probs):
        manifest = self._eval_set_manifest(eval_set)
        n_classes = manifest["num_classes"]
        label_dtype = _label_dtype(n_classes)
        out = {"labels": np.argmax(probs, axis=1).astype(label_dtype)}
        if n_classes <= self.max_full_classes:
            out["probs"] = probs.astype(np.float16)
        else:
            top = _top_k(probs, min(self.top_k, n_classes))
            out["topk_labels"] = top.astype(label_dtype)
            out["topk_probs"] = np.take_along_axis(probs, top, axis=1).astype(np.float16)
        entry = manifest["files"].get("class_subset")
        if entry is not None:
            subset = np.asarray(read_array(join(self._eval_set_dir(eval_set), entry["file"]),
                                           entry, verify=self.verify, mmap=False))
            out["restricted_labels"] = subset[np.argmax(probs[:, subset], axis=1)].astype(
                label_dtype)
        return out

    def read_member(self, variant, seed, eval_set, field="labels"):
        """One field of one member on one evaluation set (memory-mapped where local).

        Returns
        -------
        ndarray of shape (n_examples,) or (n_examples, n_classes | top_k)
        """
        manifest = self.member_info(variant, seed)
        if field not in FIELDS:
            raise ValueError(f"`field` must be one of {FIELDS}; got {field!r}.")
        stored = self.fields_for(eval_set)
        if field not in stored:
            raise ValueError(f"field {field!r} is not stored for eval set {eval_set!r} "
                             f"({self._eval_set_manifest(eval_set)['num_classes']} classes, "
                             f"max_full_classes={self.max_full_classes}); stored: {stored}.")
        path = join(self._member_dir(variant, seed), "MEMBER.json")
        entry = manifest["files"].get(eval_set, {}).get(field)
        if entry is None:
            raise MissingEvaluationError(
                f"member ({variant!r}, {seed}) was not evaluated on {eval_set!r} "
                f"({path} lists {sorted(manifest['files'])}).")
        array = read_array(join(self._member_dir(variant, seed), entry["file"]), entry,
                           verify=self.verify)
        n = self._eval_set_manifest(eval_set)["num_examples"]
        if array.shape[0] != n:
            raise StoreError(path, f"lists {array.shape[0]} examples for {eval_set!r}; the set "
                                   f"has {n}.")
        return array

    def read(self, variant, eval_set, fields=("labels",), *, seeds=None):
        """All members of ``variant`` on ``eval_set``, stacked as (members, examples, ...).

        Parameters
        ----------
        variant, eval_set : str
        fields : sequence of str
            Any of :data:`FIELDS` stored for the set (see :meth:`fields_for`). Others are not read.
        seeds : sequence of int, optional
            The members to read; all stored members of the variant by default.

        Returns
        -------
        VariantPredictions
        """
        if isinstance(fields, str):
            fields = (fields,)
        unknown = [f for f in fields if f not in FIELDS]
        if unknown:
            raise ValueError(f"`fields` must be drawn from {FIELDS}; got {unknown}.")
        stored_seeds = self.seeds(variant)
        if not stored_seeds:
            raise ValueError(f"variant {variant!r} has no members in the store {self.root}; "
                             f"stored variants: {self.variants()}.")
        if seeds is None:
            seeds = stored_seeds
        else:
            seeds = sorted(_check_seed(s) for s in seeds)
            missing = sorted(set(seeds) - set(stored_seeds))
            if missing:
                raise ValueError(f"`seeds` {missing} of variant {variant!r} are not in the store; "
                                 f"stored: {stored_seeds}.")
        arrays = {field: np.stack([self.read_member(variant, s, eval_set, field) for s in seeds])
                  for field in fields}
        return VariantPredictions(variant=variant, eval_set=eval_set,
                                  seeds=np.asarray(seeds, dtype=np.int64), **arrays)

    def verify_all(self):
        """Read and check every file of every member and evaluation set.

        Returns
        -------
        int
            Number of array files checked. Raises :class:`StoreError` on the first bad one.
        """
        checked = 0
        for name in self.eval_sets():
            self.eval_set(name)
            checked += len(self._eval_set_manifest(name)["files"])
        for variant, seed in self.members():
            manifest = self.member_info(variant, seed)
            for eval_set, fields in manifest["files"].items():
                for field in fields:
                    self.read_member(variant, seed, eval_set, field)
                    checked += 1
        return checked

    def remove_damaged(self):
        """Find every damaged evaluation set and member, and delete it so a run redoes it.

        A file that is missing, truncated, altered or unreadable, or a manifest that is not
        valid JSON, makes its evaluation set or member damaged (each file is read and its
        checksum checked, as :meth:`verify_all` does). Deleting them leaves a store a
        population run fills again: evaluation sets are rewritten before any training, and
        members are re-predicted from their checkpoints where these exist (trained again from
        their seed otherwise). The studies run this with ``--stage=repair``.

        Returns
        -------
        list of (str, str)
            ``(what, why)`` for each entry removed, e.g. ``("member dense seed 0",
            "...test.labels.npy: checksum differs ...")``.
        """
        removed = []
        for path in tf.io.gfile.glob(join(self.root, "eval_sets", "*")):
            name = path.rstrip("/").split("/")[-1]
            if TMP_MARK in name:
                continue
            try:
                self.eval_set(name)
            except StoreError as err:
                self.remove_eval_set(name)
                removed.append((f"eval set {name}", str(err)))
            except ValueError:  # no manifest: the directory of a set never completed
                continue
        for variant, seed in self.members():
            try:
                manifest = self.member_info(variant, seed)
                for eval_set, fields in manifest["files"].items():
                    if not self.has_eval_set(eval_set):  # rewritten by the run, then checked
                        continue
                    for field in fields:
                        self.read_member(variant, seed, eval_set, field)
            except (StoreError, ValueError, KeyError) as err:
                self.remove_member(variant, seed)
                removed.append((f"member {variant} seed {seed}", str(err)))
        return removed

    @property
    def is_local(self):
        """True when the store is on the local filesystem (reads are memory-mapped)."""
        return is_local(self.root)


def _top_k(probs, k):
    """The ``k`` most probable labels per row, most probable first; equal probabilities keep the
    lower label first, as ``argmax`` does (the order of a stable sort of ``-probs``).

    A partial selection (``argpartition``, linear in the classes) then a sort of the ``k``
    chosen: at 1,000 classes 20x faster than sorting every row. Rows where equal values
    straddle the k-th place (common in int8 outputs, which take 256 values) are sorted whole,
    so the lowest labels among the tied ones are kept, exactly as the full sort keeps them.
    """
    rows = np.arange(len(probs))[:, None]
    top = np.argpartition(-probs, k - 1, axis=1)[:, :k]
    values = probs[rows, top]
    kth = values.min(axis=1, keepdims=True)
    straddle = np.flatnonzero((probs == kth).sum(axis=1) > (values == kth).sum(axis=1))
    order = np.lexsort((top, -values), axis=1)
    top = np.take_along_axis(top, order, axis=1)
    if straddle.size:
        top[straddle] = np.argsort(-probs[straddle], axis=1, kind="stable")[:, :k]
    return top


def _remove_entry(directory, manifest):
    """Remove ``directory`` whose ``manifest`` makes it valid: the manifest first, so a reader
    never sees a half-deleted entry as complete."""
    if not tf.io.gfile.exists(directory):
        return False
    existed = tf.io.gfile.exists(join(directory, manifest))
    if existed:
        tf.io.gfile.remove(join(directory, manifest))
    tf.io.gfile.rmtree(directory)
    return existed


def _now():
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
