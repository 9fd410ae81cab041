// SPDX-License-Identifier: Apache-2.0
#include "control/sync/sync_codec.h"

#include <gtest/gtest.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstddef>
#include <set>
#include <string>

namespace sluice::sync {
namespace {

IpAddr ip(const char* s) { return *IpAddr::parse(s); }

const IpAddr kPeer = ip("198.18.0.2");
const Bytes kKey(32, 0x5a);
const Bytes kOtherKey(32, 0xa5);

sl_flow_key flow(const char* src, const char* dst, uint16_t sport, uint16_t dport) {
  sl_flow_key k{};
  IpAddr s = ip(src), d = ip(dst);
  s.to_abi(k.src);
  d.to_abi(k.dst);
  k.sport = htons(sport);
  k.dport = htons(dport);
  k.proto = IPPROTO_TCP;
  k.family = s.family;
  return k;
}

sl_vip_key vip(const char* addr, uint16_t port) {
  sl_vip_key v{};
  IpAddr a = ip(addr);
  a.to_abi(v.addr);
  v.port = htons(port);
  v.proto = IPPROTO_TCP;
  v.family = a.family;
  return v;
}

constexpr uint64_t kSec = 1000000000;

sl_sync_record rec4(uint16_t sport = 40000) {
  return record_make(flow("198.18.0.50", "198.18.0.100", sport, 80), vip("198.18.0.100", 80),
                     ip("198.18.0.11"), SL_SYNC_OP_NEW, 10 * kSec, 12 * kSec + 345000000);
}

sl_sync_record rec6() {
  return record_make(flow("2001:2::50", "2001:2::100", 40001, 443), vip("2001:2::100", 443),
                     ip("2001:2::12"), SL_SYNC_OP_CLOSED, 0, 0);
}

Rx rx(std::span<const uint8_t> key = {}) { return Rx{kPeer, kPeer, key}; }

std::string reason_of(const Decoded& d) {
  if (std::holds_alternative<Datagram>(d)) return "accepted";
  return drop_name(std::get<Drop>(d));
}

bool same(const sl_sync_record& a, const sl_sync_record& b) {
  return std::memcmp(&a, &b, sizeof a) == 0;
}

TEST(SyncRecord, LayoutIsTheWireFormat) {
  EXPECT_EQ(sizeof(sl_sync_record), 84u);
  EXPECT_EQ(offsetof(sl_sync_record, flow), 0u);
  EXPECT_EQ(offsetof(sl_sync_record, vip), 40u);
  EXPECT_EQ(offsetof(sl_sync_record, backend), 60u);
  EXPECT_EQ(offsetof(sl_sync_record, op), 77u);
  EXPECT_EQ(offsetof(sl_sync_record, age_ms), 80u);
  sl_sync_record r = rec4();
  const uint8_t* b = reinterpret_cast<const uint8_t*>(&r);
  // 2.345 s old, in network order: 2345 = 0x929.
  EXPECT_EQ(b[80], 0);
  EXPECT_EQ(b[81], 0);
  EXPECT_EQ(b[82], 0x09);
  EXPECT_EQ(b[83], 0x29);
  EXPECT_EQ(record_backend(r), ip("198.18.0.11"));
  EXPECT_EQ(r.op, SL_SYNC_OP_NEW);
}

TEST(SyncRecord, AgeIsNeverNegativeAndSaturates) {
  auto f = flow("198.18.0.50", "198.18.0.100", 1, 80);
  auto v = vip("198.18.0.100", 80);
  EXPECT_EQ(record_make(f, v, ip("198.18.0.11"), 1, 5 * kSec, 4 * kSec).age_ms, 0u);
  EXPECT_EQ(ntohl(record_make(f, v, ip("198.18.0.11"), 1, 0, UINT64_MAX).age_ms), UINT32_MAX);
}

TEST(SyncCodec, HeaderBytesAreAsDocumented) {
  Bytes b = encode(Header{Kind::resync_request, 7, 9, 0x0102030405060708}, {}, {});
  Bytes want = {'S', 'L', 'S', 'Y', 1, 2, 0, 0, 0, 0, 0, 7, 0, 0, 0, 9,
                1,   2,   3,   4,   5, 6, 7, 8, 0, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(b, want);
}

TEST(SyncCodec, RoundTripsRecordsUnsignedAndSigned) {
  std::vector<sl_sync_record> recs = {rec4(), rec6(), rec4(40002)};
  for (const Bytes& key : {Bytes{}, kKey}) {
    Header h{Kind::records, 1, 2, 3};
    Bytes b = encode(h, recs, key);
    EXPECT_EQ(b.size(), kHeaderLen + 3 * kRecordLen + (key.empty() ? 0 : kHmacLen));
    auto d = decode(b, rx(key));
    ASSERT_EQ(reason_of(d), "accepted") << key.size();
    const Datagram& dg = std::get<Datagram>(d);
    EXPECT_EQ(dg.header, h);
    ASSERT_EQ(dg.records.size(), 3u);
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(same(dg.records[i], recs[i])) << i;
  }
}

TEST(SyncCodec, TheHmacIsHmacSha256OfEverythingBeforeIt) {
  Bytes b = encode(Header{Kind::records, 1, 1, 1}, std::vector{rec4()}, kKey);
  uint8_t mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), kKey.data(), static_cast<int>(kKey.size()), b.data(), b.size() - 32, mac,
       &len);
  ASSERT_EQ(len, 32u);
  EXPECT_EQ(Bytes(b.end() - 32, b.end()), Bytes(mac, mac + 32));
  EXPECT_EQ(b[6], kFlagHmac);
}

// Signs again after a mutation, so the check under test is the one that fires.
Bytes resign(Bytes b, const Bytes& key = kKey) {
  b.resize(b.size() - kHmacLen);
  uint8_t mac[32];
  unsigned len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()), b.data(), b.size(), mac, &len);
  b.insert(b.end(), mac, mac + 32);
  return b;
}

