"""Tiny semicolon CSV input and ARX hierarchies for `tokumei kanon` (tests/e2e/test_kanon_job.py runs
the command; tests/unit/test_kanon_cli.py checks the failures it reports before Spark starts)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from jobs import kanon

HEADER = "id;性別;都道府県;病名;memo"
LINES = ["1;男;東京都;風邪;", "2;男;東京都;骨折;a", "3;男;神奈川県;風邪;", "4;女;大阪府;喘息;", "5;女;京都府;風邪;",
         "6;女;京都府;骨折;", "7;男;大阪府;風邪;", "8;女;東京都;骨折;"]


def write_hierarchies(root: Path) -> Path:
    """Hierarchies of 性別 and 都道府県 under root/h and a pipeline config; returns root."""
    (root / "h").mkdir()
    (root / "h" / "t_hierarchy_性別.csv").write_text("男;*\n女;*\n", encoding="utf-8")
    (root / "h" / "t_hierarchy_都道府県.csv").write_text(
        "東京都;関東;*\n神奈川県;関東;*\n大阪府;関西;*\n京都府;関西;*\n", encoding="utf-8")
    (root / "conf.yaml").write_text("keys:\n  key_id: test\n", encoding="utf-8")
    return root


def run_kanon(files: Path, lines: Sequence[str] = LINES, *extra: str) -> int:
    """Write HEADER + lines (CRLF) to files/in.csv and run `tokumei kanon` on QIs 性別, 都道府県."""
    (files / "in.csv").write_text("\r\n".join([HEADER, *lines]) + "\r\n", encoding="utf-8")
    return kanon.main(["--input", str(files / "in.csv"), "--hierarchies", str(files / "h"), "--qi", "性別,都道府県",
                       "--out", str(files / "out.csv"), "--summary", str(files / "s.json"),
                       "--conf", str(files / "conf.yaml"), *extra])
