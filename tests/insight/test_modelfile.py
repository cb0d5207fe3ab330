"""Damaged model files: refused with a `ModelFileError` that says so, never a crash or a traceback."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from insight_synth import timing_log, write_log

from casework.insight.eventlog import read_log
from casework.insight.modelfile import DIGEST, InsightModel, ModelFileError, content_digest
from casework.insight.nba import NBAParams, train_next_action
from casework.insight.remaining import RemainingParams, train_remaining_time

Document = dict[str, Any]


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("model")
    cases = read_log(write_log(folder / "claims.csv", timing_log(300)))
    # without the resource-aware n-gram the trees are chosen, and saved (plain ones, on these cases)
    nba = train_next_action(cases, NBAParams(resource_ngram=False), version="v1")
    remaining = train_remaining_time(cases, RemainingParams(), encoding=nba.encoding)
    assert set(nba.boosters) == {"plain"} and remaining.booster is not None
    path = folder / "model.json.gz"
    InsightModel("v1", nba, remaining).save(path)
    return path


def _read(path: Path) -> Document:
    with gzip.open(path, "rt", encoding="utf-8") as handle:
        document: Document = json.load(handle)
    return document


def _altered(
    saved: Path, tmp_path: Path, change: Callable[[Document], None], digest: str = "keep"
) -> Path:
    """A copy of the saved model with `change` made to its content. `digest`: "keep" the one written with the
    file (damage), "renew" it (an edit by someone who rewrote it), or "drop" it (a file from before digests)."""
    document = _read(saved)
    change(document)
    if digest == "renew":
        document[DIGEST] = content_digest(document)
    elif digest == "drop":
        del document[DIGEST]
    path = tmp_path / "altered.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as handle:
        json.dump(document, handle)
    return path


def _load_elsewhere(path: Path) -> subprocess.CompletedProcess[str]:
    # LightGBM aborted the whole process on some damaged boosters: load in a child, so a regression fails this test
    # instead of ending the test run.
    code = (
        "import sys\n"
        "from casework.insight.modelfile import InsightModel, ModelFileError\n"
        "try:\n"
        "    InsightModel.load(sys.argv[1])\n"
        "except ModelFileError as exc:\n"
        "    print(exc)\n"
        "    sys.exit(3)\n"
    )
    return subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)


def _cut_booster(document: Document) -> None:
    booster = document["next_action"]["boosters"]["plain"]
    document["next_action"]["boosters"]["plain"] = booster[: len(booster) // 2]


def _break_a_tree(document: Document) -> None:
    # one tree's leaf values lose all but two numbers, every offset in the header still right
    booster: str = document["next_action"]["boosters"]["plain"]
    start = booster.index("leaf_value=", booster.index("\nTree=3\n"))
    end = booster.index("\n", start)
    document["next_action"]["boosters"]["plain"] = booster[:start] + "leaf_value=1 2" + booster[end:]


def test_a_model_file_carries_a_digest_of_its_content_and_one_without_still_loads(saved: Path, tmp_path: Path) -> None:
    document = _read(saved)
    assert document[DIGEST] == content_digest(document)
    old = _altered(saved, tmp_path, lambda d: None, digest="drop")  # as written before digests
    loaded = InsightModel.load(old)
    assert loaded.version == "v1" and set(loaded.next_action.boosters) == {"plain"}


def test_content_that_does_not_match_its_digest_is_refused_before_it_is_read(saved: Path, tmp_path: Path) -> None:
    def edit(document: Document) -> None:
        document["next_action"]["choices"]["noeoc"]["weight"] = 0.5

    with pytest.raises(ModelFileError, match="a damaged model file \\(its content does not match its SHA-256 digest"):
        InsightModel.load(_altered(saved, tmp_path, edit))


@pytest.mark.parametrize(
    ("change", "digest", "reason"),
    [
        # cut short inside a valid gzip: LightGBM aborted the process ("terminate called without an active exception")
        (_cut_booster, "keep", "its content does not match its SHA-256 digest"),
        (_cut_booster, "drop", "the LightGBM model text is incomplete"),
        (_break_a_tree, "drop", "LightGBMError"),
        (_break_a_tree, "renew", "LightGBMError"),
    ],
    ids=["cut-short", "cut-short-no-digest", "broken-tree-no-digest", "broken-tree-new-digest"],
)
def test_a_damaged_booster_is_a_model_file_error_not_an_abort(
    saved: Path, tmp_path: Path, change: Callable[[Document], None], digest: str, reason: str
) -> None:
    path = _altered(saved, tmp_path, change, digest)
    result = _load_elsewhere(path)
    assert result.returncode == 3, (result.returncode, result.stderr[-2000:])
    assert result.stdout.startswith(f"{path}: a damaged model file (") and reason in result.stdout


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        (lambda d: d["next_action"]["boosters"].update(plain="garbage"), "the LightGBM model text is incomplete"),
        (lambda d: d["remaining_time"].update(booster="junk"), "the LightGBM model text is incomplete"),
        (lambda d: d["next_action"]["choices"].pop("noeoc"), "ValueError: no chosen settings for the variant noeoc"),
        (
            lambda d: d["next_action"]["encoding"].update(activities=d["next_action"]["encoding"]["activities"][:2]),
            "ValueError: the plain trees have 6 classes where the model has 3",
        ),
        (
            lambda d: d["next_action"]["encoding"].update(last_activities=3),
            "ValueError: the plain trees read 17 features where the model has 15",
        ),
        (
            lambda d: d["remaining_time"]["encoding"].update(last_activities=3),
            "ValueError: the remaining-time trees read 17 features where the model has 15",
        ),
        (lambda d: d["next_action"]["boosters"].pop("plain"), "ValueError: the noeoc blend uses plain trees the file"),
        (
            lambda d: d["next_action"]["choices"]["eoc"].update(canonical=True),
            "ValueError: the eoc blend uses an n-gram the file does not hold",
        ),
    ],
    ids=["garbage-booster", "garbage-remaining-booster", "no-noeoc", "fewer-activities", "fewer-features",
         "remaining-fewer-features", "trees-missing", "burst-ngram-missing"],
)
def test_parts_that_do_not_fit_are_refused_on_load(
    saved: Path, tmp_path: Path, change: Callable[[Document], None], reason: str
) -> None:
    # The digest is renewed, as someone editing the file would: the checks behind it still hold.
    path = _altered(saved, tmp_path, change, digest="renew")
    with pytest.raises(ModelFileError) as info:
        InsightModel.load(path)
    assert str(info.value).startswith(f"{path}: a damaged model file (") and reason in str(info.value)


def test_saving_does_not_write_through_a_link_planted_beside_the_target(saved: Path, tmp_path: Path) -> None:
    # `suggest train --out shared/model.json.gz`: the file written before the rename had a fixed name, and a link
    # planted there had the model written into the file it named
    model = InsightModel.load(saved)
    victim = tmp_path / "notes.txt"
    victim.write_text("mine\n")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / ".model.json.gz.partial").symlink_to(victim)
    model.save(shared / "model.json.gz")
    assert victim.read_text() == "mine\n"
    assert InsightModel.load(shared / "model.json.gz").version == "v1"
    assert sorted(p.name for p in shared.iterdir()) == [".model.json.gz.partial", "model.json.gz"]


def test_a_file_that_decompresses_past_the_bound_is_refused_before_it_is_held(tmp_path: Path) -> None:
    # 257 MiB of JSON whitespace in a file of a quarter of a megabyte: read whole, it was held in memory (and a
    # bomb of a few gigabytes exhausted it) before the parser found nothing in it
    path = tmp_path / "bomb.json.gz"
    block = b" " * (1 << 20)
    with gzip.open(path, "wb", compresslevel=1) as handle:
        for _ in range(257):
            handle.write(block)
    assert path.stat().st_size < 2 << 20
    with pytest.raises(ModelFileError) as info:
        InsightModel.load(path)
    assert str(info.value) == f"{path}: more than 256 MiB once decompressed (a model file holds far less)"



def test_saving_to_a_link_writes_the_file_it_names_and_keeps_its_permissions(saved: Path, tmp_path: Path) -> None:
    # `--out current.json.gz` where current.json.gz links to the deployed version: the link is written through, as
    # `export -o` and the shell's `>` do (it was replaced by a plain file, and the deployed model stayed old)
    model = InsightModel.load(saved)
    deployed = tmp_path / "models" / "v1.json.gz"
    deployed.parent.mkdir()
    deployed.write_bytes(b"old")
    deployed.chmod(0o640)
    link = tmp_path / "current.json.gz"
    link.symlink_to(deployed)
    model.save(link)
    assert link.is_symlink() and InsightModel.load(deployed).version == "v1"
    assert deployed.stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in deployed.parent.iterdir()) == ["v1.json.gz"]  # nothing partial left


def test_a_file_of_a_later_format_says_so_instead_of_not_a_model_file(saved: Path, tmp_path: Path) -> None:
    path = _altered(saved, tmp_path, lambda d: d.update(format="casework-insight-model/2"), digest="renew")
    with pytest.raises(ModelFileError) as caught:
        InsightModel.load(path)
    message = str(caught.value)
    assert "a model file of format 'casework-insight-model/2', which this casework does not read" in message
    assert "upgrade casework, or train the model again" in message and "not a casework" not in message


@pytest.mark.parametrize("version", [None, "", "  ", 7, ["v1"]])
def test_a_model_without_a_version_name_is_refused(saved: Path, tmp_path: Path, version: object) -> None:
    # Decisions are recorded and counted under the version: `null` was read as the version "None".
    path = _altered(saved, tmp_path, lambda d: d.update(version=version), digest="renew")
    with pytest.raises(ModelFileError, match=r"a damaged model file \(its version is .*, not a name\)"):
        InsightModel.load(path)
