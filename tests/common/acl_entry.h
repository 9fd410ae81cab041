// SPDX-License-Identifier: Apache-2.0
// A firewall rule as tests write one: scope, CIDR text, action, rule id.
#pragma once

#include "dataplane/dataplane.h"
#include "tests/common/packet_builder.h"

namespace sluice::test {

inline AclEntry acl_entry(uint32_t scope, const char* addr, uint8_t len, sl_acl_action a,
                          uint32_t id) {
  AclEntry e;
  e.scope = scope;
  Addr x = Addr::parse(addr);
  e.family = x.v6 ? SL_AF_INET6 : SL_AF_INET;
  e.prefix_len = len;
  x.to_words(e.addr.data());
  e.rule.rule_id = id;
  e.rule.action = uint8_t(a);
  return e;
}

}  // namespace sluice::test
