"""Copies of the shipped policies and a pipeline.yaml under a temporary folder, for tests that run
anonymize on the literal bronze warehouse (helpers/bronze.py) or check how policy errors are reported.
No Spark: unit tests use it too."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from helpers.policies import without_km

REPO = Path(__file__).resolve().parents[2]

PATIENTS_LAYOUT = """columns:
  - {name: patient_id, type: string, label: 患者ID, risk: DIRECT}
  - {name: institution_code, type: string, label: 医療機関コード, risk: INST}
  - {name: name, type: string, label: 氏名, risk: DIRECT}
  - {name: kana_name, type: string, label: カナ氏名, risk: DIRECT}
  - {name: birth_date, type: date, label: 生年月日, risk: DIRECT}
  - {name: sex, type: string, label: 性別, risk: QUASI}
  - {name: postal_code, type: string, label: 郵便番号, risk: DIRECT}
  - {name: address, type: string, label: 住所, risk: DIRECT}
  - {name: phone, type: string, label: 電話番号, risk: DIRECT}
  - {name: insurer_no, type: string, label: 保険者番号, risk: DIRECT}
  - {name: card_symbol, type: string, label: 記号, risk: DIRECT}
  - {name: card_number, type: string, label: 番号, risk: DIRECT}
  - {name: branch_no, type: string, label: 枝番, risk: DIRECT}
"""
LABS_LAYOUT = """columns:
  - {name: patient_id, type: string, label: 患者ID, risk: DIRECT}
  - {name: institution_code, type: string, label: 医療機関コード, risk: INST}
  - {name: lab_code, type: string, label: 検査コード}
  - {name: lab_name, type: string, label: 検査名}
  - {name: value, type: double, label: 結果値, risk: QUASI}
  - {name: unit, type: string, label: 単位}
  - {name: sampled_on, type: date, label: 検体採取日, risk: QUASI}
"""


# publish refuses notices whose producer settings are the shipped placeholders (requirements 30-32)
PRODUCER = ("producer:\n  name: テスト作成事業者\n  contact: 窓口 test@example.invalid\n"
            "  provision_method: 暗号化した電子ファイルで提供する方法\n")


def write_test_conf(tmp: Path, key_id: str = "testkey", edit_profile: str = "anonymized", km: bool = True,
                    **policy_edits: Any) -> dict[str, Path]:
    """pipeline.yaml, layouts and policy copies under tmp; policy_edits replace text in one profile's policy;
    km=False takes params.km out of the anonymized policy (helpers.policies.without_km)."""
    repo = REPO
    (tmp / "layouts").mkdir(parents=True, exist_ok=True)
    (tmp / "layouts" / "patients.yaml").write_text(PATIENTS_LAYOUT, encoding="utf-8")
    (tmp / "layouts" / "labs.yaml").write_text(LABS_LAYOUT, encoding="utf-8")
    paths = {}
    for profile in ("anonymized", "pseudonymized"):
        text = (repo / "conf" / "policies" / f"{profile}.yaml").read_text(encoding="utf-8")
        text = text.replace("conf/layouts/", f"{tmp}/layouts/").replace("hierarchies: conf/hierarchies",
                                                                       f"hierarchies: {repo}/conf/hierarchies")
        text = without_km(text) if profile == "anonymized" and not km else text
        text = text.replace("rare_threshold: 10", "rare_threshold: 2")
        text = text.replace("  k: 10 ", "  k: 1  ")  # 5 test patients: k-anonymity has its own tests
        for old, new in policy_edits.items() if profile == edit_profile else ():
            assert old in text, old
            text = text.replace(old, new)
        paths[profile] = tmp / f"{profile}.yaml"
        paths[profile].write_text(text, encoding="utf-8")
    conf = tmp / "pipeline.yaml"
    conf.write_text(f"keys:\n  key_id: {key_id}\npolicies:\n  anonymized: {paths['anonymized']}\n"
                    f"  pseudonymized: {paths['pseudonymized']}\n{PRODUCER}", encoding="utf-8")
    paths["conf"] = conf
    return paths
