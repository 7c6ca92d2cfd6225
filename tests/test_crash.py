"""Kill a writing process at random moments: every acknowledged write must survive."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from gallery_store import StudioConfig, open_studio
from gallery_store.storage import Store

from .crash_writer import SHARD_CAPACITY

REPO = Path(__file__).resolve().parent.parent
KILLS = 25


def run_and_kill(data_dir: Path, rng: random.Random) -> list[str]:
    """Start a writer, kill it with SIGKILL at a random moment, return the ids it acknowledged."""
    child = subprocess.Popen(
        [sys.executable, "-m", "tests.crash_writer", str(data_dir)],
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    lines: list[bytes] = []
    first = threading.Event()

    def drain() -> None:
        # Read as the child writes so a full pipe never slows it down.
        for line in child.stdout:
            lines.append(line)
            first.set()
        first.set()

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        if not first.wait(timeout=30) or not lines:
            child.kill()
            child.wait()
            raise AssertionError(f"the writer never wrote: {child.stderr.read().decode()}")
        time.sleep(rng.uniform(0.05, 0.6))
        child.send_signal(signal.SIGKILL)
    finally:
        child.wait(timeout=30)
        reader.join(timeout=30)
        child.stdout.close()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    # A line without its newline was cut off mid-print: that write was not acknowledged.
    return [line.decode().strip() for line in lines if line.endswith(b"\n")]


def check_store(data_dir: Path, acknowledged: set[str]) -> int:
    """Open the store without any automatic restore and check every acknowledged write."""
    store = Store(data_dir, shard_capacity=SHARD_CAPACITY)
    store.open(["drafts", "audit"])  # raises if any file is damaged
    try:
        drafts = {r["id"]: r for r in store.collection("drafts").all()}
        missing = acknowledged - drafts.keys()
        assert not missing, f"{len(missing)} acknowledged writes lost"
        # Two-file commits are all or nothing: every even draft has its audit entry.
        audited = {r["draft_id"] for r in store.collection("audit").all()}
        assert audited <= drafts.keys()
        assert {i for i, r in drafts.items() if r["n"] % 2 == 0} == audited
        assert not (store.root / "journal.json").exists()
        assert not list(store.root.rglob("*.kc-tmp"))
        return len(drafts)
    finally:
        store.close()


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_an_acknowledged_write(tmp_path):
    data_dir = tmp_path / "data"
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    acknowledged: set[str] = set()
    stored = 0
    for round_number in range(KILLS):
        acked = run_and_kill(data_dir, rng)
        assert acked, f"round {round_number} (seed {seed}) acknowledged nothing"
        acknowledged.update(acked)
        now_stored = check_store(data_dir, acknowledged)
        assert now_stored >= stored + len(acked), f"seed {seed}"
        stored = now_stored

    studio = open_studio(data_dir, StudioConfig(shard_capacity=SHARD_CAPACITY))
    try:
        assert acknowledged <= {r["id"] for r in studio.store.collection("drafts").all()}
        assert not studio.store.recovery_notes
        assert not (data_dir / "quarantine").exists()  # never restored from a backup
    finally:
        studio.close()
