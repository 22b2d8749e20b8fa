"""docs/operations/runbook.md against what it points at: the alerts (the rules file once it exists
on main), the dashboards' panels, sluice's log messages in src/, its configuration keys.

A person goes from an alert to its runbook section (the rule's runbook_url anchor), to a
dashboard panel, to a log line; each hop is checked here without servers.
"""

import json
import re
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
RUNBOOK = REPO / "docs" / "operations" / "runbook.md"
RULES = REPO / "deploy" / "monitoring" / "rules" / "sluice-alerts.yaml"
DASHBOARDS_DIR = REPO / "deploy" / "monitoring" / "dashboards"

# The alert names are a contract between the rules, the runbook and the drills.
ALERTS = {
    "SluiceRequestErrors", "SluiceRequestLatency", "SluiceDiscardedLines",
    "SluiceTenantRateLimited", "SluiceStreamRateLimited", "SluiceIngesterMemoryHigh",
    "SluiceWALFsyncSlow", "SluiceWALReplayTooLong", "SluiceFlushFailures",
    "SluiceFlushQueueBacklog", "SluiceObjectStoreErrors", "SluiceObjectStoreLatency",
    "SluiceRingMembersUnhealthy", "SluiceIngesterZoneDown", "SluiceIngesterSlow",
    "SluiceIngesterCrashLooping", "SluiceKafkaConsumerLag", "SluiceQueryLatency",
    "SluiceQueryQueueBacklog", "SluiceCompactorNotRunning", "SluiceComponentDown",
}
PARTS = ("**What it means.**", "**Panels.**", "**Log lines.**",
         "**Likely causes, most likely first.**", "**Mitigation.**")
PANEL_REF = re.compile(r"\*\*(sluice / \w+) › ([^*]+?)\*\*")


def text():
    return RUNBOOK.read_text()


def without_fences(markdown):
    return re.sub(r"^ *```.*?^ *```", "", markdown, flags=re.M | re.S)


def code_spans(markdown):
    return [re.sub(r"\s+", " ", s) for s in re.findall(r"`([^`]+)`", without_fences(markdown))]


def sections(markdown):
    """{heading: body} of the level-2 sections."""
    parts = re.split(r"^## (.+)$", markdown, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts), 2)}


def slug(heading):
    """GitHub's anchor for a heading."""
    return re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")


def dashboard_panels():
    """{dashboard title: {panel titles}}."""
    out = {}
    for path in DASHBOARDS_DIR.glob("sluice-*.json"):
        d = json.loads(path.read_text())
        out[d["title"]] = {p["title"] for p in d["panels"] if p["type"] != "row"}
    return out


def source_text():
    """Every .cc and .h of src/ (tests left out), with adjacent C++ string literals joined, so
    that a message split over several lines reads as it is logged."""
    joined = []
    for path in sorted((REPO / "src").rglob("*")):
        if path.suffix in (".cc", ".h") and not path.name.endswith("_test.cc"):
            joined.append(re.sub(r'"\s*\n\s*"', "", path.read_text(errors="replace")))
    return "\n".join(joined)


def config_names():
    """Section and key names of sluice's configuration (src/config/config.cc)."""
    source = (REPO / "src" / "config" / "config.cc").read_text()
    return set(re.findall(r'(?:Section|Field)\("([a-z0-9_]+)"', source))


def test_one_section_per_alert_with_every_part():
    found = {h for h in sections(text()) if h.startswith("Sluice")}
    assert found == ALERTS, f"missing {ALERTS - found}, unknown {found - ALERTS}"
    for name, body in sections(text()).items():
        if name not in ALERTS:
            continue
        positions = [body.find(part) for part in PARTS]
        assert -1 not in positions, f"{name}: missing {PARTS[positions.index(-1)]}"
        assert positions == sorted(positions), f"{name}: parts out of order"
        panels_part = body[positions[1]:positions[2]]
        assert PANEL_REF.search(panels_part), f"{name}: names no panel"
        assert re.search(r"^1\. ", body, re.M), f"{name}: causes are not a numbered list"
        logs_part = body[positions[2]:positions[3]]
        assert "`" in logs_part, f"{name}: quotes no log line or message"


