"""What the command line says: plain help, its version, and a "did you mean" for a near miss."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from service.cli import build_parser, config_problems, main

ROOT = Path(__file__).resolve().parents[2]


def write(tmp_path: Path, text: str, name: str = "potwatch.toml") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_version_prints_the_packages_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0
    version = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"]
    assert capsys.readouterr().out.strip() == f"potwatch {version}"


def test_help_is_plain_text_without_rest_markup() -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    helps = [parser.format_help(), *(sub.format_help() for sub in commands.values())]
    assert len(helps) > 5
    for text in helps:
        assert "``" not in text and ":class:" not in text and ":func:" not in text, text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[server]\nprot = 80\n", "server.prot: unknown key — did you mean 'port'?"),
        ('[[probes]]\nid = "pot"\nurl = "sim://"\nstale_afterr = "15s"\n', "did you mean 'stale_after'?"),
        ('[mqtt]\nurl = "mqtt://pi"\nbase_topik = "pw"\n', "mqtt.base_topik: unknown key — did you mean 'base_topic'?"),
        ('[storag]\npath = "x.db"\n', "storag: unknown key — did you mean 'storage'?"),
        (
            '[[probes]]\nid = "pot"\nurl = "sim://"\n[cook]\nprofile = "caramel"\nprobe = "pott"\n',
            "cook.probe: 'pott' names no [[probes]] entry (pot) — did you mean 'pot'?",
        ),
        (
            '[[probes]]\nid = "pot"\nurl = "sim://"\n[cook]\nprofile = "carmel"\nprobe = "pot"\n',
            "cook.profile: no profile 'carmel' (known: boil, candy, caramel, rillons) — did you mean 'caramel'?",
        ),
    ],
)
def test_a_near_miss_gets_a_suggestion(tmp_path: Path, text: str, expected: str) -> None:
    _, problems = config_problems(write(tmp_path, text))
    assert len(problems) == 1 and expected in problems[0], problems


def test_a_far_miss_gets_no_guess(tmp_path: Path) -> None:
    _, problems = config_problems(write(tmp_path, "[server]\nzzzzz = 1\n"))
    assert problems == [f"{tmp_path / 'potwatch.toml'}: server.zzzzz: unknown key"]


def test_a_probe_id_says_what_it_may_hold_not_a_regex(tmp_path: Path) -> None:
    _, problems = config_problems(write(tmp_path, '[[probes]]\nid = "big pot"\nurl = "sim://"\n'))
    assert len(problems) == 1
    assert 'probes[0].id: a probe id is 1 to 32 letters, digits, "-" or "_"' in problems[0]
    assert "pattern" not in problems[0] and "^" not in problems[0]


def test_a_profile_file_gets_plain_words_and_suggestions(tmp_path: Path) -> None:
    folder = tmp_path / "profiles"
    folder.mkdir()
    write(folder, 'name = "My Caramel"\n[[steps]]\nkind = "reach"\nname = "c"\ntargt = "225F"\n', "mine.toml")
    path = write(tmp_path, 'profile_dirs = ["profiles"]\n')
    _, problems = config_problems(path)
    text = "\n".join(problems)
    assert 'name: a profile name is lowercase letters, digits, "-" or "_"' in text
    assert "targt: unknown key — did you mean 'target'?" in text
    assert "pattern" not in text


def test_replay_suggests_a_profile(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    trace = write(tmp_path, "t,temp_f\n0,70\n", "trace.csv")
    assert main(["replay", str(trace), "--profile", "rilons"]) == 2
    assert "did you mean 'rillons'?" in capsys.readouterr().err
