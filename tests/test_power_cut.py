"""Power cuts at every sync of a real workload: nothing acknowledged is lost.

The workload runs on a real folder while ``PowerCutDisk`` records what each ``fsync`` made
durable. For every moment just before a sync, the data folder is rebuilt as a power cut
would leave it (only synced bytes and entries; renames kept but unsynced bytes lost; torn
appends) and opened again. The studio must open without refusing, hold every operation
acknowledged before the cut (the one in flight may or may not be there, but whole), and
every artwork it holds must have its image.
"""

from __future__ import annotations

import copy
import os
import random

import pytest

from gallery_store import open_studio
from gallery_store.__main__ import damaged_images, image_problems, main
from gallery_store.backups import restore_archive

from .conftest import FAST_CONFIG, PASSWORD, join, make_image
from .powercut import VARIANTS, PowerCutDisk
from .test_recovery import everything


def state(studio) -> dict:
    return copy.deepcopy(everything(studio))


@pytest.fixture
def run(data_dir, clock):
    """Run the workload under the disk model; return (disk, states after each ack)."""
    studio = open_studio(data_dir, FAST_CONFIG, clock)
    therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circle = studio.circles.create(therapist, "Tuesday caregivers")
    robin = join(studio, therapist, circle, "robin", "Robin")
    sam = join(studio, therapist, circle, "sam", "Sam")
    studio.store.checkpoint_bytes = 3000  # checkpoints every few commits
    assert studio.wait_for_backup(timeout=30)  # the first backup, started at open
    states = [state(studio)]
    with PowerCutDisk(data_dir) as disk:

        def ack() -> None:
            disk.acknowledged()
            states.append(state(studio))

        art = studio.artworks.share(robin, make_image(), caption="Harbour", alt_text="Boats")
        ack()
        for n in range(6):
            studio.comments.post(sam, art.id, f"The light on the water is lovely ({n}).")
            ack()
            clock.advance(minutes=1)
        studio.reflections.write(sam, "A quiet week.", mood_before=2, mood_after=3)
        ack()
        studio.backup_now()
        ack()
        later = studio.artworks.share(
            sam, make_image(color=(10, 90, 200)), caption="Dusk", alt_text="An orange sky"
        )
        ack()
        studio.comments.post(robin, later.id, "Thank you for this.")
        ack()
        studio.reflections.write(robin, "Drew the harbour again.", mood_before=3, mood_after=4)
        ack()
        studio.exports.delete_account(sam, PASSWORD)
        ack()
        studio.comments.post(therapist, art.id, "Lovely to see this, Robin.")
        ack()
        studio.close()
    return disk, states


def test_every_power_cut_keeps_what_was_acknowledged(run, tmp_path, monkeypatch):
    disk, states = run
    # Reopening the rebuilt folders is not what is tested: their syncs need not wait for the disk.
    monkeypatch.setattr(os, "fsync", lambda fd: None)
    assert disk.fsyncs > 50, "the workload should sync many times"
    rng = random.Random(7)
    checked = 0
    for number, moment in enumerate(disk.moments):
        for variant in VARIANTS:
            if variant != "synced" and number % 3:
                continue  # every moment pessimistically; the others on a third of them
            folder = tmp_path / f"cut-{number}-{variant}"
            disk.rebuild(moment, variant, folder, rng)
            studio = open_studio(folder, FAST_CONFIG)
            try:
                found = everything(studio)
                allowed = states[moment.acks : moment.acks + 2]
                assert found in allowed, (
                    f"power cut before sync {number} ({variant}): the studio after "
                    f"{moment.acks} acknowledged operations is not what was acknowledged"
                )
                assert image_problems(studio.store, studio.media)[0] == [], (number, variant)
                assert damaged_images(studio.store, studio.media) == [], (number, variant)
            finally:
                studio.close()
            checked += 1
    assert checked > len(disk.moments)
    print(f"{len(disk.moments)} moments, {checked} power cuts checked")


def test_a_restore_survives_a_power_cut_once_it_has_returned(data_dir, clock, tmp_path):
    studio = open_studio(data_dir, FAST_CONFIG, clock)
    therapist = studio.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circle = studio.circles.create(therapist, "Tuesday caregivers")
    robin = join(studio, therapist, circle, "robin", "Robin")
    studio.artworks.share(robin, make_image(), caption="Harbour", alt_text="Boats")
    studio.reflections.write(robin, "A quiet week.", mood_before=2, mood_after=3)
    expected = everything(studio)
    studio.close()
    archive = tmp_path / "studio.zip"
    assert main(["--data-dir", str(data_dir), "backup", "--output", str(archive)]) == 0

    root = tmp_path / "new-server"
    root.mkdir()
    with PowerCutDisk(root) as disk:
        restore_archive(archive, root / "data")
    rng = random.Random(3)
    for variant in VARIANTS:
        folder = tmp_path / f"after-{variant}"
        disk.rebuild(disk.moments[-1], variant, folder, rng)
        restored = open_studio(folder / "data", FAST_CONFIG, clock)
        try:
            assert everything(restored) == expected, variant
            assert image_problems(restored.store, restored.media)[0] == [], variant
            assert damaged_images(restored.store, restored.media) == [], variant
        finally:
            restored.close()