Bytes with(Bytes b, size_t at, uint8_t v) {
  b[at] = v;
  return b;
}

struct BadCase {
  const char* name;
  Bytes bytes;
  Rx rx;
  Drop want;
};

Bytes plain(std::vector<sl_sync_record> recs = {rec4()}, Kind k = Kind::records) {
  return encode(Header{k, 1, 1, 1}, recs, {});
}

Bytes signed_(std::vector<sl_sync_record> recs = {rec4()}) {
  return encode(Header{Kind::records, 1, 1, 1}, recs, kKey);
}

Bytes record_with(size_t offset, uint8_t v) { return with(plain(), kHeaderLen + offset, v); }

std::vector<BadCase> bad_cases() {
  Bytes one_record = plain();
  Bytes short_count = plain({rec4(), rec4(1)});
  short_count.resize(short_count.size() - kRecordLen);
  Bytes extra = plain();
  extra.push_back(0);
  Bytes huge_count = with(with(plain({}), 24, 0xff), 25, 0xff);
  Bytes signed_short = signed_();
  signed_short.resize(kHeaderLen + kHmacLen - 1);
  Bytes signed_count_short = signed_({rec4(), rec4(1)});
  signed_count_short.erase(signed_count_short.begin() + kHeaderLen,
                           signed_count_short.begin() + kHeaderLen + kRecordLen);
  Bytes v4_high_word = plain();
  v4_high_word[kHeaderLen + offsetof(sl_sync_record, backend) + 4] = 1;
  return {
      {"OtherSource", plain(), Rx{ip("198.18.0.3"), kPeer, {}}, Drop::wrong_source},
      {"Empty", {}, rx(), Drop::truncated},
      {"ShortHeader", Bytes(one_record.begin(), one_record.begin() + 31), rx(), Drop::truncated},
      {"FewerRecordsThanCounted", short_count, rx(), Drop::truncated},
      {"HmacCutShort", signed_short, rx(kKey), Drop::truncated},
      {"SignedFewerRecordsThanCounted", resign(signed_count_short), rx(kKey), Drop::truncated},
      {"Magic", with(plain(), 0, 'X'), rx(), Drop::bad_magic},
      {"Version0", with(plain(), 4, 0), rx(), Drop::bad_version},
      {"Version2", with(plain(), 4, 2), rx(), Drop::bad_version},
      {"Kind0", with(plain(), 5, 0), rx(), Drop::bad_kind},
      {"Kind5", with(plain(), 5, 5), rx(), Drop::bad_kind},
      {"UnknownFlag", with(plain(), 6, 0x04), rx(), Drop::bad_flags},
      {"Reserved7", with(plain(), 7, 1), rx(), Drop::bad_flags},
      {"Reserved26", with(plain(), 27, 1), rx(), Drop::bad_flags},
      {"Reserved28", with(plain(), 31, 1), rx(), Drop::bad_flags},
      {"Unsigned", plain(), rx(kKey), Drop::missing_hmac},
      {"TamperedRecord", with(signed_(), kHeaderLen + 3, 0x77), rx(kKey), Drop::bad_hmac},
      {"TamperedHmac", with(signed_(), kHeaderLen + kRecordLen + 5, 0), rx(kKey), Drop::bad_hmac},
      {"OtherKey", signed_(), rx(kOtherKey), Drop::bad_hmac},
      {"SignedButNoKeyHere", signed_(), rx(), Drop::bad_hmac},
      {"CountBeyondADatagram", huge_count, rx(), Drop::bad_count},
      {"RecordsInAControlDatagram", with(plain({}, Kind::resync_end), 25, 1), rx(),
       Drop::bad_count},
      {"TrailingByte", extra, rx(), Drop::bad_length},
      {"UnknownOp", record_with(offsetof(sl_sync_record, op), 3), rx(), Drop::bad_record},
      {"OpZero", record_with(offsetof(sl_sync_record, op), 0), rx(), Drop::bad_record},
      {"FlowFamily", record_with(offsetof(sl_sync_record, flow.family), 5), rx(), Drop::bad_record},
      {"VipFamilyDiffers", record_with(offsetof(sl_sync_record, vip.family), SL_AF_INET6), rx(),
       Drop::bad_record},
      {"BackendFamily", record_with(offsetof(sl_sync_record, backend_family), 0), rx(),
       Drop::bad_record},
      {"RecordPadding", record_with(offsetof(sl_sync_record, pad), 1), rx(), Drop::bad_record},
      {"FlowPadding", record_with(offsetof(sl_sync_record, flow.pad), 1), rx(), Drop::bad_record},
      {"Ipv4WithHighWords", v4_high_word, rx(), Drop::bad_record},
  };
}

