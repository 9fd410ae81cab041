// SPDX-License-Identifier: Apache-2.0
// A VRRP report as the VRRP service would give it, for the API, metrics and
// sluicectl printing tests: a BACKUP behind 198.18.0.2 with some refused
// adverts and sync running.
#pragma once

#include <chrono>

#include "control/vrrp/vrrp_report.h"

namespace sluice {

inline vrrp::VrrpReport fake_vrrp_report() {
  vrrp::VrrpReport r;
  r.instance.state = vrrp::State::backup;
  r.instance.last_reason = vrrp::Reason::higher_priority;
  r.instance.transitions = 3;
  r.instance.effective_priority = 90;
  r.instance.master_adver_interval_cs = 10;
  r.instance.master_down_interval_cs = 36;
  r.instance.master = *IpAddr::parse("198.18.0.2");
  r.instance.master_priority = 200;
  r.priority = 100;
  r.track_penalty = 10;
  r.interface = "eth0";
  r.vrid = 51;
  r.advert_interval_ms = 100;
  r.preempt = true;
  r.adverts_sent = 7;
  r.adverts_received = 1234;
  r.advert_drops[static_cast<int>(vrrp::AdvertDrop::bad_ttl)] = 2;
  r.advert_drops[static_cast<int>(vrrp::AdvertDrop::bad_checksum)] = 5;
  r.advert_late = 1;
  r.advert_jitter_max_ms = 1.25;
  // 2026-11-28T03:00:00.250Z
  r.last_change = std::chrono::system_clock::time_point{std::chrono::milliseconds{1795834800250}};
  r.sync.enabled = true;
  r.sync.peer = *IpAddr::parse("198.18.0.2");
  r.sync.port = 7900;
  r.sync.signed_ = true;
  r.sync.resynced = true;
  r.sync.records_sent = 0;
  r.sync.records_applied = 4000;
  r.sync.records_no_backend = 3;
  r.sync.events_lost = 0;
  r.sync.drops[static_cast<int>(sync::Drop::bad_hmac)] = 6;
  r.sync.lag_ms = 0.75;
  return r;
}

}  // namespace sluice
