"""TableChecks that contradict themselves are refused when the suite is built (no data needed)."""

import pytest

from expectations.checks import TableChecks
from expectations.gx_suite import build_expectations


def test_checks_that_output_a_forbidden_column_are_refused():
    with pytest.raises(ValueError, match="both outputs and forbids"):
        build_expectations(TableChecks(table="t", columns=("pid", "name"), forbidden_columns=("name",)))
