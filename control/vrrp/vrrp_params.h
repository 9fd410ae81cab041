// SPDX-License-Identifier: Apache-2.0
// From the `vrrp:` config block to what VrrpInstance takes, so the daemon
// does not convert units or sum tracking weights itself.
#pragma once

#include <cstdint>

#include "control/config/config.h"
#include "control/vrrp/vrrp_state.h"

namespace sluice::vrrp {

// `primary`: the address our adverts leave from (IPv4: the interface's
// primary address; IPv6: its link-local address).
inline Params params_from_config(const VrrpConfig& c, const IpAddr& primary) {
  Params p;
  p.vrid = static_cast<uint8_t>(c.vrid);
  p.priority = static_cast<uint8_t>(c.priority);
  p.advert_interval_cs = static_cast<uint16_t>(c.advert_interval_ms / 10);  // validated: x10
  p.preempt = c.preempt;
  p.preempt_delay_ms = c.preempt_delay_ms;
  p.primary_addr = primary;
  return p;
}

// The penalty for VrrpInstance::set_track_penalty: the weights of the
// checks that fail now, added (keepalived adds its tracked weights too).
inline uint32_t track_penalty(const VrrpTrackConfig& t, bool vip_without_serving_backend,
                              bool interface_down) {
  return (vip_without_serving_backend ? t.no_serving_backend : 0) +
         (interface_down ? t.interface_down : 0);
}

}  // namespace sluice::vrrp
