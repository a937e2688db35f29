"""Builders and fixtures' machinery shared by the test tiers (never test modules themselves)."""
