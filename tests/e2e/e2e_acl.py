# SPDX-License-Identifier: Apache-2.0
"""Issue 9 item 1 in the lab: firewall rules changed at run time.

  acl_runtime_deny  sluiced on lb1 (dsr, VIP:80 HTTP and VIP:7000 line echo
                    on be1..be3). 5 long-lived connections to VIP:7000 and
                    a stream of fresh HTTP connections to VIP:80, both from
                    the client. `sluicectl acl add deny <client>/32`: every
                    connection the stream starts after the reply fails, and
                    the long-lived ones stop too (every packet is checked,
                    established flows included); the rule is in the config
                    file. The rule's hits in `sluicectl acl list` rise, and
                    /metrics shows them under sluice_acl_hits_total. Then
                    `sluicectl acl del deny <client>/32`: every connection
                    started after that reply completes, and the rule is gone
                    from the list, the file and the metrics.

Bounded: every helper has a deadline; nothing outlives the test.
"""
import json
import time

import yaml

E = None  # the e2e module
R = None  # e2e_runtime (RCase, LongConns, Stream, ctl, parse_prometheus, metric)

LONG_CONNS = 5


def client_addr():
    """The client's own IPv4 address on eth0 (the first of 198.18.0.0/24)."""
    out = json.loads(E.sh(["ip", "-n", "client", "-j", "-4", "addr", "show", "dev", "eth0"],
                          timeout=10).stdout)
    for a in out[0]["addr_info"]:
        if a["local"].startswith("198.18.0."):
            return a["local"]
    raise AssertionError(f"client has no 198.18.0.0/24 address: {out}")


def acl_rules():
    return json.loads(E.sluicectl("acl", "list", "-o", "json").stdout)["rules"]


def rule_of(rules, cidr):
    got = [r for r in rules if r["scope"] == "global" and r["cidr"] == cidr]
    return got[0] if got else None


def scrape():
    p = E.sh(E.in_ns("lb1", ["curl", "-s", "--max-time", "5", "http://127.0.0.1:9477/metrics"]),
             timeout=10)
    return R.parse_prometheus(p.stdout)


def file_deny(path):
    with open(path) as f:
        d = yaml.safe_load(f)
    return [str(c) for c in ((d.get("acl") or {}).get("deny") or [])]


def t_acl_runtime_deny():
    case = R.RCase("acl_runtime", [
        {"port": 80, "backends": {"be1": 1, "be2": 1, "be3": 1}},
        {"port": R.ECHO_PORT, "backends": {"be1": 1, "be2": 1, "be3": 1}},
    ])
    problems, longc, stream = [], None, None
    cidr = None
    try:
        case.setup()
        cidr = f"{client_addr()}/32"
        longc = R.LongConns(LONG_CONNS, period=0.1, timeout=1.0, duration=50)
        stream = R.Stream(port=80, interval=0.05, deadline=45)
        warm = stream.after(time.monotonic(), 5)
        if any(e[2].startswith("!") for e in warm):
            problems.append(f"before any rule, connections failed: {warm}")

        t_add, out = R.ctl("acl", "add", "deny", cidr)
        if "done" not in out:
            problems.append(f"acl add: {out!r}")
        if cidr not in file_deny(case.config):
            problems.append(f"acl add: {cidr} not in the config file's acl.deny: "
                            f"{file_deny(case.config)}")
        r0 = rule_of(acl_rules(), cidr)
        if r0 is None:
            raise AssertionError(f"acl list has no global deny {cidr}: {acl_rules()}")
        denied = stream.after(t_add, 3)
        ok = [e for e in denied if not e[2].startswith("!")]
        if ok:
            problems.append(f"{len(ok)} of 3 connections started after `acl add deny {cidr}` "
                            f"completed: {denied}")
        time.sleep(1.5)  # the long-lived connections' exchanges time out (1 s)
        res = longc.finish()
        longc = None
        if res["failed"] != LONG_CONNS:
            problems.append(f"only {res['failed']} of {LONG_CONNS} established connections "
                            f"stopped under the deny: {R.short(res)}")
        r1 = rule_of(acl_rules(), cidr)
        if r1 is None or r1["hits"] <= r0["hits"]:
            problems.append(f"the rule's hits did not rise: {r0} -> {r1}")
        elif r1["rule_id"] != r0["rule_id"]:
            problems.append(f"the rule's id changed while it stayed: {r0} -> {r1}")
        fams = scrape()
        m = R.metric(fams, "sluice_acl_hits_total", scope="global", action="deny", cidr=cidr)
        if m is None:
            problems.append("metrics: no sluice_acl_hits_total for the rule; "
                            f"{fams.get('sluice_acl_hits_total')}")
        elif r1 is not None and m < r1["hits"]:
            problems.append(f"metrics: sluice_acl_hits_total = {m:.0f}, below acl list's "
                            f"{r1['hits']} read before it")

        t_del, out = R.ctl("acl", "del", "deny", cidr)
        if "done" not in out:
            problems.append(f"acl del: {out!r}")
        allowed = stream.after(t_del, 5)
        bad = [e for e in allowed if e[2].startswith("!")]
        if bad:
            problems.append(f"{len(bad)} of 5 connections started after `acl del deny {cidr}` "
                            f"failed: {allowed}")
        if rule_of(acl_rules(), cidr) is not None:
            problems.append(f"acl del: the rule is still listed: {acl_rules()}")
        if cidr in file_deny(case.config):
            problems.append("acl del: the prefix is still in the config file")
        m = R.metric(scrape(), "sluice_acl_hits_total", scope="global", action="deny", cidr=cidr)
        if m is not None:
            problems.append(f"metrics: the deleted rule is still exported ({m:.0f})")
        # A refusal is one clear line and a non-zero exit.
        p = E.sluicectl("acl", "add", "deny", "198.18.0.5/24", check=False)
        if p.returncode == 0 or "host bits set" not in p.stderr:
            problems.append(f"acl add 198.18.0.5/24: rc {p.returncode}, {p.stderr.strip()!r}")
        if problems:
            problems.append(case.log_tail())
    finally:
        if stream is not None:
            stream.stop()
        if longc is not None:
            longc.kill()
        problems += case.teardown()
    if problems:
        raise AssertionError("\n".join(problems))


def register(mod, runtime):
    global E, R
    E = mod
    R = runtime
    E.TESTS += [("acl_runtime_deny", t_acl_runtime_deny, True)]
