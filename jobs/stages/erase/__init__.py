"""`tokumei erase` (requirements 44, 46): resolve a subject, find the releases that held it, delete it
from bronze and staging, VACUUM, and append the erasure record."""

from jobs.stages.erase.run import erase, erase_expired

__all__ = ["erase", "erase_expired"]
