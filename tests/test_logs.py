"""The studio's log lines reach the server's standard error, with times, once each."""

from __future__ import annotations

import logging
import re

import pytest

from gallery_store.logs import HANDLER_NAME, LOGGERS, configure_logging, unconfigure_logging


@pytest.fixture
def fresh_loggers():
    """Leave the loggers as they were: other tests read them through caplog."""
    saved = {
        name: (logging.getLogger(name).level, list(logging.getLogger(name).handlers))
        for name in LOGGERS
    }
    unconfigure_logging()
    for name in LOGGERS:
        logging.getLogger(name).setLevel(logging.NOTSET)
    yield
    for name, (level, handlers) in saved.items():
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.handlers[:] = handlers


def ours(name: str) -> list[logging.Handler]:
    return [h for h in logging.getLogger(name).handlers if h.get_name() == HANDLER_NAME]


def test_a_studio_warning_reaches_stderr_with_its_time(fresh_loggers, capsys):
    configure_logging()
    logging.getLogger("gallery_store.backups").warning("the backup folder is nearly full")
    err = capsys.readouterr().err
    assert re.search(
        r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} WARNING gallery_store\.backups: "
        r"the backup folder is nearly full$",
        err,
        re.MULTILINE,
    ), err


def test_info_lines_reach_stderr_too(fresh_loggers, capfd):
    configure_logging()
    logging.getLogger("gallery_store.exports").info("finished 1 interrupted account deletion(s)")
    logging.getLogger("kindred").info("a page line")
    err = capfd.readouterr().err
    assert "INFO gallery_store.exports: finished 1 interrupted" in err
    assert "INFO kindred: a page line" in err


def test_setting_up_on_every_rerun_adds_one_handler(fresh_loggers, capsys):
    configure_logging()
    configure_logging()
    for name in LOGGERS:
        assert len(ours(name)) == 1
    logging.getLogger("gallery_store").warning("said once")
    assert capsys.readouterr().err.count("said once") == 1


def test_the_app_sets_up_logging_when_it_runs(fresh_loggers, studio, data_dir, monkeypatch):
    from tests.apptest import app_for

    at = app_for(studio, data_dir, monkeypatch)
    at.run()  # a second rerun: still one handler
    assert not at.exception
    assert len(ours("gallery_store")) == 1
