"""Model versions and model files.

A version names what a model was made from: `nba-<data>-<params>-<trained_at>`, where <data> is a SHA-256 prefix
over the training cases (ids, activities, timestamps, resources), <params> one over the training settings, and
<trained_at> the moment given by the caller (the library never reads the clock for it).

A model file is gzip-compressed JSON: the n-gram counts, the feature vocabulary, the chosen settings and the
LightGBM boosters in LightGBM's own text format. No pickle: loading a file never runs code from it, so a model file
from elsewhere is no more dangerous than any other JSON document.

A file carries the SHA-256 digest of the rest of its content (as canonical JSON: sorted keys, no spaces), checked
on load before any part of the model is read, so that a file damaged on disk or in transit is refused before
LightGBM's parser sees it (a booster cut short made LightGBM abort the whole process). It guards against damage,
not against someone who edits a file and writes a new digest; `gbt.booster_from_string` and the checks here keep
such a file, and files written before digests (which still load), to an error too.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import stat
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, BinaryIO

import lightgbm as lgb

from casework.display import quoted
from casework.durable import replace_file
from casework.insight.eventlog import Case
from casework.insight.nba import NBAParams, NextActionModel
from casework.insight.remaining import RemainingParams, RemainingTimeModel

FORMAT_NAME = "casework-insight-model/"
FORMAT = f"{FORMAT_NAME}1"
# The most a model file may hold once decompressed. A gzip file may decompress to a thousand times its size (a
# "gzip bomb"), and the JSON is read into memory whole; bpic12's model, about 13,000 cases and 37 activities, is
# 4.2 MB of JSON, so this leaves room for logs many times larger.
MAX_MODEL_SIZE = 256 * 1024 * 1024
DIGEST = "sha256"  # the key of the content digest; files written before it have none
# what `NextActionModel.suggest` reads: the next step, and the next step or the end of the case
SUGGESTED_VARIANTS = ("noeoc", "eoc")


def data_hash(cases: Sequence[Case]) -> str:
    digest = hashlib.sha256()
    for case in cases:
        digest.update(case.case_id.encode())
        digest.update(b"\x1e")
        for i, activity in enumerate(case.activities):
            resource = case.resources[i] if case.resources is not None else ""
            # the clock time only where it differs from the instant: a log without offsets keeps the digest it had
            clock = f"\x1f{case.clock[i]!r}" if case.clock is not None else ""
            digest.update(f"{activity}\x1f{case.timestamps[i]!r}\x1f{resource}{clock}\x1e".encode())
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
    # the definition key whose closed cases it was trained on (`suggest train --definition`); "" for a log's model
    definition: str = ""

    def other_definition(self, key: str) -> str | None:
        """Why this model must not advise on a case of definition `key`, or None: a model trained on the store's cases
        of one definition knows another's steps only where their names happen to agree, and advised with confidence
        there ("100% of 60 past cases started with Register claim") on a process it never saw."""
        if not self.definition or self.definition == key:
            return None
        return (f"the model was trained on the cases of definition {quoted(self.definition)}, not {quoted(key)}: "
                f"train one with `casework suggest train --definition {key}`")

    def save(self, path: str | Path) -> None:
        document: dict[str, Any] = {
            "format": FORMAT,
            "version": self.version,
            "source": self.source,
            "definition": self.definition,
            "next_action": self.next_action.to_json(),
            "remaining_time": self.remaining_time.to_json(),
        }
        document[DIGEST] = content_digest(document)
        # Written beside the target and moved over it, durably: an interrupted save (or a crash after it) leaves the
        # previous model whole. A link is written through, as `export -o` and the shell's `>` do, not replaced by a
        # file; the file it names keeps its permissions.
        target = Path(os.path.realpath(path))
        try:
            mode: int | None = stat.S_IMODE(os.stat(target).st_mode)
        except FileNotFoundError:
            mode = None

        def write(raw: BinaryIO) -> None:
            with gzip.open(raw, "wt", encoding="utf-8") as handle:  # closing it leaves `raw` open
                json.dump(document, handle, separators=(",", ":"))

        replace_file(target, write, mode)

    @classmethod
    def load(cls, path: str | Path) -> InsightModel:
        """The model in `path`; `ModelFileError` saying why if the file is missing, unreadable or not a model."""
        try:
            document = json.loads(_decompressed(Path(path), MAX_MODEL_SIZE).decode("utf-8"))
        except ModelFileError:
            raise
        except json.JSONDecodeError as exc:
            if exc.doc[: exc.pos].strip():  # JSON that stops short: a damaged model
                raise ModelFileError(f"{path}: cannot read a model file: {exc}") from exc
            # no JSON at all, as a gzip log given for the model is: "Expecting value: line 1 column 1 (char 0)" said
            # nothing of that
            what = f"it begins {quoted(exc.doc[exc.pos : exc.pos + 40], 40)}" if exc.doc.strip() else "it is empty"
            raise ModelFileError(f"{path}: not a casework insight model file (not JSON: {what})") from exc
        except (OSError, EOFError, UnicodeDecodeError, ValueError) as exc:  # BadGzipFile is an OSError
            raise ModelFileError(f"{path}: cannot read a model file: {exc}") from exc
        except RecursionError as exc:  # lists or objects nested past Python's parser; no model nests so deep
            raise ModelFileError(f"{path}: cannot read a model file: its JSON nests too deeply") from exc
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            found = document.get("format") if isinstance(document, dict) else type(document).__name__
            if isinstance(found, str) and found.startswith(FORMAT_NAME) and len(found) <= 200:
                # Our own format at another number: a newer casework wrote it, and calling it "not a model file"
                # sent people looking for a damaged or wrong file.
                raise ModelFileError(f"{path}: a model file of format {quoted(found)}, which this casework does not "
                                     f"read (it reads {FORMAT!r}): upgrade casework, or train the model again with "
                                     "this one")
            # quoted from the file, which may hold anything there: its start, or what kind of value it is
            shown = quoted(found) if isinstance(found, str) else repr(found)
            shown = shown if len(shown) <= 200 else f"a {type(found).__name__}"
            raise ModelFileError(f"{path}: not a casework insight model file (format {shown})")
        if DIGEST in document and document[DIGEST] != content_digest(document):
            raise ModelFileError(f"{path}: a damaged model file (its content does not match its SHA-256 digest)")
        version = document.get("version")
        if not isinstance(version, str) or not version.strip():
            # Decisions are recorded and counted under it: a missing one read as "None", or as an empty version.
            raise ModelFileError(f"{path}: a damaged model file (its version is {version!r}, not a name)")
        definition = document.get("definition", "")
        if not isinstance(definition, str):
            raise ModelFileError(f"{path}: a damaged model file (its definition is {type(definition).__name__}, not a "
                                 "definition key)")
        try:
            model = cls(
                version=version,
                next_action=NextActionModel.from_json(document["next_action"]),
                remaining_time=RemainingTimeModel.from_json(document["remaining_time"]),
                source=str(document.get("source", "")),
                definition=definition,
            )
            model._check()
        except (KeyError, TypeError, ValueError, IndexError, AttributeError, lgb.basic.LightGBMError) as exc:
            raise ModelFileError(f"{path}: a damaged model file ({type(exc).__name__}: {exc})") from exc
        return model

    def _check(self) -> None:
        """ValueError if the parts do not fit together: a booster that does not match the encoding would only fail
        (or give wrong answers) at the first prediction."""
        nba = self.next_action
        missing = [variant for variant in SUGGESTED_VARIANTS if variant not in nba.choices]
        if missing:
            raise ValueError(f"no chosen settings for the variant {' and '.join(missing)}")
        classes = nba.encoding.n_classes if nba.tree_classes is None else nba.tree_classes.n_tree
        widths = {"plain": nba.encoding.n_plain, "calendar": nba.encoding.n_features}
        for kind, booster in nba.boosters.items():
            if kind not in widths:
                raise ValueError(f"unknown tree kind {kind!r}")
            _check_booster(f"the {kind} trees", booster, classes, widths[kind])
        for variant, choice in nba.choices.items():
            # A blend whose trees are gone would predict from uniform tree scores, silently worse than it chose.
            kinds = ("plain", "calendar") if choice.trees == "both" else (choice.trees,)
            lost = [kind for kind in kinds if choice.weight > 0 and kind not in nba.boosters]
            if lost:
                raise ValueError(f"the {variant} blend uses {' and '.join(lost)} trees the file does not hold")
            if (choice.canonical and nba.ngram_canonical is None) or (choice.resource and nba.ngram_resource is None):
                raise ValueError(f"the {variant} blend uses an n-gram the file does not hold")
        remaining = self.remaining_time
        if remaining.booster is not None:
            _check_booster("the remaining-time trees", remaining.booster, 1, remaining.encoding.n_plain)


def _decompressed(path: Path, limit: int) -> bytes:
    """The content of gzip file `path`; `ModelFileError` if it holds more than `limit` bytes. Counted as it is
    decompressed before any of it is kept, so that a file far past the bound costs the time to decompress `limit`
    bytes, not the memory to hold them."""
    with gzip.open(path, "rb") as handle:
        total = 0
        while chunk := handle.read(1 << 20):
            total += len(chunk)
            if total > limit:
                raise ModelFileError(f"{path}: more than {limit / (1 << 20):,.0f} MiB once decompressed (a model "
                                     "file holds far less)")
        handle.seek(0)
        data = handle.read(limit + 1)
    if len(data) > limit:  # the file grew between the two readings
        raise ModelFileError(f"{path}: more than {limit / (1 << 20):,.0f} MiB once decompressed")
    return data


def _check_booster(what: str, booster: lgb.Booster, classes: int, features: int) -> None:
    if booster.num_model_per_iteration() != classes:
        raise ValueError(f"{what} have {booster.num_model_per_iteration()} classes where the model has {classes}")
    if booster.num_feature() != features:
        raise ValueError(f"{what} read {booster.num_feature()} features where the model has {features}")


def content_digest(document: dict[str, Any]) -> str:
    """SHA-256 of a model document without its digest, as canonical JSON (the same after a load as before a save:
    Python writes every float so that it reads back as the same float)."""
    body = {key: value for key, value in document.items() if key != DIGEST}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


class ModelFileError(ValueError):
    """A model file that cannot be loaded; says which and why."""
