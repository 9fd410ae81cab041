// SPDX-License-Identifier: Apache-2.0
// Attaching XDP programs with plain libbpf (libxdp's dispatcher cannot load
// on these kernels), and finding out what is attached to an interface.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "core/host/result.h"
#include "core/host/fd.h"

namespace sluice {

Result<int> xdp_ifindex(const std::string& ifname);

// A program attached to an interface.
struct AttachedProg {
  uint32_t id = 0;
  std::string name;  // as the kernel keeps it (at most 15 characters)
  bool generic = false;
  std::string describe() const;  // "'xdp_fw' (id 42, native mode)"
};

// The program attached in either mode that is not named `ours`: another
// tool's. None: an empty optional.
Result<std::optional<AttachedProg>> xdp_foreign_prog(int ifindex, const char* ours);

// Detaches exactly `prog` (a program swapped in meanwhile stays).
Result<void> xdp_detach_prog(int ifindex, const AttachedProg& prog, const std::string& ifname);

// Attaches in native (driver) or generic (skb) mode the program `prog_fd`,
// named `ours`. Another tool's program on the interface (in either mode) is
// never replaced: the error names it and its id. A program named `ours`
// already attached in that mode is replaced atomically (XDP_FLAGS_REPLACE
// with its fd), unless it is the very same program (same tag, same maps: a
// plain restart), which then stays attached; with none, the attach fails if
// one appears meanwhile. Never falls back to the other mode.
Result<void> xdp_attach(int ifindex, int prog_fd, const char* ours, bool generic,
                        const std::string& ifname);

// The program attached to the interface (either mode) if its name is
// `prog_name`; an empty Fd if none or another program is attached.
Result<Fd> xdp_attached_named(int ifindex, const char* prog_name, bool* generic);

// Detaches the program named `prog_name` from whichever mode holds it.
// Nothing attached: success. Another program attached: an error, and it
// stays attached.
Result<void> xdp_detach_named(int ifindex, const char* prog_name, const std::string& ifname);

}  // namespace sluice
