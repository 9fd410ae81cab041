// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/runtime.h"

#include <rte_cycles.h>
#include <rte_ethdev.h>
#include <rte_launch.h>
#include <rte_lcore.h>

namespace sluice::dpdk {

namespace {

// Polls that found nothing before an idle lcore starts sleeping.
constexpr unsigned kIdlePolls = 256;

inline void add(std::atomic<uint64_t>& c, uint64_t d) {
  c.store(c.load(std::memory_order_relaxed) + d, std::memory_order_relaxed);
}

// Sends what the ring takes and frees the rest.
inline void send(uint16_t port, uint16_t queue, rte_mbuf** pkts, uint16_t n,
                 Runtime::Loop& l) {
  if (n == 0) return;
  uint16_t sent = rte_eth_tx_burst(port, queue, pkts, n);
  if (sent < n) {
    rte_pktmbuf_free_bulk(pkts + sent, n - sent);
    add(l.stats.tx_dropped, n - sent);
  }
}

int lcore_main(void* arg) {
  auto& l = *static_cast<Runtime::Loop*>(arg);
  const LcoreTask t = l.task;
  Worker& w = *t.worker;
  w.online();
  rte_mbuf* pkts[kBurst];
  BurstOut out;
  unsigned idle = 0;
  while (!l.stop->load(std::memory_order_relaxed)) {
    uint16_t n = rte_eth_rx_burst(t.port, t.queue, pkts, kBurst);
    if (n > 0) {
      out.n_tx = out.n_exc = 0;
      w.burst(pkts, n, out);
      send(t.port, t.queue, out.tx, out.n_tx, l);
      send(t.tap, t.queue, out.exc, out.n_exc, l);
      add(l.stats.rx, n);
      add(l.stats.tx, out.n_tx);
      add(l.stats.to_kernel, out.n_exc);
    }
    // What the kernel sends (ARP and ND answers, VRRP adverts, sync,
    // health checks, SSH) leaves by the data port unchanged.
    uint16_t k = rte_eth_rx_burst(t.tap, t.queue, pkts, kBurst);
    if (k > 0) {
      send(t.port, t.queue, pkts, k, l);
      add(l.stats.from_kernel, k);
    }
    w.quiescent();
    w.poll_commands();
    if (n == 0 && k == 0) {
      if (l.idle_sleep_us != 0 && ++idle >= kIdlePolls) rte_delay_us_sleep(l.idle_sleep_us);
    } else {
      idle = 0;
    }
  }
  // RCU stops waiting for this lcore: the controller may free what it
  // replaced without it.
  w.offline();
  return 0;
}

}  // namespace

Result<std::unique_ptr<Runtime>> Runtime::start(const std::vector<LcoreTask>& tasks,
                                                uint32_t idle_sleep_us) {
  std::unique_ptr<Runtime> rt(new Runtime());
  for (const auto& t : tasks) {
    auto l = std::make_unique<Loop>();
    l->task = t;
    l->idle_sleep_us = idle_sleep_us;
    l->stop = &rt->stop_;
    rt->loops_.push_back(std::move(l));
  }
  for (auto& l : rt->loops_) {
    // The worker goes offline until its loop runs: the controller's RCU
    // waits never hang on an lcore that has not started.
    l->task.worker->offline();
    if (int r = rte_eal_remote_launch(lcore_main, l.get(), l->task.lcore); r != 0)
      return make_error("dpdk: launch on lcore " + std::to_string(l->task.lcore), -r);
    rt->launched_.push_back(l->task.lcore);
  }
  return rt;
}

void Runtime::stop() {
  stop_.store(true, std::memory_order_relaxed);
  for (unsigned lcore : launched_) rte_eal_wait_lcore(lcore);
  launched_.clear();
}

LcoreTotals Runtime::totals() const {
  LcoreTotals s;
  for (const auto& l : loops_) {
    s.rx += l->stats.rx.load(std::memory_order_relaxed);
    s.tx += l->stats.tx.load(std::memory_order_relaxed);
    s.to_kernel += l->stats.to_kernel.load(std::memory_order_relaxed);
    s.from_kernel += l->stats.from_kernel.load(std::memory_order_relaxed);
    s.tx_dropped += l->stats.tx_dropped.load(std::memory_order_relaxed);
  }
  return s;
}

}  // namespace sluice::dpdk
