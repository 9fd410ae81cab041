// SPDX-License-Identifier: Apache-2.0
// Restart without loss: a second load adopts the pinned maps, so recorded
// flows and their backends survive, and the pinned table keeps its size.
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include "frame_checks.h"
#include "xdp/xdp_pins.h"

namespace sluice::test {
namespace {

class Pins : public ::testing::Test {
 protected:
  void SetUp() override {
    opts_.ifname = "lo";  // only names the pin directory: nothing is attached
    opts_.attach = false;
    opts_.pin = true;
    opts_.conn_table_size = 4096;
    opts_.pin_root = "/sys/fs/bpf/sluice-test-" + std::to_string(getpid());
  }
  // Whatever the test reached, leave bpffs as it was.
  void TearDown() override {
    if (auto dir = xdp_pin_dir(opts_.pin_root, opts_.ifname); dir.ok()) (void)maps_unpin(*dir);
    rmdir(opts_.pin_root.c_str());
  }
  XdpOptions opts_;
};

TEST_F(Pins, RestartKeepsFlowsAndTableSize) {
  auto first = XdpDataplane::open(opts_);
  ASSERT_TRUE(first.ok()) << first.error().message()
                          << " -- needs root and bpffs mounted on /sys/fs/bpf";
  auto dir = xdp_pin_dir(opts_.pin_root, "lo");
  ASSERT_TRUE(dir.ok());
  EXPECT_EQ((*first)->pin_dir(), *dir);
  struct stat st{};
  EXPECT_EQ(0, stat((*dir + "/conns").c_str(), &st));

  sl_backend be{};
  Addr a = backend_addr(kBeA2);
  a.to_words(be.addr);
  Mac mac = backend_mac(kBeA2);
  std::memcpy(be.mac, mac.data(), 6);
  be.family = SL_AF_INET;
  be.flags = SL_BE_F_LIVE;
  be.gen = 1;
  ASSERT_TRUE((*first)->backend_put(kBeA2, be).ok());
  sl_flow_key key{};
  key.src[0] = 0x01020304;
  key.dst[0] = 0x05060708;
  key.sport = 1;
  key.dport = 2;
  key.proto = 6;
  key.family = SL_AF_INET;
  int conns_fd = -1;
  {
    auto c = (*first)->conns(0);
    ASSERT_TRUE(c.ok());
    EXPECT_TRUE(c->empty());
  }
  // Record a flow the way the program would, through the pinned map.
  conns_fd = bpf_obj_get((*dir + "/conns").c_str());
  ASSERT_GE(conns_fd, 0);
  sl_conn conn{kBeA2, 1, 0, 0, 123};
  ASSERT_EQ(0, bpf_map_update_elem(conns_fd, &key, &conn, BPF_ANY));
  close(conns_fd);
  first->reset();  // the controller exits: nothing detached, pins stay

  opts_.conn_table_size = 8192;  // asked bigger: the pinned size must win
  auto second = XdpDataplane::open(opts_);
  ASSERT_TRUE(second.ok()) << second.error().message();
  auto c = (*second)->conns(0);
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c->size(), 1u);
  EXPECT_EQ(0, std::memcmp(&c->front().key, &key, sizeof(key)));
  EXPECT_EQ(c->front().conn.backend, uint32_t(kBeA2));
  conns_fd = bpf_obj_get((*dir + "/conns").c_str());
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  ASSERT_EQ(0, bpf_obj_get_info_by_fd(conns_fd, &info, &len));
  close(conns_fd);
  EXPECT_EQ(info.max_entries, 4096u);

  ASSERT_TRUE((*second)->detach().ok());
  EXPECT_NE(0, stat(dir->c_str(), &st)) << "pin directory left behind";
}

}  // namespace
}  // namespace sluice::test
