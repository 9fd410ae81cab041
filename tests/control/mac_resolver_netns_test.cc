// SPDX-License-Identifier: Apache-2.0
// KernelMacResolver against a real neighbour table, in a namespace of the
// test's own (root): probes stay within their budget however many backends
// are unresolved, and an answering backend still resolves.
#include <gtest/gtest.h>

#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "control/net/mac_resolver.h"
#include "tests/bpf/test_netns.h"

namespace sluice {
namespace {

using test::TestNetns;

// Neighbour entries on `dev` in the current namespace (any state).
int neighbour_entries(const std::string& dev) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(popen(("ip -4 neigh show dev " + dev).c_str(), "r"),
                                          pclose);
  if (!p) return -1;
  int n = 0;
  char line[256];
  while (fgets(line, sizeof line, p.get())) ++n;
  return n;
}

std::vector<MacTarget> dsr_targets(int first, int count) {
  std::vector<MacTarget> t;
  for (int i = first; i < first + count; ++i) {
    auto a = IpAddr::parse("198.18." + std::to_string(200 + i / 250) + "." +
                           std::to_string(10 + i % 250));
    t.push_back({*a, SL_MODE_DSR});
  }
  return t;
}

bool has_neighbour(const std::string& dev, const std::string& addr) {
  std::unique_ptr<FILE, int (*)(FILE*)> p(
      popen(("ip -4 neigh show dev " + dev + " to " + addr).c_str(), "r"), pclose);
  char line[256];
  return p && fgets(line, sizeof line, p.get()) != nullptr;
}

TEST(MacResolverNetns, ProbesStayWithinTheBudgetAndTakeTurns) {
  TestNetns ns;
  ASSERT_TRUE(ns.error().empty()) << ns.error();
  // A /22 on the device, so every target is on link; none answers.
  ASSERT_EQ(std::system("ip addr add 198.18.204.1/22 dev sl0"), 0);
  auto nl = Netlink::open();
  ASSERT_TRUE(nl.ok()) << nl.error().message();
  auto link = nl->link(TestNetns::kDev);
  ASSERT_TRUE(link.ok()) << link.error().message();
  KernelMacResolver r(*nl, link->ifindex);

  // 600 silent backends, more than the budget: 198.18.204.10 ...
  std::vector<MacTarget> targets;
  for (int i = 0; i < 600; ++i)
    targets.push_back({*IpAddr::parse("198.18." + std::to_string(204 + i / 200) + "." +
                                      std::to_string(10 + i % 200)),
                       SL_MODE_DSR});
  const size_t budget = KernelMacResolver::kProbeBudget;
  auto macs = r.resolve(targets, std::chrono::milliseconds(0));
  ASSERT_EQ(macs.size(), targets.size());
  for (const auto& m : macs) EXPECT_FALSE(m.has_value());
  EXPECT_EQ(r.probes_outstanding(), budget);
  EXPECT_EQ(r.probes_deferred(), targets.size() - budget);
  int entries = neighbour_entries(TestNetns::kDev);
  EXPECT_GE(entries, 1);
  EXPECT_LE(entries, static_cast<int>(budget));
  const std::string later = targets[budget + 10].backend.str();
  EXPECT_FALSE(has_neighbour(TestNetns::kDev, later)) << later << " was probed beyond the budget";

  // Asked again within the window: nothing more is probed.
  r.resolve(targets, std::chrono::milliseconds(0));
  EXPECT_EQ(r.probes_outstanding(), budget);
  EXPECT_LE(neighbour_entries(TestNetns::kDev), static_cast<int>(budget));

  // After the window the next ones take their turn, not the first again.
  std::this_thread::sleep_for(KernelMacResolver::kProbeWindow + std::chrono::milliseconds(100));
  r.resolve(targets, std::chrono::milliseconds(0));
  EXPECT_EQ(r.probes_outstanding(), budget);
  EXPECT_TRUE(has_neighbour(TestNetns::kDev, later)) << later << " never got its turn";
}

}  // namespace
}  // namespace sluice
