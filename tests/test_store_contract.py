"""One contract for every records backend: the embedded store and PostgreSQL.

Each test runs on both (``records.py`` is the seam they implement). PostgreSQL comes from
the throwaway test cluster (``tests/servers.py``): without its binaries those runs skip,
saying why, and fail instead under KINDRED_REQUIRE_SERVERS=1.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from gallery_store import StudioConfig
from gallery_store.errors import Conflict, SaveFailed, StoreUnavailable
from gallery_store.records import RecordStore, Unique
from gallery_store.storage import Store
from gallery_store.studio import Studio

from .conftest import FAST_CONFIG, PASSWORD, join, make_image

NAMES = ("notes", "tags")
LABEL_TAKEN = "That label is taken already."


def declare(store: RecordStore) -> RecordStore:
    """Declare the indexes the tests use: by topic, by tag (several), one label per tag."""
    notes = store.collection("notes")
    notes.add_index("topic", lambda r: r.get("topic"))
    notes.add_index("tag", lambda r: r.get("tags"))
    store.collection("tags").add_index(
        "label", lambda r: r["label"], unique=Unique(Conflict, LABEL_TAKEN)
    )
    return store


class Backend:
    """Opens stores of one backend on one place (a folder, or a database)."""

    def __init__(
        self, name: str, opener: Callable[[], RecordStore], url: str | None = None
    ) -> None:
        self.name = name
        self.url = url  # PostgreSQL's database
        self._opener = opener
        self.opened: list[RecordStore] = []

    def open(self) -> RecordStore:
        store = declare(self._opener())
        self.opened.append(store)
        return store

    def close_all(self) -> None:
        for store in self.opened:
            store.close()
        self.opened.clear()


def _embedded(folder: Path) -> RecordStore:
    store = Store(folder)
    store.open(NAMES)
    return store


def _postgresql(url: str) -> RecordStore:
    from gallery_store.pgstore import PgStore

    store = PgStore(url, pool_size=4)
    store.open(NAMES)
    return store


@pytest.fixture(params=["embedded", "postgresql"])
def backend(request, tmp_path) -> Iterator[Backend]:
    if request.param == "embedded":
        folder = tmp_path / "data"
        made = Backend("embedded", lambda: _embedded(folder))
    else:
        url = request.getfixturevalue("postgres_url")
        made = Backend("postgresql", lambda: _postgresql(url), url)
    yield made
    made.close_all()


@pytest.fixture
def store(backend) -> RecordStore:
    return backend.open()


def ids(records) -> list[str]:
    return [r["id"] for r in records]


class Boom(Exception):
    """A bug in the code running inside a transaction."""


# -- records --------------------------------------------------------------------------------------


def test_insert_get_update_remove(store):
    notes = store.collection("notes")
    made = dict(notes.insert({"topic": "sky", "n": 1, "words": {"a": [1, 2]}}))
    assert set(made) >= {"id", "seq", "topic", "n"} and isinstance(made["id"], str)
    assert notes.get(made["id"]) == made
    assert made["id"] in notes and "nobody" not in notes
    assert len(notes) == 1 and notes.get("nobody") is None

    changed = notes.update(made["id"], n=2, extra=None)
    assert changed == {**made, "n": 2, "extra": None}
    assert notes.get(made["id"]) == changed
    with pytest.raises(KeyError):
        notes.update("nobody", n=3)

    notes.remove(made["id"])
    notes.remove(made["id"])  # already gone: nothing happens
    assert notes.get(made["id"]) is None and len(notes) == 0


def test_ids_and_order_are_the_stores(store):
    notes = store.collection("notes")
    given = notes.insert({"id": "chosen-id", "topic": "sky"})
    assert given["id"] == "chosen-id"
    again = notes.insert({"id": "chosen-id", "topic": "sea"})  # taken: another id is given
    assert again["id"] != "chosen-id" and notes.get("chosen-id")["topic"] == "sky"
    later = notes.insert({"topic": "sky", "seq": -5})  # a caller's seq is replaced
    assert given["seq"] < again["seq"] < later["seq"]
    assert ids(notes.all()) == [given["id"], again["id"], later["id"]]


def test_find_and_first_compare_fields(store):
    notes = store.collection("notes")
    a = notes.insert({"topic": "sky", "n": 1})
    b = notes.insert({"topic": "sky", "n": 2, "flag": None})
    c = notes.insert({"topic": "sea", "n": 1, "flag": True})
    assert ids(notes.find(topic="sky")) == [a["id"], b["id"]]
    assert ids(notes.find(n=1)) == [a["id"], c["id"]]
    assert ids(notes.find(topic="sky", n=2)) == [b["id"]]
    assert ids(notes.find(flag=None)) == [a["id"], b["id"]]  # missing counts as None
    assert notes.first(topic="sky")["id"] == a["id"]
    assert notes.first(topic="sky", flag=None)["id"] == a["id"]
    assert notes.first(topic="moon") is None


def test_records_outlive_the_store_and_order_goes_on(backend):
    first = backend.open()
    made = first.collection("notes").insert({"topic": "sky"})
    first.close()
    backend.opened.remove(first)
    again = backend.open()
    notes = again.collection("notes")
    assert notes.get(made["id"]) == made
    assert notes.by("topic", "sky") == [made]
    assert notes.insert({"topic": "sky"})["seq"] > made["seq"]


# -- indexes --------------------------------------------------------------------------------------


def test_by_ids_by_and_newest_by_keep_posting_order(store):
    notes = store.collection("notes")
    made = [notes.insert({"topic": "sky" if n % 2 else "sea", "n": n}) for n in range(6)]
    sky = [m["id"] for m in made if m["topic"] == "sky"]
    assert ids(notes.by("topic", "sky")) == sky
    assert list(notes.ids_by("topic", "sky")) == sky
    assert ids(notes.newest_by("topic", "sky")) == sky[::-1]
    assert notes.count_by("topic", "sky") == 3 and notes.count_by("topic", "moon") == 0
    assert notes.by("topic", "moon") == [] and list(notes.newest_by("topic", "moon")) == []

    # An edit that keeps the key keeps the record where it was.
    notes.update(sky[0], n=100)
    assert ids(notes.by("topic", "sky")) == sky
    # A changed key moves it to the other list, in posting order there.
    notes.update(sky[1], topic="sea")
    assert ids(notes.by("topic", "sky")) == [sky[0], sky[2]]
    sea = [m["id"] for m in made if m["topic"] == "sea" or m["id"] == sky[1]]
    assert ids(notes.by("topic", "sea")) == sea
    notes.remove(sky[0])
    assert ids(notes.by("topic", "sky")) == [sky[2]]


def test_a_key_function_may_give_several_keys_or_none(store):
    notes = store.collection("notes")
    both = notes.insert({"tags": ["calm", "blue", "calm"]})
    calm = notes.insert({"tags": ["calm"]})
    untagged = notes.insert({"tags": None})
    assert ids(notes.by("tag", "calm")) == [both["id"], calm["id"]]
    assert ids(notes.by("tag", "blue")) == [both["id"]]
    assert notes.count_by("tag", "calm") == 2
    assert untagged["id"] not in {r["id"] for key in ("calm", "blue") for r in notes.by("tag", key)}

    notes.update(both["id"], tags=["blue", "green"])
    assert ids(notes.by("tag", "calm")) == [calm["id"]]
    assert ids(notes.by("tag", "green")) == [both["id"]]
    assert ids(notes.by("tag", "blue")) == [both["id"]]


def test_keys_keep_their_type(store):
    notes = store.collection("notes")
    text = notes.insert({"topic": "1"})
    number = notes.insert({"topic": 1})
    assert ids(notes.by("topic", "1")) == [text["id"]]
    assert ids(notes.by("topic", 1)) == [number["id"]]


def test_page_takes_an_offset_and_a_limit_in_either_order(store):
    notes = store.collection("notes")
    made = [notes.insert({"topic": "sky", "n": n}) for n in range(7)]
    newest = ids(made)[::-1]
    assert ids(notes.page("topic", "sky", limit=3)) == newest[:3]
    assert ids(notes.page("topic", "sky", offset=3, limit=3)) == newest[3:6]
    assert ids(notes.page("topic", "sky", offset=6, limit=3)) == newest[6:]
    assert notes.page("topic", "sky", offset=7, limit=3) == []
    assert ids(notes.page("topic", "sky", newest_first=False, offset=2, limit=2)) == ids(made)[2:4]
    assert notes.page("topic", "sky", limit=0) == []
    assert notes.page("topic", "moon") == []


def test_a_page_of_several_keys_holds_each_record_once_in_order(store):
    notes = store.collection("notes")
    made = [
        notes.insert({"tags": tags})
        for tags in (["a"], ["b"], ["a", "b"], ["c"], ["b"], ["a", "c"], ["a"])
    ]
    under_a_or_b = [m["id"] for m in made if {"a", "b"} & set(m["tags"])]
    assert ids(notes.page("tag", ["a", "b"], limit=50)) == under_a_or_b[::-1]
    assert ids(notes.page("tag", ["a", "b"], offset=2, limit=2)) == under_a_or_b[::-1][2:4]
    assert ids(notes.page("tag", ["b", "a"], newest_first=False, limit=3)) == under_a_or_b[:3]
    many = [f"k{n}" for n in range(20)] + ["c"]  # more keys than a page merges one by one
    assert ids(notes.page("tag", many)) == [made[5]["id"], made[3]["id"]]


def test_a_long_list_is_walked_to_its_end(store):
    notes = store.collection("notes")
    with store.transaction():
        made = [notes.insert({"topic": "sky", "n": n}) for n in range(130)]
    assert ids(notes.newest_by("topic", "sky")) == ids(made)[::-1]
    assert ids(notes.all()) == ids(made)
    assert ids(notes.page("topic", "sky", offset=100, limit=50)) == ids(made)[::-1][100:]


def test_an_index_added_later_covers_what_is_there(store):
    notes = store.collection("notes")
    made = [notes.insert({"topic": t, "mood": t.upper()}) for t in ("sky", "sea", "sky")]
    notes.add_index("mood", lambda r: r.get("mood"))
    assert ids(notes.by("mood", "SKY")) == [made[0]["id"], made[2]["id"]]
    later = notes.insert({"mood": "SKY"})
    assert ids(notes.newest_by("mood", "SKY"))[0] == later["id"]


# -- unique keys ----------------------------------------------------------------------------------


def test_a_unique_key_is_refused_a_second_time_with_the_declared_error(store):
    tags = store.collection("tags")
    calm = tags.insert({"label": "calm"})
    with pytest.raises(Conflict, match=LABEL_TAKEN):
        tags.insert({"label": "calm"})
    blue = tags.insert({"label": "blue"})
    with pytest.raises(Conflict, match=LABEL_TAKEN):
        tags.update(blue["id"], label="calm")
    assert tags.update(calm["id"], label="calm", n=1)["n"] == 1  # its own key is no clash
    assert [r["label"] for r in tags.all()] == ["calm", "blue"]
    assert ids(tags.by("label", "calm")) == [calm["id"]]

    # Refused inside a transaction, the rest of it still commits (as the service decides).
    with store.transaction():
        store.collection("notes").insert({"topic": "kept"})
        with pytest.raises(Conflict):
            tags.insert({"label": "blue"})
        tags.insert({"label": "green"})
    assert [r["label"] for r in tags.all()] == ["calm", "blue", "green"]
    assert len(store.collection("notes").by("topic", "kept")) == 1

    # Once the record holding it is gone, the key is free.
    tags.remove(calm["id"])
    assert tags.insert({"label": "calm"})["label"] == "calm"


# -- transactions ---------------------------------------------------------------------------------


def test_an_exception_in_a_transaction_leaves_nothing_half_written(backend, store):
    notes = store.collection("notes")
    kept = dict(notes.insert({"topic": "sky", "n": 1}))  # a copy: records are not snapshots
    gone = notes.insert({"topic": "sea"})
    with pytest.raises(Boom), store.transaction():
        notes.insert({"topic": "sky", "n": 2})
        notes.update(kept["id"], n=99, topic="moon")
        notes.remove(gone["id"])
        store.collection("tags").insert({"label": "calm"})
        raise Boom
    assert not store.in_transaction()
    for view in (store, backend.open() if backend.name == "postgresql" else store):
        again = view.collection("notes")
        assert [r["id"] for r in again.all()] == [kept["id"], gone["id"]]
        assert again.get(kept["id"]) == kept
        assert ids(again.by("topic", "sky")) == [kept["id"]]
        assert again.by("topic", "moon") == []
        assert len(view.collection("tags")) == 0
    # The label was never taken.
    assert store.collection("tags").insert({"label": "calm"})


def test_nested_transactions_join_the_outer_one(store):
    notes = store.collection("notes")
    with pytest.raises(Boom), store.transaction():
        with store.transaction():
            notes.insert({"topic": "inner"})
            assert store.in_transaction()
        assert store.in_transaction()
        raise Boom  # the inner block's write goes too
    assert notes.by("topic", "inner") == []

    with store.transaction():
        with store.transaction():
            notes.insert({"topic": "inner"})
        notes.insert({"topic": "outer"})
    assert not store.in_transaction()
    assert len(notes) == 2


def test_a_transaction_inside_reading_commits_when_it_ends(store):
    notes = store.collection("notes")
    with pytest.raises(Boom), store.reading():
        with store.transaction():
            made = notes.insert({"topic": "sky"})
        assert not store.in_transaction()
        assert notes.get(made["id"]) == made  # this thread's next read sees it
        raise Boom  # after the commit: it stays
    assert notes.get(made["id"]) == made


def test_forget_earlier_versions_keeps_what_was_committed(store):
    notes = store.collection("notes")
    made = notes.insert({"topic": "sky", "secret": "first words"})
    with store.transaction():
        notes.update(made["id"], secret="sealed")
        store.forget_earlier_versions()
    assert notes.get(made["id"])["secret"] == "sealed"


def test_reads_in_one_reading_block_agree_while_another_thread_writes(store):
    notes = store.collection("notes")
    made = notes.insert({"topic": "sky", "n": 0})
    first_read, written = threading.Event(), threading.Event()

    def writer() -> None:
        first_read.wait(10)
        notes.update(made["id"], n=1)
        written.set()

    thread = threading.Thread(target=writer)
    thread.start()
    with store.reading():
        before = notes.get(made["id"])["n"]
        first_read.set()
        written.wait(0.5)  # embedded: the writer waits for this block; PostgreSQL: it commits
        after = notes.get(made["id"])["n"]
        assert ids(notes.by("topic", "sky")) == [made["id"]]
    thread.join(10)
    assert before == after == 0
    assert notes.get(made["id"])["n"] == 1  # seen once the block is over


def _count_up(store: RecordStore, record_id: str, times: int, errors: list) -> None:
    try:
        notes = store.collection("notes")
        for _ in range(times):
            with store.transaction():
                current = notes.get(record_id)["n"]
                time.sleep(0)  # let the other writer run between the read and the write
                notes.update(record_id, n=current + 1)
    except BaseException as exc:
        errors.append(exc)


def test_two_threads_writing_never_lose_an_update(store):
    made = store.collection("notes").insert({"n": 0})
    errors: list = []
    threads = [
        threading.Thread(target=_count_up, args=(store, made["id"], 40, errors)) for _ in range(2)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert store.collection("notes").get(made["id"])["n"] == 80


def test_two_stores_on_one_place_take_turns_or_the_second_is_refused(backend, store):
    """Two replicas on one database never lose an update; a data folder takes one server."""
    made = store.collection("notes").insert({"n": 0})
    if backend.name == "embedded":
        with pytest.raises(StoreUnavailable, match="already using the data folder"):
            backend.open()
        return
    other = backend.open()
    errors: list = []
    threads = [
        threading.Thread(target=_count_up, args=(each, made["id"], 40, errors))
        for each in (store, other)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    assert store.collection("notes").get(made["id"])["n"] == 80
    assert other.collection("notes").get(made["id"])["n"] == 80
    # What one writes, the other reads at once: nothing is cached.
    other.collection("notes").update(made["id"], n=0)
    assert store.collection("notes").get(made["id"])["n"] == 0


# -- the services on each backend -----------------------------------------------------------------


@pytest.fixture
def studio_on(backend, tmp_path, clock) -> Iterator[Studio]:
    """A studio whose records live in the backend under test."""
    config: StudioConfig = FAST_CONFIG
    if backend.name == "postgresql":
        assert backend.url is not None
        config = config.with_overrides(database_url=backend.url)
    studio = Studio(tmp_path / "studio", config, clock)
    assert studio.wait_for_backup(timeout=30)
    yield studio
    studio.close()


def test_a_taken_username_is_refused_even_when_the_check_before_is_outrun(studio_on, monkeypatch):
    therapist = studio_on.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circle = studio_on.circles.create(therapist, "Tuesday caregivers")
    join(studio_on, therapist, circle, "robin")
    # As if another server had checked at the same moment: the service's own look-up finds
    # nobody, and the store's unique index is what refuses the second account.
    users = studio_on.accounts.users
    real_by = users.by
    monkeypatch.setattr(
        users, "by", lambda index, key: [] if index == "username" else real_by(index, key)
    )
    with pytest.raises(Conflict, match="That username is taken"):
        join(studio_on, therapist, circle, "ROBIN")
    monkeypatch.undo()
    assert len(users.by("username", "robin")) == 1


def test_a_second_first_therapist_is_refused_by_the_store(studio_on, monkeypatch):
    from gallery_store.errors import PermissionDenied

    studio_on.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    monkeypatch.setattr(studio_on.accounts, "needs_setup", lambda: True)
    with pytest.raises(PermissionDenied, match="already has a therapist"):
        studio_on.accounts.bootstrap_therapist("theo", PASSWORD, "Theo")
    monkeypatch.undo()
    assert studio_on.accounts.users.by("username", "theo") == []


def fail_commits(store: RecordStore, monkeypatch) -> None:
    """Make every commit fail the way a full disk or a lost database would (SaveFailed)."""
    if isinstance(store, Store):

        def full_disk(line):
            raise SaveFailed()

        monkeypatch.setattr(store.log, "append", full_disk)
        return
    finish = store._finish  # type: ignore[attr-defined]

    def refused(state, command, conn=None):
        if command == "COMMIT":
            finish(state, "ROLLBACK", conn)
            raise SaveFailed()
        finish(state, command, conn)

    monkeypatch.setattr(store, "_finish", refused)


def test_a_commit_that_fails_leaves_no_record_and_no_image_files(studio_on, monkeypatch):
    therapist = studio_on.accounts.bootstrap_therapist("tess", PASSWORD, "Tess")
    circle = studio_on.circles.create(therapist, "Tuesday caregivers")
    robin = join(studio_on, therapist, circle, "robin")
    images = studio_on.data_dir / "images"
    kept = studio_on.artworks.share(robin, make_image(), alt_text="A warm square")
    files_before = sorted(images.rglob("*.jpg"))

    fail_commits(studio_on.store, monkeypatch)
    with pytest.raises(SaveFailed):
        studio_on.artworks.share(robin, make_image(color=(9, 9, 9)), alt_text="Not kept")
    with pytest.raises(SaveFailed):
        studio_on.comments.post(therapist, kept.id, "Lovely colours")
    monkeypatch.undo()

    assert sorted(images.rglob("*.jpg")) == files_before
    assert [a.id for a in studio_on.artworks.gallery(robin)] == [kept.id]
    assert studio_on.comments.for_artwork(robin, kept.id) == []
    again = studio_on.artworks.share(robin, make_image(color=(9, 9, 9)), alt_text="Kept now")
    assert [a.id for a in studio_on.artworks.gallery(robin)] == [again.id, kept.id]
