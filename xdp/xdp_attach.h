// SPDX-License-Identifier: Apache-2.0
// Attaching XDP programs with plain libbpf (libxdp's dispatcher cannot load
// on these kernels), and finding out what is attached to an interface.
#pragma once

#include <cstdint>
#include <string>

#include "control/result.h"
#include "control/fd.h"

namespace sluice {

Result<int> xdp_ifindex(const std::string& ifname);

// Attaches in native (driver) or generic (skb) mode. A program already
// attached in that mode is replaced atomically (XDP_FLAGS_REPLACE with its
// fd), unless it is the very same program (same tag, same maps: a plain
// restart), which then stays attached; with none, the attach fails if one
// appears meanwhile. Never falls back to the other mode.
Result<void> xdp_attach(int ifindex, int prog_fd, bool generic, const std::string& ifname);

// The program attached to the interface (either mode) if its name is
// `prog_name`; an empty Fd if none or another program is attached.
Result<Fd> xdp_attached_named(int ifindex, const char* prog_name, bool* generic);

// Detaches the program named `prog_name` from whichever mode holds it.
// Nothing attached: success. Another program attached: an error, and it
// stays attached.
Result<void> xdp_detach_named(int ifindex, const char* prog_name, const std::string& ifname);

}  // namespace sluice
