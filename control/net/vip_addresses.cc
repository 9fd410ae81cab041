// SPDX-License-Identifier: Apache-2.0
#include "control/net/vip_addresses.h"

#include <spdlog/spdlog.h>

namespace sluice {

Result<void> VipAddresses::sync(const std::vector<IpAddr>& addrs) {
  std::set<IpAddr> want(addrs.begin(), addrs.end());
  for (auto it = held_.begin(); it != held_.end();) {
    if (want.count(*it)) {
      ++it;
      continue;
    }
    if (auto r = nl_.address_del(ifindex_, *it); !r) return r;
    spdlog::info("removed VIP address {}", it->str());
    it = held_.erase(it);
  }
  for (const IpAddr& a : want) {
    if (held_.count(a)) continue;
    if (auto r = nl_.address_add(ifindex_, a, lifetime_); !r) return r;
    if (lifetime_)
      spdlog::info("added VIP address {}/{} (lifetime {} s, renewed)", a.str(), a.host_prefix(),
                   lifetime_->valid_s);
    else
      spdlog::info("added VIP address {}/{}", a.str(), a.host_prefix());
    held_.insert(a);
  }
  return {};
}

Result<void> VipAddresses::renew() {
  if (!lifetime_) return {};
  for (const IpAddr& a : held_)
    if (auto r = nl_.address_add(ifindex_, a, lifetime_); !r) return r;
  return {};
}

Result<void> VipAddresses::remove_each(const std::vector<IpAddr>& addrs) {
  for (const IpAddr& a : addrs) {
    if (auto r = nl_.address_del(ifindex_, a); !r) return r;
    if (held_.erase(a)) spdlog::info("removed VIP address {}", a.str());
  }
  return {};
}

}  // namespace sluice
