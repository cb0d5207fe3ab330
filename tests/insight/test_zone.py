"""CASEWORK_TIMEZONE in decision support: a live case's steps are read in the organisation's clock, as the model
learned them from a log of wall-clock times."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from insight_synth import registered_claim, write_log
from typer.testing import CliRunner

from casework.cli import app
from casework.insight.advisor import RemainingSeconds
from casework.insight.modelfile import InsightModel
from casework.store import Store

runner = CliRunner()
# 10:15 UTC in summer: 12:15 in Amsterdam, in the afternoon there but in the morning in UTC
REGISTERED = dt.datetime(2026, 7, 15, 10, 15, tzinfo=dt.UTC)


def _hour_log(n_cases: int = 300) -> list[tuple[str, str, str, str]]:
    """After `Register claim` a morning case (local clock before noon) goes to `Fraud check` and is decided an hour
    later, an afternoon one to `Site visit` and is decided three days later: only the hour tells them apart."""
    rows = []
    for i in range(n_cases):
        hour = 7 + i % 10
        registered = dt.datetime(2025, 1, 1) + dt.timedelta(days=i, hours=hour, minutes=15)
        following, decided = ("Fraud check", 90) if hour < 12 else ("Site visit", 3 * 24 * 60)
        for activity, minutes in (("Register claim", 0), (following, 30), ("Decide claim", decided)):
            rows.append((f"c{i}", activity, (registered + dt.timedelta(minutes=minutes)).isoformat(), "ann"))
    return rows


@pytest.fixture(scope="module")
def model(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("zone")
    log = write_log(folder / "claims.csv.gz", _hour_log())
    path = folder / "model.json.gz"
    trained = runner.invoke(app, ["suggest", "train", str(log), "--out", str(path), "--trained-at", "20260701"])
    assert trained.exit_code == 0, trained.output
    return path


def _first_suggestion(url: str, case_id: str, model: Path, zone: str | None) -> str:
    result = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--model", str(model), "--k", "1"],
                           env={"COLUMNS": "250", "CASEWORK_TIMEZONE": zone})
    assert result.exit_code == 0, result.output
    return next(name for name in ("Fraud check", "Site visit") if name in result.stdout)


def test_a_live_case_is_read_in_the_organisations_clock(tmp_path: Path, model: Path) -> None:
    url, case_id = registered_claim(tmp_path, 500, REGISTERED)
    # stored at 10:15 UTC: 12:15 on an Amsterdam clock, the afternoon the model learned leads to a site visit
    assert _first_suggestion(url, case_id, model, "Europe/Amsterdam") == "Site visit"
    # UTC, by default or named, reads the stored instant as it is: 10:15, a morning
    assert _first_suggestion(url, case_id, model, None) == "Fraud check"
    assert _first_suggestion(url, case_id, model, "UTC") == "Fraud check"


def test_the_remaining_time_of_a_live_case_is_read_in_the_organisations_clock(model: Path) -> None:
    # what `suggest case` and the findings watcher give the SLA check
    remaining = InsightModel.load(model).remaining_time
    days = {zone: RemainingSeconds(remaining, zone).predict_remaining_seconds(["Register claim"],
                                                                             [REGISTERED.timestamp()]) / 86_400
            for zone in (ZoneInfo("Europe/Amsterdam"), dt.UTC)}
    assert days[ZoneInfo("Europe/Amsterdam")] > 2 > 1 > days[dt.UTC]


def test_an_unknown_zone_stops_suggest_case_with_one_line(tmp_path: Path, model: Path) -> None:
    url, case_id = registered_claim(tmp_path, 500, REGISTERED)
    result = runner.invoke(app, ["suggest", "case", case_id, "--db", url, "--model", str(model)],
                           env={"CASEWORK_TIMEZONE": "Mars/Olympus_Mons"})
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: CASEWORK_TIMEZONE='Mars/Olympus_Mons' is no time zone known here")
    assert len(result.stderr.strip().splitlines()) == 1


def test_an_unknown_zone_stops_suggest_refresh_before_it_judges(tmp_path: Path) -> None:
    url, _ = registered_claim(tmp_path, 500, REGISTERED)
    result = runner.invoke(app, ["suggest", "refresh", "--case-type", "insurance_claim", "--db", url],
                           env={"CASEWORK_TIMEZONE": "Europe/Amsterdm"})
    assert result.exit_code == 2 and result.stdout == ""
    assert result.stderr.startswith("error: CASEWORK_TIMEZONE='Europe/Amsterdm' is no time zone known here")
    with Store.open(url) as store:
        assert store.findings() == []
