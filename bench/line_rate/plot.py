#!/usr/bin/python3
# SPDX-License-Identifier: Apache-2.0
"""Plots bench/linerate's JSON: forwarded against offered Mpps per mix and
queue count, and ns per hit / forwarded Mpps against live flows. Scale runs
of other dataplanes (a run whose "dataplane" is not "xdp", e.g. one that
bench/dpdk writes in the same shape) are drawn as further series.
usage: plot.py LINERATE_JSON OUT_PREFIX [MORE_SCALE_JSON ...]"""
import json
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def main():
    data = json.load(open(sys.argv[1]))
    prefix = sys.argv[2]
    runs = data["runs"]
    for extra in sys.argv[3:]:
        runs.append(json.load(open(extra)))
    title = f"sluice, {data['kernel']}, {data['cpus']} CPUs, {data['sluice']}"

    fig, ax = plt.subplots(figsize=(7, 5))
    top = 0
    for r in runs:
        if not r.get("points") or "flows" in r["points"][0]:
            continue  # a scale run
        pts = sorted(r["points"], key=lambda p: p["offered_mpps"])
        xs = [p["offered_mpps"] for p in pts]
        ys = [p["forwarded_mpps"] for p in pts]
        top = max(top, max(xs))
        ax.plot(xs, ys, marker="o",
                label=f"{r['dataplane']} {r['mix']} mix, {r['queues']} queue(s)")
    ax.plot([0.01, top], [0.01, top], ls=":", color="grey", label="no loss")
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("offered Mpps (64-byte frames)")
    ax.set_ylabel("forwarded Mpps (reached the backends)")
    ax.set_title("Forwarded against offered rate\n" + title, fontsize=9)
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(prefix + "-rate.png", dpi=110)

    scale = [r for r in runs if r.get("points") and "flows" in r["points"][0]]
    if scale:
        fig, ax1 = plt.subplots(figsize=(7, 5))
        ax2 = ax1.twinx()
        for r in scale:
            dp = r.get("dataplane", "?")
            fl = [p["flows"] for p in r["points"]]
            how = ("BPF_PROG_TEST_RUN" if dp == "xdp" else
                   f"{r.get('workers', 1)} worker, thread CPU time")
            ax1.plot(fl, [p["hit_over_floor_ns"] for p in r["points"]], marker="o",
                     label=f"{dp}: ns per hit over the floor ({how}), "
                           f"conn table {r.get('conn_table_size')}"
                           + (f", {r['sluice']}" if "sluice" in r else ""))
            if "forwarded_mpps" in r["points"][0]:
                ax2.plot(fl, [p["forwarded_mpps"] for p in r["points"]], marker="s", ls="--",
                         label=f"{dp}: forwarded Mpps, hit mix, 1 queue")
        ax1.set_xscale("log")
        ax1.set_xlabel("live flows")
        ax1.set_ylabel("ns per packet over the floor")
        ax2.set_ylabel("forwarded Mpps")
        # Dataplanes timed differently can be 10x apart: a log axis keeps
        # both readable.
        ys = [p["hit_over_floor_ns"] for r in scale for p in r["points"]]
        if len(scale) > 1 and min(ys) > 0 and max(ys) / min(ys) > 10:
            ax1.set_yscale("log")
        else:
            ax1.set_ylim(bottom=0)
        ax2.set_ylim(bottom=0)
        h1, l1 = ax1.get_legend_handles_labels()
        h2, l2 = ax2.get_legend_handles_labels()
        ax1.legend(h1 + h2, l1 + l2, fontsize=7, loc="upper left")
        ax1.set_title("Cost against live flows\n" + title, fontsize=9)
        ax1.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(prefix + "-scale.png", dpi=110)

if __name__ == "__main__":
    main()
