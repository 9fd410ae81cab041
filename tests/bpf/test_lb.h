// SPDX-License-Identifier: Apache-2.0
// The real sluice.bpf.o loaded without attaching or pinning, with a fixed
// set of VIPs and backends programmed through the Dataplane API, and a
// BPF_PROG_TEST_RUN wrapper. Shared by every BPF test.
#pragma once

#include <memory>
#include <string>

#include "core/abi.h"
#include "tests/common/packet_builder.h"
#include "xdp/xdp_dataplane.h"

namespace sluice::test {

// Backend indices; their MACs are 02:00:00:00:00:<index + 0x10>.
enum : uint32_t {
  kBeA1 = 0, kBeA2 = 1, kBeA3 = 2,  // VIP A, weights 1:2:1
  kBeIpip4 = 3,                      // VIP B, IPv4 backend
  kBeIp6ip6 = 4,                     // VIP C, IPv6 backend
  kBe4in6 = 5,                       // VIP D, IPv6 backend of an IPv4 VIP
  kBeDsr6 = 6,                       // VIP E
  kBackends = 7,
};

// Source addresses of the balancer's tunnels.
inline const char* const kLbSrc4 = "198.18.0.1";
inline const char* const kLbSrc6 = "2001:2::1";
inline const char* const kClient4 = "198.19.0.5";
inline const char* const kClient6 = "2001:2:ffff::5";

// VIPs (address, port, proto, mode).
inline const char* const kVipA = "198.18.0.100";   // :80/tcp dsr
inline const char* const kVipB = "198.18.0.101";   // :80/tcp ipip -> IPv4 backend
inline const char* const kVipC = "2001:2::100";    // :80/tcp ipip -> IPv6 backend
inline const char* const kVipD = "198.18.0.102";   // :53/udp ipip -> IPv6 backend (4in6)
inline const char* const kVipE = "2001:2::101";    // :80/tcp dsr
inline const char* const kVipF = "198.18.0.103";   // :80/tcp dsr, no backend

Mac backend_mac(uint32_t index);
Addr backend_addr(uint32_t index);
// The backend index whose MAC is `dst` (the frame's first six bytes), or -1.
int backend_of_frame(const Bytes& out);

struct ProgRun {
  int err = 0;  // errno of BPF_PROG_TEST_RUN, 0 on success
  int action = -1;
  Bytes out;
};
ProgRun prog_run(int prog_fd, const Bytes& in);

// The loaded program with the tables above; on failure `error` says what
// is missing (root, bpffs, BPF support) and `dp` is null.
struct TestLb {
  std::unique_ptr<XdpDataplane> dp;
  std::string error;
};
TestLb& test_lb();

// Program the tables above (backends, VIPs A..F, role ACTIVE) into `dp`.
Result<void> test_lb_fill(XdpDataplane& dp);

// Set the node's role (the tables stay).
Result<void> test_lb_set_role(XdpDataplane& dp, sl_role role);

}  // namespace sluice::test
