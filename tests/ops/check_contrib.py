#!/usr/bin/env python3
# SPDX-License-Identifier: Apache-2.0
"""Validates contrib/: the Prometheus alerting rules and the Grafana
dashboard, against the metrics a running sluiced exported (a scrape).
Usage: check_contrib.py SCRAPE RULES.yml DASHBOARD.json
Prints one line per problem; exit 0 when there is none."""
import json
import re
import sys

import yaml

from promql_lint import lint, parse_exposition

DURATION = re.compile(r"^[0-9]+(ms|s|m|h|d|w|y)$")
SEVERITIES = {"critical", "warning", "info"}
# The events an operator must hear of (issue 11), by the metric that shows each.
REQUIRED_ALERTS = {
    "backend down": "sluice_backend_up",
    "no serving backend for a VIP": "sluice_backend_weight",
    "connection table above 90 %": "sluice_conn_table_size",
    "config reload failed": "sluice_config_reload_failures_total",
}
# Grafana's own variables, replaced by something PromQL accepts.
GRAFANA_VARS = {"$__rate_interval": "5m", "$__interval": "1m", "$__range": "1h"}


def check_rules(path, metrics, labels):
    problems = []
    doc = yaml.safe_load(open(path))
    groups = doc.get("groups") if isinstance(doc, dict) else None
    if not groups:
        return [f"{path}: no groups"]
    names, used_by_alert = set(), {}
    for g in groups:
        if set(g) - {"name", "rules", "interval", "limit"}:
            problems.append(f"{path}: group {g.get('name')}: unknown keys {set(g) - {'name', 'rules'}}")
        if g.get("name") in names:
            problems.append(f"{path}: group name {g.get('name')!r} twice")
        names.add(g.get("name"))
        for r in g.get("rules") or []:
            where = f"{path}: {r.get('alert', r.get('record', '?'))}"
            extra = set(r) - {"alert", "expr", "for", "labels", "annotations", "keep_firing_for"}
            if extra:
                problems.append(f"{where}: unknown keys {sorted(extra)}")
            if not re.fullmatch(r"[A-Z][A-Za-z0-9]*", str(r.get("alert", ""))):
                problems.append(f"{where}: alert name must be CamelCase")
            if "for" in r and not DURATION.match(str(r["for"])):
                problems.append(f"{where}: bad duration {r['for']!r}")
            if (r.get("labels") or {}).get("severity") not in SEVERITIES:
                problems.append(f"{where}: labels.severity must be one of {sorted(SEVERITIES)}")
            ann = r.get("annotations") or {}
            for key in ("summary", "description"):
                if not ann.get(key):
                    problems.append(f"{where}: annotations.{key} missing")
            for text in ann.values():
                for lab in re.findall(r"\$labels\.([A-Za-z_]+)", str(text)):
                    if lab not in labels and lab not in ("instance", "job"):
                        problems.append(f"{where}: annotation uses unknown label {lab!r}")
                if str(text).count("{{") != str(text).count("}}"):
                    problems.append(f"{where}: unbalanced template braces")
            errs, used = lint(str(r.get("expr", "")), metrics, labels)
            problems += [f"{where}: expr: {e}" for e in errs]
            used_by_alert[r.get("alert")] = used
    for event, metric in REQUIRED_ALERTS.items():
        if not any(metric in used for used in used_by_alert.values()):
            problems.append(f"{path}: no alert for {event} (none uses {metric})")
    return problems


def panels_of(dash):
    for p in dash.get("panels", []):
        yield p
        yield from p.get("panels", [])


def check_dashboard(path, metrics, labels):
    problems = []
    dash = json.load(open(path))
    for key in ("title", "uid", "panels", "schemaVersion", "templating"):
        if key not in dash:
            problems.append(f"{path}: no {key}")
    var_names = {v["name"] for v in dash.get("templating", {}).get("list", [])}
    ids, cells, used = set(), {}, set()
    for p in panels_of(dash):
        where = f"{path}: panel {p.get('id')} {p.get('title')!r}"
        if p.get("id") in ids:
            problems.append(f"{where}: id used twice")
        ids.add(p.get("id"))
        g = p.get("gridPos", {})
        if not all(isinstance(g.get(k), int) for k in "xywh") or g["x"] + g["w"] > 24:
            problems.append(f"{where}: bad gridPos {g}")
            continue
        for x in range(g["x"], g["x"] + g["w"]):
            for y in range(g["y"], g["y"] + g["h"]):
                if (x, y) in cells:
                    problems.append(f"{where}: overlaps panel {cells[(x, y)]}")
                    break
                cells[(x, y)] = p.get("id")
            else:
                continue
            break
        if p.get("type") == "row":
            continue
        if not p.get("targets"):
            problems.append(f"{where}: no query")
        for t in p.get("targets", []):
            expr = t.get("expr", "")
            for var in re.findall(r"\$(\w+)", expr):
                if var not in var_names and f"${var}" not in GRAFANA_VARS:
                    problems.append(f"{where}: unknown variable ${var}")
            for var, value in GRAFANA_VARS.items():
                expr = expr.replace(var, value)
            errs, u = lint(expr, metrics, labels)
            used |= u
            problems += [f"{where}: {e}" for e in errs]
    for v in dash.get("templating", {}).get("list", []):
        q = v.get("query", {})
        q = q.get("query", "") if isinstance(q, dict) else q
        m = re.fullmatch(r"label_values\((.*),\s*(\w+)\)", q or "")
        if v.get("type") == "query" and not m:
            problems.append(f"{path}: variable {v['name']}: not a label_values() query")
        elif m:
            errs, _ = lint(m.group(1), metrics, labels)
            problems += [f"{path}: variable {v['name']}: {e}" for e in errs]
    missing = {m for m in metrics if m.startswith("sluice_")} - used
    if missing:  # new metrics may wait for a panel; say so, do not fail
        print(f"note: {path}: metrics on no panel yet: {sorted(missing)}")
    return problems


def main():
    if len(sys.argv) != 4:
        sys.exit(__doc__)
    metrics, labels = parse_exposition(open(sys.argv[1]).read())
    sluice = {m for m in metrics if m.startswith("sluice_")}
    if len(sluice) < 10:
        sys.exit(f"{sys.argv[1]}: only {len(sluice)} sluice metrics: not a scrape of sluiced")
    problems = check_rules(sys.argv[2], metrics, labels)
    problems += check_dashboard(sys.argv[3], metrics, labels)
    for p in problems:
        print(p)
    sys.exit(1 if problems else 0)


if __name__ == "__main__":
    main()
