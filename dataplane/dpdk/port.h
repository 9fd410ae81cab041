// SPDX-License-Identifier: Apache-2.0
// The ports sluiced drives: the data port (a NIC or a vdev such as
// net_af_packet / net_af_xdp), one RX/TX queue pair per worker with RSS on
// the 5-tuple, and the exception port (a TAP the kernel sees as the node's
// interface: what the pipeline passes goes there, what the kernel sends
// there goes out of the data port). Each stops and closes itself; the TAP's
// kernel interface goes with it.
#pragma once

#include <rte_ethdev.h>
#include <rte_mempool.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/host/fd.h"
#include "core/host/result.h"

namespace sluice::dpdk {

struct MempoolDeleter {
  void operator()(rte_mempool* mp) const { rte_mempool_free(mp); }
};
using Mempool = std::unique_ptr<rte_mempool, MempoolDeleter>;

// The packet buffers of one port and its exception port: enough for every
// descriptor of both, the per-lcore caches and the bursts in flight.
Result<Mempool> mempool_create(const std::string& name, unsigned queues, int socket);

inline constexpr uint16_t kRxDesc = 1024;
inline constexpr uint16_t kTxDesc = 1024;
inline constexpr size_t kRssKeyLen = 40;

struct PortConfig {
  std::string name;   // the ethdev's name (e.g. net_af_packet0); empty: the first port
  unsigned queues = 1;
};

class Port {
 public:
  // Configures and starts the port, or fails naming it and the step.
  static Result<std::unique_ptr<Port>> open(const PortConfig& cfg, rte_mempool* pool);
  ~Port();
  Port(const Port&) = delete;
  Port& operator=(const Port&) = delete;

  uint16_t id() const { return id_; }
  const std::string& name() const { return name_; }
  const std::string& driver() const { return driver_; }
  // The kernel interface behind a vdev that has one (net_af_packet,
  // net_af_xdp): the frames it gets also reach the kernel, or 0.
  unsigned kernel_ifindex() const { return kernel_ifindex_; }
  unsigned queues() const { return queues_; }
  uint16_t mtu() const { return mtu_; }
  const rte_ether_addr& mac() const { return mac_; }
  // The RSS key and indirection table as programmed (queues > 1), so a
  // flow's queue can be computed in software (sync imports).
  bool rss() const { return rss_; }
  const std::array<uint8_t, kRssKeyLen>& rss_key() const { return rss_key_; }
  // The queue RSS gives a packet whose Toeplitz hash is `hash`.
  unsigned queue_of_hash(uint32_t hash) const;
  void stop();  // idempotent

 private:
  Port() = default;
  Result<void> configure(const PortConfig& cfg, rte_mempool* pool);
  uint16_t id_ = RTE_MAX_ETHPORTS;
  std::string name_, driver_;
  unsigned kernel_ifindex_ = 0;
  unsigned queues_ = 0;
  uint16_t mtu_ = 1500;
  rte_ether_addr mac_{};
  bool rss_ = false;
  std::array<uint8_t, kRssKeyLen> rss_key_{};
  std::vector<uint16_t> reta_;
  bool started_ = false, configured_ = false;
};

// The exception port: a TAP named `ifname` with the data port's MAC and
// MTU and one queue per worker, created as a vdev and removed with it.
class TapPort {
 public:
  static Result<std::unique_ptr<TapPort>> create(const std::string& ifname, const Port& data,
                                                 rte_mempool* pool);
  ~TapPort();
  TapPort(const TapPort&) = delete;
  TapPort& operator=(const TapPort&) = delete;

  uint16_t id() const { return id_; }
  const std::string& ifname() const { return ifname_; }
  void stop();

 private:
  TapPort() = default;
  Result<void> configure(const Port& data, rte_mempool* pool);
  uint16_t id_ = RTE_MAX_ETHPORTS;
  std::string vdev_, ifname_;
  bool started_ = false, probed_ = false;
};

// Keeps the kernel's own stack off a port it also sees (net_af_packet: the
// socket gets a copy of every frame and the kernel another). A tcx ingress
// program that drops every frame: packet sockets still get theirs (they are
// served before tc ingress), the kernel's IP stack gets none, so it answers
// nothing on that interface, neither ARP for the VIPs nor TCP to them. The
// program is held by a link fd, not pinned: it leaves with the process,
// even one that is killed.
class KernelDrop {
 public:
  static Result<KernelDrop> attach(unsigned ifindex);
  KernelDrop(KernelDrop&&) = default;
  KernelDrop& operator=(KernelDrop&&) = default;
  void release() { link_ = Fd(); prog_ = Fd(); }

 private:
  KernelDrop(Fd prog, Fd link) : prog_(std::move(prog)), link_(std::move(link)) {}
  Fd prog_, link_;
};

}  // namespace sluice::dpdk
