"""The alert rules and the dashboard under deploy/: promtool checks and tests the rules, and
every metric they name is one a running keepline exports on GET /metrics."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import yaml

from deploy.promtool import build_promtool
from tests.integration.fixtures_keepline import KeeplineFactory
from tests.integration.keepline_service import wait_for

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "keepline-rules.yml"
RULE_TESTS = DEPLOY / "prometheus" / "keepline-rules.test.yml"
DASHBOARD = DEPLOY / "grafana" / "keepline-dashboard.json"

#: PromQL's functions, aggregations and keywords: what a query names besides metrics.
PROMQL_WORDS = frozenset(
    {
        "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "delta",
        "histogram_quantile", "time", "by", "without", "and", "or", "unless", "on",
        "ignoring", "group_left", "group_right", "bool", "abs", "clamp_min", "topk",
        "offset", "absent", "vector", "scalar", "le", "inf",
    }
)  # fmt: skip
#: The series a metric type exposes beside its name (prometheus_client's text format).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "gauge": ("",),
    "histogram": ("_bucket", "_sum", "_count", "_created"),
    "summary": ("", "_sum", "_count", "_created"),
    "info": ("_info",),
}


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}", "", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", "", text)  # range durations
    text = re.sub(r"\boffset\s+-?\w+", "", text)  # offset durations
    text = re.sub(r"\b\d+(?:\.\d+)?(?:e[+-]?\d+)?\b", "", text)  # numbers
    text = re.sub(r"\b(by|without|on|ignoring)\s*\([^)]*\)", "", text)  # grouping labels
    words = set(re.findall(r"[A-Za-z_:][A-Za-z0-9_:]*", text))
    return {w for w in words if w.lower() not in PROMQL_WORDS}


def exported(exposition: str) -> set[str]:
    """Every series name the exposition's `# TYPE` lines declare."""
    names: set[str] = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            _, _, name, kind = line.split(" ", 3)
            base = name.removesuffix("_total") if kind == "counter" else name
            names.update(base + suffix for suffix in SUFFIXES.get(kind, ("",)))
    return names


def rule_expressions() -> list[str]:
    data = yaml.safe_load(RULES.read_text(encoding="utf-8"))
    return [rule["expr"] for group in data["groups"] for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return [t["expr"] for p in data["panels"] for t in p.get("targets", [])]


def test_promtool_checks_and_tests_the_rules() -> None:
    promtool = build_promtool()
    checked = subprocess.run(  # noqa: S603 - the cached build
        [str(promtool), "check", "rules", str(RULES)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "SUCCESS: 11 rules found" in checked.stdout + checked.stderr
    tested = subprocess.run(  # noqa: S603
        [str(promtool), "test", "rules", str(RULE_TESTS)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=RULE_TESTS.parent,
    )
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "SUCCESS" in tested.stdout + tested.stderr


def test_the_name_extraction_finds_what_a_query_reads() -> None:
    assert metric_names(
        'histogram_quantile(0.95, sum by (le, route) (rate(x_bucket{status=~"5.."}[5m]))) '
        "/ on (job) y > 1e3 and time() - z offset 5m"
    ) == {"x_bucket", "y", "z"}


def test_every_metric_the_rules_and_dashboard_read_is_exported(
    keepline_factory: KeeplineFactory,
) -> None:
    service = keepline_factory()
    # the audit check runs at start-up; its gauges are then set
    text = wait_for(
        lambda: (
            body
            if "keepline_audit_verified_timestamp_seconds " in (body := _metrics(service.url))
            and "\nkeepline_audit_verified_timestamp_seconds 0.0" not in body
            else None
        ),
        timeout_s=60,
        what="the first audit check",
    )
    names = exported(text)
    assert "keepline_consumer_lag" in names  # labelled metrics are declared before a sample
    assert "keepline_dead_letters_total" in names
    assert "keepline_ingest_latency_seconds_bucket" in names
    assert "keepline_audit_chain_ok 1.0" in text  # a fresh chain verifies
    for source, expressions in (
        ("rules", rule_expressions()),
        ("dashboard", dashboard_expressions()),
    ):
        used = set().union(*(metric_names(e) for e in expressions))
        assert len(used) >= 10, (source, used)
        unknown = used - names
        assert not unknown, f"{source} reads metrics keepline does not export: {sorted(unknown)}"


def test_the_dashboard_is_one_grafana_can_import() -> None:
    data = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    assert data["uid"] == "keepline"
    ids = [p["id"] for p in data["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in data["templating"]["list"]}
    assert variables["datasource"]["query"] == "prometheus"
    for panel in data["panels"]:
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${datasource}", panel["title"]
        assert panel["targets"], panel["title"]
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]


def _metrics(url: str) -> str:
    return httpx.get(f"{url}/metrics", timeout=10).text
