// SPDX-License-Identifier: Apache-2.0
// sluice never silently replaces another tool's XDP program: attaching
// fails naming it and its id, and it stays; --force (xdp_detach_foreign)
// removes exactly it. The stand-in for "another tool" is xdp/pass.bpf.o,
// whose program (sluice_pass) is not the balancer's.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <gtest/gtest.h>
#include <linux/if_link.h>

#include <memory>
#include <string>

#include "test_netns.h"
#include "xdp/xdp_attach.h"
#include "xdp/xdp_dataplane.h"

#ifndef SLUICE_PASS_BPF_OBJ
#error "the build passes the path of xdp/pass.bpf.o"
#endif

namespace sluice::test {
namespace {

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};

struct Attached {
  uint32_t drv = 0, skb = 0;
};

Attached attached() {
  Attached a;
  auto idx = xdp_ifindex(TestNetns::kDev);
  if (!idx.ok()) return a;
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  if (bpf_xdp_query(*idx, 0, &q) != 0) return a;
  a.drv = q.drv_prog_id;
  a.skb = q.skb_prog_id;
  return a;
}

class ForeignProg : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    ASSERT_TRUE(netns_.error().empty()) << netns_.error();
    pass_.reset(bpf_object__open_file(SLUICE_PASS_BPF_OBJ, nullptr));
    ASSERT_TRUE(pass_) << "open " << SLUICE_PASS_BPF_OBJ;
    ASSERT_EQ(bpf_object__load(pass_.get()), 0);
    bpf_program* prog = bpf_object__find_program_by_name(pass_.get(), "sluice_pass");
    ASSERT_NE(prog, nullptr);
    auto idx = xdp_ifindex(TestNetns::kDev);
    ASSERT_TRUE(idx.ok());
    // Another tool's program, in native mode.
    ASSERT_EQ(bpf_xdp_attach(*idx, bpf_program__fd(prog), XDP_FLAGS_DRV_MODE, nullptr), 0);
    foreign_id_ = attached().drv;
    ASSERT_NE(foreign_id_, 0u);
  }

  Result<std::unique_ptr<XdpDataplane>> open_sluice() {
    XdpOptions o;
    o.ifname = TestNetns::kDev;
    o.generic = GetParam();
    o.pin = false;
    o.conn_table_size = 1024;
    return XdpDataplane::open(o);
  }

  TestNetns netns_;
  std::unique_ptr<bpf_object, ObjectCloser> pass_;
  uint32_t foreign_id_ = 0;
};

// In the same mode (native) or the other (generic): refused by name and id.
TEST_P(ForeignProg, AttachIsRefusedNamingIt) {
  auto dp = open_sluice();
  ASSERT_FALSE(dp.ok()) << "sluice replaced another tool's program";
  std::string msg = dp.error().message();
  EXPECT_NE(msg.find("another XDP program"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'sluice_pass'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("id " + std::to_string(foreign_id_)), std::string::npos) << msg;
  EXPECT_NE(msg.find("--force"), std::string::npos) << msg;
  Attached a = attached();
  EXPECT_EQ(a.drv, foreign_id_) << "the other program must stay attached";
  EXPECT_EQ(a.skb, 0u);
}

TEST_P(ForeignProg, ForceDetachesExactlyItThenSluiceAttaches) {
  auto gone = xdp_detach_foreign(TestNetns::kDev);
  ASSERT_TRUE(gone.ok()) << gone.error().message();
  ASSERT_TRUE(gone->has_value());
  EXPECT_EQ((*gone)->id, foreign_id_);
  EXPECT_EQ((*gone)->name, "sluice_pass");
  EXPECT_FALSE((*gone)->generic);
  EXPECT_NE((*gone)->describe().find("native mode"), std::string::npos);
  EXPECT_EQ(attached().drv, 0u);

  auto dp = open_sluice();
  ASSERT_TRUE(dp.ok()) << dp.error().message();
  Attached a = attached();
  EXPECT_NE(GetParam() ? a.skb : a.drv, 0u) << "sluice attached";
  // sluice's own program is not foreign: --force leaves it, and a restart
  // (a second open) adopts it.
  auto none = xdp_detach_foreign(TestNetns::kDev);
  ASSERT_TRUE(none.ok()) << none.error().message();
  EXPECT_FALSE(none->has_value());
  auto again = open_sluice();
  EXPECT_TRUE(again.ok()) << again.error().message();
  EXPECT_TRUE((*dp)->detach().ok());
}

INSTANTIATE_TEST_SUITE_P(Modes, ForeignProg, ::testing::Values(false, true),
                         [](const auto& info) { return info.param ? "generic" : "native"; });

}  // namespace
}  // namespace sluice::test