// The spans in Rx point at these; keep them alive for the whole suite.
const std::vector<BadCase>& all_bad_cases() {
  static const std::vector<BadCase> cases = bad_cases();
  return cases;
}

class SyncCodecDrop : public ::testing::TestWithParam<size_t> {};

TEST_P(SyncCodecDrop, IsDroppedWithItsReason) {
  const BadCase& c = all_bad_cases()[GetParam()];
  EXPECT_EQ(reason_of(decode(c.bytes, c.rx)), drop_name(c.want)) << c.name;
}

INSTANTIATE_TEST_SUITE_P(Table, SyncCodecDrop, ::testing::Range<size_t>(0, bad_cases().size()),
                         [](const auto& info) {
                           return std::string(all_bad_cases()[info.param].name);
                         });

TEST(SyncCodec, EveryDropReasonIsTested) {
  std::set<Drop> seen = {Drop::out_of_order};  // the Receiver's: tested below
  for (const auto& c : all_bad_cases()) seen.insert(c.want);
  EXPECT_EQ(seen.size(), static_cast<size_t>(kDropCount));
  std::set<std::string> names;
  for (int i = 1; i <= kDropCount; ++i) names.insert(drop_name(static_cast<Drop>(i)));
  EXPECT_EQ(names.size(), static_cast<size_t>(kDropCount));
  EXPECT_EQ(names.count("unknown"), 0u);
}

