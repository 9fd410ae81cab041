// SPDX-License-Identifier: Apache-2.0
#include "control/metrics/metrics.h"

#include <utility>

#include "control/daemon/service_table.h"
#include "control/sluice_version.h"

namespace sluice {

MetricsSnapshot metrics_snapshot_of(const ServiceTable& table) {
  MetricsSnapshot snap;
  for (const auto& v : table.vips()) {
    MetricsVip mv{v.cfg.name(), v.vip_id, {}};
    for (const auto& be : v.backends) {
      mv.backends.push_back(MetricsBackend{be.cfg.address.str(), be.index, be.cfg.weight,
                                           be.health.healthy(), be.health.transitions});
    }
    snap.vips.push_back(std::move(mv));
  }
  return snap;
}

std::vector<MetricsAclRule> metrics_acl_of(const std::vector<AclRuleView>& rules) {
  std::vector<MetricsAclRule> out;
  out.reserve(rules.size());
  for (const auto& r : rules)
    out.push_back({r.scope, r.action == SL_ACL_ALLOW ? "allow" : "deny", r.cidr.str(), r.rule_id});
  return out;
}

void MetricsRegistry::publish(MetricsSnapshot snap) {
  auto next = std::make_shared<const MetricsSnapshot>(std::move(snap));
  std::lock_guard<std::mutex> lock(mu_);
  snap_ = std::move(next);
}

std::shared_ptr<const MetricsSnapshot> MetricsRegistry::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return snap_;
}

ControlCountValues control_count_values(const ControlCounters& c) {
  return ControlCountValues{c.config_reloads.load(), c.config_reload_failures.load(),
                            c.api_changes.load(), c.health_transitions.load()};
}

LoopValues loop_values(const LoopStats& s) {
  LoopValues v;
  for (size_t i = 0; i < v.le.size(); ++i) v.le[i] = s.le[i].load();
  v.turns = s.turns.load();
  v.busy_us_total = s.busy_us_total.load();
  v.longest_us = s.longest_us.load();
  return v;
}

SurfaceValues surface_values(const std::string& surface, const ClientStats& s) {
  return SurfaceValues{surface,         s.accepted.load(),  s.answered.load(), s.evicted.load(),
                       s.timed_out.load(), s.too_large.load(), s.active.load()};
}

BuildInfo build_info(const std::string& dataplane) {
  return BuildInfo{SLUICE_VERSION, SLUICE_GIT_DESCRIBE, dataplane};
}

MetricsCounters metrics_collect(const MetricsSnapshot& snap, Dataplane& dp,
                                const ControlCounters& control) {
  MetricsCounters out;
  for (const auto& v : snap.vips) {
    auto c = dp.vip_counters(v.vip_id);
    out.vips.push_back(c ? *c : sl_counters{});
    std::vector<sl_counters> bes;
    for (const auto& be : v.backends) {
      auto bc = dp.backend_counters(be.index);
      bes.push_back(bc ? *bc : sl_counters{});
    }
    out.backends.push_back(std::move(bes));
  }
  if (auto r = dp.reason_counters(); r) out.reasons = *r;
  // One read of every rule's hits (the dataplane sums the CPUs).
  if (snap.acl && !snap.acl->empty())
    if (auto hits = dp.acl_hits(); hits) {
      out.acl_hits.reserve(snap.acl->size());
      for (const auto& rule : *snap.acl)
        out.acl_hits.push_back(rule.rule_id < hits->size() ? (*hits)[rule.rule_id] : 0);
    }
  out.control = control_count_values(control);
  out.loop = loop_values(control.loop);
  return out;
}

ConnCountCache::ConnCountCache(Counter count, std::chrono::milliseconds max_age)
    : count_(std::move(count)), max_age_(max_age) {}

std::optional<uint64_t> ConnCountCache::get(std::chrono::steady_clock::time_point now) {
  std::lock_guard<std::mutex> lock(mu_);
  if (value_ && now - at_ < max_age_) return value_;
  auto r = count_();
  // A failed count keeps no stale value: the sample is left out instead.
  value_ = r ? std::optional<uint64_t>(*r) : std::nullopt;
  at_ = now;
  return value_;
}

}  // namespace sluice
