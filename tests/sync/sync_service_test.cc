// SPDX-License-Identifier: Apache-2.0
// Two sync services over loopback UDP in one process, each on a fake
// dataplane: the thread, the socket, the peer filter and the key file.
// Waits are for outcomes (bounded, generous), never assertions on time.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <thread>

#include "control/sync/sync_service.h"
#include "tests/control/fake_dataplane.h"
#include "tests/sync/sync_test_util.h"

namespace sluice::sync {
namespace {

using testing::flow;
using testing::free_udp_port;
using testing::ip;
using testing::vip_key;

// Polls `ok` until it holds or 20 s pass; the outcome is what is asserted.
bool eventually(const std::function<bool()>& ok) {
  for (int i = 0; i < 2000; ++i) {
    if (ok()) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return ok();
}

struct Side {
  FakeDataplane dp;
  std::unique_ptr<SyncService> svc;
};

SyncTables tables_with(FakeDataplane& dp, uint32_t slot, uint32_t gen) {
  sl_backend be{};
  ip("198.18.0.11").to_abi(be.addr);
  be.family = SL_AF_INET;
  be.flags = SL_BE_F_LIVE;
  be.gen = gen;
  (void)dp.backend_put(slot, be);
  SyncTables t;
  t.vips.push_back({vip_key(), 0, {{slot, ip("198.18.0.11")}}});
  return t;
}

std::string write_key(const std::string& name, mode_t mode, const std::string& text) {
  std::string path = ::testing::TempDir() + "/" + name + "-" + std::to_string(getpid());
  std::ofstream(path) << text;
  chmod(path.c_str(), mode);
  return path;
}

class SyncServices : public ::testing::Test {
 protected:
  void start(const std::string& key_file = {}) {
    uint16_t pa = free_udp_port(), pb = free_udp_port();
    auto open = [&](Side& s, uint16_t own, uint16_t peer_port) {
      SyncOptions o;
      o.config.peer = ip("127.0.0.1");
      o.config.port = own;
      o.config.key_file = key_file;
      o.bind = ip("127.0.0.1");
      o.peer_port = peer_port;
      auto r = SyncService::start(o, s.dp);
      ASSERT_TRUE(r.ok()) << r.error().message();
      s.svc = std::move(*r);
    };
    open(a, pa, pb);
    open(b, pb, pa);
    a.svc->set_tables(tables_with(a.dp, 0, 1));
    b.svc->set_tables(tables_with(b.dp, 7, 4));
    a.svc->set_master(true);
  }
  Side a, b;
};

TEST_F(SyncServices, FlowsReachTheBackupOverUdp) {
  start();
  ASSERT_TRUE(eventually([&] { return b.svc->resynced(); })) << "resync from the master";
  ASSERT_TRUE(eventually([&] { return a.dp.flow_events_on; }));
  for (uint16_t i = 0; i < 100; ++i) {
    sl_flow_event e{};
    e.flow = flow(uint16_t(30000 + i));
    e.backend = 0;
    e.gen = 1;
    a.dp.flow_event_push(e);
  }
  ASSERT_TRUE(eventually([&] { return b.dp.conn_table_count() == 100; }));
  auto got = b.dp.conn_find(flow(30042));
  ASSERT_TRUE(got);
  EXPECT_EQ(got->conn.backend, 7u);
  EXPECT_EQ(got->conn.gen, 4u);
  auto rb = b.svc->report();
  EXPECT_EQ(rb.records_applied, 100u);
  EXPECT_TRUE(rb.resynced);
  EXPECT_FALSE(rb.sending);
  EXPECT_TRUE(eventually([&] { return a.svc->report().records_sent == 100; }));
  EXPECT_TRUE(a.svc->report().sending);
}

TEST_F(SyncServices, ADatagramFromAnotherSourceIsDropped) {
  start();
  ASSERT_TRUE(eventually([&] { return b.svc->resynced(); }));
  // 127.0.0.2 is loopback too, but not the configured peer.
  int fd = ::socket(AF_INET, SOCK_DGRAM, 0);
  sockaddr_in src{};
  src.sin_family = AF_INET;
  src.sin_addr.s_addr = htonl(0x7f000002);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&src), sizeof(src)), 0);
  sockaddr_in dst{};
  dst.sin_family = AF_INET;
  dst.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  dst.sin_port = htons(b.svc->local_port());
  Bytes d = encode(Header{Kind::records, 9, 1, 1}, {}, {});
  ASSERT_EQ(::sendto(fd, d.data(), d.size(), 0, reinterpret_cast<sockaddr*>(&dst), sizeof(dst)),
            ssize_t(d.size()));
  ::close(fd);
  EXPECT_TRUE(eventually(
      [&] { return b.svc->report().drops[size_t(Drop::wrong_source)] == 1; }));
  EXPECT_EQ(b.dp.conn_table_count(), 0u);
}

TEST_F(SyncServices, SignedSyncWorksWithAPrivateKeyFile) {
  std::string key = write_key("sync-key", 0600, "0123456789abcdef0123456789abcdef\n");
  start(key);
  ASSERT_TRUE(eventually([&] { return b.svc->resynced(); }));
  EXPECT_TRUE(b.svc->report().signed_);
  sl_flow_event e{};
  e.flow = flow(31000);
  e.gen = 1;
  a.dp.flow_event_push(e);
  EXPECT_TRUE(eventually([&] { return b.dp.conn_table_count() == 1; }));
  unlink(key.c_str());
}

TEST(SyncKeyFile, ReadableByOthersOrMissingOrShortIsAnErrorNamingTheField) {
  std::string open = write_key("sync-key-open", 0644, "0123456789abcdef0123\n");
  auto r = key_file_read(open);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().message().find("sync.key_file"), std::string::npos) << r.error().message();
  unlink(open.c_str());

  auto missing = key_file_read("/nonexistent/sluice-sync-key");
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().message().find("sync.key_file"), std::string::npos);

  std::string shortk = write_key("sync-key-short", 0600, "short\n");
  auto s = key_file_read(shortk);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message().find("sync.key_file"), std::string::npos);
  unlink(shortk.c_str());

  std::string big = write_key("sync-key-big", 0600, std::string(kKeyFileMax + 1, 'k'));
  auto bg = key_file_read(big);
  ASSERT_FALSE(bg.ok());
  EXPECT_NE(bg.error().message().find("larger"), std::string::npos);
  unlink(big.c_str());

  auto dir = key_file_read("/");
  EXPECT_FALSE(dir.ok());
}

TEST(SyncTablesOf, ProgrammedVipsWithTheirBackendSlots) {
  VipState v;
  v.cfg.address = ip("198.18.0.100");
  v.cfg.port = 80;
  v.cfg.protocol = 6;
  v.vip_id = 3;
  v.programmed = true;
  BackendState b;
  b.cfg.address = ip("198.18.0.11");
  b.index = 42;
  v.backends.push_back(b);
  VipState unprogrammed = v;
  unprogrammed.programmed = false;
  SyncTables t = sync_tables_of({v, unprogrammed});
  ASSERT_EQ(t.vips.size(), 1u);
  sl_vip_key want = vip_key();
  EXPECT_EQ(std::memcmp(&t.vips[0].key, &want, sizeof(want)), 0);
  EXPECT_EQ(t.vips[0].vip_id, 3u);
  ASSERT_EQ(t.vips[0].backends.size(), 1u);
  EXPECT_EQ(t.vips[0].backends[0].slot, 42u);
  EXPECT_EQ(t.vips[0].backends[0].address, ip("198.18.0.11"));
}

}  // namespace
}  // namespace sluice::sync
