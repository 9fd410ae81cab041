// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_edit.h"

#include <algorithm>

namespace sluice {

namespace {

bool same_service(const VipConfig& v, const ServiceKey& key) {
  return v.address == key.address && v.port == key.port && v.protocol == key.protocol;
}

Result<VipConfig*> vip_of(Config& cfg, const ApiRequest& req) {
  VipConfig* v = find_vip(cfg, *req.service);
  if (!v) return make_error("unknown service " + req.service->str());
  return v;
}

Result<BackendConfig*> backend_of(Config& cfg, const ApiRequest& req) {
  auto v = vip_of(cfg, req);
  if (!v) return v.error();
  for (auto& be : (*v)->backends)
    if (be.address == *req.address) return &be;
  return make_error("unknown backend " + req.address->str() + " of " + req.service->str());
}

Result<void> vip_add(Config& cfg, const ApiRequest& req) {
  if (find_vip(cfg, *req.service)) return make_error(req.service->str() + ": VIP already exists");
  VipConfig v;
  v.address = req.service->address;
  v.port = req.service->port;
  v.protocol = req.service->protocol;
  v.mode = req.mode;
  cfg.vips.push_back(std::move(v));
  return {};
}

Result<void> vip_del(Config& cfg, const ApiRequest& req) {
  auto v = vip_of(cfg, req);
  if (!v) return v.error();
  cfg.vips.erase(cfg.vips.begin() + (*v - cfg.vips.data()));
  return {};
}

Result<void> backend_add(Config& cfg, const ApiRequest& req) {
  auto v = vip_of(cfg, req);
  if (!v) return v.error();
  for (const auto& be : (*v)->backends)
    if (be.address == *req.address)
      return make_error(req.address->str() + ": already a backend of " + req.service->str());
  BackendConfig be;
  be.address = *req.address;
  be.weight = req.weight.value_or(1);
  be.backup = req.backup;
  (*v)->backends.push_back(be);
  return {};
}

Result<void> backend_del(Config& cfg, const ApiRequest& req) {
  auto v = vip_of(cfg, req);
  if (!v) return v.error();
  auto& bes = (*v)->backends;
  auto it = std::find_if(bes.begin(), bes.end(),
                         [&](const BackendConfig& be) { return be.address == *req.address; });
  if (it == bes.end())
    return make_error("unknown backend " + req.address->str() + " of " + req.service->str());
  bes.erase(it);
  return {};
}

Result<void> backend_change(Config& cfg, const ApiRequest& req) {
  auto be = backend_of(cfg, req);
  if (!be) return be.error();
  if (req.cmd == ApiCommand::backend_set) (*be)->weight = *req.weight;
  if (req.cmd == ApiCommand::backend_drain) (*be)->drained = true;
  if (req.cmd == ApiCommand::backend_undrain) (*be)->drained = false;
  return {};
}

// The ACL a request names: the VIP's (`vip`), else the global one; made
// when missing, so an add has somewhere to go.
struct AclScope {
  std::optional<AclConfig>* acl;
  std::string name;
  uint8_t family;  // 0: either
};

Result<AclScope> acl_scope_of(Config& cfg, const ApiRequest& req) {
  if (!req.service) return AclScope{&cfg.acl, "global", 0};
  auto v = vip_of(cfg, req);
  if (!v) return v.error();
  return AclScope{&(*v)->acl, (*v)->name(), (*v)->address.family};
}

const char* action_name(sl_acl_action a) { return a == SL_ACL_ALLOW ? "allow" : "deny"; }

// The checks config_parse would make too, with the request's words.
Result<void> acl_add(Config& cfg, const ApiRequest& req) {
  auto scope = acl_scope_of(cfg, req);
  if (!scope) return scope.error();
  const Cidr& c = *req.cidr;
  if (scope->family != 0 && c.addr.family != scope->family)
    return make_error(c.str() + ": not in the address family of " + scope->name);
  if (!acl_host_bits_zero(c))
    return make_error(c.str() + ": host bits set past the prefix length");
  std::optional<AclConfig>& acl = *scope->acl;
  if (acl) {
    for (auto* list : {&acl->allow, &acl->deny})
      if (std::find(list->begin(), list->end(), c) != list->end())
        return make_error(c.str() + ": already in the " +
                          (list == &acl->allow ? "allow" : "deny") + " list of " + scope->name);
  }
  if (acl_prefix_count(cfg) >= kAclMaxRules)
    return make_error("acl: at most " + std::to_string(kAclMaxRules) +
                      " prefixes in all scopes together");
  if (!acl) acl.emplace();
  (req.action == SL_ACL_ALLOW ? acl->allow : acl->deny).push_back(c);
  return {};
}

Result<void> acl_del(Config& cfg, const ApiRequest& req) {
  auto scope = acl_scope_of(cfg, req);
  if (!scope) return scope.error();
  std::optional<AclConfig>& acl = *scope->acl;
  const Cidr& c = *req.cidr;
  std::vector<Cidr>* list = nullptr;
  if (acl) list = req.action == SL_ACL_ALLOW ? &acl->allow : &acl->deny;
  auto it = list ? std::find(list->begin(), list->end(), c) : std::vector<Cidr>::iterator{};
  if (!list || it == list->end())
    return make_error(c.str() + ": not in the " + action_name(req.action) + " list of " +
                      scope->name);
  list->erase(it);
  // The last prefix gone: no block left behind in the file.
  if (acl->empty()) acl.reset();
  return {};
}

}  // namespace

VipConfig* find_vip(Config& cfg, const ServiceKey& key) {
  for (auto& v : cfg.vips)
    if (same_service(v, key)) return &v;
  return nullptr;
}

const VipConfig* find_vip(const Config& cfg, const ServiceKey& key) {
  return find_vip(const_cast<Config&>(cfg), key);
}

Result<void> config_edit(Config& cfg, const ApiRequest& req) {
  switch (req.cmd) {
    case ApiCommand::vip_add: return vip_add(cfg, req);
    case ApiCommand::vip_del: return vip_del(cfg, req);
    case ApiCommand::backend_add: return backend_add(cfg, req);
    case ApiCommand::backend_del: return backend_del(cfg, req);
    case ApiCommand::backend_set:
    case ApiCommand::backend_drain:
    case ApiCommand::backend_undrain: return backend_change(cfg, req);
    case ApiCommand::acl_add: return acl_add(cfg, req);
    case ApiCommand::acl_del: return acl_del(cfg, req);
    default: return make_error(std::string(api_command_name(req.cmd)) + ": not a change");
  }
}

std::vector<VipConfig> dataplane_vips(const Config& cfg) {
  std::vector<VipConfig> out = cfg.vips;
  for (auto& v : out) {
    for (auto& be : v.backends)
      if (be.drained) be.weight = 0;
    if (!v.syn_flood_protection) v.syn_flood_protection = cfg.syn_flood_protection;
  }
  return out;
}

}  // namespace sluice