TEST(SyncCodec, AnySourceWhenNoPeerIsSet) {
  EXPECT_EQ(reason_of(decode(plain(), Rx{ip("198.18.0.77"), std::nullopt, {}})), "accepted");
}

TEST(SyncSender, BatchesAndNumbersEveryDatagram) {
  std::vector<sl_sync_record> recs;
  for (uint16_t i = 0; i < 40; ++i) recs.push_back(rec4(1000 + i));
  Sender s(7, 3, kKey);
  std::vector<Bytes> out = s.records(recs);
  ASSERT_EQ(out.size(), 3u);
  size_t total = 0;
  for (size_t i = 0; i < out.size(); ++i) {
    EXPECT_LE(out[i].size(), 1500u - 40 - 8) << "fits a 1500-byte MTU over IPv6/UDP";
    auto d = decode(out[i], rx(kKey));
    ASSERT_EQ(reason_of(d), "accepted");
    const Datagram& dg = std::get<Datagram>(d);
    EXPECT_EQ(dg.header, (Header{Kind::records, 7, 3, i + 1}));
    for (const auto& r : dg.records) EXPECT_TRUE(same(r, recs[total++]));
  }
  EXPECT_EQ(total, 40u);
  auto end = decode(s.control(Kind::resync_end), rx(kKey));
  ASSERT_EQ(reason_of(end), "accepted");
  EXPECT_EQ(std::get<Datagram>(end).header, (Header{Kind::resync_end, 7, 3, 4}));
  EXPECT_EQ(s.next_seq(), 5u);
  EXPECT_TRUE(s.records({}).empty());
}

Header h(uint64_t seq, uint32_t epoch = 1, Kind k = Kind::records, uint32_t node = 1) {
  return Header{k, node, epoch, seq};
}

TEST(SyncReceiver, DeliversInOrderAndDropsDuplicatesAndOldOnes) {
  Receiver r;
  for (uint64_t s = 1; s <= 3; ++s) {
    Verdict v = r.accept(h(s));
    EXPECT_TRUE(v.deliver);
    EXPECT_FALSE(v.request_resync);
  }
  Verdict dup = r.accept(h(3));
  EXPECT_FALSE(dup.deliver);
  EXPECT_EQ(dup.drop, Drop::out_of_order);
  EXPECT_FALSE(r.accept(h(2)).deliver);
  EXPECT_EQ(r.out_of_order(), 2u);
  EXPECT_TRUE(r.accept(h(4)).deliver);
  EXPECT_EQ(r.gaps(), 0u);
}

TEST(SyncReceiver, AGapIsDeliveredAndAsksForAResync) {
  Receiver r;
  r.accept(h(1));
  Verdict v = r.accept(h(5));
  EXPECT_TRUE(v.deliver);
  EXPECT_TRUE(v.request_resync);
  EXPECT_EQ(r.gaps(), 1u);
  // The late ones from inside the gap are out of order now.
  EXPECT_EQ(r.accept(h(3)).drop, Drop::out_of_order);
  EXPECT_FALSE(r.accept(h(6)).request_resync);
}

TEST(SyncReceiver, JoiningMidStreamAsksForAResync) {
  Receiver r;
  EXPECT_TRUE(r.accept(h(42)).request_resync);
  Receiver fresh;
  EXPECT_FALSE(fresh.accept(h(1)).request_resync);
}

TEST(SyncReceiver, ANewEpochStartsOverAndAnOldOneIsStale) {
  Receiver r;
  r.accept(h(1, 5));
  r.accept(h(2, 5));
  Verdict restarted = r.accept(h(1, 6));  // the sender restarted
  EXPECT_TRUE(restarted.deliver);
  EXPECT_FALSE(restarted.request_resync);
  EXPECT_EQ(r.accept(h(3, 5)).drop, Drop::out_of_order);  // a late one from before
  Verdict missed = r.accept(h(9, 7));  // restarted again, and we missed its start
  EXPECT_TRUE(missed.deliver);
  EXPECT_TRUE(missed.request_resync);
}

