"""The anonymization policy: model (what a policy is), law (what it may not say), parse (YAML data ->
Policy). Import direction: parse -> law -> model; nothing here reads a file."""

from transforms.policy.law import (
    CONTACT,
    IDENTIFIER_GENERALIZERS,
    NEVER_KEEP,
    RARE_CODE_COLUMNS,
    check_carriers,
    check_table,
)
from transforms.policy.model import (
    MAX_AGE_TOP,
    REGIMES,
    KmItem,
    KmParams,
    Linkage,
    Policy,
    PolicyError,
    ProfileParams,
    Rule,
    TablePolicy,
)
from transforms.policy.parse import clinical_layouts, parse_policy

__all__ = [
    "CONTACT",
    "IDENTIFIER_GENERALIZERS",
    "MAX_AGE_TOP",
    "NEVER_KEEP",
    "RARE_CODE_COLUMNS",
    "REGIMES",
    "KmItem",
    "KmParams",
    "Linkage",
    "Policy",
    "PolicyError",
    "ProfileParams",
    "Rule",
    "TablePolicy",
    "check_carriers",
    "check_table",
    "clinical_layouts",
    "parse_policy",
]
