"""Find the input files, and read each once in the driver: sha256, size, line ends, kind.

Files are recognized by content, never by name (uke_format.md §1: do not depend on file names):
a UKE file starts with its claim kind's header record (IR, UK, YK); a clinical extract is a CSV whose layout in conf/layouts/
claims it (by its `files` glob or by its header). One streaming pass per file gives the sha256
(idempotency, receipt keys) and refuses, before Spark starts, files above `ingest.max_file_bytes`
and lines longer than MAX_LINE_BYTES, which no UKE or CSV line comes near and which would otherwise
have to fit in one task's memory.
"""

from __future__ import annotations

import fnmatch
import hashlib
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from jobs.runtime.errors import InputError, RefusedError
from transforms.clinical.extract import ClinicalLayout
from transforms.uke.layout import CLAIM_KINDS

MAX_LINE_BYTES = 1024 * 1024  # SJ, the longest UKE record, is 2,400 bytes; 1 MiB is corruption
_LISTED = 20  # unrecognized files named in a refusal
_BOM = b"\xef\xbb\xbf"


@dataclass(frozen=True)
class SourceFile:
    path: str  # absolute local path, as Spark reports it
    rel_path: str  # relative to --input, for messages and the ledger
    size: int
    sha256: str
    kind: str  # "uke" | "clinical"
    table: str | None  # clinical table name
    line_end: str  # "crlf" | "lf" | "mixed" | "none"
    claim_kind: str | None = None  # UKE: "medical" | "dental" | "pharmacy" | "dpc" (transforms/uke/layout.py)


def _sniff(path: Path, rel: str, layouts: Sequence[ClinicalLayout]) -> tuple[str, str | None] | None:
    """("uke", claim kind), ("clinical", table) or None for a file we do not ingest.

    A claim file's kind is its first record's (docs/formats/README.md): IR 医科 or DPC, UK 歯科, YK 調剤.
    DPC and 医科 files both start with IR; a DPC file is one whose first 64 KB hold a record only DPC
    has (BU, SB, KK, ...: `ClaimKind.marks`), which its first DPC receipt always does."""
    try:
        with path.open("rb") as fh:
            head = fh.read(64 * 1024)
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc}") from exc
    body = head[len(_BOM):] if head.startswith(_BOM) else head
    kinds = [k for k in CLAIM_KINDS.values()
             if body.startswith(k.header.encode() + b",") or body.split(b"\n", 1)[0].rstrip(b"\r") == k.header.encode()]
    if kinds:
        starts = {line.split(b",", 1)[0] for line in body.splitlines()}
        marked = [k for k in kinds if any(m.encode() in starts for m in k.marks)]
        return "uke", (marked or [k for k in kinds if not k.marks])[0].name
    first_line = body.split(b"\n", 1)[0].rstrip(b"\r")
    for layout in layouts:
        if layout.files and any(fnmatch.fnmatch(rel, pattern) for pattern in layout.files):
            if layout.header and not layout.matches_header(first_line):
                raise InputError(
                    f"{path}: header {layout.header_fields(first_line)} does not match layout "
                    f"{layout.table} (conf/layouts): expected {list(layout.names)}"
                )
            return "clinical", layout.table
        if layout.header and layout.matches_header(first_line):
            return "clinical", layout.table
    return None


def _scan(path: Path) -> tuple[str, str]:
    """sha256 and the line-end style, refusing over-long lines (exact above MAX_LINE_BYTES)."""
    digest = hashlib.sha256()
    lf = crlf = 0
    run = 0  # bytes since the last LF
    prev_last = b""
    line_no = 1
    with path.open("rb") as fh:
        while chunk := fh.read(MAX_LINE_BYTES):
            digest.update(chunk)
            first_nl = chunk.find(b"\n")
            if first_nl < 0:
                run += len(chunk)
            else:
                if run + first_nl > MAX_LINE_BYTES:
                    raise InputError(
                        f"{path}: line {line_no} is longer than {MAX_LINE_BYTES} bytes; not a UKE or CSV text file"
                    )
                n = chunk.count(b"\n")
                lf += n
                crlf += chunk.count(b"\r\n") + (1 if prev_last == b"\r" and chunk.startswith(b"\n") else 0)
                line_no += n
                run = len(chunk) - chunk.rfind(b"\n") - 1
            prev_last = chunk[-1:]
    if run > MAX_LINE_BYTES:
        raise InputError(f"{path}: line {line_no} is longer than {MAX_LINE_BYTES} bytes; not a UKE or CSV text file")
    style = "none" if lf == 0 else "crlf" if crlf == lf else "lf" if crlf == 0 else "mixed"
    return digest.hexdigest(), style


