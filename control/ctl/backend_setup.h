// SPDX-License-Identifier: Apache-2.0
// `sluicectl backend-setup`: prepares a backend host for sluice (run on the
// backend, needs no sluiced): VIPs on lo, ARP sysctls so the backend does
// not answer for them, and for ipip the decapsulation program. --undo
// reverses all of it.
#pragma once

#include <string>
#include <vector>

#include "core/host/ip_addr.h"
#include "core/host/result.h"
#include "core/abi.h"

namespace sluice {

struct BackendSetupOptions {
  std::vector<IpAddr> vips;
  sl_mode mode = SL_MODE_DSR;
  std::string iface;
  bool generic = false;
  bool undo = false;
};

// Prints one line per step to stdout and warnings to stderr.
Result<void> backend_setup(const BackendSetupOptions& opts);

// Encapsulation overhead check: the warning to print, or empty.
std::string encap_mtu_warning(const std::string& iface, uint32_t mtu,
                              const std::vector<IpAddr>& vips);

}  // namespace sluice
