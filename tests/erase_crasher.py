"""Child process of test_erasure: start deleting an account, and die right after its mark.

Run as ``python -m tests.erase_crasher DATA_DIR USER_ID`` from the repository root. The
process kills itself with SIGKILL the moment the "being erased" mark is durable, before
the person's secret or any record of theirs is gone: no ``finally`` and no atexit runs.
"""

from __future__ import annotations

import os
import signal
import sys

from gallery_store import open_studio

from .conftest import FAST_CONFIG


def main(data_dir: str, user_id: str) -> None:
    """Open the studio, erase ``user_id`` and die just after the first commit."""
    studio = open_studio(data_dir, FAST_CONFIG)

    def die_after_the_mark() -> None:
        os.kill(os.getpid(), signal.SIGKILL)

    studio.accounts.sealer.vault.destroy = lambda _user_id: die_after_the_mark()
    studio.exports.erase_person(user_id)
    print("the erasure ran to its end: the crash never came", flush=True)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
