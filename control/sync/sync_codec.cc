// SPDX-License-Identifier: Apache-2.0
#include "control/sync/sync_codec.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstring>

namespace sluice::sync {

namespace {

void put_be(uint8_t* p, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i, v >>= 8) p[i] = static_cast<uint8_t>(v);
}

uint64_t get_be(const uint8_t* p, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) v = v << 8 | p[i];
  return v;
}

std::array<uint8_t, kHmacLen> hmac(std::span<const uint8_t> key, std::span<const uint8_t> data) {
  std::array<uint8_t, kHmacLen> out{};
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), data.data(), data.size(), out.data(),
       &len);
  return out;
}

bool family_ok(uint8_t f) { return f == SL_AF_INET || f == SL_AF_INET6; }

// IPv4 lives in word 0; the other three words are zero (core/abi.h).
bool addr_ok(const __u32 a[4], uint8_t family) {
  return family == SL_AF_INET6 || (a[1] == 0 && a[2] == 0 && a[3] == 0);
}

bool record_ok(const sl_sync_record& r) {
  if (r.op != SL_SYNC_OP_NEW && r.op != SL_SYNC_OP_CLOSED) return false;
  if (!family_ok(r.flow.family) || r.vip.family != r.flow.family) return false;
  if (!family_ok(r.backend_family) || r.pad != 0 || r.flow.pad != 0) return false;
  return addr_ok(r.flow.src, r.flow.family) && addr_ok(r.flow.dst, r.flow.family) &&
         addr_ok(r.vip.addr, r.vip.family) && addr_ok(r.backend, r.backend_family);
}

bool kind_ok(uint8_t k) { return k >= 1 && k <= 4; }

}  // namespace

const char* kind_name(Kind k) {
  switch (k) {
    case Kind::records:
      return "records";
    case Kind::resync_request:
      return "resync_request";
    case Kind::resync_begin:
      return "resync_begin";
    case Kind::resync_end:
      return "resync_end";
  }
  return "unknown";
}

const char* drop_name(Drop d) {
  switch (d) {
    case Drop::wrong_source:
      return "wrong_source";
    case Drop::truncated:
      return "truncated";
    case Drop::bad_magic:
      return "bad_magic";
    case Drop::bad_version:
      return "bad_version";
    case Drop::bad_kind:
      return "bad_kind";
    case Drop::bad_flags:
      return "bad_flags";
    case Drop::missing_hmac:
      return "missing_hmac";
    case Drop::bad_hmac:
      return "bad_hmac";
    case Drop::bad_count:
      return "bad_count";
    case Drop::bad_length:
      return "bad_length";
    case Drop::bad_record:
      return "bad_record";
    case Drop::out_of_order:
      return "out_of_order";
  }
  return "unknown";
}

Bytes encode(const Header& h, std::span<const sl_sync_record> records,
             std::span<const uint8_t> key) {
  Bytes b(kHeaderLen + records.size() * kRecordLen);
  put_be(&b[0], kMagic, 4);
  b[4] = kVersion;
  b[5] = static_cast<uint8_t>(h.kind);
  b[6] = static_cast<uint8_t>((key.empty() ? 0 : kFlagHmac) | (h.walk ? kFlagWalk : 0));
  put_be(&b[8], h.node_id, 4);
  put_be(&b[12], h.epoch, 4);
  put_be(&b[16], h.seq, 8);
  put_be(&b[24], records.size(), 2);
  if (!records.empty()) std::memcpy(&b[kHeaderLen], records.data(), records.size() * kRecordLen);
  if (!key.empty()) {
    auto mac = hmac(key, b);
    b.insert(b.end(), mac.begin(), mac.end());
  }
  return b;
}

Decoded decode(std::span<const uint8_t> b, const Rx& rx) {
  if (rx.peer && rx.from != *rx.peer) return Drop::wrong_source;
  if (b.size() < kHeaderLen) return Drop::truncated;
  if (get_be(&b[0], 4) != kMagic) return Drop::bad_magic;
  if (b[4] != kVersion) return Drop::bad_version;
  if (!kind_ok(b[5])) return Drop::bad_kind;
  if ((b[6] & ~(kFlagHmac | kFlagWalk)) != 0 || b[7] != 0 || get_be(&b[26], 2) != 0 || get_be(&b[28], 4) != 0)
    return Drop::bad_flags;
  bool signed_ = b[6] & kFlagHmac;
  if (!rx.key.empty() && !signed_) return Drop::missing_hmac;
  // Signed but we hold no key: the two nodes disagree on the config, and
  // accepting unverified data would hide it.
  if (rx.key.empty() && signed_) return Drop::bad_hmac;
  std::span<const uint8_t> body = b;
  if (signed_) {
    if (b.size() < kHeaderLen + kHmacLen) return Drop::truncated;
    body = b.first(b.size() - kHmacLen);
    auto want = hmac(rx.key, body);
    if (CRYPTO_memcmp(want.data(), b.data() + body.size(), kHmacLen) != 0) return Drop::bad_hmac;
  }
  Datagram d;
  d.header.kind = static_cast<Kind>(b[5]);
  d.header.node_id = static_cast<uint32_t>(get_be(&b[8], 4));
  d.header.epoch = static_cast<uint32_t>(get_be(&b[12], 4));
  d.header.seq = get_be(&b[16], 8);
  d.header.walk = b[6] & kFlagWalk;
  if (d.header.walk && d.header.kind != Kind::records) return Drop::bad_flags;
  size_t count = get_be(&b[24], 2);
  if (count > kMaxRecords || (count != 0 && d.header.kind != Kind::records)) return Drop::bad_count;
  size_t want = kHeaderLen + count * kRecordLen;
  if (body.size() < want) return Drop::truncated;
  if (body.size() > want) return Drop::bad_length;
  d.records.resize(count);
  if (count) std::memcpy(d.records.data(), &body[kHeaderLen], count * kRecordLen);
  for (const auto& r : d.records)
    if (!record_ok(r)) return Drop::bad_record;
  return d;
}

