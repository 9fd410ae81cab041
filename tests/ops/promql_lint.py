# SPDX-License-Identifier: Apache-2.0
"""A small PromQL linter for sluice's alert rules and dashboard: brackets
and strings balanced, functions known, range durations well formed, and
every metric and label one that sluiced really exports (taken from a
scrape of a running sluiced). It is no full parser: promtool, where
installed, checks the grammar too."""
import re

FUNCTIONS = {
    "abs", "absent", "absent_over_time", "avg_over_time", "ceil", "changes", "clamp",
    "clamp_max", "clamp_min", "count_over_time", "day_of_month", "day_of_week",
    "day_of_year", "days_in_month", "delta", "deriv", "exp", "floor",
    "histogram_quantile", "holt_winters", "hour", "idelta", "increase", "irate",
    "label_join", "label_replace", "last_over_time", "ln", "log10", "log2",
    "max_over_time", "min_over_time", "minute", "month", "predict_linear",
    "present_over_time", "quantile_over_time", "rate", "resets", "round", "scalar",
    "sgn", "sort", "sort_desc", "sqrt", "stddev_over_time", "stdvar_over_time",
    "sum_over_time", "time", "timestamp", "vector", "year",
}
AGGREGATIONS = {"sum", "min", "max", "avg", "group", "stddev", "stdvar", "count",
                "count_values", "bottomk", "topk", "quantile"}
LABEL_LIST_KEYWORDS = {"by", "without", "on", "ignoring", "group_left", "group_right"}
OPERATOR_WORDS = {"and", "or", "unless", "bool", "offset", "atan2"}
# Series every Prometheus has besides the target's own.
BUILTIN_METRICS = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
BUILTIN_LABELS = {"instance", "job", "__name__"}

TOKEN = re.compile(r'''
    (?P<ws>\s+)
  | (?P<string>"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*')
  | (?P<duration>\[[0-9]+(?:ms|s|m|h|d|w|y)(?::[0-9]*(?:ms|s|m|h|d|w|y)?)?\])
  | (?P<number>[0-9]+(?:\.[0-9]+)?(?:e[+-]?[0-9]+)?)
  | (?P<ident>[A-Za-z_:][A-Za-z0-9_:]*)
  | (?P<op>=~|!~|!=|==|<=|>=|[-+*/%^<>=,(){}\[\]])
''', re.X)


def parse_exposition(text):
    """Metric names (from # TYPE lines) and label names of a scrape."""
    metrics, labels = set(), set()
    for line in text.splitlines():
        if line.startswith("# TYPE "):
            metrics.add(line.split()[2])
        elif line and not line.startswith("#") and "{" in line:
            body = line[line.index("{") + 1:line.rindex("}")]
            labels.update(m.group(1) for m in re.finditer(r'([A-Za-z_][A-Za-z0-9_]*)="', body))
    return metrics, labels


def tokens(expr):
    pos = 0
    out = []
    while pos < len(expr):
        m = TOKEN.match(expr, pos)
        if not m:
            raise ValueError(f"unexpected text at {pos}: {expr[pos:pos + 20]!r}")
        pos = m.end()
        if m.lastgroup != "ws":
            out.append((m.lastgroup, m.group()))
    return out


def lint(expr, metrics, labels):
    """Returns a list of problems (empty: fine) and the metrics used."""
    problems, used = [], set()
    try:
        toks = tokens(expr)
    except ValueError as e:
        return [str(e)], used
    stack = []
    pairs = {")": "(", "}": "{", "]": "["}
    label_list_next = False
    for i, (kind, text) in enumerate(toks):
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "op" and text in "({[":
            stack.append(text)
        elif kind == "op" and text in ")}]":
            if not stack or stack[-1] != pairs[text]:
                problems.append(f"unbalanced {text!r}")
                return problems, used
            stack.pop()
            if text == ")":
                label_list_next = False
        if kind != "ident":
            continue
        inside = stack[-1] if stack else ""
        if inside == "{" or (label_list_next and inside == "("):
            if text not in labels and text not in BUILTIN_LABELS:
                problems.append(f"label {text!r} is not one sluiced exports")
            continue
        if text in LABEL_LIST_KEYWORDS:
            label_list_next = nxt == "("
            if not label_list_next and text not in ("group_left", "group_right"):
                problems.append(f"{text!r} needs a label list")
            continue
        if nxt == "(":
            if text not in FUNCTIONS and text not in AGGREGATIONS:
                problems.append(f"unknown function {text!r}")
            continue
        if text in OPERATOR_WORDS or text in AGGREGATIONS:
            continue
        used.add(text)
        if text not in metrics and text not in BUILTIN_METRICS:
            problems.append(f"metric {text!r} is not one sluiced exports")
    if stack:
        problems.append(f"unclosed {stack[-1]!r}")
    return problems, used
