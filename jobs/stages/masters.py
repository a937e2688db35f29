"""The 支払基金 傷病名マスター as the diagnosis hierarchy, and the generator's catalog on its real codes.

`read_disease_master` reads the master (CP932, every field quoted; field numbers in
../shared/reference/masters/SOURCE.txt), `hierarchy_text` renders every code with its ICD-10,
3-character category and chapter, and `remap_catalog` gives each row of conf/hierarchies/diseases.csv
a real code (see PASSES). 27,437 rows are configuration-sized: plain Python, no Spark.
"""

from __future__ import annotations

import csv
import io
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from difflib import SequenceMatcher
from pathlib import Path

from jobs.runtime.errors import InputError
from jobs.stages.release.policy_files import read_csv_rows

CODE, NAME, ICD10, ABOLISHED = 2, 5, 15, 23  # field numbers of the 傷病名マスター (from 0)
IN_USE = "99999999"  # 廃止年月日 of a code still in use
UNCLASSIFIED = "分類不能"  # the chapter of a code without an ICD-10 (0000999 未コード化傷病名 and a few others)
HIERARCHY_COLUMNS = ("disease_code", "name", "icd10", "icd10_3", "icd10_chapter", "abolished")
CATALOG_COLUMNS = ("disease_code", "name", "icd10", "icd10_block", "icd10_chapter")
# ICD-10 chapters by 3-character category (WHO ICD-10 2013, the version the master uses).
CHAPTERS = (
    ("I", "A00", "B99"), ("II", "C00", "D48"), ("III", "D50", "D89"), ("IV", "E00", "E90"), ("V", "F00", "F99"),
    ("VI", "G00", "G99"), ("VII", "H00", "H59"), ("VIII", "H60", "H95"), ("IX", "I00", "I99"), ("X", "J00", "J99"),
    ("XI", "K00", "K93"), ("XII", "L00", "L99"), ("XIII", "M00", "M99"), ("XIV", "N00", "N99"), ("XV", "O00", "O99"),
    ("XVI", "P00", "P96"), ("XVII", "Q00", "Q99"), ("XVIII", "R00", "R99"), ("XIX", "S00", "T98"),
    ("XX", "V01", "Y98"), ("XXI", "Z00", "Z99"), ("XXII", "U00", "U99"),
)
# Category, then what the master writes after it: a 4th and 5th character (the 5th is WHO's subdivision
# for fracture type or musculoskeletal site), a Japanese extension letter (F152b), or "-" and a 5th
# character for a category without a 4th (T08-0, M45-9).
_ICD10 = re.compile(r"([A-Z][0-9]{2})([0-9]{0,2}[a-z]?|-[0-9])")


def dotted_icd10(raw: str) -> str:
    """The master's ICD-10 as the hierarchy files write it, a dot after the category and the rest as it
    is: E119 -> E11.9, I10 -> I10, S6260 -> S62.60, F152b -> F15.2b, T08-0 -> T08.-0."""
    match = _ICD10.fullmatch(raw)
    if match is None:
        raise ValueError(f"not an ICD-10 code: {raw!r}")
    category, rest = match.groups()
    return f"{category}.{rest}" if rest else category


def icd10_chapter(icd10: str) -> str | None:
    """Roman chapter of a (dotted or not) ICD-10 code, UNCLASSIFIED for "", None outside every chapter."""
    if not icd10:
        return UNCLASSIFIED
    category = icd10[:3]
    return next((chapter for chapter, lo, hi in CHAPTERS if lo <= category <= hi), None)


@dataclass(frozen=True)
class MasterDisease:
    code: str
    name: str
    icd10: str  # dotted, "" when the master has none
    abolished: str  # 廃止年月日 YYYYMMDD, "" while in use
    chapter: str

    @property
    def category(self) -> str:
        return self.icd10[:3]


def read_disease_master(path: Path) -> list[MasterDisease]:
    """Every record of a 傷病名マスター file, in file order; InputError naming file and line otherwise."""
    if not path.is_file():
        raise InputError(f"{path}: 傷病名マスター not found")
    out: list[MasterDisease] = []
    seen: set[str] = set()
    try:
        with path.open(encoding="cp932", newline="") as fh:
            for line_no, row in enumerate(csv.reader(fh), start=1):
                disease = _master_row(row, f"{path}:{line_no}")
                if disease.code in seen:
                    raise InputError(f"{path}:{line_no}: 傷病名コード {disease.code} appears twice")
                seen.add(disease.code)
                out.append(disease)
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not CP932 text ({exc.reason} at byte {exc.start})") from None
    if not out:
        raise InputError(f"{path}: no records")
    return out


