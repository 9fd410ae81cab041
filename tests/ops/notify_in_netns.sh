#!/usr/bin/env bash
# SPDX-License-Identifier: Apache-2.0
# Run by tests/ops/run inside `unshare --net` (a private network namespace:
# its own lo and a veth pair, nothing reaches the host's interfaces).
# Starts the installed sluiced the way sluiced.service does — Type=notify,
# under the unit's capability bounding set and no-new-privileges — and
# follows it through READY=1, a scrape, the API, SIGHUP and SIGTERM
# (STOPPING=1).
# Usage: notify_in_netns.sh PREFIX_ROOT WORKDIR CAPS   (CAPS: setpriv list)
set -euo pipefail
P=$1 W=$2 CAPS=$3
here=$(cd "$(dirname "$0")" && pwd)
say() { echo "notify: $*"; }
fail() { echo "notify: FAILED: $*"; cat "$W/sluiced.log" 2>/dev/null | tail -20; exit 1; }

ip link set lo up
ip link add ops0 type veth peer name ops1
ip addr add 192.0.2.1/24 dev ops0
ip link set ops0 up
ip link set ops1 up
# dsr takes the backend's MAC from the neighbour table: give it one.
ip neigh replace 192.0.2.11 lladdr 02:00:00:00:00:0b dev ops0 nud permanent

cat > "$W/run.yaml" <<YAML
interface: ops0
xdp_mode: generic
api_socket: $W/api.sock
metrics_listen: 127.0.0.1:9477
conn_table_size: 65536
vips:
  - { address: 192.0.2.100, port: 80, protocol: tcp, mode: dsr,
      backends: [ { address: 192.0.2.11 } ] }
YAML

# sluiced pins under a path named by this namespace's inode, which a later
# namespace may get again: leave nothing there, before or after.
pins=/sys/fs/bpf/sluice/$(stat -L -c %i /proc/self/ns/net)-ops0
rm -rf "$pins"
: >"$W/notify.log"
/usr/bin/python3 "$here/notify_listen.py" "$W/notify.sock" "$W/notify.log" &
listener=$!
trap 'kill $listener 2>/dev/null || true; [ -n "${pid:-}" ] && kill -9 $pid 2>/dev/null || true; rm -rf "$pins"' EXIT
for _ in $(seq 50); do grep -q listening "$W/notify.log" 2>/dev/null && break; sleep 0.1; done

NOTIFY_SOCKET=$W/notify.sock setpriv --bounding-set "$CAPS" --no-new-privs -- \
  "$P/sbin/sluiced" --config "$W/run.yaml" --detach-on-exit >"$W/sluiced.log" 2>&1 &
pid=$!
for _ in $(seq 300); do
  grep -q '^READY=1' "$W/notify.log" && break
  kill -0 $pid 2>/dev/null || fail "sluiced exited before READY=1"
  sleep 0.1
done
grep -q '^READY=1' "$W/notify.log" || fail "no READY=1 within 30 s"
grep -q 'STATUS=serving 1 VIPs on ops0' "$W/notify.log" || fail "READY=1 without the serving STATUS"
# Ready means programmed: the program is attached and the VIP is on the interface.
grep -q 'prog/xdp' <<<"$(ip -d link show ops0)" || fail "READY=1 but no XDP program on ops0"
grep -q '192.0.2.100' <<<"$(ip addr show ops0)" || fail "READY=1 but the VIP is not on ops0"
say "READY=1 after start, program attached, VIP added: $(grep '^READY' "$W/notify.log" | head -1)"

"$P/bin/sluicectl" --socket "$W/api.sock" status >/dev/null || fail "sluicectl status"
curl -fsS --max-time 5 http://127.0.0.1:9477/metrics >"$W/metrics.txt" || fail "scrape"
say "API and metrics answer ($(grep -c '^# TYPE sluice_' "$W/metrics.txt") sluice metrics)"

reloads() {
  curl -fsS --max-time 5 http://127.0.0.1:9477/metrics >"$W/metrics.now" || return 1
  sed -n 's/^sluice_config_reloads_total //p' "$W/metrics.now"
}
[ "$(reloads)" = 0 ] || fail "sluice_config_reloads_total is not 0 before SIGHUP"
kill -HUP $pid
for _ in $(seq 50); do
  [ "$(reloads)" = 1 ] && break
  sleep 0.1
done
kill -0 $pid || fail "sluiced died on SIGHUP"
[ "$(reloads)" = 1 ] || fail "SIGHUP did not reload"
say "SIGHUP reloaded"

kill -TERM $pid
rc=0; wait $pid || rc=$?
pid=
[ $rc -eq 0 ] || fail "sluiced exited $rc on SIGTERM"
[ ! -e "$pins" ] || fail "--detach-on-exit left $pins"
for _ in $(seq 20); do grep -q '^STOPPING=1' "$W/notify.log" && break; sleep 0.1; done
grep -q '^STOPPING=1' "$W/notify.log" || fail "no STOPPING=1 on SIGTERM"
say "SIGTERM: exit 0; notifications: $(tr '\n' ' ' < "$W/notify.log")"

# The bounding set is really in force: without CAP_NET_ADMIN the same start
# fails (it cannot attach), and says why.
rc=0
setpriv --bounding-set "${CAPS/,+net_admin/}" --no-new-privs -- \
  timeout 30 "$P/sbin/sluiced" --config "$W/run.yaml" --detach-on-exit >"$W/sluiced-nocap.log" 2>&1 ||
  rc=$?
[ $rc -ne 0 ] && [ $rc -ne 124 ] || fail "sluiced without CAP_NET_ADMIN: exit $rc, want a failure"
say "without CAP_NET_ADMIN: exit $rc: $(tail -1 "$W/sluiced-nocap.log")"
