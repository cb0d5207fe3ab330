"""Pytest fixtures for store-backed tests: a `db_url` parametrized over SQLite and PostgreSQL.

PostgreSQL comes from CASEWORK_TEST_POSTGRES_URL; each test gets a fresh schema (via the connection's search_path)
that is dropped afterwards. Unset URL: the PostgreSQL variant is skipped. CASEWORK_REQUIRE_POSTGRES=1 and the URL
unset or the server unreachable: the test fails, so CI cannot silently lose PostgreSQL coverage.
"""

from __future__ import annotations

import errno
import io
import os
import shutil
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import create_engine, text

from casework.store.url import parse_url

PG_ENV = "CASEWORK_TEST_POSTGRES_URL"
REQUIRE_ENV = "CASEWORK_REQUIRE_POSTGRES"


def postgres_base_url() -> str:
    url = os.environ.get(PG_ENV)
    if not url:
        why = f"PostgreSQL tests need {PG_ENV} (e.g. postgresql://postgres@127.0.0.1:5432/test)"
        if os.environ.get(REQUIRE_ENV) == "1":  # a run that lost the URL must not pass with every PG test skipped
            pytest.fail(f"{why}, and {REQUIRE_ENV}=1 requires them")
        pytest.skip(why)
    return url


def with_search_path(url: str, schema: str) -> str:
    sep = "&" if "?" in url else "?"
    return f"{url}{sep}options={quote(f'-csearch_path={schema}')}"


@contextmanager
def pg_schema() -> Iterator[tuple[str, str]]:
    """(the server's URL, the name of a new schema there), dropped afterwards; skips or fails the test as
    `postgres_base_url` says when there is no server."""
    base = postgres_base_url()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = create_engine(parse_url(base), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        admin.dispose()
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"PostgreSQL at {base} is required ({REQUIRE_ENV}=1) but unreachable: {exc}")
        pytest.skip(f"PostgreSQL at {base} unreachable: {exc}")
    try:
        yield base, schema
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture
def pg_url() -> Iterator[str]:
    with pg_schema() as (base, schema):
        yield with_search_path(base, schema)


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'casework.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'casework.db'}"
    else:
        yield request.getfixturevalue("pg_url")


def run_casework(
    *args: str, prefix: tuple[str, ...] = (), env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`casework ARGS` in a process of its own (`prefix` runs it under another command, e.g. `cannot_write`)."""
    return subprocess.run([*prefix, sys.executable, "-m", "casework", *args], capture_output=True, text=True,
                          timeout=300, env={**os.environ, **(env or {})})


@pytest.fixture
def cannot_write() -> Iterator[tuple[str, ...]]:
    """A command prefix under which folder permissions hold: none for a user, and for root (whom they do not bind)
    root without the capabilities that override them."""
    if os.geteuid() != 0:
        yield ()
        return
    prefix = ("setpriv", "--bounding-set=-dac_override,-dac_read_search,-fowner", "--")
    if not shutil.which("setpriv") or subprocess.run([*prefix, "true"], check=False).returncode != 0:
        pytest.skip("running as root, and setpriv cannot drop the capabilities that override permissions")
    yield prefix


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A folder on a 2 MB file system of its own (tmpfs), to fill up without filling the machine's disk. Mounting
    needs root: skipped where it is not permitted. Unmounted afterwards (lazily, should a test leave a file open)."""
    folder = tmp_path / "small-disk"
    folder.mkdir()
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("a full disk is simulated on a 2 MB tmpfs, and mounting one needs root")
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=2m", "tmpfs", str(folder)], capture_output=True,
                             text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a 2 MB tmpfs to fill up: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        if subprocess.run(["umount", str(folder)], capture_output=True, check=False).returncode != 0:
            subprocess.run(["umount", "-l", str(folder)], capture_output=True, check=True)


def fill_up(folder: Path) -> Path:
    """Write a file in `folder` until its file system is full; returns it (delete it to free the space)."""
    filler = folder / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    block = b"\0" * 4096
    try:
        while True:
            os.write(fd, block)
    except OSError as exc:
        if exc.errno != errno.ENOSPC:
            raise
    finally:
        os.close(fd)
    return filler


class Reader(io.RawIOBase):
    """`data` read as from a file, a chunk at a time: a read of everything at once fails the test (a document may
    be larger than memory), and so does reading past an error. `fail_after`: the byte after which reading fails, as
    a disk or a dropped upload would, with `error`."""

    def __init__(self, data: bytes, fail_after: int | None = None, error: Exception | None = None) -> None:
        self.data, self.pos, self.fail_after = data, 0, fail_after
        self.error = error if error is not None else OSError(errno.EIO, os.strerror(errno.EIO))
        self.largest_read = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int | None = -1) -> bytes | None:
        assert size is not None and size >= 0, "read whole: a document must be read a chunk at a time"
        self.largest_read = max(self.largest_read, size)
        return super().read(size)

    def readinto(self, buffer: Any) -> int:
        if self.fail_after is not None and self.pos >= self.fail_after:
            raise self.error
        end = len(self.data) if self.fail_after is None else self.fail_after
        n = min(len(buffer), end - self.pos, len(self.data) - self.pos)
        buffer[:n] = self.data[self.pos:self.pos + n]
        self.pos += n
        return n
