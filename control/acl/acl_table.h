// SPDX-License-Identifier: Apache-2.0
// AclTable turns the configured ACLs (the global block and each VIP's)
// into the dataplane's rules (core/acl.h): one rule per prefix in its
// scope, a default deny (/0) per family for a scope with an allow list,
// and a rule id per rule, kept while the rule stays (so are its hits) and
// taken over from the dataplane after a restart.
//
// Order (the daemon's apply): stage() before the service table programs
// the VIPs' flags, so a VIP whose ACL flag turns on finds its rules there;
// commit() after, which adds the rules of VIPs that just got their id and
// removes what the config no longer has (once no flag points at it). A
// VIP added with an ACL in the same change is unfiltered until commit(),
// microseconds later.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "control/daemon/backend_slots.h"
#include "control/daemon/service_table.h"
#include "dataplane/dataplane.h"

namespace sluice {

// A VIP's id, as the service table holds it (nullopt: not yet).
struct AclVip {
  const VipConfig* cfg = nullptr;
  std::optional<uint32_t> vip_id;
};

struct AclRuleView {
  std::string scope;  // "global" or the service name
  Cidr cidr;
  sl_acl_action action = SL_ACL_DENY;
  bool default_deny = false;  // added for an allow list, not configured
  uint32_t rule_id = 0;
};

// The VIPs of `vips` with the ids the service table gave them so far.
std::vector<AclVip> acl_vips(const std::vector<VipConfig>& vips, const std::vector<VipState>& held);

class AclTable {
 public:
  explicit AclTable(Dataplane& dp) : dp_(dp) {}

  Result<void> stage(const std::optional<AclConfig>& global, const std::vector<AclVip>& vips);
  Result<void> commit(const std::optional<AclConfig>& global, const std::vector<AclVip>& vips);

  // The flags (SL_VIP_F_ACL*) a VIP gets under `global`.
  static uint8_t vip_flags(const std::optional<AclConfig>& global, const VipConfig& vip);

  // What is programmed, for `acl list` and the metrics (sorted by scope,
  // then prefix).
  std::vector<AclRuleView> rules() const;

 private:
  struct Want {
    AclEntry entry;
    std::string scope_name;
    bool default_deny = false;
  };
  struct Key {
    uint32_t scope;
    uint8_t family, prefix_len;
    std::array<uint32_t, 4> addr;
    auto operator<=>(const Key&) const = default;
  };
  static Key key_of(const AclEntry& e) { return {e.scope, e.family, e.prefix_len, e.addr}; }
  std::map<Key, Want> wanted(const std::optional<AclConfig>& global,
                             const std::vector<AclVip>& vips) const;
  Result<void> adopt();
  Result<void> put_wanted(const std::map<Key, Want>& want);

  Dataplane& dp_;
  IndexPool ids_{SL_ACL_MAX_RULES};
  std::map<Key, Want> held_;  // programmed, with its rule id
  bool adopted_ = false;
};

}  // namespace sluice
