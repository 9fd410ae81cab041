// SPDX-License-Identifier: Apache-2.0
#include "control/acl/acl_table.h"

#include <spdlog/spdlog.h>

#include <cstring>

namespace sluice {
namespace {

AclEntry entry_of(uint32_t scope, const Cidr& c, sl_acl_action action) {
  AclEntry e;
  e.scope = scope;
  e.family = c.addr.family;
  e.prefix_len = c.prefix;
  c.addr.to_abi(e.addr.data());
  e.rule.action = static_cast<uint8_t>(action);
  return e;
}

Cidr cidr_of(const AclEntry& e) {
  Cidr c;
  c.addr.family = e.family;
  std::memcpy(c.addr.bytes.data(), e.addr.data(), e.family == SL_AF_INET ? 4 : 16);
  c.prefix = e.prefix_len;
  return c;
}

}  // namespace

std::vector<AclVip> acl_vips(const std::vector<VipConfig>& vips, const std::vector<VipState>& held) {
  std::vector<AclVip> out;
  for (const auto& v : vips) {
    AclVip a{&v, std::nullopt};
    for (const auto& h : held)
      if (h.cfg.address == v.address && h.cfg.port == v.port && h.cfg.protocol == v.protocol)
        a.vip_id = h.vip_id;
    out.push_back(a);
  }
  return out;
}

uint8_t AclTable::vip_flags(const std::optional<AclConfig>& global, const VipConfig& vip) {
  uint8_t f = 0;
  if (vip.acl && !vip.acl->empty()) f |= SL_VIP_F_ACL;
  if (global && !global->empty()) f |= SL_VIP_F_ACL_GLOBAL;
  return f;
}

std::map<AclTable::Key, AclTable::Want> AclTable::wanted(const std::optional<AclConfig>& global,
                                                         const std::vector<AclVip>& vips) const {
  std::map<Key, Want> out;
  auto add_scope = [&](uint32_t scope, const std::string& name, const AclConfig& acl,
                       std::initializer_list<uint8_t> families) {
    for (const auto& c : acl.allow) {
      Want w{entry_of(scope, c, SL_ACL_ALLOW), name, false};
      out[key_of(w.entry)] = w;
    }
    for (const auto& c : acl.deny) {
      Want w{entry_of(scope, c, SL_ACL_DENY), name, false};
      out[key_of(w.entry)] = w;
    }
    if (acl.allow.empty()) return;
    // An allow list admits only its sources: a /0 deny under every rule,
    // unless the config has its own /0 for that family.
    for (uint8_t fam : families) {
      Cidr any;
      any.addr.family = fam;
      Want w{entry_of(scope, any, SL_ACL_DENY), name, true};
      out.emplace(key_of(w.entry), w);
    }
  };
  if (global) add_scope(SL_ACL_SCOPE_GLOBAL, "global", *global, {SL_AF_INET, SL_AF_INET6});
  for (const auto& v : vips)
    if (v.cfg && v.cfg->acl && v.vip_id)
      add_scope(sl_acl_scope_of_vip(*v.vip_id), v.cfg->name(), *v.cfg->acl,
                {v.cfg->address.family});
  return out;
}

// A restarted controller keeps the rules (and their ids, and hits) that
// the dataplane holds; what the config no longer wants goes at commit().
Result<void> AclTable::adopt() {
  if (adopted_) return {};
  auto listed = dp_.acl_list();
  if (!listed) return listed.error();
  for (const auto& e : *listed) {
    if (e.rule.rule_id >= SL_ACL_MAX_RULES || ids_.in_use(e.rule.rule_id)) {
      if (auto r = dp_.acl_del(e); !r) return r;
      continue;
    }
    ids_.adopt(e.rule.rule_id, 0);
    held_[key_of(e)] = Want{e, "", false};
  }
  adopted_ = true;
  return {};
}

Result<void> AclTable::put_wanted(const std::map<Key, Want>& want) {
  for (const auto& [k, w] : want) {
    auto it = held_.find(k);
    if (it != held_.end() && it->second.entry.rule.action == w.entry.rule.action) {
      uint32_t id = it->second.entry.rule.rule_id;
      it->second = w;
      it->second.entry.rule.rule_id = id;
      continue;
    }
    auto id = ids_.allocate();
    if (!id) return make_error("acl: out of rule ids", ENOSPC, w.scope_name);
    Want put = w;
    put.entry.rule.rule_id = *id;
    if (auto r = dp_.acl_hits_reset(*id); !r) {
      ids_.release(*id);
      return r;
    }
    // One update replaces a rule whose action changed: no gap between.
    if (auto r = dp_.acl_put(put.entry); !r) {
      ids_.release(*id);
      return r;
    }
    if (it != held_.end()) ids_.release(it->second.entry.rule.rule_id);
    held_[k] = put;
  }
  return {};
}

Result<void> AclTable::stage(const std::optional<AclConfig>& global,
                             const std::vector<AclVip>& vips) {
  if (auto r = adopt(); !r) return r;
  return put_wanted(wanted(global, vips));
}

Result<void> AclTable::commit(const std::optional<AclConfig>& global,
                              const std::vector<AclVip>& vips) {
  if (auto r = adopt(); !r) return r;
  auto want = wanted(global, vips);
  if (auto r = put_wanted(want); !r) return r;
  for (auto it = held_.begin(); it != held_.end();) {
    if (want.contains(it->first)) {
      ++it;
      continue;
    }
    if (auto r = dp_.acl_del(it->second.entry); !r) return r;
    ids_.release(it->second.entry.rule.rule_id);
    it = held_.erase(it);
  }
  return {};
}

std::vector<AclRuleView> AclTable::rules() const {
  std::vector<AclRuleView> out;
  for (const auto& [k, w] : held_)
    out.push_back({w.scope_name, cidr_of(w.entry), static_cast<sl_acl_action>(w.entry.rule.action),
                   w.default_deny, w.entry.rule.rule_id});
  return out;
}

}  // namespace sluice
