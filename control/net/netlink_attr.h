// SPDX-License-Identifier: Apache-2.0
// Attribute iteration for netlink.cc / netlink_neigh.cc: libmnl's
// mnl_attr_for_each macro does not compile as C++ (void* conversion).
#pragma once

#include <libmnl/libmnl.h>

namespace sluice {

template <class F>
void for_each_attr(const nlmsghdr* nlh, size_t header_len, F&& f) {
  auto* a = static_cast<const nlattr*>(mnl_nlmsg_get_payload_offset(nlh, header_len));
  auto* tail = static_cast<const char*>(mnl_nlmsg_get_payload_tail(nlh));
  while (mnl_attr_ok(a, static_cast<int>(tail - reinterpret_cast<const char*>(a)))) {
    f(a);
    a = mnl_attr_next(a);
  }
}

// Receive buffer for dumps (libmnl's MNL_SOCKET_DUMP_SIZE, absent in 1.0.4).
constexpr size_t kNetlinkDumpSize = 32768;

}  // namespace sluice
