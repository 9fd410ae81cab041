// SPDX-License-Identifier: Apache-2.0
// VRRPv3 advertisements (RFC 5798 section 5): the VRRP message as it rides
// in IP protocol 112, and its checksum over the IPv4 / IPv6 pseudo-header.
// Pure: the caller owns the socket, reads the TTL / hop limit and the
// addresses from the IP header and passes them in.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <variant>
#include <vector>

#include "core/host/ip_addr.h"

namespace sluice::vrrp {

inline constexpr uint8_t kIpProto = 112;
inline constexpr uint8_t kVersion = 3;
inline constexpr uint8_t kTypeAdvertisement = 1;
inline constexpr uint8_t kTtl = 255;                // sent, and required on receipt
inline constexpr size_t kHeaderLen = 8;             // up to and including the checksum
inline constexpr uint16_t kMaxIntervalCs = 0x0fff;  // 12 bits of centiseconds
inline constexpr uint8_t kOwnerPriority = 255;
inline constexpr uint8_t kReleasePriority = 0;  // "I am stopping": take over now

struct Advert {
  uint8_t vrid = 0;
  uint8_t priority = 0;
  uint16_t max_adver_int_cs = 100;  // Max Adver Int, centiseconds, 1..4095
  std::vector<IpAddr> addrs;        // the VIPs; all of one family

  bool operator==(const Advert&) const = default;
};

// Why a received advert was dropped. Stable numbers; the names are metric
// labels (sluice_vrrp_advert_drops_total{reason="bad_ttl"}).
enum class AdvertDrop : uint8_t {
  too_short = 1,       // less than the fixed 8-byte header
  bad_ttl = 2,         // TTL / hop limit not 255: it crossed a router
  bad_version = 3,     // not VRRPv3
  bad_type = 4,        // not ADVERTISEMENT (1)
  bad_vrid = 5,        // not the VRID this instance runs
  bad_length = 6,      // length is not 8 + count x address size
  bad_addr_count = 7,  // no address at all
  bad_checksum = 8,
  bad_interval = 9,    // Max Adver Int 0: would make Master_Down_Interval 0
  addr_mismatch = 10,  // the VIP list differs from ours and the sender is no owner
  bad_family = 11,     // source and destination of different families
};
inline constexpr int kAdvertDropCount = 11;
const char* advert_drop_name(AdvertDrop d);

// What the receiver knows from the IP header and its own configuration.
struct AdvertRx {
  IpAddr src;        // IP source: the sender's primary address
  IpAddr dst;        // IP destination: 224.0.0.18, ff02::12 or our unicast address
  uint8_t ttl = 0;   // IPv4 TTL / IPv6 hop limit as received
  uint8_t vrid = 0;  // ours
  // Ours, in any order; empty: the list is not checked (RFC 5798 7.1 "MAY").
  std::span<const IpAddr> expected_addrs;
};

using AdvertDecoded = std::variant<Advert, AdvertDrop>;

// RFC 5798 5.2.8: the one's complement checksum of the VRRP message and the
// pseudo-header of RFC 8200 8.1 (IPv6) or of RFC 768 (IPv4), with protocol
// 112. Summing a message whose checksum field is filled in gives 0.
uint16_t advert_checksum(std::span<const uint8_t> msg, const IpAddr& src, const IpAddr& dst);

// The VRRP message (no IP header) with its checksum for src -> dst.
// Preconditions: 1..255 addresses, all of src's family; interval 1..4095.
std::vector<uint8_t> advert_encode(const Advert& a, const IpAddr& src, const IpAddr& dst);

// Checks in the order of RFC 5798 7.1 (families, TTL, size, version, type,
// count and length, checksum, VRID, interval, address list); the first that
// fails is the reason.
AdvertDecoded advert_decode(std::span<const uint8_t> msg, const AdvertRx& rx);

// The multicast destination for a family: 224.0.0.18 or ff02::12.
IpAddr advert_group(uint8_t family);

// 00-00-5E-00-01-{VRID} (IPv4) / 00-00-5E-00-02-{VRID} (IPv6), RFC 5798 7.3.
Mac virtual_mac(uint8_t vrid, uint8_t family);

}  // namespace sluice::vrrp
