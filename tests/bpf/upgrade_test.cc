// SPDX-License-Identifier: Apache-2.0
// Upgrade and restart on a real interface (a veth pair in a namespace of
// the test's own): a new object replaces the attached program atomically
// and keeps the pinned connection table, and a sluiced that cannot see the
// pins adopts the maps of the program attached to the interface.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "frame_checks.h"
#include "test_netns.h"
#include "xdp/xdp_attach.h"
#include "xdp/xdp_pins.h"

#ifndef SLUICE_NEXT_BPF_OBJ
#error "the build passes the path of xdp/sluice_next.bpf.o"
#endif

namespace sluice::test {
namespace {

const Addr client4 = Addr::parse(kClient4);
const Addr vipA = Addr::parse(kVipA);

uint32_t attached_id(bool generic) {
  auto idx = xdp_ifindex(TestNetns::kDev);
  if (!idx.ok()) return 0;
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (bpf_xdp_query(*idx, 0, &q) != 0) return 0;
  return generic ? q.skb_prog_id : q.drv_prog_id;
}

bpf_prog_info prog_info_of_fd(int fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  EXPECT_EQ(0, bpf_obj_get_info_by_fd(fd, &info, &len));
  return info;
}

std::string prog_tag(uint32_t id) {
  Fd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return "";
  bpf_prog_info info = prog_info_of_fd(fd.get());
  return std::string(reinterpret_cast<const char*>(info.tag), sizeof(info.tag));
}

uint32_t pinned_map_id(const std::string& path) {
  Fd fd(bpf_obj_get(path.c_str()));
  if (!fd) return 0;
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd.get(), &info, &len) != 0) return 0;
  return info.id;
}

Bytes tcp_frame(uint8_t flags) {
  L4 l4;
  l4.sport = 41000;
  l4.tcp_flags = flags;
  return frame(client4, vipA, l4);
}

class Upgrade : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(netns_.error().empty()) << netns_.error();
    std::string base = "/sys/fs/bpf/sluice-upgrade-" + std::to_string(getpid());
    root_a_ = base + "-a";
    root_b_ = base + "-b";
  }
  // Still inside the namespace: the pin directories are named after it.
  void TearDown() override {
    for (const std::string& root : {root_a_, root_b_}) {
      if (auto dir = xdp_pin_dir(root, TestNetns::kDev); dir.ok()) (void)maps_unpin(*dir);
      rmdir(root.c_str());
    }
  }
  XdpOptions opts(const std::string& root, const std::string& object = "") const {
    XdpOptions o;
    o.ifname = TestNetns::kDev;
    o.generic = GetParam();
    o.conn_table_size = 4096;
    o.pin_root = root;
    o.bpf_object = object;
    return o;
  }
  // Loads the shipped object on root_a_, fills the tables and records one
  // flow through the program; returns its backend. The controller then
  // "exits": the program stays attached, the maps pinned.
  int start_first() {
    auto a = XdpDataplane::open(opts(root_a_));
    EXPECT_TRUE(a.ok()) << a.error().message() << " -- needs root and bpffs on /sys/fs/bpf";
    if (!a.ok()) return -1;
    EXPECT_TRUE(test_lb_fill(**a).ok());
    ProgRun r = prog_run((*a)->prog_fd(), tcp_frame(0x02));
    EXPECT_EQ(r.err, 0);
    EXPECT_EQ(r.action, XDP_TX);
    // The client's ACK confirms the flow into the connection table.
    EXPECT_EQ(prog_run((*a)->prog_fd(), tcp_frame(0x10)).action, XDP_TX);
    old_id_ = attached_id(GetParam());
    EXPECT_EQ(old_id_, prog_info_of_fd((*a)->prog_fd()).id) << "not attached in the asked mode";
    old_tag_ = prog_tag(old_id_);
    conns_id_ = pinned_map_id((*a)->pin_dir() + "/conns");
    EXPECT_NE(conns_id_, 0u);
    return backend_of_frame(r.out);
  }
  // The next controller sees the same flow, to the same backend, as a hit.
  void expect_flow_kept(XdpDataplane& dp, int backend) {
    auto c = dp.conns(0);
    ASSERT_TRUE(c.ok()) << c.error().message();
    ASSERT_EQ(c->size(), 1u);
    EXPECT_EQ(c->front().conn.backend, uint32_t(backend));
    auto before = dp.reason_counters();
    ASSERT_TRUE(before.ok());
    ProgRun r = prog_run(dp.prog_fd(), tcp_frame(0x10));  // ACK: only a recorded flow hits
    EXPECT_EQ(r.action, XDP_TX);
    EXPECT_EQ(backend_of_frame(r.out), backend);
    auto after = dp.reason_counters();
    ASSERT_TRUE(after.ok());
    EXPECT_EQ((*after)[SL_R_TX_HIT].packets, (*before)[SL_R_TX_HIT].packets + 1);
  }

  TestNetns netns_;
  std::string root_a_, root_b_;
  uint32_t old_id_ = 0, conns_id_ = 0;
  std::string old_tag_;
};

TEST_P(Upgrade, NewObjectReplacesProgramAndKeepsConnTable) {
  int backend = start_first();
  ASSERT_TRUE(any_of_vip_a(backend)) << backend;
  ASSERT_EQ(attached_id(GetParam()), old_id_) << "the program must outlive its controller";

  auto b = XdpDataplane::open(opts(root_a_, SLUICE_NEXT_BPF_OBJ));
  ASSERT_TRUE(b.ok()) << b.error().message();
  uint32_t new_id = attached_id(GetParam());
  EXPECT_NE(new_id, old_id_);
  EXPECT_EQ(new_id, prog_info_of_fd((*b)->prog_fd()).id);
  EXPECT_NE(prog_tag(new_id), old_tag_) << "sluice_next.bpf.o should differ from sluice.bpf.o";
  EXPECT_EQ(pinned_map_id((*b)->pin_dir() + "/conns"), conns_id_);
  expect_flow_kept(**b, backend);

  ASSERT_TRUE((*b)->detach().ok());
  EXPECT_EQ(attached_id(GetParam()), 0u);
}

TEST_P(Upgrade, WithoutPinsAdoptsTheAttachedProgramsMaps) {
  int backend = start_first();
  ASSERT_TRUE(any_of_vip_a(backend)) << backend;

  // Another pin root stands for a fresh bpffs (as under `ip netns exec`).
  auto b = XdpDataplane::open(opts(root_b_));
  ASSERT_TRUE(b.ok()) << b.error().message();
  // The same object over the adopted maps is the same program: a plain
  // restart keeps it attached rather than swapping in a copy.
  EXPECT_EQ(attached_id(GetParam()), old_id_);
  EXPECT_EQ(pinned_map_id((*b)->pin_dir() + "/conns"), conns_id_)
      << "the attached program's table, pinned again under the new root";
  expect_flow_kept(**b, backend);
  ASSERT_TRUE((*b)->detach().ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, Upgrade, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "generic" : "native"; });

}  // namespace
}  // namespace sluice::test
