"""SQL text for Spark expressions: what the UKE parser is written in.

Ingest parses up to 50 record layouts of a few dozen fields each. Built with the Column API, every
function call is a round trip from Python to the JVM: one ingest of the four claim kinds made 172,749
of them and spent 40 of its 49 s of parsing waiting on the socket (issue 18). The same expressions as
SQL text cost one call per projection, and Spark Connect accepts them as they are.
"""

from __future__ import annotations

from collections.abc import Sequence


def lit(value: str | int) -> str:
    """A SQL literal: an int as is, a string quoted with its quotes and backslashes escaped."""
    if isinstance(value, int):
        return str(value)
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def ident(name: str) -> str:
    """A quoted identifier."""
    return "`" + name.replace("`", "``") + "`"


def when(condition: str, value: str) -> str:
    """`value` where `condition` holds, else null."""
    return f"CASE WHEN {condition} THEN {value} END"


def coalesce(values: Sequence[str]) -> str:
    return values[0] if len(values) == 1 else f"coalesce({', '.join(values)})"


def reason_detail(reason: str, detail: str) -> str:
    """The (reason, detail) struct of a rejected line; both arguments are SQL expressions."""
    return f"named_struct('reason', {reason}, 'detail', {detail})"


NO_PROBLEM = "CAST(NULL AS struct<reason:string,detail:string>)"
