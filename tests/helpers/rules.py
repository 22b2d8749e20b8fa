"""The Prometheus rules of deploy/monitoring/rules/ as data, for tests/monitoring/ and
tests/drills/: every rule and the metric names each rule reads. (The alert names the runbook and
the sizing guide are written against are checked by tests/monitoring/test_runbook.py.)
"""

import re
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[2]
RULES_DIR = REPO / "deploy" / "monitoring" / "rules"
ALERTS_FILE = RULES_DIR / "sluice-alerts.yaml"
RECORDING_FILE = RULES_DIR / "sluice-recording.yaml"
RULE_TESTS_DIR = REPO / "deploy" / "monitoring" / "tests"

# Metrics the rules read that sluice does not export yet: {name: "type {labels}: where it is to
# be counted"}. A rule may be written against a proposed name before the metric exists; the entry
# goes once src/ defines it (tests/monitoring/test_rules.py warns then).
PROPOSED_METRICS = {}

_FUNCTIONS_AND_KEYWORDS = {
    "and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
    "group_right", "inf", "nan",
}


def load(path):
    return yaml.safe_load(Path(path).read_text())


def rules(path):
    """Every rule of a rule file, in order."""
    return [r for g in load(path)["groups"] for r in g["rules"]]


def alert_rules():
    return [r for r in rules(ALERTS_FILE) if "alert" in r]


def recording_rules():
    return [r for r in rules(RECORDING_FILE) if "record" in r]


def metric_names(expr):
    """The series names a PromQL expression selects (functions, keywords, label names and
    string literals left out)."""
    expr = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    expr = re.sub(r"\{[^}]*\}", " ", expr)
    expr = re.sub(r"\[[^\]]*\]", " ", expr)
    expr = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", expr)
    names = set()
    for m in re.finditer(r"[a-zA-Z_:][a-zA-Z0-9_:]*", expr):
        token = m.group(0)
        if token.lower() in _FUNCTIONS_AND_KEYWORDS:
            continue
        if re.match(r"\s*\(", expr[m.end():]):  # a function or an aggregation
            continue
        if m.start() > 0 and (expr[m.start() - 1].isdigit() or expr[m.start() - 1] == "."):
            continue  # an exponent such as 1e9
        names.add(token)
    return names


def family(name):
    """A series name's metric family: histogram suffixes dropped."""
    return re.sub(r"_(bucket|count|sum)$", "", name)


def metrics_read():
    """{family: [rule names]} of every sluice metric family the rules read (not the recording
    rules' own series, not Prometheus' `up`)."""
    recorded = {r["record"] for r in recording_rules()}
    out = {}
    for r in rules(RECORDING_FILE) + rules(ALERTS_FILE):
        for name in metric_names(r["expr"]):
            if name in recorded or name == "up":
                continue
            out.setdefault(family(name), []).append(r.get("alert") or r.get("record"))
    return out
