"""What only the PostgreSQL backend has: migrations, connections, its settings.

The records contract both backends keep is in ``test_store_contract.py``.
"""

from __future__ import annotations

import threading

import pytest

from gallery_store import StudioConfig, pgschema
from gallery_store.config import config_from_env
from gallery_store.errors import StoreUnavailable
from gallery_store.studio import Studio

from .conftest import FAST_CONFIG
from .servers import free_port

NAMES = ("notes",)


def open_store(url: str, **options):
    from gallery_store.pgstore import PgStore

    store = PgStore(url, pool_size=3, **options)
    store.open(NAMES)
    return store


def applied(url: str) -> list[tuple[int, str]]:
    import psycopg

    with psycopg.connect(url) as conn:
        return conn.execute(
            "SELECT version, description FROM schema_migrations ORDER BY version"
        ).fetchall()


def tables(url: str) -> set[str]:
    import psycopg

    with psycopg.connect(url) as conn:
        rows = conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
        return {row[0] for row in rows}


# -- settings -------------------------------------------------------------------------------------


def test_the_database_url_comes_from_the_environment_and_must_be_postgresql(monkeypatch):
    monkeypatch.setenv("KINDRED_DATABASE_URL", " postgresql://kindred:pw@db:5432/kindred ")
    monkeypatch.setenv("KINDRED_DATABASE_POOL_SIZE", "4")
    config = config_from_env()
    assert config.database_url == "postgresql://kindred:pw@db:5432/kindred"
    assert config.database_pool_size == 4
    assert "pw" not in repr(config)
    for wrong in ("mysql://kindred:pw@db/kindred", "db.clinic.org", "postgresql://db:99999/k"):
        with pytest.raises(ValueError, match="KINDRED_DATABASE_URL") as refused:
            StudioConfig(database_url=wrong)
        assert "pw" not in str(refused.value)
    monkeypatch.delenv("KINDRED_DATABASE_URL")
    assert config_from_env().database_url == ""


# -- migrations -----------------------------------------------------------------------------------


def test_opening_applies_each_migration_once_and_lists_it(postgres_url):
    first = open_store(postgres_url)
    first.close()
    again = open_store(postgres_url)
    try:
        assert again.schema_version() == pgschema.SCHEMA_VERSION
        assert applied(postgres_url) == [(n, d) for n, d, _ in pgschema.MIGRATIONS]
        assert {"records_notes", "record_keys", "record_indexes"} <= tables(postgres_url)
    finally:
        again.close()


def test_servers_opening_a_new_database_together_all_open_it(postgres_url):
    opened, errors = [], []

    def start() -> None:
        try:
            opened.append(open_store(postgres_url))
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=start) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    try:
        assert errors == [] and len(opened) == 3
        assert applied(postgres_url) == [(n, d) for n, d, _ in pgschema.MIGRATIONS]
    finally:
        for store in opened:
            store.close()


def test_a_new_step_runs_on_a_database_an_older_version_made(postgres_url, monkeypatch):
    open_store(postgres_url).close()
    step = (2, "a table for later", "CREATE TABLE later_things (id text PRIMARY KEY)")
    monkeypatch.setattr(pgschema, "MIGRATIONS", [*pgschema.MIGRATIONS, step])
    monkeypatch.setattr(pgschema, "SCHEMA_VERSION", 2)
    store = open_store(postgres_url)
    try:
        assert store.schema_version() == 2
        assert applied(postgres_url)[-1] == (2, "a table for later")
        assert "later_things" in tables(postgres_url)
    finally:
        store.close()


def test_a_step_that_fails_half_way_changes_nothing(postgres_url, monkeypatch):
    open_store(postgres_url).close()
    step = (2, "broken", "CREATE TABLE half_done (id text); SELECT 1 / 0")
    monkeypatch.setattr(pgschema, "MIGRATIONS", [*pgschema.MIGRATIONS, step])
    monkeypatch.setattr(pgschema, "SCHEMA_VERSION", 2)
    with pytest.raises(StoreUnavailable, match=r"schema 2 \(broken\) failed.*division by zero"):
        open_store(postgres_url)
    assert "half_done" not in tables(postgres_url)
    assert applied(postgres_url)[-1][0] == 1


def test_a_database_a_newer_version_wrote_is_refused(postgres_url):
    import psycopg

    open_store(postgres_url).close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:
        conn.execute("INSERT INTO schema_migrations (version, description) VALUES (99, 'later')")
    with pytest.raises(StoreUnavailable, match="newer Kindred Canvas"):
        open_store(postgres_url)


# -- connections ----------------------------------------------------------------------------------


def test_an_unreachable_database_is_refused_kindly_and_keeps_its_password(postgres_server):
    url = f"postgresql://kindred:s3cret-word@127.0.0.1:{free_port()}/kindred"
    with pytest.raises(StoreUnavailable) as refused:
        open_store(url, connect_timeout=1.0)
    assert "can't connect to its database (127.0.0.1:" in refused.value.message
    assert "s3cret-word" not in refused.value.message


def test_a_dropped_connection_is_reported_once_then_replaced(postgres_url):
    import psycopg

    store = open_store(postgres_url)
    try:
        notes = store.collection("notes")
        made = notes.insert({"n": 1})
        with psycopg.connect(postgres_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        with pytest.raises(StoreUnavailable, match="can't reach the studio's database"):
            notes.get(made["id"])
        assert notes.get(made["id"]) == made
        assert notes.update(made["id"], n=2)["n"] == 2
    finally:
        store.close()


# -- the studio on PostgreSQL ---------------------------------------------------------------------


def test_a_studio_on_postgresql_takes_no_file_backups_of_its_records(postgres_url, tmp_path):
    studio = Studio(tmp_path / "data", FAST_CONFIG.with_overrides(database_url=postgres_url))
    try:
        assert studio.store.backend == "postgresql"
        studio.take_backup_if_due()
        assert studio.wait_for_backup(timeout=30)
        with pytest.raises(StoreUnavailable, match="pg_dump"):
            studio.backup_now()
        assert not list((tmp_path / "data").glob("backups/*.zip"))
        assert not (tmp_path / "data" / "store").exists()
    finally:
        studio.close()
