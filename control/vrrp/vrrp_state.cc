// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/vrrp_state.h"

#include <algorithm>

namespace sluice::vrrp {

namespace {

std::chrono::milliseconds cs(uint32_t centiseconds) {
  return std::chrono::milliseconds(uint64_t{centiseconds} * 10);
}

// RFC 5798 6.4.3: ties go to "the primary IPvX address of the sender is
// greater than the local primary IPvX address", as unsigned numbers.
bool address_greater(const IpAddr& a, const IpAddr& b) {
  return std::lexicographical_compare(b.bytes.begin(), b.bytes.begin() + b.size(), a.bytes.begin(),
                                      a.bytes.begin() + a.size());
}

}  // namespace

const char* state_name(State s) {
  switch (s) {
    case State::initialize:
      return "INIT";
    case State::backup:
      return "BACKUP";
    case State::master:
      return "MASTER";
  }
  return "UNKNOWN";
}

const char* reason_name(Reason r) {
  switch (r) {
    case Reason::none:
      return "none";
    case Reason::startup:
      return "startup";
    case Reason::owner_startup:
      return "owner_startup";
    case Reason::master_down:
      return "master_down";
    case Reason::master_released:
      return "master_released";
    case Reason::preempt:
      return "preempt";
    case Reason::higher_priority:
      return "higher_priority";
    case Reason::tie_higher_address:
      return "tie_higher_address";
    case Reason::shutdown:
      return "shutdown";
  }
  return "unknown";
}

VrrpInstance::VrrpInstance(Params p) : p_(p), master_adver_interval_cs_(p.advert_interval_cs) {}

uint8_t VrrpInstance::effective_priority() const {
  if (p_.priority == kOwnerPriority) return kOwnerPriority;
  return static_cast<uint8_t>(std::max<int64_t>(1, int64_t{p_.priority} - penalty_));
}

uint16_t VrrpInstance::skew_time_cs() const {
  return static_cast<uint16_t>(((256 - effective_priority()) * master_adver_interval_cs_) / 256);
}

uint16_t VrrpInstance::master_down_interval_cs() const {
  return static_cast<uint16_t>(3 * master_adver_interval_cs_ + skew_time_cs());
}

void VrrpInstance::enter(State s, Reason r, TimePoint now) {
  state_ = s;
  last_reason_ = r;
  last_change_ = now;
  ++transitions_;
  lower_master_since_.reset();
  down_reason_ = Reason::master_down;
}

// Backup accepting a master: its interval becomes ours (RFC 5798 6.4.2).
void VrrpInstance::follow(TimePoint now, const IpAddr& from, const Advert& a) {
  master_adver_interval_cs_ = a.max_adver_int_cs;
  master_down_at_ = now + cs(master_down_interval_cs());
  master_ = from;
  master_priority_ = a.priority;
}

Actions VrrpInstance::become_master(TimePoint now, Reason r) {
  enter(State::master, r, now);
  master_ = p_.primary_addr;
  master_priority_ = effective_priority();
  master_adver_interval_cs_ = p_.advert_interval_cs;
  adver_at_ = now + cs(p_.advert_interval_cs);
  // Take the VIPs before announcing: the advert makes the old master let go.
  return {{Action::Kind::become_master, 0, r},
          {Action::Kind::send_advert, effective_priority(), Reason::none}};
}

Actions VrrpInstance::start(TimePoint now) {
  if (state_ != State::initialize) return {};
  if (effective_priority() == kOwnerPriority) return become_master(now, Reason::owner_startup);
  enter(State::backup, Reason::startup, now);
  master_adver_interval_cs_ = p_.advert_interval_cs;
  master_down_at_ = now + cs(master_down_interval_cs());
  master_.reset();
  master_priority_ = 0;
  return {{Action::Kind::become_backup, 0, Reason::startup}};
}

Actions VrrpInstance::on_advert(TimePoint now, const IpAddr& from, const Advert& a) {
  if (from == p_.primary_addr) return {};  // our own, looped back
  if (state_ == State::backup) return on_advert_backup(now, from, a);
  if (state_ == State::master) return on_advert_master(now, from, a);
  return {};
}

Actions VrrpInstance::on_advert_backup(TimePoint now, const IpAddr& from, const Advert& a) {
  if (a.priority == kReleasePriority) {
    // The master is stopping: take over after Skew_Time, the higher
    // priority backup first.
    master_down_at_ = now + cs(skew_time_cs());
    down_reason_ = Reason::master_released;
    lower_master_since_.reset();
    return {};
  }
  bool outranked = a.priority >= effective_priority();
  if (outranked || !p_.preempt || hold_) {
    if (outranked || hold_) lower_master_since_.reset();
    down_reason_ = Reason::master_down;
    follow(now, from, a);
    return {};
  }
  // A lower-priority master and we may preempt: the RFC discards its
  // adverts so the master-down timer runs out. preempt_delay first
  // tolerates it for a while (keepalived's preempt_delay).
  if (!lower_master_since_) lower_master_since_ = now;
  if (now < *lower_master_since_ + std::chrono::milliseconds(p_.preempt_delay_ms)) {
    down_reason_ = Reason::master_down;
    follow(now, from, a);
    return {};
  }
  down_reason_ = Reason::preempt;
  return {};
}

Actions VrrpInstance::on_advert_master(TimePoint now, const IpAddr& from, const Advert& a) {
  uint8_t mine = effective_priority();
  if (a.priority == kReleasePriority) {
    // Another master is stopping: assert ourselves at once (RFC 5798 6.4.3).
    adver_at_ = now + cs(p_.advert_interval_cs);
    return {{Action::Kind::send_advert, mine, Reason::none}};
  }
  Reason r = Reason::none;
  if (a.priority > mine)
    r = Reason::higher_priority;
  else if (a.priority == mine && address_greater(from, p_.primary_addr))
    r = Reason::tie_higher_address;
  if (r == Reason::none) return {};  // we outrank it: it will yield to our next advert
  enter(State::backup, r, now);
  follow(now, from, a);
  return {{Action::Kind::become_backup, 0, r}};
}

Actions VrrpInstance::on_timer(TimePoint now) {
  if (state_ == State::backup && now >= master_down_at_) return become_master(now, down_reason_);
  if (state_ == State::master && now >= adver_at_) {
    // Late callers do not get a burst: the next one is an interval from now.
    adver_at_ = now + cs(p_.advert_interval_cs);
    return {{Action::Kind::send_advert, effective_priority(), Reason::none}};
  }
  return {};
}

Actions VrrpInstance::shutdown(TimePoint now) {
  State was = state_;
  if (was == State::initialize) return {};
  enter(State::initialize, Reason::shutdown, now);
  master_.reset();
  if (was == State::master)
    return {{Action::Kind::send_advert, kReleasePriority, Reason::none},
            {Action::Kind::stop, 0, Reason::shutdown}};
  return {{Action::Kind::stop, 0, Reason::shutdown}};
}

Actions VrrpInstance::set_track_penalty(TimePoint now, uint32_t penalty) {
  uint8_t before = effective_priority();
  penalty_ = penalty;
  uint8_t after = effective_priority();
  if (state_ != State::master || after == before) return {};
  master_priority_ = after;
  adver_at_ = now + cs(p_.advert_interval_cs);
  return {{Action::Kind::send_advert, after, Reason::none}};
}

void VrrpInstance::set_preempt_hold(bool hold) { hold_ = hold; }

std::optional<TimePoint> VrrpInstance::next_deadline() const {
  if (state_ == State::backup) return master_down_at_;
  if (state_ == State::master) return adver_at_;
  return std::nullopt;
}

Status VrrpInstance::status() const {
  Status s;
  s.state = state_;
  s.last_reason = last_reason_;
  s.last_change = last_change_;
  s.transitions = transitions_;
  s.effective_priority = effective_priority();
  s.master_adver_interval_cs = master_adver_interval_cs_;
  s.master_down_interval_cs = master_down_interval_cs();
  s.master = master_;
  s.master_priority = master_priority_;
  s.preempt_held = hold_;
  return s;
}

}  // namespace sluice::vrrp
