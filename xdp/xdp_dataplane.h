// SPDX-License-Identifier: Apache-2.0
// The XDP dataplane: loads xdp/sluice.bpf.o through its libbpf skeleton,
// pins its maps under a directory unique per network namespace and
// interface, attaches it, and implements the controller's Dataplane.
#pragma once

#include <memory>
#include <string>

#include "dataplane/dataplane.h"
#include "core/host/result.h"
#include "xdp/xdp_attach.h"

namespace sluice {

struct XdpOptions {
  std::string ifname;                     // interface to attach to
  bool generic = false;                   // generic (skb) mode; native otherwise, no fallback
  bool attach = true;                     // false: load and fill maps only (tests, bench)
  bool pin = true;                        // false: nothing on bpffs (tests, bench)
  uint32_t conn_table_size = SL_CONN_TABLE_DEFAULT;
  // Nodes of the firewall's trie (core/abi.h; 128 bytes each, at most
  // SL_ACL_MAX_NODES). While a rule finds no room, IPv4 sources are judged
  // by the LPM trie (slower): until it is deleted, or put again with room,
  // or, for rules a start could not fit, the next start that fits them.
  uint32_t acl_trie_nodes = SL_ACL_DEFAULT_NODES;
  // The table of SYN-created (unconfirmed) records, apart from the
  // connection table so a SYN flood churns only it (core/pipeline.h).
  // 0: as large as the connection table.
  uint32_t syn_table_size = 0;
  std::string pin_root = "/sys/fs/bpf/sluice";
  // An XDP object file built from xdp/sluice.bpf.c (same map names and
  // layouts) instead of the embedded one: an upgrade, or a test of one.
  std::string bpf_object;
  // Size of the new-flow event ring (a power of two, at least a page);
  // 0: the program's own (4 MiB). Tests shrink it to fill it.
  uint32_t flow_events_bytes = 0;
};

class XdpDataplane final : public Dataplane {
 public:
  // Loads the program (reusing maps already pinned for this netns+interface,
  // so a restart keeps the connection table), pins and attaches as asked.
  // Attaching replaces sluice's own program on the interface atomically
  // (XDP_FLAGS_REPLACE): no packet meets an interface without a program.
  // Another tool's program is never replaced: open() fails naming it (see
  // xdp_detach_foreign for --force).
  // Before attaching it turns off the interface's rx VLAN stripping (and
  // logs it), so the program sees every tag (xdp/rx_vlan_offload.h).
  static Result<std::unique_ptr<XdpDataplane>> open(const XdpOptions& opts);
  ~XdpDataplane() override;  // never detaches: the program outlives the controller

  XdpDataplane(const XdpDataplane&) = delete;
  XdpDataplane& operator=(const XdpDataplane&) = delete;

  // kind "xdp", mode native/generic, location the pin directory.
  DataplaneInfo describe() const override;
  // Detach from the interface and remove the pins.
  Result<void> detach() override;

  // <pin_root>/<netns inode>-<ifname>
  const std::string& pin_dir() const;
  int ifindex() const;
  int prog_fd() const;   // for BPF_PROG_TEST_RUN in tests and benchmarks
  bool attached_generic() const;
  // The connection table's capacity (the pinned one's, when adopted).
  uint32_t conn_table_size() const override;
  // Entries in the connection table now, by batched lookups: about one
  // syscall per 8192 entries, so callers cache it (a 1M table takes tens
  // of milliseconds). Thread-safe: only reads through the map's fd.
  Result<uint64_t> conn_count() const override;
  // Empties the connection table (every flow is scheduled afresh); returns
  // how many entries it removed. Benchmarks use it to start from one state.
  Result<uint64_t> conns_flush();

  Result<void> global_set(const sl_global& g) override;
  Result<void> vip_put(const sl_vip_key& key, const sl_vip_meta& meta) override;
  Result<void> vip_del(const sl_vip_key& key) override;
  Result<void> backend_put(uint32_t index, const sl_backend& be) override;
  Result<void> ring_put(uint32_t ring_id, const sl_ring& ring) override;
  Result<std::optional<sl_vip_meta>> vip_get(const sl_vip_key& key) override;
  Result<std::vector<std::pair<sl_vip_key, sl_vip_meta>>> vip_list() override;
  Result<sl_backend> backend_get(uint32_t index) override;
  Result<sl_counters> vip_counters(uint32_t vip_id) override;
  Result<sl_counters> backend_counters(uint32_t index) override;
  Result<std::array<sl_counters, SL_R_MAX>> reason_counters() override;
  Result<void> counters_reset(CounterKind kind, uint32_t id) override;
  Result<std::vector<ConnEntry>> conns(size_t limit) override;
  Result<void> acl_put(const AclEntry& e) override;
  Result<void> acl_del(const AclEntry& e) override;
  Result<std::vector<AclEntry>> acl_list() override;
  Result<std::vector<uint64_t>> acl_hits() override;
  Result<void> acl_hits_reset(uint32_t rule_id) override;

  // VRRP / sync (control/dataplane.h). heartbeat and the event flag are
  // stores into the `control` map's shared mapping; the events come from
  // the `flow_events` ring buffer of the program this object loaded.
  Result<void> heartbeat(uint64_t timeout_ns) override;
  Result<void> flow_events_enable(bool on) override;
  Result<size_t> flow_events_take(std::vector<sl_flow_event>& out, size_t max) override;
  int flow_events_fd() const override;
  Result<uint64_t> flow_events_lost() override;
  Result<void> conn_put(const sl_flow_key& key, const sl_conn& conn) override;
  Result<void> conn_del(const sl_flow_key& key) override;
  Result<void> conns_put(const std::vector<ConnEntry>& entries) override;
  Result<std::vector<ConnEntry>> conns_page(ConnCursor& cursor, size_t max) override;
  // heartbeat() with an explicit stamp (tests: a stale one).
  Result<void> heartbeat_at(uint64_t stamp_ns, uint64_t timeout_ns);
  // What the fast path sees in `control` now (tests, sluicectl).
  sl_control control_get() const;
  // The program judges IPv4 sources by the firewall trie (it holds every
  // IPv4 rule, and they are enough to make it pay), not the LPM trie.
  bool acl_trie_in_use() const;
  // Nodes the trie links now (128 bytes each), and how many it has.
  uint32_t acl_trie_nodes_used() const;
  uint32_t acl_trie_nodes() const;

  struct Impl;

 private:
  explicit XdpDataplane(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// --force: detaches another tool's XDP program from `ifname` (either mode)
// so that open() may attach; sluice's own program stays. Returns what it
// detached, if anything. Not atomic: until open() attaches, the interface
// has no XDP program.
Result<std::optional<AttachedProg>> xdp_detach_foreign(const std::string& ifname);

// Pin directory for an interface in the caller's network namespace.
Result<std::string> xdp_pin_dir(const std::string& pin_root, const std::string& ifname);

// Backend side: the IPIP / IP6IP6 decapsulator (xdp/decap.bpf.c).
// Attach strips tunnels addressed to a local address and passes the inner
// packet to the kernel; detach removes it (and only it).
Result<void> decap_attach(const std::string& ifname, bool generic);
Result<void> decap_detach(const std::string& ifname);

}  // namespace sluice
