// SPDX-License-Identifier: Apache-2.0
#include "control/sync/sync_engine.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstring>

namespace sluice::sync {

namespace {

std::string local_key(const sl_vip_key& vip, const IpAddr& backend) {
  std::string k(reinterpret_cast<const char*>(&vip), sizeof(vip));
  k.push_back(static_cast<char>(backend.family));
  k.append(reinterpret_cast<const char*>(backend.bytes.data()), backend.bytes.size());
  return k;
}

}  // namespace

uint32_t import_stamp(uint64_t now_ns) { return static_cast<uint32_t>(now_ns / 1000000000u) + 1; }

SyncEngine::SyncEngine(EngineOptions opts, Dataplane& dp)
    : opts_(std::move(opts)), dp_(dp), sender_(opts_.node_id, opts_.epoch, opts_.key) {
  report_.enabled = true;
  report_.signed_ = !opts_.key.empty();
  if (opts_.peer) report_.peer = *opts_.peer;
}

void SyncEngine::dp_error(const Error& e) {
  // One line per kind of failure would need state; these are rare (a map
  // full of errors means the dataplane is gone) and counted.
  if (extra_.dataplane_errors++ == 0) spdlog::warn("sync: {}", e.message());
}

void SyncEngine::queue(Bytes b) {
  if (!room(1)) {
    ++extra_.outbox_full;
    return;
  }
  outbox_.push_back(std::move(b));
}

void SyncEngine::queue(std::vector<Bytes> bs) {
  for (auto& b : bs) queue(std::move(b));
}

void SyncEngine::set_master(bool master, uint64_t now_ns) {
  if (master == master_ && (master || requested_)) return;
  master_ = master;
  report_.sending = master;
  resynced_ = false;
  walk_.reset();
  sweep_.reset();
  if (auto r = dp_.flow_events_enable(master); !r.ok()) dp_error(r.error());
  if (master) {
    last_walk_ns_ = now_ns;
    return;
  }
  request_resync(now_ns);
}

void SyncEngine::set_tables(const SyncTables& t) {
  slots_.clear();
  vips_.clear();
  local_.clear();
  for (const auto& v : t.vips) {
    vips_[v.vip_id] = v.key;
    for (const auto& b : v.backends) {
      auto be = dp_.backend_get(b.slot);
      if (!be.ok()) {
        dp_error(be.error());
        continue;
      }
      if (be->family != b.address.family) continue;  // not programmed yet
      slots_[b.slot] = Slot{b.address, be->gen, v.vip_id};
      local_[local_key(v.key, b.address)] = LocalBackend{b.slot, be->gen, v.vip_id};
    }
  }
}

void SyncEngine::request_resync(uint64_t now_ns) {
  if (!room(1)) return;  // the retry timer asks again
  queue(sender_.control(Kind::resync_request));
  ++report_.resyncs_requested;
  requested_ = true;
  gap_pending_ = false;
  last_request_ns_ = now_ns;
}

std::optional<sl_sync_record> SyncEngine::record_of(const sl_flow_key& flow, uint32_t slot,
                                                    uint32_t gen, uint32_t vip_id,
                                                    uint64_t created_ns, uint64_t now_ns) {
  auto s = slots_.find(slot);
  if (s == slots_.end() || s->second.gen != gen || s->second.vip_id != vip_id) return std::nullopt;
  auto v = vips_.find(vip_id);
  if (v == vips_.end()) return std::nullopt;
  return record_make(flow, v->second, s->second.address, SL_SYNC_OP_NEW, created_ns, now_ns);
}

void SyncEngine::send_events(uint64_t now_ns) {
  size_t room_records = (opts_.outbox_max - std::min(opts_.outbox_max, outbox_.size())) * kBatch;
  size_t want = std::min(opts_.events_per_turn, room_records);
  if (want == 0) return;
  events_.clear();
  auto n = dp_.flow_events_take(events_, want);
  if (!n.ok()) {
    dp_error(n.error());
    return;
  }
  std::vector<sl_sync_record> recs;
  recs.reserve(events_.size());
  for (const auto& e : events_) {
    auto r = record_of(e.flow, e.backend, e.gen, e.vip_id, e.created_ns, now_ns);
    if (r) recs.push_back(*r);
    else ++extra_.events_stale;
  }
  if (recs.empty()) return;
  report_.records_sent += recs.size();
  queue(sender_.records(recs));
}

void SyncEngine::walk_step(uint64_t now_ns) {
  Walk& w = *walk_;
  if (!w.begun) {
    if (!room(1)) return;
    queue(sender_.control(Kind::resync_begin));
    w.begun = true;
  }
  for (size_t d = 0; d < opts_.walk_datagrams_per_turn && !w.cursor.done && room(1); ++d) {
    auto page = dp_.conns_page(w.cursor, kBatch);
    if (!page.ok()) {
      dp_error(page.error());
      walk_.reset();  // the peer's retry asks again
      return;
    }
    std::vector<sl_sync_record> recs;
    for (const auto& e : *page) {
      auto r = record_of(e.key, e.conn.backend, e.conn.gen, e.conn.vip_id, e.conn.created_ns,
                         now_ns);
      if (r) recs.push_back(*r);
      else ++extra_.walk_stale;
    }
    if (!recs.empty()) {
      report_.records_sent += recs.size();
      queue(sender_.records(recs, true));
    }
  }
  if (w.cursor.done && room(1)) {
    queue(sender_.control(Kind::resync_end));
    if (w.requested) ++report_.resyncs_served;
    walk_.reset();
    last_walk_ns_ = now_ns;
  }
}

void SyncEngine::sweep_step() {
  Sweep& s = *sweep_;
  size_t seen = 0;
  while (!s.cursor.done && seen < opts_.sweep_entries_per_turn) {
    auto page = dp_.conns_page(s.cursor, 512);
    if (!page.ok()) {
      dp_error(page.error());
      break;
    }
    seen += page->size();
    for (const auto& e : *page) {
      if (e.conn.synced_s >= s.before_s) continue;
      if (auto r = dp_.conn_del(e.key); r.ok()) ++extra_.swept;
      else dp_error(r.error());
    }
  }
  if (s.cursor.done || seen == 0) sweep_.reset();
}

void SyncEngine::turn(uint64_t now_ns) {
  if (master_) {
    send_events(now_ns);
    if (!walk_ && now_ns - last_walk_ns_ >= opts_.refresh_ns) walk_ = Walk{};
    if (walk_) walk_step(now_ns);
  } else {
    uint64_t wait = gap_pending_ ? opts_.resync_gap_hold_ns : opts_.resync_retry_ns;
    if (!resynced_ && now_ns - last_request_ns_ >= wait) request_resync(now_ns);
    if (sweep_) sweep_step();
  }
  auto lost = dp_.flow_events_lost();
  if (lost.ok()) report_.events_lost = *lost;
  report_.resynced = resynced_;
}

void SyncEngine::import(const Datagram& d, uint64_t now_ns) {
  uint32_t stamp = import_stamp(now_ns);
  ImportCounters c;
  uint32_t newest_ms = UINT32_MAX;
  auto lookup = [this](const sl_vip_key& vip, const IpAddr& be) -> std::optional<LocalBackend> {
    auto it = local_.find(local_key(vip, be));
    if (it == local_.end()) return std::nullopt;
    return it->second;
  };
  std::vector<ConnEntry> puts;
  puts.reserve(d.records.size());
  for (const auto& r : d.records) {
    auto im = import_record(r, now_ns, lookup, c);
    if (!im) continue;
    if (im->op == SL_SYNC_OP_CLOSED) {
      if (auto res = dp_.conn_del(im->key); !res.ok()) dp_error(res.error());
      else ++report_.records_applied;
      continue;
    }
    im->conn.synced_s = stamp;
    puts.push_back(ConnEntry{im->key, im->conn});
    if (!d.header.walk) newest_ms = std::min(newest_ms, sl_ntohl(r.age_ms));
  }
  // One datagram's records in one call (XDP: one syscall).
  if (auto res = dp_.conns_put(puts); !res.ok()) dp_error(res.error());
  else report_.records_applied += puts.size();
  report_.records_no_backend += c.dropped_unknown_backend;
  if (newest_ms != UINT32_MAX) report_.lag_ms = newest_ms;
}

void SyncEngine::receive(std::span<const uint8_t> bytes, const IpAddr& from, uint64_t now_ns) {
  ++report_.datagrams_received;
  auto decoded = decode(bytes, Rx{from, opts_.peer, opts_.key});
  if (auto* drop = std::get_if<Drop>(&decoded)) {
    ++report_.drops[static_cast<size_t>(*drop)];
    return;
  }
  const Datagram& d = std::get<Datagram>(decoded);
  Verdict v = receiver_.accept(d.header);
  if (!v.deliver) {
    ++report_.drops[static_cast<size_t>(v.drop.value_or(Drop::out_of_order))];
    return;
  }
  if (v.request_resync && !master_) {
    resynced_ = false;
    sweep_.reset();
    if (now_ns - last_request_ns_ >= opts_.resync_gap_hold_ns) request_resync(now_ns);
    else gap_pending_ = true;
  }
  switch (d.header.kind) {
    case Kind::records:
      if (master_) ++extra_.ignored_as_master;
      else import(d, now_ns);
      break;
    case Kind::resync_request:
      if (master_) walk_ = Walk{{}, false, true};  // (re)start from the top
      break;
    case Kind::resync_begin:
      if (!master_) pass_start_s_ = import_stamp(now_ns);
      break;
    case Kind::resync_end:
      if (!master_ && v.resync_done) {
        resynced_ = true;
        sweep_ = Sweep{{}, pass_start_s_};
      }
      break;
  }
  report_.resynced = resynced_;
}

}  // namespace sluice::sync
