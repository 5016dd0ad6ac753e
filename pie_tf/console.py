"""What a pie_tf run prints: its own lines, one progress display, TensorFlow's log kept aside.

TensorFlow, Keras, tfmot and the TFLite converter write their own log to the process's file
descriptors 1 and 2 from C++ (``cpu_feature_guard``, ``cuInit``, SavedModel fingerprints,
"Sharding callback duration", converter and XNNPACK banners) and from Python (absl and
``warnings``). The C++ lines do not pass through ``sys.stderr``, so :func:`quiet_tensorflow`
moves the descriptors themselves (and ``sys.stdout`` / ``sys.stderr``) into a log file for the
duration of a run::

    from pie_tf import console

    with console.quiet_tensorflow(log_path="runs/x/tensorflow.log"):
        population.run()                  # TensorFlow's lines go to the file
        console.echo("done")              # pie_tf's own lines still reach the terminal

pie_tf's own lines (:func:`echo`, :class:`Progress`, warnings raised from pie_tf's modules and
absl WARNING records logged from them) are written to the terminal the descriptors pointed at
before. If the block raises (other than a pie_tf error), the last lines of the log are printed
before the traceback, so a TensorFlow error message is never lost. ``enabled=False`` (the
scripts' ``--tf_logs``) leaves every descriptor alone.

:class:`Progress` is the one progress display of a long call (members of a population,
evaluation sets): done/total, elapsed and remaining time, as a tqdm bar on a terminal and as a
plain line per step otherwise (a log file gets no carriage returns).
"""
from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import time
import warnings

__all__ = ["quiet_tensorflow", "is_quiet", "echo", "stdout", "stderr", "Progress",
           "format_seconds"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__))
_STATE = {"depth": 0, "out": None, "err": None, "log_path": None}


def stdout():
    """The stream pie_tf's results go to: the real standard output, also while quiet."""
    return _STATE["out"] or sys.stdout


def stderr():
    """The stream pie_tf's progress and warnings go to: the real standard error."""
    return _STATE["err"] or sys.stderr


def is_quiet():
    """True inside :func:`quiet_tensorflow` (enabled)."""
    return _STATE["depth"] > 0


def echo(message, *, err=False):
    """Print one of pie_tf's own lines to the terminal (stderr with ``err=True``).

    Inside :func:`quiet_tensorflow` this is the terminal the run started with, not the log file.
    """
    stream = stderr() if err else stdout()
    stream.write(f"{message}\n")
    stream.flush()


def _from_pie_tf(path):
    path = os.path.abspath(path or "")
    return path.startswith(_PACKAGE_DIR + os.sep)


class _PieTfRecords(logging.Handler):
    """absl / logging records at WARNING and above logged from pie_tf's modules, to the
    terminal (absl's own handler writes them, with TensorFlow's, into the log file).

    When the root logger had no handler, Python would have printed other WARNING records
    through its last-resort handler, which a handler of ours disables: those are written to
    the log file instead, as that handler would have written them.
    """

    def __init__(self):
        super().__init__(logging.WARNING)
        self.setFormatter(logging.Formatter(logging.BASIC_FORMAT))
        self.passthrough = not logging.getLogger().handlers

    def emit(self, record):
        if _from_pie_tf(record.pathname):
            echo(f"{record.levelname.lower()}: {record.getMessage()}", err=True)
        elif self.passthrough:
            sys.stderr.write(self.format(record) + "\n")


