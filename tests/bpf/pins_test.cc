// SPDX-License-Identifier: Apache-2.0
// Restart without loss: a second load adopts the pinned maps, so recorded
// flows and their backends survive, and the pinned table keeps its size.
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <gtest/gtest.h>
#include <linux/bpf.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <set>
#include <string>

#include "frame_checks.h"
#include "tests/common/acl_entry.h"
#include "xdp/xdp_pins.h"

// The firewall trie read the program's way, from the pinned acl_nodes map
// (its size in g_acl_nodes).
static uint32_t g_acl_nodes = 0;
static inline const struct sl_acl_node* sl_acl_node_at(const void* nodes, __u32 idx) {
  return idx < g_acl_nodes ? static_cast<const sl_acl_node*>(nodes) + idx : nullptr;
}
#include "core/acl_trie.h"

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

// A pinned map, mapped read-only (its entries in *n); null on failure.
void* pinned_map(const std::string& path, size_t value_size, uint32_t* n, size_t* len) {
  int fd = bpf_obj_get(path.c_str());
  EXPECT_GE(fd, 0) << path;
  if (fd < 0) return nullptr;
  bpf_map_info info{};
  uint32_t info_len = sizeof(info);
  EXPECT_EQ(bpf_obj_get_info_by_fd(fd, &info, &info_len), 0);
  *n = info.max_entries;
  *len = size_t(*n) * value_size;
  void* p = mmap(nullptr, *len, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  EXPECT_NE(p, MAP_FAILED) << path;
  return p == MAP_FAILED ? nullptr : p;
}

// What the program would decide for `src` in the global scope, read from
// the pins the program's way: IPv4 from the /16 table and the trie below
// it, IPv6 from the LPM trie acl_v6.
uint32_t pinned_verdict(const std::string& dir, const char* src) {
  Addr a = Addr::parse(src);
  uint32_t w[4] = {};
  a.to_words(w);
  if (a.v6) {
    int fd = bpf_obj_get((dir + "/acl_v6").c_str());
    EXPECT_GE(fd, 0);
    if (fd < 0) return ~0u;
    sl_acl_key6 k{};
    sl_acl_key6_of(&k, SL_ACL_SCOPE_GLOBAL, w);
    sl_acl_rule rule{};
    bool found = bpf_map_lookup_elem(fd, &k, &rule) == 0;
    close(fd);
    return sl_acl_verdict_of(found ? &rule : nullptr);
  }
  size_t nodes_len = 0, fast_len = 0;
  uint32_t fast_n = 0;
  void* nodes = pinned_map(dir + "/acl_nodes", sizeof(sl_acl_node), &g_acl_nodes, &nodes_len);
  auto* fast = static_cast<const uint64_t*>(pinned_map(dir + "/acl_fast", 8, &fast_n, &fast_len));
  uint32_t v = ~0u;
  if (nodes && fast && fast_n == SL_ACL_FAST_ENTRIES) {
    uint32_t s = ntohl(w[0]);
    v = sl_acl_trie_lookup4_below16(nodes, fast[sl_acl_fast_index(SL_ACL_SCOPE_GLOBAL, s)], s);
    EXPECT_EQ(v, sl_acl_trie_lookup(nodes, SL_ACL_SCOPE_GLOBAL, SL_AF_INET, w)) << "the walk agrees";
  }
  if (nodes) munmap(nodes, nodes_len);
  if (fast) munmap(const_cast<uint64_t*>(fast), fast_len);
  return v;
}

// A controller that cannot see the pins adopts the maps the attached
// program refers to (by id): the rule list must be among them, or a
// restart would rebuild the trie from an empty list.
TEST_F(Pins, ProgramRefersToTheRuleList) {
  auto dp = XdpDataplane::open(opts_);
  ASSERT_TRUE(dp.ok()) << dp.error().message();
  uint32_t ids[64] = {};
  bpf_prog_info info{};
  info.nr_map_ids = 64;
  info.map_ids = reinterpret_cast<uint64_t>(ids);
  uint32_t len = sizeof(info);
  ASSERT_EQ(bpf_obj_get_info_by_fd((*dp)->prog_fd(), &info, &len), 0);
  std::set<std::string> names;
  for (uint32_t i = 0; i < info.nr_map_ids && i < 64; i++) {
    int fd = bpf_map_get_fd_by_id(ids[i]);
    ASSERT_GE(fd, 0);
    bpf_map_info m{};
    uint32_t mlen = sizeof(m);
    ASSERT_EQ(bpf_obj_get_info_by_fd(fd, &m, &mlen), 0);
    names.insert(m.name);
    close(fd);
  }
  for (const char* n : {"acl_v4", "acl_v6", "acl_nodes", "acl_fast", "acl_hits"})
    EXPECT_TRUE(names.count(n)) << n << " is not among the program's maps";
  ASSERT_TRUE((*dp)->detach().ok());
}

// The firewall's trie is pinned and adopted with the rule list; a pin set
// from before the trie (rule list only) gets its trie built at load.
TEST_F(Pins, RestartKeepsTheFirewall) {
  auto first = XdpDataplane::open(opts_);
  ASSERT_TRUE(first.ok()) << first.error().message();
  auto dir = xdp_pin_dir(opts_.pin_root, "lo");
  ASSERT_TRUE(dir.ok());
  const uint32_t g = SL_ACL_SCOPE_GLOBAL;
  const AclEntry rules[] = {acl_entry(g, "198.19.0.0", 16, SL_ACL_DENY, 1),
                            acl_entry(g, "198.19.0.5", 32, SL_ACL_ALLOW, 2),
                            acl_entry(g, "2001:2:ffff::", 48, SL_ACL_DENY, 3)};
  for (const auto& e : rules) ASSERT_TRUE((*first)->acl_put(e).ok());
  const uint32_t deny1 = sl_acl_verdict_of(&rules[0].rule);
  const uint32_t allow2 = sl_acl_verdict_of(&rules[1].rule);
  const uint32_t deny3 = sl_acl_verdict_of(&rules[2].rule);
  EXPECT_EQ(pinned_verdict(*dir, "198.19.0.5"), allow2);
  first->reset();

  auto second = XdpDataplane::open(opts_);  // adopts trie and list
  ASSERT_TRUE(second.ok()) << second.error().message();
  EXPECT_EQ(pinned_verdict(*dir, "198.19.0.5"), allow2);
  EXPECT_EQ(pinned_verdict(*dir, "2001:2:ffff::9"), deny3);
  ASSERT_TRUE((*second)->acl_del(rules[1]).ok());  // the adopted view can delete
  EXPECT_EQ(pinned_verdict(*dir, "198.19.0.5"), deny1);
  second->reset();

  ASSERT_EQ(0, unlink((*dir + "/acl_nodes").c_str()));  // pins from before the trie
  ASSERT_EQ(0, unlink((*dir + "/acl_fast").c_str()));
  auto third = XdpDataplane::open(opts_);
  ASSERT_TRUE(third.ok()) << third.error().message();
  EXPECT_EQ(pinned_verdict(*dir, "198.19.0.5"), deny1);
  EXPECT_EQ(pinned_verdict(*dir, "198.18.0.5"), 0u);
  EXPECT_EQ(pinned_verdict(*dir, "2001:2:ffff::9"), deny3);
  auto listed = (*third)->acl_list();
  ASSERT_TRUE(listed.ok());
  EXPECT_EQ(listed->size(), 2u);
  ASSERT_TRUE((*third)->detach().ok());
}

}  // namespace
}  // namespace sluice::test
