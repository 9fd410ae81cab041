// SPDX-License-Identifier: Apache-2.0
// The VRRPv3 state machine of RFC 5798 section 6.4 for one virtual router:
// Initialize, Backup, Master. Pure: no socket, no thread, no clock. The
// caller passes `now`, calls on_timer() at next_deadline(), feeds it the
// adverts advert_decode() accepted, and performs the actions it returns
// (send an advert, take or give up the VIPs) in their order.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <vector>

#include "core/host/ip_addr.h"
#include "control/vrrp/advert.h"

namespace sluice::vrrp {

using TimePoint = std::chrono::steady_clock::time_point;

enum class State : uint8_t { initialize = 0, backup = 1, master = 2 };
const char* state_name(State s);  // "INIT", "BACKUP", "MASTER"

// Why the state changed: for the log line and `sluicectl vrrp`.
enum class Reason : uint8_t {
  none = 0,
  startup = 1,             // Initialize -> Backup
  owner_startup = 2,       // Initialize -> Master: priority 255 owns the addresses
  master_down = 3,         // Backup -> Master: no advert for Master_Down_Interval
  master_released = 4,     // Backup -> Master: the master sent priority 0 (it stops)
  preempt = 5,             // Backup -> Master: we outrank the master (after preempt_delay)
  higher_priority = 6,     // Master -> Backup: an advert with a higher priority
  tie_higher_address = 7,  // Master -> Backup: same priority, higher primary address
  shutdown = 8,            // -> Initialize: the caller stops the instance
};
const char* reason_name(Reason r);  // "master_down", ...

struct Params {
  uint8_t vrid = 0;
  uint8_t priority = 100;             // 1..254; 255: the address owner
  uint16_t advert_interval_cs = 100;  // Advertisement_Interval, 1..4095
  bool preempt = true;
  uint32_t preempt_delay_ms = 0;  // a lower-priority master is tolerated this long
  IpAddr primary_addr;            // the source of our adverts: breaks priority ties
};

struct Action {
  enum class Kind : uint8_t {
    send_advert,    // send one advert now, with `priority`
    become_master,  // add the VIPs, activate the dataplane, gratuitous ARP / NA
    become_backup,  // remove the VIPs, dataplane passive
    stop,           // Initialize: nothing to do but stay passive
  };
  Kind kind;
  uint8_t priority = 0;          // send_advert: 0 on shutdown, else the effective one
  Reason reason = Reason::none;  // become_master / become_backup / stop

  bool operator==(const Action&) const = default;
};
using Actions = std::vector<Action>;

struct Status {
  State state = State::initialize;
  Reason last_reason = Reason::none;
  TimePoint last_change{};
  uint64_t transitions = 0;
  uint8_t effective_priority = 0;
  uint16_t master_adver_interval_cs = 0;
  uint16_t master_down_interval_cs = 0;
  std::optional<IpAddr> master;  // who is master as far as we know (us, when master)
  uint8_t master_priority = 0;
  bool preempt_held = false;
};

class VrrpInstance {
 public:
  explicit VrrpInstance(Params p);

  // Initialize -> Backup (or Master for an owner).
  Actions start(TimePoint now);
  // An advert advert_decode() accepted, from the IP source `from`.
  Actions on_advert(TimePoint now, const IpAddr& from, const Advert& a);
  // Runs the timers due at `now`; early calls do nothing.
  Actions on_timer(TimePoint now);
  // Master: a priority-0 advert, so the backup takes over after Skew_Time.
  Actions shutdown(TimePoint now);

  // Tracking (keepalived's weight): the advertised priority is the configured
  // one less `penalty`, never below 1. A master advertises a change at once.
  Actions set_track_penalty(TimePoint now, uint32_t penalty);
  // While held, a lower-priority master is accepted as if preempt were off,
  // so a returning node waits for its connection resync (preempt_delay
  // counts from the release). A silent master is still replaced:
  // availability first.
  void set_preempt_hold(bool hold);

  std::optional<TimePoint> next_deadline() const;
  State state() const { return state_; }
  uint8_t effective_priority() const;
  // RFC 5798 6.1, in centiseconds with integer division as written there.
  uint16_t skew_time_cs() const;
  uint16_t master_down_interval_cs() const;
  Status status() const;

 private:
  void enter(State s, Reason r, TimePoint now);
  void follow(TimePoint now, const IpAddr& from, const Advert& a);
  Actions become_master(TimePoint now, Reason r);
  Actions on_advert_backup(TimePoint now, const IpAddr& from, const Advert& a);
  Actions on_advert_master(TimePoint now, const IpAddr& from, const Advert& a);

  Params p_;
  State state_ = State::initialize;
  Reason last_reason_ = Reason::none;
  TimePoint last_change_{};
  uint64_t transitions_ = 0;
  uint32_t penalty_ = 0;
  bool hold_ = false;
  uint16_t master_adver_interval_cs_;
  std::optional<IpAddr> master_;
  uint8_t master_priority_ = 0;
  TimePoint master_down_at_{};  // Backup
  TimePoint adver_at_{};        // Master
  // Backup: what the master-down timer means when it fires.
  Reason down_reason_ = Reason::master_down;
  std::optional<TimePoint> lower_master_since_;  // preempt_delay runs from here
};

}  // namespace sluice::vrrp
