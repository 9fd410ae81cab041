// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/port.h"

#include <bpf/bpf.h>
#include <linux/bpf.h>
#include <rte_dev.h>
#include <rte_errno.h>
#include <rte_lcore.h>
#include <rte_mbuf.h>

#include <cerrno>
#include <cstring>

namespace sluice::dpdk {

namespace {

// A fixed, well-spread key (not symmetric: a flow is recorded in one
// direction only). Its value only has to be the same here and at the port.
constexpr std::array<uint8_t, kRssKeyLen> kRssKey = {
    0x6d, 0x5a, 0x56, 0xda, 0x25, 0x5b, 0x0e, 0xc2, 0x41, 0x67, 0x25, 0x3d, 0x43, 0xa3,
    0x8f, 0xb0, 0xd0, 0xca, 0x2b, 0xcb, 0xae, 0x7b, 0x30, 0xb4, 0x77, 0xcb, 0x2d, 0xa3,
    0x80, 0x30, 0xf2, 0x0c, 0x6a, 0x42, 0xb7, 0x3b, 0xbe, 0xac, 0x01, 0xfa};

constexpr uint64_t kRssTypes = RTE_ETH_RSS_IPV4 | RTE_ETH_RSS_NONFRAG_IPV4_TCP |
                               RTE_ETH_RSS_NONFRAG_IPV4_UDP | RTE_ETH_RSS_IPV6 |
                               RTE_ETH_RSS_NONFRAG_IPV6_TCP | RTE_ETH_RSS_NONFRAG_IPV6_UDP;

Error port_error(const std::string& port, const char* step, int ret) {
  int err = ret < 0 ? -ret : ret;
  return make_error("dpdk: port " + port + ": " + step, err);
}

std::string port_names() {
  std::string out;
  uint16_t pid;
  RTE_ETH_FOREACH_DEV(pid) {
    char name[RTE_ETH_NAME_MAX_LEN];
    if (rte_eth_dev_get_name_by_port(pid, name) == 0) out += (out.empty() ? "" : ", ") + std::string(name);
  }
  return out.empty() ? "none: give the EAL a device (--vdev=..., or a PCI address)" : out;
}

// Sets up `queues` RX/TX queue pairs of `pid` on the pool.
Result<void> setup_queues(uint16_t pid, const std::string& name, unsigned queues,
                          rte_mempool* pool) {
  uint16_t rxd = kRxDesc, txd = kTxDesc;
  if (int r = rte_eth_dev_adjust_nb_rx_tx_desc(pid, &rxd, &txd); r < 0)
    return port_error(name, "descriptor counts", r);
  int socket = rte_eth_dev_socket_id(pid);
  for (unsigned q = 0; q < queues; q++) {
    if (int r = rte_eth_rx_queue_setup(pid, q, rxd, socket, nullptr, pool); r < 0)
      return port_error(name, ("RX queue " + std::to_string(q) + " setup").c_str(), r);
    if (int r = rte_eth_tx_queue_setup(pid, q, txd, socket, nullptr); r < 0)
      return port_error(name, ("TX queue " + std::to_string(q) + " setup").c_str(), r);
  }
  return {};
}

}  // namespace

Result<Mempool> mempool_create(const std::string& name, unsigned queues, int socket) {
  constexpr unsigned kCache = 256;
  // Two ports' RX and TX rings per queue, each lcore's cache, and a few
  // bursts in flight; rounded to 2^n - 1, the mempool's best size.
  unsigned need = queues * 2 * (kRxDesc + kTxDesc) + (RTE_MAX_LCORE > 64 ? 64 : RTE_MAX_LCORE) * kCache;
  unsigned n = 4096;
  while (n - 1 < need) n <<= 1;
  rte_mempool* mp = rte_pktmbuf_pool_create(name.c_str(), n - 1, kCache, 0,
                                            RTE_MBUF_DEFAULT_BUF_SIZE, socket);
  if (mp == nullptr)
    return make_error("dpdk: mbuf pool of " + std::to_string(n - 1) + " buffers (raise -m)",
                      rte_errno);
  return Mempool(mp);
}

Result<std::unique_ptr<Port>> Port::open(const PortConfig& cfg, rte_mempool* pool) {
  std::unique_ptr<Port> p(new Port());
  if (auto r = p->configure(cfg, pool); !r) return r.error();
  return p;
}

Result<void> Port::configure(const PortConfig& cfg, rte_mempool* pool) {
  if (cfg.name.empty()) {
    uint16_t pid;
    RTE_ETH_FOREACH_DEV(pid) {
      id_ = pid;
      break;
    }
    if (id_ == RTE_MAX_ETHPORTS)
      return make_error("dpdk: no port: the EAL has no device (none given, or one that did not "
                        "probe: see the EAL lines above)");
  } else if (rte_eth_dev_get_port_by_name(cfg.name.c_str(), &id_) != 0) {
    return make_error("dpdk: no port named '" + cfg.name + "' (ports: " + port_names() + ")");
  }
  char name[RTE_ETH_NAME_MAX_LEN] = "";
  rte_eth_dev_get_name_by_port(id_, name);
  name_ = name;
  rte_eth_dev_info info{};
  if (int r = rte_eth_dev_info_get(id_, &info); r != 0) return port_error(name_, "info", r);
  driver_ = info.driver_name ? info.driver_name : "";
  kernel_ifindex_ = info.if_index;
  if (cfg.queues == 0) return make_error("dpdk: port " + name_ + ": 0 queues");
  if (cfg.queues > info.max_rx_queues || cfg.queues > info.max_tx_queues)
    return make_error("dpdk: port " + name_ + " (" + driver_ + ") has " +
                      std::to_string(std::min(info.max_rx_queues, info.max_tx_queues)) +
                      " RX/TX queue pair(s), " + std::to_string(cfg.queues) +
                      " asked (one per worker: fewer workers, or a port with more queues)");
  queues_ = cfg.queues;

  rte_eth_conf conf{};
  // net_af_packet has no RSS of its own: its queues are packet sockets in
  // one PACKET_FANOUT_HASH group, which the kernel spreads by flow hash,
  // the same for every packet of a flow (it rolls a flow over to another
  // socket only when its ring is full, i.e. under overload).
  rss_ = queues_ > 1 && driver_ != "net_af_packet";
  if (rss_) {
    uint64_t hf = kRssTypes & info.flow_type_rss_offloads;
    if (hf == 0)
      return make_error("dpdk: port " + name_ + " (" + driver_ +
                        ") has no RSS on TCP/UDP, needed to spread " + std::to_string(queues_) +
                        " queues by flow (use 1 worker)");
    rss_key_ = kRssKey;
    conf.rxmode.mq_mode = RTE_ETH_MQ_RX_RSS;
    conf.rx_adv_conf.rss_conf.rss_key = rss_key_.data();
    conf.rx_adv_conf.rss_conf.rss_key_len = kRssKeyLen;
    conf.rx_adv_conf.rss_conf.rss_hf = hf;
  }
  if (int r = rte_eth_dev_configure(id_, queues_, queues_, &conf); r < 0)
    return port_error(name_, "configure", r);
  configured_ = true;
  if (auto r = setup_queues(id_, name_, queues_, pool); !r) return r;
  if (int r = rte_eth_dev_start(id_); r < 0) return port_error(name_, "start", r);
  started_ = true;
  if (rss_) {
    // The indirection table written out, so queue_of_hash is exact.
    uint16_t size = info.reta_size;
    if (size == 0) size = 128;
    reta_.resize(size);
    std::vector<rte_eth_rss_reta_entry64> conf64((size + RTE_ETH_RETA_GROUP_SIZE - 1) /
                                                 RTE_ETH_RETA_GROUP_SIZE);
    for (uint16_t i = 0; i < size; i++) {
      reta_[i] = uint16_t(i % queues_);
      auto& g = conf64[i / RTE_ETH_RETA_GROUP_SIZE];
      g.mask |= 1ull << (i % RTE_ETH_RETA_GROUP_SIZE);
      g.reta[i % RTE_ETH_RETA_GROUP_SIZE] = reta_[i];
    }
    if (info.reta_size == 0 || rte_eth_dev_rss_reta_update(id_, conf64.data(), size) != 0)
      reta_.clear();  // unknown table: imports go to every worker
  }
  if (int r = rte_eth_macaddr_get(id_, &mac_); r != 0) return port_error(name_, "MAC address", r);
  if (rte_eth_dev_get_mtu(id_, &mtu_) != 0) mtu_ = 1500;
  // VRRP adverts, ND and MLD are multicast; the kernel behind the TAP
  // needs them.
  rte_eth_allmulticast_enable(id_);
  return {};
}

unsigned Port::queue_of_hash(uint32_t hash) const {
  if (reta_.empty()) return ~0u;
  return reta_[hash % reta_.size()];
}

void Port::stop() {
  if (started_) rte_eth_dev_stop(id_);
  started_ = false;
}

Port::~Port() {
  stop();
  if (configured_ || id_ != RTE_MAX_ETHPORTS) rte_eth_dev_close(id_);
}

Result<std::unique_ptr<TapPort>> TapPort::create(const std::string& ifname, const Port& data,
                                                 rte_mempool* pool) {
  std::unique_ptr<TapPort> t(new TapPort());
  t->ifname_ = ifname;
  t->vdev_ = "net_tap_" + ifname;
  std::string args = "iface=" + ifname;
  if (int r = rte_eal_hotplug_add("vdev", t->vdev_.c_str(), args.c_str()); r != 0)
    return make_error("dpdk: exception port: TAP " + ifname + " (/dev/net/tun, or the name in use?)",
                      r < 0 ? -r : r);
  t->probed_ = true;
  if (rte_eth_dev_get_port_by_name(t->vdev_.c_str(), &t->id_) != 0)
    return make_error("dpdk: exception port: TAP " + ifname + " has no port");
  if (auto r = t->configure(data, pool); !r) return r.error();
  return t;
}

Result<void> TapPort::configure(const Port& data, rte_mempool* pool) {
  const std::string what = "TAP " + ifname_;
  rte_eth_conf conf{};
  if (int r = rte_eth_dev_configure(id_, data.queues(), data.queues(), &conf); r < 0)
    return port_error(what, "configure", r);
  if (auto r = setup_queues(id_, what, data.queues(), pool); !r) return r;
  // The kernel's side has the port's identity: its ARP and ND answers
  // and everything it sends carry the port's MAC, and it sizes packets
  // for the port's MTU.
  rte_ether_addr mac = data.mac();
  if (int r = rte_eth_dev_default_mac_addr_set(id_, &mac); r != 0)
    return port_error(what, "MAC address", r);
  if (int r = rte_eth_dev_set_mtu(id_, data.mtu()); r != 0) return port_error(what, "MTU", r);
  if (int r = rte_eth_dev_start(id_); r < 0) return port_error(what, "start", r);
  started_ = true;
  return {};
}

void TapPort::stop() {
  if (started_) rte_eth_dev_stop(id_);
  started_ = false;
}

TapPort::~TapPort() {
  stop();
  // Removing the vdev closes the port and the TAP's kernel interface.
  if (probed_) rte_eal_hotplug_remove("vdev", vdev_.c_str());
}

Result<KernelDrop> KernelDrop::attach(unsigned ifindex) {
  // r0 = TC_ACT_SHOT (TCX_DROP); exit
  const bpf_insn prog[] = {
      {BPF_ALU64 | BPF_MOV | BPF_K, BPF_REG_0, 0, 0, 2},
      {BPF_JMP | BPF_EXIT, 0, 0, 0, 0},
  };
  int pfd = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "sl_kernel_drop", "GPL", prog, 2, nullptr);
  if (pfd < 0) return make_error("dpdk: kernel drop program: load", -pfd);
  Fd p(pfd);
  // BPF_TCX_INGRESS (Linux 6.6); the uapi headers here may predate it.
  constexpr int kTcxIngress = 46;
  int lfd = bpf_link_create(pfd, int(ifindex), static_cast<bpf_attach_type>(kTcxIngress), nullptr);
  if (lfd < 0)
    return make_error("dpdk: kernel drop program: tcx ingress attach (Linux >= 6.6)", -lfd,
                      "ifindex " + std::to_string(ifindex));
  return KernelDrop(std::move(p), Fd(lfd));
}

}  // namespace sluice::dpdk
