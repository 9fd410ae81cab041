// SPDX-License-Identifier: Apache-2.0
// VRRP on a thread of its own: a VrrpNode driven by poll() over the advert
// socket, a timerfd at the node's next deadline, a link-state netlink
// subscription and an eventfd for what other threads post. It never waits
// on the main loop: the main loop posts (VIP list, tracking, preempt hold)
// under a mutex held for a copy, and reads report() the same way.
//
// The VRRP thread alone holds the VIP addresses under `vrrp:` (with a
// lifetime it renews), writes the dataplane role (through the mutex-guarded
// NodeGlobal the main loop's set_node also uses) and stamps the dataplane
// heartbeat. The notify script runs on NotifyRunner's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "control/config/config.h"
#include "core/host/fd.h"
#include "core/host/ip_addr.h"
#include "core/host/result.h"
#include "control/vrrp/vrrp_report.h"

namespace sluice::vrrp {

struct ServiceOptions {
  VrrpConfig vrrp;
  std::string advert_ifname;  // vrrp.interface, or the config's interface
  int advert_ifindex = 0;
  Mac advert_mac{};            // its MAC: multicast adverts are sent as frames from it
  bool advert_link_up = true;  // at start; then watched
  int vip_ifindex = 0;         // where the VIPs go (the config's interface)
  Mac vip_mac{};               // its MAC: gratuitous ARP / NA
  IpAddr primary;              // adverts' source (IPv4 primary / IPv6 link-local)
  std::vector<IpAddr> vips;
  // Renewed every second while MASTER: a killed sluiced's VIPs leave
  // within this (the kernel's address expiry runs about once a second).
  uint32_t vip_lifetime_s = 3;
  // Called on the VRRP thread: sl_global.role (true: ACTIVE).
  std::function<Result<void>(bool active)> set_role;
  // Called on the VRRP thread every advert interval; may be empty.
  std::function<void(std::chrono::nanoseconds timeout)> heartbeat;
  std::chrono::milliseconds notify_timeout{5000};
  // Polled on the VRRP thread at every wake-up (keep it an atomic load):
  // true holds preempt (sync: until the resync from the master completed).
  std::function<bool()> preempt_hold;
};

// The advert family and the VIPs it lists: unicast peers decide it if
// there are any, else IPv4 when any VIP is IPv4 (or none is IPv6), else
// IPv6. VIPs of the other family follow the same instance (keepalived's
// virtual_ipaddress_excluded).
uint8_t advert_family(const VrrpConfig& c, const std::vector<IpAddr>& vips);

class VrrpService {
 public:
  static Result<std::unique_ptr<VrrpService>> start(ServiceOptions o);
  // Stops the thread without the graceful part (use shutdown() first).
  ~VrrpService();
  VrrpService(const VrrpService&) = delete;
  VrrpService& operator=(const VrrpService&) = delete;

  // Any thread, never blocks for long.
  void set_vips(std::vector<IpAddr> vips);
  void set_vip_without_serving_backend(bool v);
  void set_preempt_hold(bool hold);
  // `cb(master)` on the VRRP thread: once with the current state, then on
  // every MASTER <-> not-MASTER change. Keep it short (post, don't work).
  void on_role(std::function<void(bool master)> cb);
  VrrpReport report() const;

  // SIGTERM: priority 0 if MASTER, VIPs removed, role PASSIVE; waits for
  // the thread to have done it (at most `wait`), then stops it.
  void shutdown(std::chrono::milliseconds wait);

  struct Impl;

 private:
  explicit VrrpService(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace sluice::vrrp