@contextlib.contextmanager
def quiet_tensorflow(enabled=True, *, log_path=None, tail_lines=40):
    """Send TensorFlow's C++ and Python log lines to a file while the block runs.

    Parameters
    ----------
    enabled : bool
        False: do nothing (TensorFlow's log stays on the terminal, e.g. ``--tf_logs``).
    log_path : str, optional
        Where the log goes (its folder is created; the file is overwritten). Default: a
        temporary file, deleted when the block ends without an error.
    tail_lines : int
        Lines of the log printed to the terminal when the block raises an error other than
        pie_tf's own (``pie_tf.errors.PieTfError``, which says what is wrong by itself).

    Yields
    ------
    str or None
        The log file's path (None when disabled). Nested uses share the outer one's file.
    """
    if not enabled or _STATE["depth"]:
        yield _STATE["log_path"]
        return
    sys.stdout.flush()
    sys.stderr.flush()
    if log_path:
        os.makedirs(os.path.dirname(os.path.abspath(log_path)), exist_ok=True)
        log = open(log_path, "wb")
    else:
        log = tempfile.NamedTemporaryFile(prefix="pie_tf_tensorflow_", suffix=".log",
                                          delete=False)
    saved = {fd: os.dup(fd) for fd in (1, 2)}
    real = {fd: _terminal(stream, fd, saved[fd]) for fd, stream in ((1, sys.stdout),
                                                                     (2, sys.stderr))}
    handler = _PieTfRecords()
    show_warning = warnings.showwarning

    def showwarning(message, category, filename, lineno, file=None, line=None):
        if _from_pie_tf(filename):
            echo(f"warning: {message}", err=True)
        else:
            show_warning(message, category, filename, lineno, file, line)

    for fd in (1, 2):
        os.dup2(log.fileno(), fd)
    # Python-level writes too (they miss the descriptors where sys.stdout is not fd 1: a
    # notebook, a captured test)
    streams = sys.stdout, sys.stderr
    sys.stdout = sys.stderr = io.TextIOWrapper(
        os.fdopen(os.dup(log.fileno()), "wb", buffering=0), write_through=True,
        encoding="utf-8", errors="replace")
    _STATE.update(depth=1, out=real[1], err=real[2], log_path=log.name)
    logging.getLogger().addHandler(handler)
    warnings.showwarning = showwarning
    failed = False
    try:
        yield log.name
    except Exception as err:
        from pie_tf.errors import PieTfError

        # pie_tf's own errors say what is wrong; any other may be explained by TensorFlow's log
        failed = not isinstance(err, PieTfError)
        raise
    finally:
        warnings.showwarning = show_warning
        logging.getLogger().removeHandler(handler)
        logged, (sys.stdout, sys.stderr) = sys.stdout, streams
        with contextlib.suppress(Exception):
            logged.close()
        for stream in streams:
            with contextlib.suppress(Exception):
                stream.flush()
        for fd in (1, 2):
            os.dup2(saved[fd], fd)
            os.close(saved[fd])
        for fd, stream in real.items():
            if stream is not streams[fd - 1]:
                stream.close()
        _STATE.update(depth=0, out=None, err=None, log_path=None)
        log.close()
        if failed:
            _print_tail(log.name, tail_lines)
        elif not log_path:
            os.unlink(log.name)


def _terminal(stream, fd, saved):
    """Where pie_tf's lines go while ``fd`` points at the log: ``stream`` itself when it is not
    that descriptor (a notebook's, pytest's), else a stream on the saved descriptor."""
    try:
        on_fd = stream.fileno() == fd
    except (AttributeError, OSError, ValueError):
        on_fd = False
    if not on_fd:
        return stream
    return io.TextIOWrapper(os.fdopen(os.dup(saved), "wb", buffering=0), write_through=True,
                            encoding=getattr(stream, "encoding", None) or "utf-8",
                            errors="replace")


def _print_tail(path, n):
    with open(path, "rb") as f:
        lines = f.read().decode("utf-8", "replace").splitlines()
    if lines:
        sys.stderr.write(f"TensorFlow's log of this run ({path}), last {min(n, len(lines))} "
                         "lines:\n" + "\n".join(lines[-n:]) + "\n")
        sys.stderr.flush()


def format_seconds(seconds):
    """``"1:02:03"`` / ``"02:03"`` (tqdm's format), ``"?"`` for an unknown duration."""
    from tqdm import tqdm

    if seconds is None or seconds != seconds or seconds == float("inf"):
        return "?"
    return tqdm.format_interval(max(0.0, seconds))


