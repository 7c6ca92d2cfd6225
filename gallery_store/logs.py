"""Where the studio's log lines go when it runs as a server: standard error, with times.

Streamlit sets up only its own loggers, so without this the studio's INFO lines (a finished
deletion, a sweep, a restored backup) and WARNINGs vanish or lose their time.
"""

from __future__ import annotations

import logging
import sys

__all__ = ["LOGGERS", "configure_logging", "unconfigure_logging"]

LOGGERS = ("gallery_store", "kindred")  # the services, and the app's pages and routes
HANDLER_NAME = "kindred-canvas-stderr"
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class _StandardError(logging.StreamHandler):
    """Write to whatever ``sys.stderr`` is when a line is logged (it may be replaced)."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self):  # type: ignore[override]
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass


def configure_logging(level: int = logging.INFO) -> None:
    """Send the studio's log lines to standard error once, however often this is called.

    Streamlit runs the app script again on every interaction, so the handler is found by
    its name rather than added again. Lines still reach the root logger, for whoever sets
    one up; it has no handler under Streamlit, so nothing is printed twice.
    """
    for name in LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET or logger.level > level:
            logger.setLevel(level)
        if any(h.get_name() == HANDLER_NAME for h in logger.handlers):
            continue
        handler = _StandardError()
        handler.set_name(HANDLER_NAME)
        handler.setFormatter(logging.Formatter(FORMAT))
        logger.addHandler(handler)


def unconfigure_logging() -> None:
    """Take back what ``configure_logging`` did: its handler and the level it set."""
    for name in LOGGERS:
        logger = logging.getLogger(name)
        for handler in list(logger.handlers):
            if handler.get_name() == HANDLER_NAME:
                logger.removeHandler(handler)
                logger.setLevel(logging.NOTSET)
