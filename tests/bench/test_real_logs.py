"""The tracker on real probe logs (bench/real_logs.py): no false, late or missed alarm.

The logs live outside the repository (``shared/real-traces`` beside the
checkout). Without them a developer's run skips with the folder's name; CI
always has them, so there a missing folder fails instead of passing quietly.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

from bench.real_logs import ENV_VAR, LOGS, failures, main, report_real_logs, resolve_folder, run_real_logs, unknown_logs

CROSSING = [log.name for log in LOGS if log.crossing_s is not None]
NO_TARGET = [log.name for log in LOGS if log.crossing_s is None]


def real_traces() -> Path:
    """The logs' folder, or a skip naming it (a failure on CI, which must never skip)."""
    folder = resolve_folder()
    if not folder.is_dir():
        message = f"no real probe logs at {folder} (set {ENV_VAR} to point elsewhere)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return folder


@pytest.fixture(scope="module")
def folder() -> Path:
    return real_traces()


@pytest.fixture(scope="module")
def rows(folder: Path) -> dict[str, dict[str, Any]]:
    return {row["name"]: row for row in run_real_logs(folder)}


def test_every_log_in_the_folder_is_scored(folder: Path, rows: dict[str, dict[str, Any]]) -> None:
    assert unknown_logs(folder) == []
    assert sorted(rows) == sorted(log.name for log in LOGS)


@pytest.mark.parametrize("name", CROSSING)
def test_the_alarm_rings_on_time(rows: dict[str, dict[str, Any]], name: str) -> None:
    row = rows[name]
    assert row["first_at_target_s"] == row["crossing_s"], "the log no longer crosses where its README says"
    assert not row["false"], f"rang at {row['fired_s']} s with the reading at {row['reading_f']} °F"
    assert not row["missed"], "never rang although the log crossed the target"
    assert not row["late"], f"rang {row['delay_s']:.0f} s after the crossing: more than one sample late"


@pytest.mark.parametrize("name", NO_TARGET)
def test_the_alarm_never_rings_above_everything_the_log_reads(rows: dict[str, dict[str, Any]], name: str) -> None:
    row = rows[name]
    assert row["fired_s"] is None, f"target_reached at {row['fired_s']} s on a log that never reads the target"
    assert "target_reached" not in row["alerts"]
    assert "target_overshoot" not in row["alerts"]


def test_the_report_names_every_log_and_the_totals(rows: dict[str, dict[str, Any]]) -> None:
    text = report_real_logs(list(rows.values()), markdown=True)
    for name in rows:
        assert f"| {name} |" in text
    assert "false 0, late 0, missed 0" in text
    assert failures(list(rows.values())) == 0


def test_main_exits_0_on_the_real_logs(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--real-traces", str(folder)]) == 0
    assert "never rang" in capsys.readouterr().out


def test_the_folder_comes_from_the_command_line_then_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_VAR, str(tmp_path / "env"))
    assert resolve_folder(tmp_path / "arg") == tmp_path / "arg"
    assert resolve_folder() == tmp_path / "env"
    monkeypatch.delenv(ENV_VAR)
    assert resolve_folder().parts[-2:] == ("shared", "real-traces")


def test_a_missing_folder_is_not_a_pass(tmp_path: Path) -> None:
    assert main(["--real-traces", str(tmp_path / "nowhere")]) == 2
    with pytest.raises(FileNotFoundError, match="combustion_10003925_core"):
        run_real_logs(tmp_path)
