// SPDX-License-Identifier: Apache-2.0
// Prometheus metrics (text exposition format 0.0.4). The main loop owns the
// service state and is single-threaded; the metrics thread never touches
// it. Instead the main loop publishes a MetricsSnapshot (names, ids, slots,
// health) after every change, and the metrics thread reads counters from
// the dataplane itself (BPF map reads are syscalls, safe from any thread).
// Rendering is a pure function of snapshot + counters, for the tests.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "control/acl/acl_table.h"
#include "control/api/client_conns.h"
#include "control/daemon/control_counters.h"
#include "dataplane/dataplane.h"
#include "control/vrrp/vrrp_report.h"
#include "core/verdict.h"

namespace sluice {

class ServiceTable;

struct MetricsBackend {
  std::string address;  // "198.18.0.11", "2001:2::31"
  uint32_t index = 0;   // slot in the backend table (its counters' key)
  uint32_t weight = 0;
  bool up = true;  // healthy, or not health-checked
  uint64_t health_transitions = 0;  // UP <-> DOWN since sluiced started
};

struct MetricsVip {
  std::string name;  // "198.18.0.100:80/tcp"
  uint32_t vip_id = 0;
  std::vector<MetricsBackend> backends;
};

// One firewall rule (control/acl/acl_table.h): its labels and the id its
// hits are counted under. At most SL_ACL_MAX_RULES of them (the config
// caps the prefixes), so the label set stays bounded.
struct MetricsAclRule {
  std::string scope;   // "global" or the VIP's service name
  std::string action;  // "allow" | "deny"
  std::string cidr;    // "203.0.113.0/24"
  uint32_t rule_id = 0;
};
using MetricsAclRules = std::shared_ptr<const std::vector<MetricsAclRule>>;
std::vector<MetricsAclRule> metrics_acl_of(const std::vector<AclRuleView>& rules);

// What the metrics thread may know about the service state: copied, so it
// stays valid whatever the main loop does next.
struct MetricsSnapshot {
  std::vector<MetricsVip> vips;
  MetricsAclRules acl;  // shared between snapshots until the rules change; may be null
};

// The snapshot of what `table` serves now.
MetricsSnapshot metrics_snapshot_of(const ServiceTable& table);

// The latest snapshot, handed from the main loop to the metrics thread.
class MetricsRegistry {
 public:
  void publish(MetricsSnapshot snap);
  std::shared_ptr<const MetricsSnapshot> current() const;

 private:
  mutable std::mutex mu_;
  std::shared_ptr<const MetricsSnapshot> snap_ = std::make_shared<const MetricsSnapshot>();
};

struct ControlCountValues {
  uint64_t config_reloads = 0;
  uint64_t config_reload_failures = 0;
  uint64_t api_changes = 0;
  uint64_t health_transitions = 0;
};
ControlCountValues control_count_values(const ControlCounters& c);

// The main loop's turns (LoopStats), read at scrape time.
struct LoopValues {
  std::array<uint64_t, LoopStats::kBucketsUs.size()> le{};
  uint64_t turns = 0;
  uint64_t busy_us_total = 0;
  uint64_t longest_us = 0;
};
LoopValues loop_values(const LoopStats& s);

// One client surface (api, metrics): its connections (ClientStats).
struct SurfaceValues {
  std::string surface;
  uint64_t accepted = 0, answered = 0, evicted = 0, timed_out = 0, too_large = 0, open = 0;
};
SurfaceValues surface_values(const std::string& surface, const ClientStats& s);

// Counters gathered for one scrape, keyed like the snapshot.
struct MetricsCounters {
  std::vector<sl_counters> vips;                   // parallel to snapshot.vips
  std::vector<std::vector<sl_counters>> backends;  // parallel to each vip's backends
  std::array<sl_counters, SL_R_MAX> reasons{};
  std::optional<uint64_t> conn_entries;  // absent: could not be counted
  uint64_t conn_table_size = 0;
  ControlCountValues control;
  LoopValues loop;
  std::vector<SurfaceValues> surfaces;
  // The VRRP instance and connection sync; absent without a `vrrp:` block
  // (their families are then left out).
  std::optional<vrrp::VrrpReport> vrrp;
  std::vector<uint64_t> acl_hits;  // parallel to *snapshot.acl (empty: unread)
};

struct BuildInfo {
  std::string version;
  std::string git;
  std::string dataplane;
};
BuildInfo build_info(const std::string& dataplane);

// The whole exposition text, HELP and TYPE lines included.
std::string metrics_render(const MetricsSnapshot& snap, const MetricsCounters& counters,
                           const BuildInfo& build);

// A label value escaped per the text format: \ " and newline.
std::string metrics_escape_label(const std::string& value);

// Reads counters for `snap` from the dataplane. A counter that cannot be
// read (a slot retired since the snapshot) reads as zero: a scrape never
// fails for one slot.
MetricsCounters metrics_collect(const MetricsSnapshot& snap, Dataplane& dp,
                                const ControlCounters& control);

// Counting a large LRU table costs tens of milliseconds: the count is
// refreshed at most once per `max_age`, whatever the scrape rate.
class ConnCountCache {
 public:
  using Counter = std::function<Result<uint64_t>()>;
  ConnCountCache(Counter count, std::chrono::milliseconds max_age);
  std::optional<uint64_t> get(std::chrono::steady_clock::time_point now);

 private:
  Counter count_;
  std::chrono::milliseconds max_age_;
  std::mutex mu_;
  std::optional<uint64_t> value_;
  std::chrono::steady_clock::time_point at_{};
};

}  // namespace sluice