Sender::Sender(uint32_t node_id, uint32_t epoch, Bytes key, size_t batch)
    : node_id_(node_id), epoch_(epoch), key_(std::move(key)), batch_(batch ? batch : 1) {}

Header Sender::next(Kind k, bool walk) { return Header{k, node_id_, epoch_, seq_++, walk}; }

std::vector<Bytes> Sender::records(std::span<const sl_sync_record> recs, bool walk) {
  std::vector<Bytes> out;
  for (size_t i = 0; i < recs.size(); i += batch_)
    out.push_back(encode(next(Kind::records, walk),
                         recs.subspan(i, std::min(batch_, recs.size() - i)), key_));
  return out;
}

Bytes Sender::control(Kind k) { return encode(next(k), {}, key_); }

Verdict Receiver::accept(const Header& h) {
  Verdict v;
  if (streams_.size() >= kMaxStreams && !streams_.contains(h.node_id)) {
    auto oldest = streams_.begin();
    for (auto i = streams_.begin(); i != streams_.end(); ++i)
      if (i->second.touched < oldest->second.touched) oldest = i;
    streams_.erase(oldest);
  }
  auto [it, fresh] = streams_.try_emplace(h.node_id);
  it->second.touched = ++accepts_;
  Stream& s = it->second;
  bool gap = false;
  if (fresh || h.epoch > s.epoch) {
    // A sender we have not heard, or one that restarted: anything before
    // this datagram in its epoch is lost to us.
    gap = h.seq != 1;
    s = Stream{h.epoch, h.seq, accepts_};
  } else if (h.epoch < s.epoch || h.seq <= s.last_seq) {
    ++out_of_order_;
    v.drop = Drop::out_of_order;
    return v;
  } else {
    gap = h.seq != s.last_seq + 1;
    s.last_seq = h.seq;
  }
  v.deliver = true;
  if (gap) {
    ++gaps_;
    v.request_resync = true;
    resyncing_ = false;  // a resync with a hole in it is no resync
  }
  if (h.kind == Kind::resync_begin) resyncing_ = true;
  if (h.kind == Kind::resync_end && resyncing_) {
    resyncing_ = false;
    v.resync_done = true;
  }
  return v;
}

sl_sync_record record_make(const sl_flow_key& flow, const sl_vip_key& vip, const IpAddr& backend,
                           uint8_t op, uint64_t created_ns, uint64_t now_ns) {
  sl_sync_record r{};
  r.flow = flow;
  r.vip = vip;
  backend.to_abi(r.backend);
  r.backend_family = backend.family;
  r.op = op;
  uint64_t age_ms = now_ns > created_ns ? (now_ns - created_ns) / 1000000 : 0;
  r.age_ms = sl_htonl(static_cast<uint32_t>(std::min<uint64_t>(age_ms, UINT32_MAX)));
  return r;
}

IpAddr record_backend(const sl_sync_record& r) {
  return IpAddr::from_abi(r.backend, r.backend_family);
}

std::optional<Imported> import_record(const sl_sync_record& r, uint64_t now_ns,
                                      const BackendLookup& lookup, ImportCounters& counters) {
  Imported im;
  im.op = r.op;
  im.key = r.flow;
  if (r.op == SL_SYNC_OP_CLOSED) {
    ++counters.closed;
    return im;
  }
  auto local = lookup(r.vip, record_backend(r));
  if (!local) {
    ++counters.dropped_unknown_backend;
    return std::nullopt;
  }
  uint64_t age_ns = uint64_t{sl_ntohl(r.age_ms)} * 1000000;
  im.conn.backend = local->backend;
  im.conn.gen = local->gen;
  im.conn.vip_id = local->vip_id;
  im.conn.created_ns = now_ns > age_ns ? now_ns - age_ns : 0;
  ++counters.imported;
  return im;
}

Result<Bytes> key_parse(std::string_view text) {
  while (!text.empty() &&
         (text.back() == '\n' || text.back() == '\r' || text.back() == ' ' || text.back() == '\t'))
    text.remove_suffix(1);
  if (text.size() < kMinKeyLen)
    return make_error("sync key: at least " + std::to_string(kMinKeyLen) + " bytes needed, got " +
                      std::to_string(text.size()));
  return Bytes(text.begin(), text.end());
}

}  // namespace sluice::sync
