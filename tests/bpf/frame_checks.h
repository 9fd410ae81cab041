// SPDX-License-Identifier: Apache-2.0
// Expectations on an output frame, shared by the golden tables.
#pragma once

#include <gtest/gtest.h>

#include <cstring>

#include "tests/common/packet_builder.h"
#include "test_lb.h"

namespace sluice::test {

inline uint16_t get16(const Bytes& b, size_t off) { return uint16_t(b[off] << 8 | b[off + 1]); }

inline void expect_untouched(const Bytes& in, const Bytes& out) { EXPECT_EQ(out, in); }

// DSR: both MACs rewritten, every other byte as it came in.
inline void expect_dsr(const Bytes& in, const Bytes& out, int backend) {
  ASSERT_EQ(out.size(), in.size());
  Mac m = backend_mac(uint32_t(backend));
  EXPECT_EQ(0, std::memcmp(out.data(), m.data(), 6)) << "dst MAC is not backend " << backend;
  EXPECT_EQ(0, std::memcmp(out.data() + 6, kLbMac.data(), 6)) << "src MAC is not the balancer";
  EXPECT_TRUE(std::equal(in.begin() + 12, in.end(), out.begin() + 12)) << "payload changed";
}

inline bool any_of_vip_a(int be) { return be == kBeA1 || be == kBeA2 || be == kBeA3; }

// Tunnels: new link header to the backend, outer header from the balancer,
// the original IP packet unchanged behind it.
inline void expect_outer_ipv4(const Bytes& in, const Bytes& out, int backend) {
  ASSERT_EQ(out.size(), in.size() + 20);
  EXPECT_EQ(get16(out, 12), 0x0800);
  const uint8_t* o = out.data() + 14;
  EXPECT_EQ(o[0], 0x45);
  EXPECT_EQ(o[1], in[15]) << "TOS copied from the inner header";
  EXPECT_EQ(get16(out, 16), in.size() - 14 + 20) << "outer total length";
  EXPECT_EQ(get16(out, 20) & 0x4000, get16(in, 20) & 0x4000) << "DF copied from the inner header";
  EXPECT_EQ(o[8], 64);
  EXPECT_EQ(o[9], 4) << "protocol IPIP";
  EXPECT_EQ(csum_fold(csum_add(0, o, 20)), 0) << "outer IPv4 checksum";
  Addr src = Addr::parse(kLbSrc4), dst = backend_addr(uint32_t(backend));
  EXPECT_EQ(0, std::memcmp(o + 12, src.b.data(), 4));
  EXPECT_EQ(0, std::memcmp(o + 16, dst.b.data(), 4));
  EXPECT_TRUE(std::equal(in.begin() + 14, in.end(), out.begin() + 34)) << "inner packet changed";
}

inline void expect_outer_ipv6(const Bytes& in, const Bytes& out, int backend, uint8_t nexthdr) {
  ASSERT_EQ(out.size(), in.size() + 40);
  EXPECT_EQ(get16(out, 12), 0x86dd);
  const uint8_t* o = out.data() + 14;
  EXPECT_EQ(o[0] >> 4, 6);
  EXPECT_EQ(get16(out, 18), in.size() - 14) << "outer payload length";
  EXPECT_EQ(o[6], nexthdr);
  EXPECT_EQ(o[7], 64);
  Addr src = Addr::parse(kLbSrc6), dst = backend_addr(uint32_t(backend));
  EXPECT_EQ(0, std::memcmp(o + 8, src.b.data(), 16));
  EXPECT_EQ(0, std::memcmp(o + 24, dst.b.data(), 16));
  EXPECT_TRUE(std::equal(in.begin() + 14, in.end(), out.begin() + 54)) << "inner packet changed";
}

inline void expect_link_to(const Bytes& out, int backend) {
  Mac m = backend_mac(uint32_t(backend));
  EXPECT_EQ(0, std::memcmp(out.data(), m.data(), 6));
  EXPECT_EQ(0, std::memcmp(out.data() + 6, kLbMac.data(), 6));
}

}  // namespace sluice::test
