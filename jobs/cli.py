"""`tokumei <command>`: one console script over the job modules (DESIGN.md, interface contract).

Each command is also `python -m jobs.<module>` (`tokumei.jobs.<module>` once installed) and, under
spark-submit, `dist/tokumei_submit.py <command>` (tools/dist.py); this module only dispatches, so the
entry points behave the same.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# command -> (module in this package, one-line help). Only commands that work are listed. The module is
# named relative to this package: `jobs` in the checkout, `tokumei.jobs` once installed (tools/relocate.py).
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("generate", "write synthetic UKE claim files and clinical extracts"),
    "ingest": ("ingest", "parse raw files into bronze Delta tables (restricted zone)"),
    "anonymize": ("anonymize", "apply a policy profile to bronze and write the staged release"),
    "validate": ("validate", "run the Great Expectations suites on a staged release"),
    "publish": ("publish", "promote a validated staged release and write its manifest"),
    "erase": ("erase", "delete a patient, files or an institution from bronze and staging (DELETE + VACUUM), with a record"),
    "run": ("run", "ingest, anonymize, validate and publish in one go"),
    "notices": ("notices", "record that a release's 公表 were published (notices publish)"),
    "deliver": ("deliver", "deliver a published release to a recipient and append its 提供記録"),
    "kanon": ("kanon", "make a CSV table k-anonymous / l-diverse with ARX hierarchies (optimal, on Spark)"),
    "requirements": ("requirements", "write docs/requirements.md: each legal requirement with the tests citing it"),
}


def module_of(command: str) -> str:
    """The module of `command`, e.g. `jobs.run` in the checkout and `tokumei.jobs.run` once installed."""
    return f"{__package__ or 'jobs'}.{COMMANDS[command][0]}"


def _usage() -> str:
    width = max(map(len, COMMANDS))
    lines = [
        "usage: tokumei <command> [options]",
        "",
        "Batch anonymization of Japanese medical claims on Apache Spark.",
        "",
        "commands:",
    ]
    lines += [f"  {name.ljust(width)}  {help_}" for name, (_, help_) in COMMANDS.items()]
    lines += ["", "`tokumei <command> --help` describes each command.",
              "exit codes: 0 done, 1 refused (validation or policy), 2 bad input or config"]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in ("-h", "--help"):
        print(_usage())
        return 0 if args else 2
    command, rest = args[0], args[1:]
    if command not in COMMANDS:
        print(f"tokumei: error: unknown command {command!r}\n\n{_usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(module_of(command))
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