class Progress:
    """One progress display: ``desc: done/total unit, elapsed, about remaining left``.

    On a terminal it is a tqdm bar that redraws in place; otherwise (a log file, a pipe) each
    :meth:`update` prints one line, so the file reads as a list. The remaining time is the mean
    time per step so far times the steps left; with ``kinds``, each kind's steps left take that
    kind's mean so far (a population's dense trainings and its quick TFLite exports are not
    averaged together), a kind not seen yet the mean of all steps.

    Parameters
    ----------
    total : int
    desc : str
        What is counted (``"population"``).
    unit : str
        Plural name of a step (``"members"``).
    enabled : bool
        False: nothing is displayed (``verbose=0``).
    kinds : mapping of str -> int, optional
        How many of the ``total`` steps are of each kind (``{"dense": 5, "qat_int8": 5}``);
        :meth:`update` then says the kind of each step.
    stream : file, optional
        Default: pie_tf's stderr (:func:`stderr`).

    Examples
    --------
    >>> import io
    >>> out = io.StringIO()
    >>> with Progress(2, "population", stream=out, clock=iter([0.0, 30.0, 90.0]).__next__) as p:
    ...     p.update("dense seed 0")
    ...     p.update("dense seed 1")
    >>> print(out.getvalue(), end="")
    population: 1/2 members, elapsed 00:30, about 00:30 left (dense seed 0)
    population: 2/2 members, elapsed 01:30, about 00:00 left (dense seed 1)
    """

    def __init__(self, total, desc, *, unit="members", enabled=True, stream=None, kinds=None,
                 clock=time.perf_counter):
        from pie_tf.errors import InvalidArgumentError

        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise InvalidArgumentError(f"`total` must be a non-negative int; got {total!r}.")
        kinds = dict(kinds or {})
        if any(isinstance(n, bool) or not isinstance(n, int) or n < 0 for n in kinds.values()) \
                or sum(kinds.values()) > total:
            raise InvalidArgumentError(f"`kinds` must map kinds to non-negative step counts "
                                       f"adding up to at most `total` ({total}); got {kinds!r}.")
        self.total, self.desc, self.unit, self.done = total, desc, unit, 0
        self.enabled = bool(enabled)
        self._stream = stream
        self._clock = clock
        self._start = self._last = clock()
        self._kinds = kinds
        self._kind_done = dict.fromkeys(kinds, 0)
        self._kind_seconds = dict.fromkeys(kinds, 0.0)
        self._bar = None
        out = self.stream
        if self.enabled and total and getattr(out, "isatty", lambda: False)():
            from tqdm import tqdm

            # the remaining time is this display's estimate, written into the postfix
            self._bar = tqdm(total=total, desc=desc, unit=f" {unit}", file=out, smoothing=0,
                             dynamic_ncols=True, bar_format="{desc}: {n_fmt}/{total_fmt}"
                             "{unit} |{bar:24}| elapsed {elapsed}{postfix}")

    @property
    def stream(self):
        return self._stream if self._stream is not None else stderr()

    def elapsed(self):
        """Seconds since the display was made."""
        return self._clock() - self._start

    def remaining(self, elapsed=None):
        """Estimated seconds left (None before the first step)."""
        if not self.done:
            return None
        elapsed = self.elapsed() if elapsed is None else elapsed
        mean = elapsed / self.done
        left = self.total - self.done
        seconds = 0.0
        for kind, count in self._kinds.items():
            done = self._kind_done[kind]
            steps = min(max(count - done, 0), left)
            seconds += steps * (self._kind_seconds[kind] / done if done else mean)
            left -= steps
        return seconds + left * mean

    def line(self, note="", *, elapsed=None):
        """The plain-text form of the display."""
        elapsed = self.elapsed() if elapsed is None else elapsed
        left = self.remaining(elapsed)
        text = (f"{self.desc}: {self.done}/{self.total} {self.unit}, elapsed "
                f"{format_seconds(elapsed)}, about {format_seconds(left)} left")
        return f"{text} ({note})" if note else text

    def update(self, note="", n=1, kind=None):
        """``n`` more steps done; ``note`` says which (``"prune_ft@0.9 seed 2"``), ``kind`` of
        which kind (one of ``kinds``; steps of no kind count in the overall mean only)."""
        now = self._clock()
        self.done += n
        if kind in self._kinds:
            self._kind_done[kind] += n
            self._kind_seconds[kind] += now - self._last
        self._last = now
        if not self.enabled:
            return
        if self._bar is not None:
            left = f"about {format_seconds(self.remaining(now - self._start))} left"
            self._bar.set_postfix_str(f"{left} ({note})" if note else left, refresh=False)
            self._bar.update(n)
        else:
            self.stream.write(self.line(note, elapsed=now - self._start) + "\n")
            self.stream.flush()

    def write(self, message):
        """A line of its own above the display (a tqdm bar is redrawn below it)."""
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.write(message, file=self.stream)
        else:
            self.stream.write(f"{message}\n")
            self.stream.flush()

    def close(self):
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
        return False
