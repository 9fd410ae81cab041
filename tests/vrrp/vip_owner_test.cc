// SPDX-License-Identifier: Apache-2.0
// What the VRRP thread writes to the kernel and the dataplane for the VIPs
// and the role: the address requests with a lifetime, and sl_global written
// by two owners (the main loop's addresses, the VRRP thread's role) without
// one undoing the other.
#include <gtest/gtest.h>
#include <linux/if_addr.h>
#include <linux/rtnetlink.h>

#include "control/net/netlink.h"
#include "control/net/netlink_attr.h"
#include "control/daemon/service_table.h"
#include "tests/control/fake_dataplane.h"

namespace sluice {
namespace {

struct Parsed {
  uint16_t type = 0;
  uint16_t flags = 0;
  uint8_t prefix = 0;
  uint32_t ifindex = 0;
  bool has_cacheinfo = false;
  ifa_cacheinfo ci{};
  IpAddr local;
};

Parsed parse(const nlmsghdr* nlh) {
  Parsed p;
  p.type = nlh->nlmsg_type;
  p.flags = nlh->nlmsg_flags;
  auto* ifa = static_cast<const ifaddrmsg*>(mnl_nlmsg_get_payload(nlh));
  p.prefix = ifa->ifa_prefixlen;
  p.ifindex = ifa->ifa_index;
  for_each_attr(nlh, sizeof(*ifa), [&](const nlattr* a) {
    if (mnl_attr_get_type(a) == IFA_CACHEINFO && mnl_attr_get_payload_len(a) == sizeof(p.ci)) {
      p.has_cacheinfo = true;
      std::memcpy(&p.ci, mnl_attr_get_payload(a), sizeof(p.ci));
    }
    if (mnl_attr_get_type(a) == IFA_LOCAL) {
      p.local.family = mnl_attr_get_payload_len(a) == 4 ? SL_AF_INET : SL_AF_INET6;
      std::memcpy(p.local.bytes.data(), mnl_attr_get_payload(a), mnl_attr_get_payload_len(a));
    }
  });
  return p;
}

TEST(VipAddressRequest, WithALifetimeReplacesAndCarriesCacheinfo) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  IpAddr vip = *IpAddr::parse("198.18.0.100");
  Parsed p = parse(address_request(buf, 7, vip, true, AddrLifetime{3, 3}));
  EXPECT_EQ(p.type, RTM_NEWADDR);
  EXPECT_EQ(p.flags & (NLM_F_CREATE | NLM_F_REPLACE | NLM_F_EXCL), NLM_F_CREATE | NLM_F_REPLACE);
  EXPECT_EQ(p.prefix, 32);
  EXPECT_EQ(p.ifindex, 7u);
  EXPECT_EQ(p.local, vip);
  ASSERT_TRUE(p.has_cacheinfo);
  EXPECT_EQ(p.ci.ifa_valid, 3u);
  EXPECT_EQ(p.ci.ifa_prefered, 3u);
}

TEST(VipAddressRequest, WithoutALifetimeIsPermanentAndExclusive) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  Parsed p = parse(address_request(buf, 7, *IpAddr::parse("2001:2::100"), true, std::nullopt));
  EXPECT_EQ(p.flags & (NLM_F_CREATE | NLM_F_REPLACE | NLM_F_EXCL), NLM_F_CREATE | NLM_F_EXCL);
  EXPECT_EQ(p.prefix, 128);
  EXPECT_FALSE(p.has_cacheinfo);
}

TEST(VipAddressRequest, RemovalCarriesNoLifetime) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  Parsed p =
      parse(address_request(buf, 7, *IpAddr::parse("198.18.0.100"), false, AddrLifetime{3, 3}));
  EXPECT_EQ(p.type, RTM_DELADDR);
  EXPECT_FALSE(p.has_cacheinfo);
}

TEST(NodeGlobal, TheRoleAndTheAddressesDoNotUndoEachOther) {
  FakeDataplane dp;
  NodeGlobal g(dp, SL_ROLE_PASSIVE);
  NodeAddrs node;
  node.lb_mac = {2, 0, 0, 0, 0, 1};
  node.src_v4 = *IpAddr::parse("198.18.0.1");
  ASSERT_TRUE(g.set_addrs(node));
  EXPECT_EQ(dp.global.role, SL_ROLE_PASSIVE);
  ASSERT_TRUE(g.set_role(SL_ROLE_ACTIVE));
  EXPECT_EQ(dp.global.role, SL_ROLE_ACTIVE);
  EXPECT_EQ(dp.global.lb_mac[5], 1);
  node.lb_mac = {2, 0, 0, 0, 0, 2};
  ASSERT_TRUE(g.set_addrs(node));
  EXPECT_EQ(dp.global.role, SL_ROLE_ACTIVE);
  EXPECT_EQ(dp.global.lb_mac[5], 2);
  EXPECT_EQ(g.role(), SL_ROLE_ACTIVE);
}

TEST(NodeGlobal, ServiceTableStartsWithTheRoleItIsGiven) {
  FakeDataplane dp;
  FakeMacResolver resolver;
  ServiceTable table(dp, resolver, SL_ROLE_PASSIVE);
  ASSERT_TRUE(table.set_node(NodeAddrs{}));
  EXPECT_EQ(dp.global.role, SL_ROLE_PASSIVE);
  ASSERT_TRUE(table.global().set_role(SL_ROLE_ACTIVE));
  EXPECT_EQ(dp.global.role, SL_ROLE_ACTIVE);
}

}  // namespace
}  // namespace sluice