def test_every_alert_is_in_the_index_table():
    index = text().split("## Conventions")[0]
    for name in ALERTS:
        assert f"[{name}](#{name.lower()})" in index, name


def test_every_panel_named_exists():
    panels = dashboard_panels()
    refs = PANEL_REF.findall(text())
    assert len(refs) > 50
    for dashboard, title in refs:
        title = re.sub(r"\s+", " ", title)
        assert dashboard in panels, f"no dashboard {dashboard!r}"
        assert title in panels[dashboard], f"no panel {title!r} on {dashboard}"
    # The index table's first panels too (written without bold).
    for dashboard, title in re.findall(r"\| (sluice / \w+) › ([^|]+?) \|", text()):
        assert title in panels[dashboard], f"no panel {title!r} on {dashboard}"


def test_every_quoted_log_message_is_logged_by_sluice():
    source = source_text()
    messages = [m for span in code_spans(text()) for m in re.findall(r'msg="([^"]*)"', span)]
    assert len(messages) > 40
    for message in messages:
        # Placeholders (<tenant>, <error>, ...) vary; every literal part between them must be in
        # a logging call's format string.
        # Some messages are "<component>: <text>" with the component passed as an argument
        # (msg="kafka producer: librdkafka"): then each side must be there.
        for fragment in re.split(r"<[^>]*>", message):
            fragment = fragment.strip()
            if len(fragment) >= 4:
                parts = [fragment] if fragment in source else fragment.split(": ")
                for part in parts:
                    assert part in source, f"not in src/: {part!r} (of msg={message!r})"
    assert "sluice: invalid configuration: %s" in source


def test_every_key_reason_and_metric_named_exists():
    """Dotted configuration keys (`ingester.wal.fsync`, `-flag=value`), and bare snake_case names:
    a configuration key, a discard reason, or a metric sluice registers."""
    names = config_names()
    reasons = set(re.findall(r'= "([a-z_]+)"', (REPO / "src/write/discard.h").read_text()))
    reasons.add("invalid_syslog")  # the syslog listeners' own (src/syslog)
    source = source_text()
    keys = bare = 0
    for span in code_spans(text()):
        m = re.match(r"-?([a-z_]+(?:\.[a-z0-9_]+)+)(?:$|[:=])", span)
        if m and m.group(1).split(".")[0] in names:
            keys += 1
            for segment in m.group(1).split("."):
                assert segment in names, f"{span!r}: no configuration key {segment!r}"
        name = re.fullmatch(r"([a-z][a-z0-9]*(?:_[a-z0-9]+)+)(?:\{.*\})?(?::.*)?", span)
        if name and name.group(1) != "runbook_url":
            bare += 1
            word = name.group(1)
            if word.startswith(("loki_", "sluice_")):
                assert f'"{word}"' in source, f"no metric {word} registered in src/"
            else:
                assert word in names or word in reasons, f"{span!r}: not a key or a reason"
    assert keys > 30 and bare > 30


def test_links_inside_the_runbook_resolve():
    anchors = {slug(h) for h in re.findall(r"^#+ (.+)$", text(), re.M)}
    for target in re.findall(r"\]\(#([^)]+)\)", text()):
        assert target in anchors, f"no heading for #{target}"


def test_alerts_match_the_rules_file():
    """Every alert of the rules is in the runbook and the other way round, and each rule's
    runbook_url points at its section. Skipped until deploy/monitoring/rules/sluice-alerts.yaml
    is on main."""
    if not RULES.exists():
        pytest.skip(f"{RULES.relative_to(REPO)} is not in this checkout yet")
    rules = [r for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"]
             if "alert" in r]
    names = {r["alert"] for r in rules}
    assert names == ALERTS, f"runbook only: {ALERTS - names}; rules only: {names - ALERTS}"
    for r in rules:
        url = r.get("annotations", {}).get("runbook_url")
        if url is not None:
            assert url.endswith("runbook.md#" + r["alert"].lower()), (r["alert"], url)
