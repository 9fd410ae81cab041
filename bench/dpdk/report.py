#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Turns dpdk_bench's JSON lines into tables (markdown on stdout), one JSON
of every run, and the hit-against-live-flows points in bench/linerate's
run shape, for bench/line_rate/plot.py.
usage: report.py OUT_PREFIX COMMIT LABEL=FILE[,FILE...] [LABEL=...] [scale=FILE[,...]]
Several files of one label are repeated runs: each cell shows the run whose
figure over the floor is the median, with that run's floor. A label `scale`
(1 worker, hit only) becomes OUT_PREFIX-scale.json; `load=FILE` (lines of
text) goes into OUT_PREFIX.json as it is."""
import json
import sys


def load(paths):
    """Per (mode, workers, table): the median run's line, and every run's."""
    cells = {}
    for path in paths.split(","):
        for line in open(path):
            if line.startswith("{"):
                r = json.loads(line)
                cells.setdefault((r["mode"], r["workers"], r["conn_table"]), []).append(r)
    rows = []
    for runs in cells.values():
        runs.sort(key=lambda r: r["over_floor_ns"])
        med = dict(runs[len(runs) // 2])
        med["runs_over_floor_ns"] = [r["over_floor_ns"] for r in runs]
        med["runs_floor_ns"] = [r["floor_ns"] for r in runs]
        rows.append(med)
    return rows


def cell(r):
    spread = r["runs_over_floor_ns"]
    rng = f", runs +{min(spread):.0f}..+{max(spread):.0f}" if len(spread) > 1 else ""
    return f"{r['ns_per_packet']:.1f} (+{r['over_floor_ns']:.1f}; floor {r['floor_ns']:.1f}{rng})"


def table(rows):
    line = any(r["mode"] == "line" for r in rows)
    udp = any(r["mode"] == "new-udp" for r in rows)
    modes = ("hit", "new") + (("new-udp",) if udp else ()) + ("pass",) + (("line",) if line else ())
    title = {"hit": "hit", "new": "new flow, TCP SYN (full table; a SYN evicts only unconfirmed)",
             "new-udp": "new flow, UDP (full table; each recorded, evicting)", "pass": "pass",
             "line": "one memory line (hit's memory floor)"}
    out = ["| workers | conn table | live flows | " + " | ".join(title[m] for m in modes) + " |",
           "|---:|---:|---:|" + "---:|" * len(modes)]
    by = {}
    for r in rows:
        by.setdefault((r["workers"], r["conn_table"]), {})[r["mode"]] = r
    for (w, size), got in sorted(by.items()):
        live = next(iter(got.values()))["live_flows"]
        cells = [cell(got[m]) if m in got else "-" for m in modes]
        out.append(f"| {w} | {size:,} | {live:,} | " + " | ".join(cells) + " |")
    # The new-flow modes' recording: records evicted and flows left
    # unrecorded, per measured packet.
    for r in sorted((r for r in rows if r["mode"] in ("new", "new-udp")),
                    key=lambda r: (r["mode"], r["workers"], r["conn_table"])):
        n = r["packets_per_lane"] * r["reps"] * r["workers"]
        if n and "not_recorded" in r:
            out.append(f"\n{r['mode']} {r['workers']}w {r['conn_table']:,}: evicted "
                       f"{r['evicted'] / n:.2f} and not recorded {r['not_recorded'] / n:.2f} "
                       "per packet (the median run)")
    # `line` runs no worker: its reason counters do not move.
    want = {"hit": "tx_hit", "new": "tx_new", "new-udp": "tx_new", "pass": "pass_not_vip"}
    bad = [r for r in rows if r["mode"] != "line" and (r["reason_share"] < 0.999 or
           r["reason"] != want[r["mode"]])]
    for r in bad:
        out.append(f"\nWARNING: {r['mode']} {r['workers']}w {r['conn_table']}: "
                   f"{r['reason']} {r['reason_share']:.3f}")
    return "\n".join(out)


def main():
    prefix, commit = sys.argv[1], sys.argv[2]
    runs = {}
    for arg in sys.argv[3:]:
        label, path = arg.split("=", 1)
        # `load=FILE`: the load average before and after each run, as text
        runs[label] = open(path).read().splitlines() if label == "load" else load(path)
    for label, rows in runs.items():
        if label in ("scale", "load"):
            continue
        print(f"### {label} (in flight per worker: {rows[0]['in_flight']})\n")
        print(table(rows) + "\n")
    json.dump(runs, open(prefix + ".json", "w"), indent=1)
    if "scale" in runs:
        hits = sorted((r for r in runs["scale"] if r["mode"] == "hit" and r["workers"] == 1),
                      key=lambda r: r["conn_table"])
        lines = {r["conn_table"]: r for r in runs["scale"] if r["mode"] == "line"}
        pts = [{"flows": r["live_flows"], "conn_table": r["conn_table"],
                "hit_ns": r["ns_per_packet"], "floor_ns": r["floor_ns"],
                "hit_over_floor_ns": r["over_floor_ns"]} for r in hits]
        print("### scale: 1 worker, hit, table filled to 90%\n")
        print("| live flows | conn table | floor | hit | over floor (runs) |"
              + (" one memory line over floor (runs) |" if lines else "") + "\n"
              "|---:|---:|---:|---:|---:|" + ("---:|" if lines else ""))
        for p, r in zip(pts, hits):
            spread = ", ".join(f"+{x:.0f}" for x in r["runs_over_floor_ns"])
            row = (f"| {p['flows']:,} | {p['conn_table']:,} | {p['floor_ns']:.1f} | "
                   f"{p['hit_ns']:.1f} | +{p['hit_over_floor_ns']:.1f} ({spread}) |")
            if lines:
                ln = lines.get(r["conn_table"])
                row += (f" +{ln['over_floor_ns']:.1f} (" +
                        ", ".join(f"+{x:.0f}" for x in ln["runs_over_floor_ns"]) + ") |"
                        if ln else " - |")
            print(row)
        run = {"dataplane": "dpdk", "sluice": commit, "mix": "hit", "queues": 1, "workers": 1,
               "in_flight": runs["scale"][0]["in_flight"],
               "conn_table_size": "flows / 0.9",
               "measure": "dpdk_bench: thread CPU ns per packet, Worker::burst over "
                          "rx->generate->tx on net_ring, minus that loop without the worker",
               "points": pts}
        json.dump(run, open(prefix + "-scale.json", "w"), indent=1)


if __name__ == "__main__":
    main()