def _walk(root: Path) -> list[Path]:
    out: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(root):
        # Hidden and `_` folders are never inputs (`_truth` of the generator, Spark's `_temporary`).
        dirnames[:] = sorted(d for d in dirnames if not d.startswith((".", "_")))
        out += [Path(dirpath) / f for f in sorted(filenames) if not f.startswith(".")]
    return out


def discover(
    input_dir: str, layouts: Sequence[ClinicalLayout], max_file_bytes: int, threads: int = 4, *,
    allow_unrecognized: bool = False,
) -> tuple[list[SourceFile], list[str]]:
    """(files to ingest, relative paths of files that are neither UKE nor a declared extract).

    A file of neither kind refuses the whole input (exit 1) before any file is hashed, unless
    `allow_unrecognized`: a claim file tokumei cannot read must never vanish with a warning only."""
    root = Path(input_dir).resolve()
    if not root.is_dir():
        raise InputError(f"--input {input_dir}: not a directory")
    found: list[tuple[Path, str, str, str | None]] = []
    skipped: list[str] = []
    for path in _walk(root):
        rel = path.relative_to(root).as_posix()
        kind = _sniff(path, rel, layouts)
        if kind is None:
            skipped.append(rel)
            continue
        size = path.stat().st_size
        if size > max_file_bytes:
            raise InputError(
                f"{path}: {size} bytes is above ingest.max_file_bytes = {max_file_bytes} "
                "(conf/pipeline.yaml); split the file or raise the limit after checking disk and time"
            )
        found.append((path, rel, *kind))
    skipped.sort()
    if skipped and not allow_unrecognized:
        refuse_unrecognized(input_dir, skipped)
    with ThreadPoolExecutor(max_workers=threads) as pool:
        scans = list(pool.map(lambda item: _scan(item[0]), found))
    files = [
        SourceFile(str(p), rel, p.stat().st_size, sha, kind, None if kind == "uke" else sub, style,
                   sub if kind == "uke" else None)
        for (p, rel, kind, sub), (sha, style) in zip(found, scans, strict=True)
    ]
    return files, skipped


def refuse_unrecognized(input_dir: str, skipped: Sequence[str]) -> None:
    """Exit 1 naming the files (the first _LISTED): in Japanese for the operator, then in English."""
    names = ", ".join(skipped[:_LISTED]) + (f" ほか {len(skipped) - _LISTED} 件" if len(skipped) > _LISTED else "")
    raise RefusedError(
        f"--input {input_dir} に、レセプト電算ファイル（UKE）でも conf/layouts/ で宣言した臨床データでもない"
        f"ファイルが {len(skipped)} 件あります: {names}。取り込みを中止しました（何も変更していません）。"
        "読めないレセプトを見落とさないためです。これらを入力フォルダから除くか、請求データでないことを確かめた"
        "うえで --allow-unrecognized を付けて再実行してください。 / "
        f"{len(skipped)} file(s) under --input are neither UKE claim files nor declared clinical extracts: "
        f"{', '.join(skipped[:_LISTED])}; nothing was ingested. Remove them, or re-run with "
        "--allow-unrecognized once you have checked they hold no claims."
    )


def spark_path(path: str) -> str:
    """Escape Hadoop glob characters, so a file named `a[1].UKE` is read as itself."""
    out = path
    for ch in "\\[]{}*?":
        out = out.replace(ch, "\\" + ch)
    return out
