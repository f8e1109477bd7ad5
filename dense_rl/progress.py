"""Progress bars that stay readable wherever they run: one updating line in a notebook, one line every few
seconds in a log, the usual bar in a terminal.

    from dense_rl.progress import progress
    for step in progress(range(160), desc="PPO"):
        ...

tqdm decides how to draw; this module only decides where its text goes:
- in a Jupyter kernel (JupyterLab, Colab, papermill), each refresh replaces ONE text output through an
  IPython display handle, so an executed notebook keeps a single line (the final state) instead of the
  thousands of '\\r'-separated chunks a stream collects;
- on a terminal, tqdm's own bar on stderr;
- anywhere else (a log file, CI, a pipe), a full line on stderr at most every LOG_INTERVAL_S seconds.
No ipywidgets needed, and nothing warns.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable

from tqdm import tqdm

LOG_INTERVAL_S = 10.0  # seconds between progress lines in a log


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython with a kernel attached), False in a terminal or a script."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _DisplayLine:
    """A file for tqdm whose every write replaces one text output of the notebook cell."""

    def __init__(self) -> None:
        self.handle = None

    def write(self, text: str) -> None:
        from IPython.display import display

        line = text.strip("\r\n").rstrip()
        if not line:
            return
        if self.handle is None:
            self.handle = display({"text/plain": line}, raw=True, display_id=True)
        else:
            self.handle.update({"text/plain": line}, raw=True)

    def flush(self) -> None:
        pass


class _LogLines:
    """A file for tqdm that writes each refresh as its own line on stderr (no '\\r' in logs)."""

    def write(self, text: str) -> None:
        line = text.strip("\r\n").rstrip()
        if line:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()

    def flush(self) -> None:
        sys.stderr.flush()


class _Bar(tqdm):
    """tqdm whose set_postfix waits for the next refresh (tqdm's default redraws at once, on every call,
    which bypasses mininterval: one output chunk per training step)."""

    def set_postfix(self, ordered_dict=None, refresh: bool = False, **kwargs) -> None:
        super().set_postfix(ordered_dict, refresh=False, **kwargs)


def progress(iterable: Iterable, *, desc: str = "", disable: bool = False, **kwargs) -> tqdm:
    """tqdm over `iterable`, drawn as one updating line (notebook), a bar (terminal) or log lines."""
    if in_notebook():
        defaults = {"file": _DisplayLine(), "mininterval": 1.0}
    elif not sys.stderr.isatty():
        defaults = {"file": _LogLines(), "mininterval": LOG_INTERVAL_S, "maxinterval": 10 * LOG_INTERVAL_S}
    else:
        defaults = {}
    return _Bar(iterable, desc=desc, disable=disable, **({"ncols": 100} | defaults | kwargs))
