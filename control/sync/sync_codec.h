// SPDX-License-Identifier: Apache-2.0
// Connection-state sync between the VRRP pair: the datagram format, the
// sequence tracking of a receiver, and the translation of a record into the
// local dataplane's terms. Pure: the caller owns the UDP socket and the
// tables.
//
// Datagram (all fields network order):
//   0  magic "SLSY"    4 version (1)   5 kind   6 flags   7 reserved (0)
//   8  node id (u32)   12 epoch (u32: grows at each start of the sender)
//   16 sequence (u64: 1, 2, ... per epoch, over every kind)
//   24 record count (u16)   26 reserved (u16, 0)   28 reserved (u32, 0)
//   32 count x struct sl_sync_record (core/abi.h, 84 bytes each)
//   then, with SYNC_F_HMAC, HMAC-SHA256 over every byte before it (32 bytes).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <span>
#include <string_view>
#include <variant>
#include <vector>

#include "core/host/ip_addr.h"
#include "core/host/result.h"
#include "core/abi.h"

namespace sluice::sync {

using Bytes = std::vector<uint8_t>;

inline constexpr uint32_t kMagic = 0x534c5359;  // "SLSY"
inline constexpr uint8_t kVersion = 1;
inline constexpr uint8_t kFlagHmac = 0x01;
// Records from a walk of the sender's table (resync or refresh), not new
// flows: their age is the flow's, not the stream's lag.
inline constexpr uint8_t kFlagWalk = 0x02;
inline constexpr size_t kHeaderLen = 32;
inline constexpr size_t kRecordLen = sizeof(sl_sync_record);
inline constexpr size_t kHmacLen = 32;
// What one UDP datagram can carry; a sender batches far fewer (kBatch).
inline constexpr size_t kMaxRecords = (65507 - kHeaderLen - kHmacLen) / kRecordLen;
// Records per datagram that fit a 1500-byte MTU over IPv6 with the HMAC.
inline constexpr size_t kBatch = 16;
inline constexpr size_t kMinKeyLen = 16;

enum class Kind : uint8_t {
  records = 1,         // count records
  resync_request = 2,  // BACKUP -> MASTER: send me everything
  resync_begin = 3,    // MASTER -> BACKUP: a full table follows
  resync_end = 4,      // MASTER -> BACKUP: that was all of it
};
const char* kind_name(Kind k);

struct Header {
  Kind kind = Kind::records;
  uint32_t node_id = 0;
  uint32_t epoch = 0;
  uint64_t seq = 0;
  bool walk = false;  // kFlagWalk

  bool operator==(const Header&) const = default;
};

struct Datagram {
  Header header;
  std::vector<sl_sync_record> records;
};

// Why a datagram was dropped. Stable numbers; the names are metric labels.
enum class Drop : uint8_t {
  wrong_source = 1,  // not from the configured peer
  truncated = 2,     // shorter than its header, HMAC or record count say
  bad_magic = 3,
  bad_version = 4,
  bad_kind = 5,
  bad_flags = 6,      // unknown flag bits or reserved bytes not zero
  missing_hmac = 7,   // we have a key, the datagram is not signed
  bad_hmac = 8,       // signature wrong, or signed while we have no key
  bad_count = 9,      // more records than fit, or records in a control datagram
  bad_length = 10,    // bytes after the last record
  bad_record = 11,    // a record with an unknown family or op, or non-zero padding
  out_of_order = 12,  // a sequence number already seen, or an older epoch
};
inline constexpr int kDropCount = 12;
const char* drop_name(Drop d);

// Empty key: no HMAC trailer.
Bytes encode(const Header& h, std::span<const sl_sync_record> records,
             std::span<const uint8_t> key);

struct Rx {
  IpAddr from;                   // the datagram's source address
  std::optional<IpAddr> peer;    // the configured peer; unset: any source
  std::span<const uint8_t> key;  // empty: unsigned datagrams expected
};
using Decoded = std::variant<Datagram, Drop>;
// Authenticates before it reads counts or records.
Decoded decode(std::span<const uint8_t> bytes, const Rx& rx);

// Numbers one sender's datagrams and cuts records into batches.
class Sender {
 public:
  Sender(uint32_t node_id, uint32_t epoch, Bytes key = {}, size_t batch = kBatch);
  std::vector<Bytes> records(std::span<const sl_sync_record> recs, bool walk = false);
  Bytes control(Kind k);  // resync_request / resync_begin / resync_end
  uint64_t next_seq() const { return seq_; }

 private:
  Header next(Kind k, bool walk = false);
  uint32_t node_id_, epoch_;
  Bytes key_;
  size_t batch_;
  uint64_t seq_ = 1;
};

// What the receiver does with a decoded datagram.
struct Verdict {
  bool deliver = false;         // apply its records / act on its kind
  bool request_resync = false;  // send a resync_request to the sender
  bool resync_done = false;     // a resync_end completed a gap-free resync
  std::optional<Drop> drop;     // out_of_order when not delivered
};

// Tracks the sequence of each sender (node id) per epoch: the next number
// is delivered; a jump is delivered but loses records, so it asks for a
// resync; a number already passed, or an older epoch, is dropped. A new
// epoch (the sender restarted) starts over; joining one past its first
// datagram also asks for a resync.
class Receiver {
 public:
  Verdict accept(const Header& h);
  uint64_t gaps() const { return gaps_; }
  uint64_t out_of_order() const { return out_of_order_; }
  bool resyncing() const { return resyncing_; }

 private:
  struct Stream {
    uint32_t epoch = 0;
    uint64_t last_seq = 0;
    uint64_t touched = 0;  // accept() count when last heard
  };
  // A peer is one stream per start; without a key anyone who can spoof its
  // address could make up node ids: the least recently heard goes first.
  static constexpr size_t kMaxStreams = 8;
  uint64_t accepts_ = 0;
  std::map<uint32_t, Stream> streams_;
  uint64_t gaps_ = 0;
  uint64_t out_of_order_ = 0;
  bool resyncing_ = false;  // between a delivered resync_begin and its end
};

// MASTER side: a record from what the dataplane knows. age = now - created.
sl_sync_record record_make(const sl_flow_key& flow, const sl_vip_key& vip, const IpAddr& backend,
                           uint8_t op, uint64_t created_ns, uint64_t now_ns);
IpAddr record_backend(const sl_sync_record& r);

// BACKUP side: where the local dataplane keeps a (VIP, backend) pair.
struct LocalBackend {
  uint32_t backend = 0;  // slot in the backend table
  uint32_t gen = 0;      // that slot's generation
  uint32_t vip_id = 0;
};
using BackendLookup =
    std::function<std::optional<LocalBackend>(const sl_vip_key& vip, const IpAddr& backend)>;

struct ImportCounters {
  uint64_t imported = 0;
  uint64_t closed = 0;
  uint64_t dropped_unknown_backend = 0;  // the peer has a backend we do not
};

struct Imported {
  uint8_t op = SL_SYNC_OP_NEW;
  sl_flow_key key{};
  sl_conn conn{};  // SL_SYNC_OP_NEW only; created_ns on our clock: now - age
};

// The record in local terms, or nothing (counted) when the backend is not
// ours. `now_ns`: the local clock sl_conn.created_ns is read against.
std::optional<Imported> import_record(const sl_sync_record& r, uint64_t now_ns,
                                      const BackendLookup& lookup, ImportCounters& counters);

// The shared key from a key file's text: trailing whitespace and newline
// stripped, at least kMinKeyLen bytes.
Result<Bytes> key_parse(std::string_view file_text);

}  // namespace sluice::sync
