// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the state-sync datagram decoder: any bytes get a
// datagram or a drop reason, never a crash; the format is canonical (an
// accepted datagram encodes back to the very same bytes); the receiver's
// sequence tracking and the import of accepted records take it too.
//
// Input: byte 0 bit 0 verify with the fuzz key; then the datagram.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "control/sync/sync_codec.h"
#include "tests/fuzz/sync_fuzz_key.h"

using namespace sluice;
using namespace sluice::sync;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static Receiver receiver;  // carries sequence state across inputs, as a socket would
  if (size < 1) return 0;
  std::span<const uint8_t> key;
  if (data[0] & 1) key = kFuzzKey;
  IpAddr peer = *IpAddr::parse("198.18.0.2");
  std::span<const uint8_t> bytes(data + 1, size - 1);
  Decoded d = decode(bytes, Rx{peer, peer, key});
  if (auto* drop = std::get_if<Drop>(&d)) {
    int n = static_cast<int>(*drop);
    if (n < 1 || n > kDropCount) abort();
    return 0;
  }
  const Datagram& dg = std::get<Datagram>(d);
  Bytes again = encode(dg.header, dg.records, key);
  if (again.size() != bytes.size() || !std::equal(again.begin(), again.end(), bytes.begin()))
    abort();
  Verdict v = receiver.accept(dg.header);
  if (v.deliver == v.drop.has_value()) abort();
  ImportCounters counters;
  BackendLookup lookup = [](const sl_vip_key& vip, const IpAddr&) -> std::optional<LocalBackend> {
    if (vip.port & 1) return LocalBackend{1, 2, 3};
    return std::nullopt;
  };
  for (const auto& r : dg.records) {
    auto im = import_record(r, 1'000'000'000, lookup, counters);
    if (im && im->op == SL_SYNC_OP_NEW && im->conn.created_ns > 1'000'000'000) abort();
  }
  if (counters.imported + counters.closed + counters.dropped_unknown_backend != dg.records.size())
    abort();
  return 0;
}