TEST(SyncReceiver, SendersAreTrackedApart) {
  Receiver r;
  r.accept(h(1, 1, Kind::records, 1));
  r.accept(h(2, 1, Kind::records, 1));
  EXPECT_FALSE(r.accept(h(1, 1, Kind::records, 2)).request_resync);
  EXPECT_TRUE(r.accept(h(3, 1, Kind::records, 1)).deliver);
}

TEST(SyncReceiver, AResyncIsDoneAtItsEndUnlessItHadAHole) {
  Receiver r;
  r.accept(h(1, 1, Kind::resync_begin));
  EXPECT_TRUE(r.resyncing());
  r.accept(h(2));
  Verdict end = r.accept(h(3, 1, Kind::resync_end));
  EXPECT_TRUE(end.resync_done);
  EXPECT_FALSE(r.resyncing());

  Receiver holed;
  holed.accept(h(1, 1, Kind::resync_begin));
  EXPECT_TRUE(holed.accept(h(3)).request_resync);  // seq 2 lost
  EXPECT_FALSE(holed.accept(h(4, 1, Kind::resync_end)).resync_done);
  // The next full resync completes it.
  holed.accept(h(5, 1, Kind::resync_begin));
  EXPECT_TRUE(holed.accept(h(6, 1, Kind::resync_end)).resync_done);
}

TEST(SyncImport, TranslatesIntoTheLocalSlotAndClock) {
  LocalBackend slot{17, 4, 2};
  BackendLookup lookup = [&](const sl_vip_key& v, const IpAddr& be) -> std::optional<LocalBackend> {
    if (be == ip("198.18.0.11") && v.port == htons(80)) return slot;
    return std::nullopt;
  };
  ImportCounters n;
  sl_sync_record r = rec4();  // 2.345 s old
  auto im = import_record(r, 100 * kSec, lookup, n);
  ASSERT_TRUE(im);
  EXPECT_EQ(im->op, SL_SYNC_OP_NEW);
  EXPECT_EQ(std::memcmp(&im->key, &r.flow, sizeof r.flow), 0);
  EXPECT_EQ(im->conn.backend, 17u);
  EXPECT_EQ(im->conn.gen, 4u);
  EXPECT_EQ(im->conn.vip_id, 2u);
  EXPECT_EQ(im->conn.created_ns, 100 * kSec - 2345000000ull);
  // A young local clock: created at 0, not before it.
  EXPECT_EQ(import_record(r, kSec, lookup, n)->conn.created_ns, 0u);
  EXPECT_EQ(n.imported, 2u);
}

TEST(SyncImport, ABackendWeDoNotHaveIsCountedAndDropped) {
  BackendLookup none = [](const sl_vip_key&, const IpAddr&) {
    return std::optional<LocalBackend>();
  };
  ImportCounters n;
  EXPECT_FALSE(import_record(rec4(), 100 * kSec, none, n));
  EXPECT_EQ(n.dropped_unknown_backend, 1u);
  EXPECT_EQ(n.imported, 0u);
}

TEST(SyncImport, AClosedConnectionNeedsNoBackend) {
  BackendLookup none = [](const sl_vip_key&, const IpAddr&) {
    return std::optional<LocalBackend>();
  };
  ImportCounters n;
  auto im = import_record(rec6(), 100 * kSec, none, n);
  ASSERT_TRUE(im);
  EXPECT_EQ(im->op, SL_SYNC_OP_CLOSED);
  EXPECT_EQ(n.closed, 1u);
  EXPECT_EQ(n.dropped_unknown_backend, 0u);
}

TEST(SyncKey, FromAKeyFile) {
  auto k = key_parse("0123456789abcdef\n");
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(k->size(), 16u);
  auto short_key = key_parse("tooshort \n");
  ASSERT_FALSE(short_key.ok());
  EXPECT_EQ(short_key.error().message(), "sync key: at least 16 bytes needed, got 8");
}

}  // namespace
}  // namespace sluice::sync
