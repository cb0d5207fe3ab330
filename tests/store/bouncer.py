"""A private PgBouncer in transaction pooling mode between the tests and their PostgreSQL schema.

It listens on a free port of 127.0.0.1, trusts every client (`auth_type = any`: it logs in to the server as the
test URL's user) and sets each server connection's search_path to the test's schema (`connect_query`): PgBouncer
refuses the `options` startup parameter that the direct tests set it with, and `ignore_startup_parameters` here
only makes it drop them. Without the `pgbouncer` binary the test is skipped, unless CASEWORK_REQUIRE_PGBOUNCER=1
(CI), which fails it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psycopg
import pytest
from sqlalchemy.engine import make_url

REQUIRE_ENV = "CASEWORK_REQUIRE_PGBOUNCER"
READY_S = 20  # how long a starting pgbouncer may take to serve its first query
PORT_TRIES = 3


@dataclass(frozen=True)
class Bouncer:
    url: str  # postgresql://USER@127.0.0.1:PORT/DB, no options
    log: Path  # its standard error: what it logged


def pgbouncer_binary() -> str:
    """The pgbouncer program (Debian puts it in /usr/sbin, outside a user's PATH); skips or fails the test
    without it."""
    found = shutil.which("pgbouncer", path=os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"]))
    if found is None:
        why = "these tests need PgBouncer's `pgbouncer` program (Debian: apt-get install pgbouncer)"
        if os.environ.get(REQUIRE_ENV) == "1":
            pytest.fail(f"{why}, and {REQUIRE_ENV}=1 requires them")
        pytest.skip(why)
    return found


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _ini(base: str, schema: str, port: int, pool_size: int) -> str:
    server = make_url(base)
    database = server.database or "postgres"
    target = (f"host={server.host or '127.0.0.1'} port={server.port or 5432} dbname={database} "
              f"user={server.username or 'postgres'}")
    if server.password:
        target += f" password={server.password}"
    return "\n".join([
        "[databases]",
        f"{database} = {target} connect_query='SET search_path TO \"{schema}\"'",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        "auth_type = any",
        "pool_mode = transaction",
        f"default_pool_size = {pool_size}",
        "max_client_conn = 200",
        "ignore_startup_parameters = extra_float_digits, options",
        "logfile =",
        "pidfile =",
        "",
    ])


@contextmanager
def pgbouncer(base: str, schema: str, folder: Path, *, pool_size: int = 2) -> Iterator[Bouncer]:
    """A pgbouncer in front of the server of `base` whose server connections (at most `pool_size`) use `schema`,
    stopped afterwards. As root it runs as `nobody` (Debian's refuses to run as root); it reads its ini first."""
    binary = pgbouncer_binary()
    folder.mkdir(parents=True, exist_ok=True)
    ini, log = folder / "pgbouncer.ini", folder / "pgbouncer.log"
    # The free port is free when asked, not when pgbouncer binds it: another test's process may take it between.
    for attempt in range(1, PORT_TRIES + 1):
        port = _free_port()
        ini.write_text(_ini(base, schema, port, pool_size), encoding="utf-8")
        command = [binary, str(ini), *(["-u", "nobody"] if os.geteuid() == 0 else [])]
        with log.open("wb") as out:
            process = subprocess.Popen(command, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        url = f"postgresql://{make_url(base).username or 'postgres'}@127.0.0.1:{port}/{make_url(base).database}"
        if _wait_until_served(process, url, log, last_try=attempt == PORT_TRIES):
            break
    try:
        yield Bouncer(url, log)
    finally:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until_served(process: subprocess.Popen[bytes], url: str, log: Path, *, last_try: bool) -> bool:
    """True once it serves a query; False if it exited because its port was taken meanwhile (and this is not the
    last try); the test fails otherwise."""
    deadline = time.monotonic() + READY_S
    while True:
        if process.poll() is not None:
            said = log.read_text(errors="replace")
            if "Address already in use" in said and not last_try:
                return False
            pytest.fail(f"pgbouncer exited with status {process.returncode}: {said}")
        try:
            with psycopg.connect(url, connect_timeout=2, autocommit=True) as conn:
                conn.execute("SELECT 1")
            return True
        except psycopg.OperationalError as exc:
            if time.monotonic() > deadline:
                pytest.fail(f"pgbouncer did not serve a query in {READY_S} s: {exc}; its log: "
                            f"{log.read_text(errors='replace')}")
            time.sleep(0.05)
