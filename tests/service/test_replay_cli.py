"""``potwatch replay``: the SPEC's JSON lines, and clear errors naming the line."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from service.cli import main


def ramp_csv(path: Path) -> Path:
    rows = ["t,temp_f"] + [f"{t},{212 + t * 4 / 60:.2f}" for t in range(0, 240)]
    path.write_text("\n".join(rows) + "\n")
    return path


def syrup_csv(path: Path) -> Path:
    """A syrup's last minutes: on its boil at 212 °F, then faster and faster to past 225 °F."""
    rows = ["t,temp_f"] + [f"{t},{212 + 14 * (t / 240) ** 2:.2f}" for t in range(0, 240)]
    path.write_text("\n".join(rows) + "\n")
    return path


def lines(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    return [json.loads(x) for x in capsys.readouterr().out.splitlines() if x.strip()]


def test_replay_prints_stages_and_alerts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(syrup_csv(tmp_path / "r.csv")), "--profile", "caramel"]) == 0
    events = lines(capsys)
    reached = [e for e in events if e.get("kind") == "target_reached"]
    assert len(reached) == 1
    assert {"t", "type", "kind", "level", "step", "probe", "celsius", "fahrenheit"} <= set(reached[0])
    assert reached[0]["fahrenheit"] >= 224.0  # type: ignore[operator]
    assert [e["stage"] for e in events if e["type"] == "stage"] == ["heating", "approaching", "reached"]


def test_every_sample_adds_a_line_per_sample(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", str(ramp_csv(tmp_path / "r.csv")), "--profile", "caramel", "--every-sample"]) == 0
    samples = [e for e in lines(capsys) if e["type"] == "sample"]
    assert len(samples) == 240
    assert {"t", "celsius", "fahrenheit", "rate_f_per_min", "eta_s", "step", "stage"} <= set(samples[-1])
    assert samples[-1]["rate_f_per_min"] == pytest.approx(4.0, abs=0.2)


def test_gap_raises_probe_lost_when_the_timeout_expires(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "gap.csv"
    path.write_text("# a probe that stops\nt,temp_c\n" + "".join(f"{t},90\n" for t in range(30)) + "300,90\n")
    assert main(["replay", str(path)]) == 0
    lost = [e for e in lines(capsys) if e.get("kind") == "probe_lost"]
    assert [e["t"] for e in lost] == [39.0]


def test_profile_comes_from_the_trace_comment(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "r.csv"
    path.write_text("# profile: rillons\nt,temp_f\n0,190\n1,190\n")
    assert main(["replay", str(path)]) == 0
    assert lines(capsys)[0]["step"] == "braise"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("t,temp_f\n0,200\n1,oops\n", "line 3: temperature 'oops' is not a number"),
        ("t,temp_f\n0,200\n2,201\n1,202\n", "line 4: time goes backwards"),
        ("time,temp_f\n0,200\n", "line 1: the header has no 't' column"),
        ("t,value\n0,200\n", "needs exactly one of 'temp_f' or 'temp_c'"),
        ("", "empty trace"),
        ("# only a comment\n", "empty trace"),
        ("t,temp_f\n0,nan\n", "line 2: temperature 'nan' is not a finite number"),
        ("t,temp_f,probe\n0\n", "line 2: 1 cells, the header has 3"),
    ],
)
def test_bad_traces_exit_2_naming_the_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str, message: str
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(content)
    assert main(["replay", str(path)]) == 2
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_binary_and_missing_files(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    binary = tmp_path / "b.csv"
    binary.write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00\x00")
    assert main(["replay", str(binary)]) == 2
    assert "binary" in capsys.readouterr().err
    latin = tmp_path / "l.csv"
    latin.write_bytes(b"t,temp_f\n0,200\n1,20\xe90\n")
    assert main(["replay", str(latin)]) == 2
    assert "line 3: not UTF-8" in capsys.readouterr().err
    assert main(["replay", str(tmp_path / "none.csv")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["replay", str(tmp_path)]) == 2


def test_console_script_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    path.write_text("t,temp_f\n0,200\n1,oops\n")
    proc = subprocess.run(
        [sys.executable, "-m", "service.cli", "replay", str(path)], capture_output=True, text=True, timeout=60
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and "line 3" in proc.stderr


def test_replay_config_applies_the_probes_lag_and_altitude(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from tests.core.traces import lagged, syrup_curve

    truth, _ = syrup_curve(rate_at_target=6.0, seconds=1200.0)
    probe = lagged(truth, 15.0)
    trace = tmp_path / "laggy.csv"
    trace.write_text("t,temp_f\n" + "".join(f"{t:g},{f:.3f}\n" for t, f in probe if f is not None))
    plain, laggy, high = tmp_path / "plain.toml", tmp_path / "laggy.toml", tmp_path / "high.toml"
    plain.write_text('[[probes]]\nid = "pot"\nurl = "sim://"\n')
    laggy.write_text('[[probes]]\nid = "pot"\nurl = "sim://"\nlag = "15s"\n')
    high.write_text('altitude = "5000ft"\n[[probes]]\nid = "pot"\nurl = "sim://"\n')

    def fired(config: Path) -> float:
        assert main(["replay", str(trace), "--profile", "caramel", "--config", str(config)]) == 0
        reached = [e for e in lines(capsys) if e.get("kind") == "target_reached"]
        assert len(reached) == 1
        return float(reached[0]["t"])  # type: ignore[arg-type]

    pot = dict(truth)
    at_plain, at_laggy = fired(plain), fired(laggy)
    assert pot[at_plain] - 225.0 > 1.0  # the probe's own reading decides: the syrup 1.5 °F past
    assert -1.0 <= pot[at_laggy] - 225.0 <= 0.5  # the pot's: on the target
    assert fired(high) < at_plain - 60.0  # 5,000 ft: water boils 9 °F lower, so does the target
