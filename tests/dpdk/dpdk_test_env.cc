// SPDX-License-Identifier: Apache-2.0
#include "tests/dpdk/dpdk_test_env.h"

#include <rte_eal.h>
#include <rte_errno.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>

namespace sluice::test {
namespace {

std::string g_error = "EAL not initialised yet";
rte_mempool* g_pool = nullptr;

class EalEnv : public ::testing::Environment {
 public:
  void SetUp() override {
    prefix_ = "sl-h1-" + std::to_string(getpid());
    std::vector<std::string> args = {"dpdk_test", "--no-huge", "-m", "512", "--no-pci",
                                      "--no-shconf", "--no-telemetry", "--log-level=lib.eal:warning",
                                      "--file-prefix=" + prefix_, "-l", "0"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    if (rte_eal_init(int(argv.size()), argv.data()) < 0) {
      g_error = std::string("rte_eal_init failed: ") + rte_strerror(rte_errno) +
                (geteuid() != 0 ? " (the DPDK tests want root)" : "");
      return;
    }
    up_ = true;
    runtime_dir_ = rte_eal_get_runtime_dir();
    g_pool = rte_pktmbuf_pool_create("sl_test_pool", 16383, 256, 0, RTE_MBUF_DEFAULT_BUF_SIZE,
                                     SOCKET_ID_ANY);
    if (!g_pool) {
      g_error = std::string("rte_pktmbuf_pool_create: ") + rte_strerror(rte_errno);
      return;
    }
    g_error.clear();
  }
  void TearDown() override {
    if (!up_) return;
    rte_mempool_free(g_pool);
    g_pool = nullptr;
    rte_eal_cleanup();
    std::error_code ec;
    if (!runtime_dir_.empty()) std::filesystem::remove_all(runtime_dir_, ec);
  }

 private:
  bool up_ = false;
  std::string prefix_, runtime_dir_;
};

[[maybe_unused]] ::testing::Environment* const g_env =
    ::testing::AddGlobalTestEnvironment(new EalEnv);

}  // namespace

const std::string& eal_error() { return g_error; }
rte_mempool* test_pool() { return g_pool; }

bool under_ci() {
  const char* ci = std::getenv("CI");
  return ci && std::string(ci) == "true";
}

rte_mbuf* mbuf_of(const Bytes& b) {
  rte_mbuf* m = rte_pktmbuf_alloc(g_pool);
  if (!m) return nullptr;
  char* p = rte_pktmbuf_append(m, uint16_t(b.size()));
  if (!p) {
    rte_pktmbuf_free(m);
    return nullptr;
  }
  std::memcpy(p, b.data(), b.size());
  return m;
}

Bytes bytes_of(const rte_mbuf* m) {
  const uint8_t* p = rte_pktmbuf_mtod(m, const uint8_t*);
  return Bytes(p, p + rte_pktmbuf_data_len(m));
}

}  // namespace sluice::test