def _master_row(row: Sequence[str], where: str) -> MasterDisease:
    if len(row) <= ABOLISHED or row[1] != "B":
        raise InputError(f"{where}: not a 傷病名マスター record (マスター種別 B and at least {ABOLISHED + 1} fields): "
                         f"{','.join(row[:3])}")
    code, name, raw_icd10, abolished = row[CODE], row[NAME], row[ICD10], row[ABOLISHED]
    if not re.fullmatch(r"[0-9]{7}", code):
        raise InputError(f"{where}: 傷病名コード {code!r} is not 7 digits")
    try:
        icd10 = dotted_icd10(raw_icd10) if raw_icd10 else ""
    except ValueError as exc:
        raise InputError(f"{where}: 傷病名コード {code}: {exc}") from None
    chapter = icd10_chapter(icd10)
    if chapter is None:
        raise InputError(f"{where}: 傷病名コード {code}: ICD-10 {icd10} is in no chapter")
    if abolished != IN_USE and not re.fullmatch(r"[0-9]{8}", abolished):
        raise InputError(f"{where}: 傷病名コード {code}: 廃止年月日 {abolished!r} is not YYYYMMDD")
    return MasterDisease(code, name, icd10, "" if abolished == IN_USE else abolished, chapter)


def hierarchy_text(master: Sequence[MasterDisease], source: str) -> str:
    """conf/hierarchies/disease_hierarchy.csv: a comment naming source and rules, then one row per code."""
    unclassified = [d for d in master if not d.icd10]
    example = next((d for d in unclassified if d.code == "0000999"), unclassified[0] if unclassified else None)
    comment = (
        f"傷病名 hierarchy: every 傷病名コード of the 支払基金 傷病名マスター {source} ({len(master)} codes, abolished\n"
        f"ones included: real files carry old codes) -> ICD-10 -> 3-character category -> ICD-10 chapter (I..XXII).\n"
        "name is the 基本名称 (field 5); icd10 is field 15 (ICD-10 2013) with a dot after the 3-character category\n"
        "and the rest as the master writes it (E119 -> E11.9, I10 stays, S6260 -> S62.60, F152b -> F15.2b,\n"
        "T08-0 -> T08.-0); the second ICD-10 some names have (field 16) is not used; abolished is the 廃止年月日\n"
        "(field 23), empty while the code is in use.\n"
        f"Fallback: the {len(unclassified)} codes without an ICD-10"
        f"{f' (e.g. {example.code} {example.name.strip()})' if example else ''} have icd10 and icd10_3\n"
        f"empty and icd10_chapter {UNCLASSIFIED}.\n"
        "Generated, never edited by hand; rebuild with (from the repository root):\n"
        f"  python -m jobs.masters --disease-master ../shared/reference/masters/{source} "
        "--out conf/hierarchies/disease_hierarchy.csv\n"
    )
    buf = io.StringIO()
    buf.writelines(f"# {line}\n" for line in comment.splitlines())
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HIERARCHY_COLUMNS)
    for d in sorted(master, key=lambda d: d.code):
        writer.writerow((d.code, d.name, d.icd10, d.category, d.chapter, d.abolished))
    return buf.getvalue()


def _name_score(a: str, b: str) -> tuple[int, float]:
    """How alike two 傷病名 are: longest common substring, then difflib's ratio."""
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.find_longest_match(0, len(a), 0, len(b)).size, matcher.ratio()


def _in_block(category: str, block: str) -> bool:
    lo, _, hi = block.partition("-")
    return bool(category) and lo <= category <= (hi or lo)


Row = dict[str, str]
# Tried in this order over the whole catalog (a pass claims codes before the next starts, so a row never
# takes the code another row matches by name). Name within the same 3-character category comes before
# a different name with the same ICD-10: the catalog's ICD-10 codes were recalled offline, and the
# category (hence block, chapter and the generator's sex and acute rules) is what stays the same.
PASSES: tuple[tuple[str, Callable[[Row, MasterDisease], bool]], ...] = (
    ("kept", lambda r, m: m.code == r["disease_code"] and m.name == r["name"] and m.icd10 == r["icd10"]),
    ("name", lambda r, m: m.icd10 == r["icd10"] and m.name == r["name"]),
    ("name in category", lambda r, m: m.category == r["icd10"][:3] and m.name == r["name"]),
    ("icd10", lambda r, m: m.icd10 == r["icd10"]),
    ("category", lambda r, m: m.category == r["icd10"][:3]),
    ("block", lambda r, m: _in_block(m.category, r["icd10_block"])),
)


