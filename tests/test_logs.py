"""The daemon's and the watcher's log: an entry per line at the margin, whatever a file is named."""

from __future__ import annotations

import logging
import subprocess
import sys
import time
from pathlib import Path


def test_a_file_name_with_a_newline_cannot_forge_a_log_entry(tmp_path: Path) -> None:
    """Whoever can write a watch folder names the files the log names: 'X\\n2026-12-05 19:00:00
    ERROR forged.NEF' printed a line that read as an entry of the watcher's own. Later lines of
    an entry are indented now, so every line at the margin is a real entry."""
    folder = tmp_path / "hot"
    folder.mkdir()
    (folder / "X\n2026-12-05 19:00:00 ERROR stillmotion watch: forged.NEF").write_bytes(b"raw")
    home = tmp_path / "home"
    home.mkdir()
    env = {"STILLMOTION_HOME": str(home), "PATH": "/usr/bin:/bin", "HOME": str(tmp_path)}
    proc = subprocess.Popen([sys.executable, "-m", "stillmotion", "watch", str(folder)], env=env,
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True)
    try:
        deadline = time.monotonic() + 60
        lines: list[str] = []
        while time.monotonic() < deadline and not any("camera raw file" in line for line in lines):
            line = proc.stderr.readline()
            if not line:
                break
            lines.append(line)
        said = [line for line in lines if "forged" in line or "camera raw file" in line]
        assert any("camera raw file" in line for line in lines), lines
        assert all(not line.startswith("2026-12-05 19:00:00") for line in lines), said
        assert any(line.startswith("    2026-12-05 19:00:00 ERROR") for line in lines), said
    finally:
        proc.terminate()
        proc.wait(30)


def test_every_later_line_of_an_entry_is_indented() -> None:
    from stillmotion.logs import EntryFormatter

    record = logging.LogRecord("stillmotion", logging.WARNING, __file__, 1, "a\nb\rc", None, None)
    assert EntryFormatter("%(levelname)s %(message)s").format(record) == "WARNING a\n    b\\rc"
