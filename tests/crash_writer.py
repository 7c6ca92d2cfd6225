"""Child process of test_crash: write records until killed, printing each acknowledged id.

Run as ``python -m tests.crash_writer DATA_DIR`` from the repository root.
"""

from __future__ import annotations

import sys

from gallery_store import StudioConfig, open_studio

SHARD_CAPACITY = 40


def main(data_dir: str) -> None:
    """Open the studio on ``data_dir`` and write until the parent kills us."""
    studio = open_studio(data_dir, StudioConfig(shard_capacity=SHARD_CAPACITY))
    drafts = studio.store.collection("drafts")
    audit = studio.store.collection("audit")
    number = 0
    while True:
        number += 1
        with studio.store.transaction():
            draft = drafts.insert({"user_id": "crash-writer", "n": number})
            # Every other write spans two files, so it goes through the commit journal.
            if number % 2 == 0:
                audit.insert({"circle_id": None, "draft_id": draft["id"]})
        # Printed only after the commit returned: a printed id is an acknowledged write.
        print(draft["id"], flush=True)


if __name__ == "__main__":
    main(sys.argv[1])
