"""docs/operations/sizing.md: its tables are what tools/sizing.py computes from bench/RESULTS.md
today, the script refuses (exit 2, naming the figure) when a figure it needs is missing, and the
alerts and panels the guide names exist in deploy/monitoring."""

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "tools" / "sizing.py"
GUIDE = REPO / "docs" / "operations" / "sizing.md"
RESULTS = REPO / "bench" / "RESULTS.md"
MONITORING = REPO / "deploy" / "monitoring"


def sizing(*args):
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, timeout=60)


def test_guide_embeds_the_scripts_tables():
    out = sizing()
    assert out.returncode == 0, out.stderr
    blocks = re.findall(r"<!-- sizing.py:(\w+) begin -->\n(.*?)\n<!-- sizing.py:\1 end -->", out.stdout, re.S)
    assert {name for name, _ in blocks} >= {"assumptions", "throughput", "plan", "pods", "storage", "bottlenecks"}
    guide = GUIDE.read_text()
    for name, body in blocks:
        assert f"<!-- sizing.py:{name} begin -->\n{body}\n<!-- sizing.py:{name} end -->" in guide, \
            f"docs/operations/sizing.md: table '{name}' is not tools/sizing.py's (run tools/sizing.py --write)"
    assert sizing("--check").returncode == 0


def test_check_names_a_stale_table(tmp_path):
    stale = tmp_path / "sizing.md"
    stale.write_text(GUIDE.read_text().replace("| ingesters (per zone), bound by |", "| ingesters |", 1))
    out = sizing("--check", "--guide", str(stale))
    assert out.returncode == 1
    assert "table 'plan' differs" in out.stderr


def without(text, pattern):
    """`text` with every line matching `pattern` removed; the pattern must match."""
    lines = text.splitlines(keepends=True)
    kept = [line for line in lines if not re.search(pattern, line)]
    assert len(kept) < len(lines), pattern
    return "".join(kept)


@pytest.mark.parametrize("mutate, names", [
    (lambda t: t.replace("## Issue 14", "## Issue fourteen"), ["section 'Issue 14' not found", "flush_s_per_gb"]),
    (lambda t: without(t, r"^\| durability \| WAL replay"), ["'Targets'", "WAL replay", "replay_mb_s"]),
    (lambda t: t.replace("ingesters 72.57", "ingesters n/a"), ["'Issue 13'", "direct, RF=3", "ingester_cpu_direct"]),
    (lambda t: t.replace("| 3 ingesters, RF=3 |", "| RF three |"), ["'Issue 11'", "3 ingesters, RF=3",
                                                                    "rf3_filter_factor"]),
    (lambda t: re.sub(r"mean [0-9.]+\)", "mean ?)", t), ["sluice benchmark results", "line_bytes"]),
])
def test_a_missing_figure_stops_the_script_and_is_named(tmp_path, mutate, names):
    results = tmp_path / "RESULTS.md"
    text = RESULTS.read_text()
    changed = mutate(text)
    assert changed != text
    results.write_text(changed)
    out = sizing("--results", str(results))
    assert out.returncode == 2
    assert out.stdout == ""
    assert "missing benchmark figure" in out.stderr
    for name in names:
        assert name in out.stderr, out.stderr


def test_missing_results_file_is_an_error(tmp_path):
    out = sizing("--results", str(tmp_path / "nope.md"))
    assert out.returncode == 2 and "cannot read" in out.stderr


def test_json_is_the_plan_the_tables_show():
    out = sizing("--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    ing = data["pods"]["ingester"]
    pods_table = re.search(r"^\| ingester \|.*$", GUIDE.read_text(), re.M).group(0)
    assert f"`terminationGracePeriodSeconds: {ing['grace_s']}`" in pods_table
    assert f"`chunk_memory_budget: {ing['chunk_memory_budget_mib']}MB`" in pods_table
    assert f"{ing['memory_mib'] // 1024}Gi" in pods_table


def named_in_guide(heading):
    section = GUIDE.read_text().split(heading, 1)[1]
    return section


def test_the_alerts_and_panels_the_guide_names_exist():
    rules = sorted((MONITORING / "rules").glob("*.y*ml")) if (MONITORING / "rules").is_dir() else []
    dashboards = MONITORING / "dashboards"
    if not rules or not dashboards.is_dir():
        pytest.skip("deploy/monitoring (rules and dashboards) is not in this tree yet")
    alerts = {r["alert"] for f in rules for g in (yaml.safe_load(f.read_text()) or {}).get("groups", [])
              for r in g.get("rules", []) if "alert" in r}
    text = named_in_guide("## The five alerts and five panels that matter most")
    named_alerts = re.findall(r"^\| `(Sluice\w+)` \|", text, re.M)
    assert len(named_alerts) == 5
    assert set(named_alerts) <= alerts
    panels = re.findall(r"^\| (sluice-\w+) \| ([^|]+?) \|", text, re.M)
    assert len(panels) == 5
    for board, title in panels:
        found = json.loads((dashboards / f"{board}.json").read_text())

        def titles(ps):
            for p in ps:
                yield p.get("title")
                yield from titles(p.get("panels", []))

        assert title in set(titles(found["panels"])), f"{board} has no panel '{title}'"