@dataclass(frozen=True)
class Remapped:
    row: Row  # the catalog row as written back
    old_code: str
    old_name: str
    old_icd10: str
    how: str  # the pass that matched, "+ similar name" or "+ other name" when the name differs


def remap_catalog(rows: Sequence[Row], master: Sequence[MasterDisease], where: str) -> list[Remapped]:
    """Each catalog row on a distinct in-use master code (PASSES), its name and ICD-10 taken from the
    master; the order of the rows and their other columns are kept."""
    in_use = sorted((m for m in master if not m.abolished and m.icd10), key=lambda m: m.code)
    by_category: dict[str, list[MasterDisease]] = defaultdict(list)
    for m in in_use:
        by_category[m.category].append(m)
    used: set[str] = set()
    chosen: dict[int, tuple[str, MasterDisease]] = {}
    for how, fits in PASSES:
        for i, row in enumerate(rows):
            if i in chosen:
                continue
            pool = by_category.get(row["icd10"][:3], []) if how != "block" else \
                [m for c, ms in by_category.items() if _in_block(c, row["icd10_block"]) for m in ms]
            candidates = [m for m in pool if m.code not in used and fits(row, m)]
            if candidates:
                best = max(candidates, key=lambda m: _name_score(row["name"], m.name))  # first = lowest code
                chosen[i] = (how, best)
                used.add(best.code)
    missing = [f"{r['disease_code']} {r['name']} {r['icd10']}" for i, r in enumerate(rows) if i not in chosen]
    if missing:
        raise InputError(f"{where}: no master code in the same ICD-10 block for: {'; '.join(missing)}")
    out = []
    for i, row in enumerate(rows):
        how, m = chosen[i]
        if m.name != row["name"]:
            how += " + similar name" if _name_score(row["name"], m.name)[0] else " + other name"
        new = {**row, "disease_code": m.code, "name": m.name, "icd10": m.icd10, "icd10_chapter": m.chapter}
        out.append(Remapped(new, row["disease_code"], row["name"], row["icd10"], how))
    return out


def read_catalog(path: Path) -> tuple[list[str], list[Row]]:
    """The generator's 傷病名 catalog (header and rows; '#' lines are comments)."""
    if not path.is_file():
        raise InputError(f"{path}: catalog not found")
    header, rows = read_csv_rows(path)
    missing = [c for c in CATALOG_COLUMNS if c not in header]
    if missing:
        raise InputError(f"{path}: missing columns {missing}; found {header}")
    if not rows:
        raise InputError(f"{path}: no rows")
    return header, rows


def catalog_text(header: Sequence[str], remapped: Sequence[Remapped], source: str) -> str:
    """The catalog written back: its comment (which names the master), header and remapped rows."""
    comment = (
        "傷病名 catalog for the synthetic generator and the diagnosis hierarchy of the anonymized policy's rare\n"
        "rule (code -> ICD-10 -> block -> chapter). disease_code, name and icd10 are a real 傷病名コード, its\n"
        f"基本名称 and its ICD-10 from the 支払基金 傷病名マスター {source} (see disease_hierarchy.csv);\n"
        "icd10_block is the WHO block. Rows are ordered from most to least frequent: tokumei generate draws by\n"
        "rank with a Zipf-like tail. The last 50 rows are rare codes, seen in only a few patients of a small data\n"
        "set: 指定難病 (designated intractable diseases), or a disease of the same ICD-10 where the master has no\n"
        "code of that name and ICD-10 (e.g. 脊髄小脳変性症 G11.9 became 小脳性運動失調症).\n"
        "The rows were first written with synthetic codes and recalled ICD-10 codes; each now has the master\n"
        "code of the same name and ICD-10, else of the same name in the same 3-character category, else the\n"
        "closest name with the same ICD-10, category or block (jobs/stages/masters.py, PASSES). Rebuild with:\n"
        f"  python -m jobs.masters --disease-master ../shared/reference/masters/{source} "
        "--remap-catalog conf/hierarchies/diseases.csv\n"
    )
    buf = io.StringIO()
    buf.writelines(f"# {line}\n" for line in comment.splitlines())
    writer = csv.DictWriter(buf, fieldnames=list(header), lineterminator="\n")
    writer.writeheader()
    writer.writerows(r.row for r in remapped)
    return buf.getvalue()
