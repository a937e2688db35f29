"""Traceability (issue 17 item 7): the legal requirements, the tests that cite them by name, and the
reasons where a requirement cannot be checked by software, rendered as docs/requirements.md."""

from jobs.stages.traceability.catalog import Catalog, Requirement, parse_catalog, read_catalog
from jobs.stages.traceability.citations import Citation, cited, find_citations
from jobs.stages.traceability.render import render
from jobs.stages.traceability.trace import MISSING, NOT_CHECKABLE, PENDING, TESTED, Row, Trace, build_trace
from jobs.stages.traceability.untested import Untested, parse_untested, read_untested

__all__ = ["MISSING", "NOT_CHECKABLE", "PENDING", "TESTED", "Catalog", "Citation", "Requirement", "Row", "Trace",
           "Untested", "build_trace", "cited", "find_citations", "parse_catalog", "parse_untested", "read_catalog",
           "read_untested", "render"]
