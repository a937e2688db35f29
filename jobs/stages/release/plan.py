"""Everything a release needs that can be checked before Spark starts: policy, recipient, keys,
reference tables and quasi-identifier hierarchies (config errors exit 2 here, refusals 1)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from zoneinfo import ZoneInfo

from jobs.runtime.config import PipelineConfig
from jobs.runtime.errors import ConfigError, RefusedError
from jobs.runtime.keys import Key, load_key_checked
from jobs.runtime.warehouse import Warehouse
from jobs.stages.release.policy_files import (
    References,
    load_policy,
    load_references,
    policy_catalog,
    qi_hierarchies,
    resolve_keys,
)
from jobs.stages.release.recipients import Recipient, resolve_recipient
from transforms.kanon.hierarchy import Hierarchy, HierarchyError
from transforms.policy import Policy
from transforms.policy.km import time_carriers

JST = ZoneInfo("Asia/Tokyo")


def today_jst() -> dt.date:
    return dt.datetime.now(JST).date()


@dataclass(frozen=True)
class Plan:
    policy: Policy
    policy_file: Path
    recipient: Recipient | None
    key_id: str  # the release's key: the recipient's own, else the pipeline's
    keys: dict[str, Key]  # every key the policy's rules use, by key id
    refs: References
    hierarchies: dict[str, Hierarchy]  # quasi-identifier of patients -> hierarchy (anonymized profile)
    time_carriers: dict[str, tuple[str, ...]]  # table -> its released month columns ((k, k^m) recodes them)
    link: Key  # the producer's own key (keys.key_id): keys the linkage labels, the same for every release

    def key_scope(self, release_id: str) -> dict[str, str]:
        """Which key derivation the release's pseudonyms use (reqs 15, 16, 38). `release`: a key per
        recipient and release, so no two releases share a pseudonym; `recipient`: every delivery to
        the recipient shares its pids. A release without a recipient (open or one-off) always has
        its own key. The label is public (recorded in the manifest); the keys derived from it are not."""
        who = self.recipient.id if self.recipient else None
        scope = self.policy.params.key_scope if who else "release"
        label = f"recipient:{who or 'open'}" + (f"/release:{release_id}" if scope == "release" else "")
        return {"scope": scope, "label": label}


def plan(cfg: PipelineConfig, conf: str, profile: str, policy_path: str | None, recipient_id: str | None,
         recipients: str) -> Plan:
    """Load and check the policy, the recipient, the keys and the hierarchies."""
    if not policy_path and profile not in cfg.policies:
        raise ConfigError(conf, f"policies.{profile}", "no policy file configured for this profile")
    policy, policy_file = load_policy(policy_path or cfg.policies[profile])
    if policy.profile != profile:
        raise ConfigError(policy_file, "profile", f"the policy is for {policy.profile}, but --profile is {profile}")
    recipient = resolve_recipient(profile, recipient_id, recipients)
    key_id = (recipient.key_id if recipient and recipient.key_id else None) or cfg.keys.key_id
    loaded = resolve_keys(policy, policy_file, cfg.keys, key_id)
    link = load_key_checked(cfg.keys, cfg.keys.key_id, conf)
    refs = load_references(policy, policy_file)
    hierarchies: dict[str, Hierarchy] = {}
    if policy.profile == "anonymized":
        try:
            hierarchies = qi_hierarchies(policy, policy.params.quasi_identifiers)
        except HierarchyError as exc:
            raise ConfigError(policy_file, "params.quasi_identifiers", str(exc)) from None
    carriers = time_carriers(policy, policy_catalog({"clinical_layouts": policy.clinical_layouts}, policy_file))
    return Plan(policy, policy_file, recipient, key_id, loaded, refs, hierarchies, carriers, link)


def refuse_published(wh: Warehouse, release_id: str) -> None:
    if wh.local_path(wh.release(release_id, "manifest.json")).exists():
        raise RefusedError(f"release {release_id} is already published; releases are immutable: use a new release id")
