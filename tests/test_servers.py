"""The test servers start, answer and keep tests apart (tests/servers.py)."""

from __future__ import annotations

import pytest

from . import servers


def test_postgresql_answers_a_query(postgres_url):
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        version = conn.execute("SHOW server_version_num").fetchone()[0]
    assert int(version) // 10000 == 15


def test_each_test_gets_an_empty_database_of_its_own(postgres_server, postgres_url):
    import psycopg

    with psycopg.connect(postgres_url) as conn:
        conn.execute("CREATE TABLE circles (id text PRIMARY KEY)")
        conn.execute("INSERT INTO circles VALUES ('tuesday')")
    other = postgres_server.create_database()
    try:
        with psycopg.connect(other) as conn:
            tables = conn.execute(
                "SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
            ).fetchone()
        assert tables == (0,)
    finally:
        postgres_server.drop_database(other)


def test_the_s3_server_stores_objects_for_its_identity_only(s3_server):
    from botocore.exceptions import ClientError

    bucket = s3_server.new_bucket()
    client = s3_server.client()
    client.put_object(Bucket=bucket, Key="ab/one.txt", Body=b"kept")
    assert client.get_object(Bucket=bucket, Key="ab/one.txt")["Body"].read() == b"kept"

    stranger = servers.S3Server(s3_server.endpoint, s3_server.access_key, "not-the-secret")
    with pytest.raises(ClientError):
        stranger.client().get_object(Bucket=bucket, Key="ab/one.txt")


def test_a_missing_server_skips_or_fails_when_ci_requires_it(monkeypatch):
    monkeypatch.delenv(servers.REQUIRE, raising=False)
    with pytest.raises(pytest.skip.Exception, match="no weed here"):
        servers.server_missing("no weed here")
    monkeypatch.setenv(servers.REQUIRE, "1")
    with pytest.raises(pytest.fail.Exception, match="KINDRED_REQUIRE_SERVERS=1 but no weed"):
        servers.server_missing("no weed here")
