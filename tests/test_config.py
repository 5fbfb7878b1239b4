"""Config and source files: defaults, path resolution, and one clear line per mistake."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from aggregator.config import load_config, load_sources, parse_duration, parse_size
from aggregator.errors import ConfigError

FEED = """
[[source]]
id = "example"
url = "https://example.org/feed.xml"
"""


def write(folder: Path, config: str, feeds: str | None = FEED) -> Path:
    (folder / "feeds").mkdir(exist_ok=True)
    if feeds is not None:
        (folder / "feeds" / "example.toml").write_text(feeds)
    path = folder / "config.toml"
    path.write_text(config)
    return path


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "aggregator", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_a_four_line_config_works_and_defaults_fill_the_rest(tmp_path: Path) -> None:
    path = write(tmp_path, '[site]\ntitle = "Desk"\n[fetch]\ntimeout = "30s"\n')
    cfg = load_config(path)
    assert cfg.site.title == "Desk" and cfg.fetch.timeout == 30.0
    assert cfg.fetch.interval == 3600 and cfg.output.items == 100
    assert [s.id for s in load_sources(cfg)] == ["example"]
    result = run_cli("--config", str(path), "sources", "list", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "example" in result.stdout


def test_relative_paths_resolve_against_the_config_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv("AGGREGATOR_DATABASE_URL", raising=False)
    elsewhere = tmp_path / "cwd"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(write(tmp_path, '[output]\ndir = "public"\n'))
    assert cfg.output.dir == tmp_path / "public"
    assert cfg.storage.url == f"sqlite:///{tmp_path / 'var' / 'aggregator.db'}"
    assert cfg.storage.data_dir == tmp_path / "var"


def test_database_url_from_the_environment_wins(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("AGGREGATOR_DATABASE_URL", "postgresql://u@db/x")
    assert load_config(write(tmp_path, "")).storage.url == "postgresql://u@db/x"


@pytest.mark.parametrize(("config", "feeds", "expected"), [
    ("[fetch]\ntimout = 5\n", FEED, "[fetch] timout: unknown key (did you mean 'timeout'?)"),
    ('[fetch]\ntimeout = "soon"\n', FEED, "[fetch] timeout: expected a duration"),
    ("[fetch]\nconcurrency = 0\n", FEED, "[fetch] concurrency: expected a whole number of at least 1"),
    ("[fetch]\nparse_processes = -1\n", FEED,
     '[fetch] parse_processes: expected a whole number of at least 0, or "auto"'),
    ("[fetch]\nparse_processes = \"many\"\n", FEED,
     '[fetch] parse_processes: expected a whole number of at least 0, or "auto"'),
    ("[fetch]\nallow_private = 1\n", FEED, "[fetch] allow_private: expected true or false"),
    ('[email]\ntransport = "pigeon"\n', FEED, '[email] transport: expected one of "file", "smtp"'),
    ('[digest]\ntime = "8am"\n', FEED, '[digest] time: expected a time of day such as "08:00"'),
    ("site = 3\n", FEED, "[site]: expected a table, got 3"),
    ('[sources]\npaths = ["nowhere/*.toml"]\n', FEED, "[sources] paths: no source file matches"),
    ("", '[[source]]\nid = "x"\nurl = "ftp://x"\n', "source 'x' url: expected an http:// or https:// URL"),
    ("", '[[source]]\nid = "x"\nurl = "https://x.org"\nkind = "rss"\n',
     """source 'x' kind: expected one of "feed", "html", got 'rss'"""),
    ("", '[[source]]\nid = "x"\nurl = "https://x.org"\nkind = "html"\n',
     "source 'x' select item: missing"),
    ("", '[[source]]\nurl = "https://x.org"\n', "[[source]] #1 id: missing"),
    ("", FEED + FEED, "source 'example': id already defined"),
    ("", "[[source]\n", "not valid TOML"),
])
def test_each_mistake_gives_one_line_and_exit_2(tmp_path: Path, config: str, feeds: str,
                                                 expected: str) -> None:
    path = write(tmp_path, config, feeds)
    with pytest.raises(ConfigError) as err:
        load_sources(load_config(path))
    assert expected in str(err.value)
    result = run_cli("--config", str(path), "status", cwd=tmp_path)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr
    assert expected in lines[0]
    assert str(path.parent) in lines[0]  # names the file


def test_a_missing_config_file_is_one_line(tmp_path: Path) -> None:
    result = run_cli("--config", str(tmp_path / "nope.toml"), "status", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "no such config file" in result.stderr


def test_a_missing_sources_file_is_one_line(tmp_path: Path) -> None:
    path = write(tmp_path, '[sources]\npaths = ["feeds/unodc.toml"]\n', None)
    result = run_cli("--config", str(path), "poll", cwd=tmp_path)
    assert result.returncode == 2
    assert "[sources] paths: no source file matches 'feeds/unodc.toml'" in result.stderr


@pytest.mark.parametrize(("text", "seconds"), [
    ("1h", 3600), ("15m", 900), ("1h30m", 5400), ("90s", 90), (42, 42), ("1d", 86400),
])
def test_durations(text: object, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("bad", ["", "1x", "h", "-5", True, "1h junk"])
def test_bad_durations(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_duration(bad)


@pytest.mark.parametrize(("text", "size"), [
    (10, 10), ("10 MiB", 10 * 1024 * 1024), ("500kB", 500_000), ("2GiB", 2 * 1024**3),
])
def test_sizes(text: object, size: int) -> None:
    assert parse_size(text) == size
