// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/vrrp_node.h"

#include <spdlog/spdlog.h>

#include <algorithm>

#include "control/vrrp/vrrp_params.h"

namespace sluice::vrrp {

const char* notify_state_name(State s) {
  switch (s) {
    case State::master:
      return "MASTER";
    case State::backup:
      return "BACKUP";
    case State::initialize:
      return "STOP";
  }
  return "STOP";
}

VrrpNode::VrrpNode(NodeConfig cfg, AdvertTransport& tx, RoleEffects& fx)
    : cfg_(std::move(cfg)),
      tx_(tx),
      fx_(fx),
      inst_(params_from_config(cfg_.vrrp, cfg_.primary)),
      interval_(cfg_.vrrp.advert_interval_ms) {
  set_vip_list(cfg_.vips);
  report_.priority = static_cast<uint8_t>(cfg_.vrrp.priority);
  report_.interface = cfg_.interface;
  report_.vrid = cfg_.vrrp.vrid;
  report_.advert_interval_ms = cfg_.vrrp.advert_interval_ms;
  report_.preempt = cfg_.vrrp.preempt;
}

void VrrpNode::set_vip_list(std::vector<IpAddr> vips) {
  cfg_.vips = std::move(vips);
  advert_vips_.clear();
  for (const IpAddr& a : cfg_.vips)
    if (a.family == cfg_.primary.family && advert_vips_.size() < 255) advert_vips_.push_back(a);
  std::sort(advert_vips_.begin(), advert_vips_.end());
  advert_vips_.erase(std::unique(advert_vips_.begin(), advert_vips_.end()), advert_vips_.end());
}

void VrrpNode::start(TimePoint now) {
  heartbeat_at_ = now;
  perform(now, inst_.start(now), std::nullopt);
}

void VrrpNode::on_receive(TimePoint now, const RxAdvert& rx) {
  AdvertRx info{rx.src, rx.dst, rx.ttl, static_cast<uint8_t>(cfg_.vrrp.vrid), {}};
  // The address list is not checked (RFC 5798 7.1 "MAY"): a VIP added
  // through the API on one node before the other must not split the pair.
  AdvertDecoded d = rx.truncated ? AdvertDecoded(AdvertDrop::bad_length)
                    : rx.drop    ? AdvertDecoded(*rx.drop)
                                 : advert_decode(rx.msg, info);
  if (auto* drop = std::get_if<AdvertDrop>(&d)) {
    ++report_.advert_drops[static_cast<size_t>(*drop)];
    return;
  }
  const Advert& a = std::get<Advert>(d);
  if (rx.src == cfg_.primary) return;  // our own, looped back: not counted
  ++report_.adverts_received;
  perform(now, inst_.on_advert(now, rx.src, a), std::nullopt);
}

void VrrpNode::on_timer(TimePoint now) {
  std::optional<TimePoint> due = inst_.next_deadline();
  if (due && now >= *due) {
    // Jitter is a MASTER's: how late its periodic advert went out.
    bool periodic = inst_.state() == State::master;
    perform(now, inst_.on_timer(now), periodic ? due : std::nullopt);
  }
  if (now >= heartbeat_at_) {
    // The program stops steering once this thread has been silent longer
    // than any peer waits before taking over (Master_Down_Interval is at
    // most 3 intervals + nearly one of skew) plus one interval for its
    // gratuitous ARP / NA to turn the clients: stopping sooner would hand
    // the VIP's packets to this node's kernel while they still come here.
    std::chrono::nanoseconds iv = interval_;
    fx_.heartbeat(5 * iv);
    heartbeat_at_ = now + interval_;
  }
  if (inst_.state() == State::master && now >= renew_at_) {
    if (auto r = fx_.renew_vips(); !r) spdlog::warn("vrrp {}: {}", cfg_.name, r.error().message());
    renew_at_ = now + cfg_.renew_every;
  }
  if (announce_left_ > 0 && now >= announce_at_) {
    fx_.announce(cfg_.vips);
    --announce_left_;
    announce_at_ = now + cfg_.announce_spacing;
  }
}

void VrrpNode::set_vips(TimePoint now, std::vector<IpAddr> vips) {
  std::vector<IpAddr> before = cfg_.vips;
  set_vip_list(std::move(vips));
  if (inst_.state() != State::master) return;
  if (auto r = fx_.hold_vips(cfg_.vips); !r)
    spdlog::error("vrrp {}: {}", cfg_.name, r.error().message());
  std::vector<IpAddr> added;
  for (const IpAddr& a : cfg_.vips)
    if (std::find(before.begin(), before.end(), a) == before.end()) added.push_back(a);
  if (!added.empty()) fx_.announce(added);
  renew_at_ = now + cfg_.renew_every;
}

void VrrpNode::set_tracking(TimePoint now, bool vip_without_serving_backend, bool interface_down) {
  no_serving_ = vip_without_serving_backend;
  if_down_ = interface_down;
  uint32_t penalty = track_penalty(cfg_.vrrp.track, no_serving_, if_down_);
  if (penalty == penalty_) return;
  penalty_ = penalty;
  report_.track_penalty = penalty;
  perform(now, inst_.set_track_penalty(now, penalty), std::nullopt);
}

void VrrpNode::shutdown(TimePoint now) { perform(now, inst_.shutdown(now), std::nullopt); }

void VrrpNode::send(TimePoint now, uint8_t priority, std::optional<TimePoint> due) {
  if (advert_vips_.empty()) {
    // RFC 5798 5.2.5: an advert lists at least one address.
    if (!warned_empty_)
      spdlog::warn("vrrp {}: no VIP of the adverts' family ({}): not advertising", cfg_.name,
                   cfg_.primary.is_v4() ? "IPv4" : "IPv6");
    warned_empty_ = true;
    return;
  }
  warned_empty_ = false;
  Advert a;
  a.vrid = static_cast<uint8_t>(cfg_.vrrp.vrid);
  a.priority = priority;
  a.max_adver_int_cs = static_cast<uint16_t>(cfg_.vrrp.advert_interval_ms / 10);
  a.addrs = advert_vips_;
  if (auto r = tx_.send(a); !r) {
    if (auto held = send_warning_.take(now))
      spdlog::warn("vrrp {}: advert not sent: {} ({} more since the last warning)", cfg_.name,
                   r.error().message(), *held);
    return;
  }
  ++report_.adverts_sent;
  if (!due) return;
  // How late the thread got here, against when the advert was due.
  double late_ms = std::chrono::duration<double, std::milli>(now - *due).count();
  report_.advert_jitter_max_ms = std::max(report_.advert_jitter_max_ms, late_ms);
  if (now - *due > interval_ / 10) ++report_.advert_late;
}

void VrrpNode::perform(TimePoint now, const Actions& actions, std::optional<TimePoint> due) {
  State from = report_.instance.state;
  for (const Action& act : actions) {
    switch (act.kind) {
      case Action::Kind::send_advert:
        send(now, act.priority, due);
        break;
      case Action::Kind::become_master:
        if (auto r = fx_.set_role(true); !r)
          spdlog::error("vrrp {}: role active: {}", cfg_.name, r.error().message());
        if (auto r = fx_.hold_vips(cfg_.vips); !r)
          spdlog::error("vrrp {}: {}", cfg_.name, r.error().message());
        renew_at_ = now + cfg_.renew_every;
        announce_left_ = cfg_.announce_rounds;
        announce_at_ = now;  // after this advert: on_timer below
        break;
      case Action::Kind::become_backup:
      case Action::Kind::stop:
        announce_left_ = 0;
        if (auto r = fx_.release_vips(cfg_.vips); !r)
          spdlog::error("vrrp {}: {}", cfg_.name, r.error().message());
        if (auto r = fx_.set_role(false); !r)
          spdlog::error("vrrp {}: role passive: {}", cfg_.name, r.error().message());
        break;
    }
  }
  report_.instance = inst_.status();
  if (report_.instance.transitions != transitions_seen_) {
    transitions_seen_ = report_.instance.transitions;
    change(now, from, report_.instance.last_reason);
  }
  if (announce_left_ > 0 && now >= announce_at_) {
    fx_.announce(cfg_.vips);
    --announce_left_;
    announce_at_ = now + cfg_.announce_spacing;
  }
}

void VrrpNode::change(TimePoint now, State from, Reason reason) {
  auto wall = std::chrono::system_clock::now();
  report_.last_change = wall - std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                   std::chrono::steady_clock::now() - now);
  Transition t{from, inst_.state(), reason, inst_.effective_priority(), report_.instance.master};
  spdlog::info("vrrp {}: {} -> {} ({}), priority {}, master {}", cfg_.name, state_name(from),
               state_name(t.to), reason_name(reason), t.priority,
               t.master ? t.master->str() : std::string("none"));
  if (on_transition_) on_transition_(t);
}

TimePoint VrrpNode::next_wakeup() const {
  TimePoint next = heartbeat_at_;
  if (auto d = inst_.next_deadline()) next = std::min(next, *d);
  if (inst_.state() == State::master) next = std::min(next, renew_at_);
  if (announce_left_ > 0) next = std::min(next, announce_at_);
  return next;
}

VrrpReport VrrpNode::report() const {
  VrrpReport r = report_;
  r.instance = inst_.status();
  return r;
}

}  // namespace sluice::vrrp
