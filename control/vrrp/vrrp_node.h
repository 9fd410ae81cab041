// SPDX-License-Identifier: Apache-2.0
// One VRRP instance and what its actions do to this node, on a clock the
// caller passes: adverts out through an AdvertTransport, and the role
// (dataplane ACTIVE/PASSIVE, the VIP addresses, gratuitous ARP / NA, the
// dataplane heartbeat) through RoleEffects. Single-threaded: VrrpService
// runs it on the VRRP thread; tests run it with fakes.
//
// Order of effects (why): entering MASTER sets the role ACTIVE before the
// VIPs are added, so the kernel never answers a VIP's TCP itself (a RST
// to an established flow); then the advert, then the announcements.
// Leaving MASTER removes the VIPs before the role goes PASSIVE, for the
// same reason.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "control/config/config.h"
#include "core/host/ip_addr.h"
#include "control/daemon/log_limit.h"
#include "core/host/result.h"
#include "control/vrrp/advert.h"
#include "control/vrrp/vrrp_report.h"
#include "control/vrrp/vrrp_state.h"

namespace sluice::vrrp {

// A datagram as the socket delivered it (addresses from the IP header or
// the ancillary data).
struct RxAdvert {
  IpAddr src;
  IpAddr dst;
  uint8_t ttl = 0;
  std::vector<uint8_t> msg;        // the VRRP message, without the IP header
  bool truncated = false;          // longer than the read cap
  std::optional<AdvertDrop> drop;  // the IPv4 header was refused already
};

class AdvertTransport {
 public:
  virtual ~AdvertTransport() = default;
  // Sends `a` to the group, or to each unicast peer.
  virtual Result<void> send(const Advert& a) = 0;
};

class RoleEffects {
 public:
  virtual ~RoleEffects() = default;
  virtual Result<void> set_role(bool active) = 0;  // sl_global.role
  // Holds exactly `vips` (adds the missing with a finite lifetime).
  virtual Result<void> hold_vips(const std::vector<IpAddr>& vips) = 0;
  virtual Result<void> renew_vips() = 0;
  // Removes the held VIPs and each of `also` (a previous run's leftovers).
  virtual Result<void> release_vips(const std::vector<IpAddr>& also) = 0;
  // Gratuitous ARP (IPv4) / unsolicited NA (IPv6) for each address.
  virtual void announce(const std::vector<IpAddr>& vips) = 0;
  virtual void heartbeat(std::chrono::nanoseconds timeout) = 0;
};

struct NodeConfig {
  std::string name;       // keepalived's instance name: "VI_<vrid>"
  std::string interface;  // where adverts go
  VrrpConfig vrrp;
  IpAddr primary;            // the adverts' source; its family is the adverts'
  std::vector<IpAddr> vips;  // all of them; the adverts list those of primary's family
  std::chrono::milliseconds renew_every{1000};      // VIP lifetime renewal
  int announce_rounds = 3;                          // gratuitous ARP / NA on taking over ...
  std::chrono::milliseconds announce_spacing{500};  // ... this far apart
};

// One state change, for the log line, the notify script and on_role.
struct Transition {
  State from = State::initialize;
  State to = State::initialize;
  Reason reason = Reason::none;
  uint8_t priority = 0;  // effective, at the change
  std::optional<IpAddr> master;
};

// keepalived's notify state argument: MASTER, BACKUP, STOP.
const char* notify_state_name(State s);

class VrrpNode {
 public:
  VrrpNode(NodeConfig cfg, AdvertTransport& tx, RoleEffects& fx);

  void on_transition(std::function<void(const Transition&)> cb) { on_transition_ = std::move(cb); }

  // Initialize -> Backup: no role, no VIP (also none left by an earlier run).
  void start(TimePoint now);
  void on_receive(TimePoint now, const RxAdvert& rx);
  // Runs what is due: the instance's timer, heartbeat, VIP renewal,
  // announcements. Early calls do nothing.
  void on_timer(TimePoint now);
  // The VIP list changed (API, reload): taken at once while MASTER.
  void set_vips(TimePoint now, std::vector<IpAddr> vips);
  void set_tracking(TimePoint now, bool vip_without_serving_backend, bool interface_down);
  void set_preempt_hold(bool hold) { inst_.set_preempt_hold(hold); }
  // Priority 0 if MASTER, then VIPs removed and the role PASSIVE.
  void shutdown(TimePoint now);

  TimePoint next_wakeup() const;
  State state() const { return inst_.state(); }
  VrrpReport report() const;
  const std::vector<IpAddr>& advert_vips() const { return advert_vips_; }

 private:
  void perform(TimePoint now, const Actions& actions, std::optional<TimePoint> due);
  void send(TimePoint now, uint8_t priority, std::optional<TimePoint> due);
  void change(TimePoint now, State from, Reason reason);
  void set_vip_list(std::vector<IpAddr> vips);

  NodeConfig cfg_;
  AdvertTransport& tx_;
  RoleEffects& fx_;
  VrrpInstance inst_;
  std::function<void(const Transition&)> on_transition_;
  std::vector<IpAddr> advert_vips_;  // cfg_.vips of the adverts' family
  std::chrono::milliseconds interval_;
  bool no_serving_ = false;
  bool if_down_ = false;
  uint32_t penalty_ = 0;
  TimePoint heartbeat_at_{};
  TimePoint renew_at_{};
  TimePoint announce_at_{};
  int announce_left_ = 0;
  bool warned_empty_ = false;
  uint64_t transitions_seen_ = 0;
  LogLimit send_warning_{std::chrono::seconds(10)};
  VrrpReport report_;
};

}  // namespace sluice::vrrp
