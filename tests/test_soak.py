"""A short run of the store soak (benchmarks/soak_store.py): kills, threads and a full disk.

The long run is ``python -m benchmarks.soak_store``; this one takes well under a minute.
"""

from __future__ import annotations

import random

import pytest

from benchmarks.soak_store import run_full_disk, run_kills, run_threads

pytestmark = pytest.mark.slow


def quiet(_text: str) -> None:
    """The harness reports as it goes; the test only looks at the numbers."""


def test_killed_at_random_moments_the_store_loses_and_resurrects_nothing(tmp_path):
    seed = random.randrange(2**32)
    report = run_kills(tmp_path, 6, random.Random(seed), quiet)

    assert report.kills == 6 and report.child_crashes == 0, report.problems
    assert report.acked_writes > 0
    assert (report.lost, report.resurrected, report.stale, report.extra) == (0, 0, 0, 0), (
        seed,
        report.problems,
    )
    assert report.refused_open == 0 and not report.problems, (seed, report.problems)
    assert "unhealthy" not in report.check_codes, (seed, report.problems)
    assert report.repaired == sum(report.damaged.values()), seed
    # The sweep at open clears what a kill leaves. Kept on purpose: orphan images after a
    # repair (they may be the only copy of art), unfinished backups for an hour (a command
    # may be writing one), and the vault secret of an account a kill stopped being made.
    kept = {"orphan images", "backup temp files", "key files of no account"}
    left = {k: v for k, v in report.leftovers.items() if k not in kept}
    assert left == {}, (seed, report.leftovers)
    assert report.leftovers.get("orphan images", 0) == report.orphans_kept
    assert report.tmpdir_left == 0


def test_thirty_two_threads_on_one_studio_keep_exact_counts_and_replay_the_same(tmp_path):
    report = run_threads(tmp_path, 32, 6, quiet)

    assert report.errors == [] and report.backup_errors == []
    assert sum(report.calls.values()) > 1000
    assert report.backups > 0 and report.checkpoints > 0
    assert set(report.mismatches.values()) == {0}, report.mismatches
    assert report.replay_identical
    assert report.repair_identical, report.repair_note
    assert report.reopen_identical
    first, last = report.samples[0], report.samples[-1]
    assert last.fds <= first.fds + 2
    assert last.tmpdir == 0


def test_a_full_disk_fails_kindly_loses_nothing_and_writes_on_once_freed(tmp_path):
    # ENOSPC injected into os.write: no mount needed (the long run uses a real tmpfs).
    report = run_full_disk(tmp_path, quiet, inject=True, size_mb=3)

    assert report.full_after > 0 and sum(report.acked.values()) > 0
    assert report.raw_errors == []
    assert set(report.failures) == {"SaveFailed: disk is full"}
    assert report.while_full.get("saved", 0) == 0
    assert report.read_errors == [] and report.reads_ok > 0
    assert report.restart_opened, report.restart_error
    assert (report.lost_while_full, report.lost_after_restart, report.lost_at_end) == (0, 0, 0)
    assert report.after_freeing == {"saved": 100}
