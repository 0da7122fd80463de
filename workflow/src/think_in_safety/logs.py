"""Logging for rule scripts: everything a script prints goes to the rule's log file."""

from __future__ import annotations

import contextlib
import logging
from pathlib import Path


@contextlib.contextmanager
def rule_log(log_path: str | Path | None):
    """Send stdout, stderr and the ``logging`` root logger to ``log_path`` for the block."""
    if not log_path:
        yield logging.getLogger("think_in_safety")
        return
    Path(log_path).parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "w", buffering=1) as handle:
        handler = logging.StreamHandler(handle)
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        root = logging.getLogger()
        root.addHandler(handler)
        root.setLevel(logging.INFO)
        try:
            with contextlib.redirect_stdout(handle), contextlib.redirect_stderr(handle):
                yield logging.getLogger("think_in_safety")
        except BaseException:
            logging.getLogger("think_in_safety").exception("rule failed")
            raise
        finally:
            root.removeHandler(handler)
