"""Model versions and model files.

A version names what a model was made from: `nba-<data>-<params>-<trained_at>`, where <data> is a SHA-256 prefix
over the training cases (ids, activities, timestamps, resources), <params> one over the training settings, and
<trained_at> the moment given by the caller (the library never reads the clock for it).

A model file is gzip-compressed JSON: the n-gram counts, the feature vocabulary, the chosen settings and the
LightGBM boosters in LightGBM's own text format. No pickle: loading a file never runs code from it, so a model file
from elsewhere is no more dangerous than any other JSON document.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from casework.insight.eventlog import Case
from casework.insight.nba import NBAParams, NextActionModel
from casework.insight.remaining import RemainingParams, RemainingTimeModel

FORMAT = "casework-insight-model/1"


def data_hash(cases: Sequence[Case]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.case_id.encode())
        digest.update(b"\x1e")
        for i, activity in enumerate(case.activities):
            resource = case.resources[i] if case.resources is not None else ""
            digest.update(f"{activity}\x1f{case.timestamps[i]!r}\x1f{resource}\x1e".encode())
        digest.update(b"\x1d")
    return digest.hexdigest()


def params_hash(nba: NBAParams, remaining: RemainingParams) -> str:
    text = json.dumps({"nba": asdict(nba), "remaining": asdict(remaining)}, sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def make_version(cases: Sequence[Case], nba: NBAParams, remaining: RemainingParams, trained_at: str) -> str:
    return f"nba-{data_hash(cases)[:12]}-{params_hash(nba, remaining)[:8]}-{trained_at}"


@dataclass
class InsightModel:
    """What `casework suggest train` writes: both models, trained on the same cases, under one version."""

    version: str
    next_action: NextActionModel
    remaining_time: RemainingTimeModel
    source: str = ""

    def save(self, path: str | Path) -> None:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": self.version,
            "source": self.source,
            "next_action": self.next_action.to_json(),
            "remaining_time": self.remaining_time.to_json(),
        }
        # Written beside the target and renamed over it: an interrupted save leaves the previous model whole.
        target = Path(path)
        partial = target.with_name(f".{target.name}.partial")
        try:
            with gzip.open(partial, "wt", encoding="utf-8") as handle:
                json.dump(document, handle, separators=(",", ":"))
            partial.replace(target)
        finally:
            partial.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path) -> InsightModel:
        """The model in `path`; `ModelFileError` saying why if the file is missing, unreadable or not a model."""
        try:
            with gzip.open(Path(path), "rt", encoding="utf-8") as handle:
                document = json.load(handle)
        except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:  # BadGzipFile is an OSError
            raise ModelFileError(f"{path}: cannot read a model file: {exc}") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            found = document.get("format") if isinstance(document, dict) else type(document).__name__
            raise ModelFileError(f"{path}: not a casework insight model file (format {found!r})")
        try:
            return cls(
                version=str(document["version"]),
                next_action=NextActionModel.from_json(document["next_action"]),
                remaining_time=RemainingTimeModel.from_json(document["remaining_time"]),
                source=str(document.get("source", "")),
            )
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise ModelFileError(f"{path}: a damaged model file ({type(exc).__name__}: {exc})") from exc


class ModelFileError(ValueError):
    """A model file that cannot be loaded; says which and why."""
