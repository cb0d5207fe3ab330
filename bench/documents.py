"""Time and peak memory of attaching a large document and writing it back, each command in a fresh process.

Not a test. Run: python bench/documents.py [--size 1024] [--text] [--dir /tmp]. A file of --size MiB (not
compressible; with --text, lines of words, whose text the attach reads) is generated in a temporary folder under
--dir, attached to a new case with `casework case attach`, then written back with `casework case document -o FILE`
and `-o -` (to /dev/null); each runs under `/usr/bin/time -v`, which reports the wall time and the peak resident
memory (max RSS) printed here. The copy written back is compared with the original, and the folder (the file, its
blob, the copy: three times --size on disk) is deleted at the end. A document over 50 MiB needs
CASEWORK_MAX_DOCUMENT_MB=0 (no limit) in the environment.
Compare casework versions with PYTHONPATH=OLD/src (the commands inherit it).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

MIB = 1 << 20


def _generate(path: Path, size_mib: int, text: bool = False) -> str:
    """A file of `size_mib` MiB that no file system or cache can shrink (or, `text`, of lines of words, each MiB
    numbered); returns its SHA-256."""
    digest = hashlib.sha256()
    block = os.urandom(MIB) if not text else (b"claimant policy amount accident garage quote\n" * (MIB // 45 + 1))[:MIB]
    with path.open("wb") as fh:
        for i in range(size_mib):
            chunk = (i.to_bytes(8, "big") if not text else b"%07d\n" % i) + block[8:]  # every MiB differs
            digest.update(chunk)
            fh.write(chunk)
    return digest.hexdigest()


def _sha256(path: Path) -> str:
    with path.open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def _timed(args: list[str], env: dict[str, str], stdout: int | None = subprocess.PIPE) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB, standard output) of `python -m casework ARGS` under /usr/bin/time -v."""
    done = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-m", "casework", *args], env=env, stdout=stdout,
                          stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"casework {' '.join(args)} failed ({done.returncode}): {done.stderr.strip()}")
    rss = re.search(r"Maximum resident set size \(kbytes\): (\d+)", done.stderr)
    wall = re.search(r"Elapsed \(wall clock\) time \(h:mm:ss or m:ss\): (?:(\d+):)?(\d+):([\d.]+)", done.stderr)
    if rss is None or wall is None:
        raise SystemExit(f"no figures from /usr/bin/time -v: {done.stderr.strip()}")
    hours, minutes, seconds = wall.groups()
    return int(hours or 0) * 3600 + int(minutes) * 60 + float(seconds), int(rss.group(1)) / 1024, done.stdout or ""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=1024, help="the document's size in MiB (default 1024)")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the temporary folder goes")
    parser.add_argument("--text", action="store_true", help="a text file rather than random bytes")
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    opts = parser.parse_args()
    if not Path("/usr/bin/time").exists():
        raise SystemExit("bench/documents.py needs /usr/bin/time (GNU time, for -v)")
    free = shutil.disk_usage(opts.dir).free
    if free < 3 * opts.size * MIB + 512 * MIB:
        raise SystemExit(f"{opts.dir} has {free // MIB:,} MiB free: the file, its blob and the copy need "
                         f"{3 * opts.size:,} MiB; give a smaller --size")

    from casework.demo import demo_model_xml
    from casework.service import CaseService
    from casework.store import Store

    folder = Path(tempfile.mkdtemp(prefix="casework-bench-documents-", dir=opts.dir))
    try:
        env = {**os.environ, "CASEWORK_BLOBS": str(folder / "blobs"), "CASEWORK_AUDIT_KEY": str(folder / "audit.key")}
        url = f"sqlite:///{folder / 'casework.db'}"
        with Store.open(url, audit_key=folder / "audit.key", blob_dir=folder / "blobs") as store, \
                CaseService(store) as service:
            service.deploy(demo_model_xml("insurance_claim.cmmn"))
        _, _, out = _timed(["case", "start", "insuranceClaim", "--as", "bench", "--db", url], env)
        case_id = out.strip()
        source = folder / "video.bin"
        digest = _generate(source, opts.size, opts.text)
        figures: dict[str, dict[str, float]] = {}
        wall, rss, _ = _timed(["case", "attach", case_id, str(source), "--as", "bench", "--db", url], env)
        figures["attach"] = {"seconds": wall, "peak_rss_mib": rss}
        copy = folder / "copy.bin"
        wall, rss, _ = _timed(["case", "document", case_id, "video.bin", "-o", str(copy), "--db", url], env)
        figures["document -o FILE"] = {"seconds": wall, "peak_rss_mib": rss}
        if _sha256(copy) != digest:
            raise SystemExit("the document written back differs from the file attached")
        copy.unlink()
        with open(os.devnull, "wb") as devnull:
            wall, rss, _ = _timed(["case", "document", case_id, "video.bin", "-o", "-", "--db", url], env,
                                  stdout=devnull.fileno())
        figures["document -o -"] = {"seconds": wall, "peak_rss_mib": rss}
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if opts.json:
        print(json.dumps({"size_mib": opts.size, **figures}, indent=2))
        return
    print(f"a {opts.size:,} MiB document, each command in a fresh process (/usr/bin/time -v):")
    for what, figure in figures.items():
        print(f"  {what:<18} {figure['seconds']:7.1f} s   peak RSS {figure['peak_rss_mib']:8,.0f} MiB")


if __name__ == "__main__":
    main()
