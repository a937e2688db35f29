"""`tokumei <command>`: one console script over the job modules (DESIGN.md, interface contract).

Each command is also `python -m jobs.<module>` and `spark-submit jobs/<module>.py`; this module only
dispatches, so the three entry points behave the same.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

# command -> (module, one-line help). Only commands that work are listed.
COMMANDS: dict[str, tuple[str, str]] = {
    "generate": ("jobs.generate", "write synthetic UKE claim files and clinical extracts"),
    "ingest": ("jobs.ingest", "parse raw files into bronze Delta tables (restricted zone)"),
    "anonymize": ("jobs.anonymize", "apply a policy profile to bronze and write the staged release"),
    "validate": ("jobs.validate", "run the Great Expectations suites on a staged release"),
    "publish": ("jobs.publish", "promote a validated staged release and write its manifest"),
    "erase": ("jobs.erase", "delete a patient, files or an institution from bronze and staging (DELETE + VACUUM), with a record"),
    "run": ("jobs.run", "ingest, anonymize, validate and publish in one go"),
    "notices": ("jobs.notices", "record that a release's 公表 were published (notices publish)"),
    "deliver": ("jobs.deliver", "deliver a published release to a recipient and append its 提供記録"),
    "kanon": ("jobs.kanon", "make a CSV table k-anonymous / l-diverse with ARX hierarchies (optimal, on Spark)"),
    "requirements": ("jobs.requirements", "write docs/requirements.md: each legal requirement with the tests citing it"),
}


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
    module = importlib.import_module(COMMANDS[command][0])
    return int(module.main(rest))


if __name__ == "__main__":
    sys.exit(main())
