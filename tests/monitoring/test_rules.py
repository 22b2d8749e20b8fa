"""The Prometheus rules of deploy/monitoring/rules/: valid for Prometheus (`promtool check rules`),
their unit tests pass (`promtool test rules deploy/monitoring/tests/*.yaml`, Debian's prometheus
package), every alert has its severity and annotations, each alert is tested both firing and
silent, and every metric they read is one sluice defines (or one listed in
helpers.rules.PROPOSED_METRICS, waiting to be added). test_runbook.py checks the alert names
against the runbook.

tests/drills/ runs the same rules in a real Prometheus against a real cluster.
"""

import re
import shutil
import subprocess
import warnings

import pytest

from helpers import rules

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
SRC = rules.REPO / "src"


@pytest.fixture(scope="module")
def promtool():
    if not shutil.which(PROMTOOL):
        pytest.fail("promtool is not installed (scripts/deps.sh --test installs prometheus)")
    return PROMTOOL


def _run(argv):
    r = subprocess.run(argv, capture_output=True, text=True, timeout=120, cwd=rules.REPO)
    return r.returncode, r.stdout + r.stderr


def test_promtool_check_rules(promtool):
    code, out = _run([promtool, "check", "rules", str(rules.RECORDING_FILE),
                      str(rules.ALERTS_FILE)])
    assert code == 0, out
    assert out.count("SUCCESS") == 2, out


def test_promtool_unit_tests_pass(promtool):
    files = sorted(rules.RULE_TESTS_DIR.glob("*.yaml"))
    assert files, f"no rule tests in {rules.RULE_TESTS_DIR}"
    code, out = _run([promtool, "test", "rules", *map(str, files)])
    assert code == 0 and "FAILED" not in out, out
    assert out.count("SUCCESS") == len(files), out


def test_every_alert_has_severity_and_annotations():
    # The names themselves are the runbook's contract: tests/monitoring/test_runbook.py.
    for r in rules.alert_rules():
        name = r["alert"]
        assert r["labels"]["severity"] in ("critical", "warning"), r
        assert set(r["annotations"]) == {"summary", "description", "runbook_url"}, r
        assert r["annotations"]["runbook_url"] == f"docs/operations/runbook.md#{name.lower()}", r
        assert r["annotations"]["summary"].strip() and r["annotations"]["description"].strip(), r
    # Two rules may share a name only to give it two severities.
    pairs = [(r["alert"], r["labels"]["severity"]) for r in rules.alert_rules()]
    assert len(pairs) == len(set(pairs)), pairs


def test_recording_rules_follow_the_naming_scheme():
    for r in rules.recording_rules():
        assert re.fullmatch(r"sluice:[a-z0-9_]+:[a-z0-9_]+", r["record"]), r["record"]


def _rule_test_cases():
    """{(alertname, severity or None): {"fires": n, "silent": n}} over deploy/monitoring/tests/."""
    seen = {}
    for path in sorted(rules.RULE_TESTS_DIR.glob("*.yaml")):
        doc = rules.load(path)
        assert [f.replace("../rules/", "") for f in doc["rule_files"]] == [
            "sluice-recording.yaml", "sluice-alerts.yaml"], path
        for case in doc["tests"]:
            for check in case.get("alert_rule_test", []):
                name = check["alertname"]
                if not check.get("exp_alerts"):
                    seen.setdefault((name, None), {"fires": 0, "silent": 0})["silent"] += 1
                for exp in check.get("exp_alerts") or []:
                    key = (name, exp["exp_labels"]["severity"])
                    seen.setdefault(key, {"fires": 0, "silent": 0})["fires"] += 1
    return seen


def test_every_alert_rule_is_tested_firing_and_silent():
    cases = _rule_test_cases()
    for r in rules.alert_rules():
        name, severity = r["alert"], r["labels"]["severity"]
        assert cases.get((name, severity), {}).get("fires"), (
            f"{name} ({severity}): no promtool test expects it to fire")
        assert cases.get((name, None), {}).get("silent"), (
            f"{name}: no promtool test checks it stays silent on healthy series")


def _defined_in_src():
    """Every string literal of src/ that looks like a metric name."""
    names = set()
    for path in SRC.rglob("*"):
        if path.suffix not in (".cc", ".h") or path.name.endswith("_test.cc"):
            continue
        text = path.read_text(errors="replace")
        names.update(re.findall(r'"((?:loki|sluice|process)_[a-z0-9_]+)"', text))
    return names


def test_rules_read_metrics_sluice_defines_or_proposes():
    defined = _defined_in_src()
    for fam, used_by in sorted(rules.metrics_read().items()):
        assert fam in defined or fam in rules.PROPOSED_METRICS, (
            f"{fam} (read by {sorted(set(used_by))}) is neither defined in src/ nor listed in "
            "helpers.rules.PROPOSED_METRICS")
    for fam in rules.PROPOSED_METRICS:
        assert fam in rules.metrics_read(), f"PROPOSED_METRICS lists {fam}, which no rule reads"
        if fam in defined:
            warnings.warn(f"src/ now defines {fam}: remove it from helpers.rules.PROPOSED_METRICS")
