// SPDX-License-Identifier: Apache-2.0
#include "dataplane/dpdk/dpdk_dataplane.h"

#include <rte_lcore.h>

#include <atomic>
#include <optional>

#include "dataplane/dpdk/eal.h"
#include "dataplane/dpdk/port.h"
#include "dataplane/dpdk/runtime.h"
#include "dataplane/dpdk/tables.h"
#include "dataplane/dpdk/worker.h"

namespace sluice::dpdk {

class DpdkDataplane final : public Dataplane {
 public:
  static Result<std::unique_ptr<Dataplane>> open(const DpdkOptions& opts);
  ~DpdkDataplane() override { shut(); }

  DataplaneInfo describe() const override { return info_; }
  Result<void> detach() override {
    shut();
    return {};
  }
  uint32_t conn_table_size() const override {
    uint32_t n = 0;
    for (const auto& w : workers_) n += w->conn_table_size();
    return n;
  }
  Result<uint64_t> conn_count() const override {
    uint64_t n = 0;
    for (const auto& w : workers_) n += w->conn_count();
    return n;
  }

  Result<void> global_set(const sl_global& g) override { return write(tables_->global_set(g)); }
  Result<void> vip_put(const sl_vip_key& k, const sl_vip_meta& m) override {
    return write(tables_->vip_put(k, m));
  }
  Result<void> vip_del(const sl_vip_key& k) override { return write(tables_->vip_del(k)); }
  Result<void> backend_put(uint32_t i, const sl_backend& be) override {
    return write(tables_->backend_put(i, be));
  }
  Result<void> ring_put(uint32_t id, const sl_ring& r) override {
    return write(tables_->ring_put(id, r));
  }
  Result<std::optional<sl_vip_meta>> vip_get(const sl_vip_key& k) override {
    return tables_->vip_get(k);
  }
  Result<std::vector<std::pair<sl_vip_key, sl_vip_meta>>> vip_list() override {
    return tables_->vip_list();
  }
  Result<sl_backend> backend_get(uint32_t i) override { return tables_->backend_get(i); }

  Result<sl_counters> vip_counters(uint32_t id) override {
    return sum([id](const Worker& w) { return w.vip_counters(id); });
  }
  Result<sl_counters> backend_counters(uint32_t i) override {
    return sum([i](const Worker& w) { return w.backend_counters(i); });
  }
  Result<std::array<sl_counters, SL_R_MAX>> reason_counters() override {
    std::array<sl_counters, SL_R_MAX> out{};
    for (uint32_t r = 0; r < SL_R_MAX; r++)
      out[r] = sum([r](const Worker& w) { return w.reason_counters(r); });
    return out;
  }
  std::vector<uint64_t> worker_packets() const override {
    std::vector<uint64_t> out;
    for (const auto& w : workers_) {
      uint64_t n = 0;
      for (uint32_t r = 0; r < SL_R_MAX; r++) n += w->reason_counters(r).packets;
      out.push_back(n);
    }
    return out;
  }
  Result<void> counters_reset(CounterKind kind, uint32_t id) override {
    for (auto& w : workers_) w->counters_reset(kind, id);
    return {};
  }

  Result<std::vector<ConnEntry>> conns(size_t limit) override {
    std::vector<ConnEntry> out;
    ConnCursor c;
    while (!c.done && (limit == 0 || out.size() < limit)) {
      auto page = conns_page(c, limit == 0 ? 4096 : limit - out.size());
      if (!page) return page.error();
      out.insert(out.end(), page->begin(), page->end());
    }
    return out;
  }
  Result<std::vector<ConnEntry>> conns_page(ConnCursor& cursor, size_t max) override;

  // The firewall: rules in Tables (RCU, as the other tables), hits per
  // worker summed here.
  Result<void> acl_put(const AclEntry& e) override { return write(tables_->acl_put(e)); }
  Result<void> acl_del(const AclEntry& e) override { return write(tables_->acl_del(e)); }
  Result<std::vector<AclEntry>> acl_list() override { return tables_->acl_list(); }
  Result<std::vector<uint64_t>> acl_hits() override {
    std::vector<uint64_t> out(SL_ACL_MAX_RULES, 0);
    for (const auto& w : workers_)
      for (uint32_t id = 0; id < SL_ACL_MAX_RULES; id++) out[id] += w->acl_hits(id);
    return out;
  }
  Result<void> acl_hits_reset(uint32_t rule_id) override {
    if (rule_id >= SL_ACL_MAX_RULES)
      return make_error("dpdk acl_hits_reset: rule id out of range", EINVAL, std::to_string(rule_id));
    for (auto& w : workers_) w->acl_hits_reset(rule_id);
    return {};
  }

  Result<void> heartbeat(uint64_t timeout_ns) override {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);  // the clock the workers read
    uint64_t now = uint64_t(ts.tv_sec) * 1000000000ull + uint64_t(ts.tv_nsec);
    sl_control* c = tables_->control();
    __atomic_store_n(&c->heartbeat_ns, now, __ATOMIC_RELEASE);
    __atomic_store_n(&c->heartbeat_timeout_ns, timeout_ns, __ATOMIC_RELEASE);
    return {};
  }
  Result<void> flow_events_enable(bool on) override {
    sl_control* c = tables_->control();
    if (on)
      __atomic_fetch_or(&c->flags, SL_CTL_F_FLOW_EVENTS, __ATOMIC_RELEASE);
    else
      __atomic_fetch_and(&c->flags, ~uint32_t(SL_CTL_F_FLOW_EVENTS), __ATOMIC_RELEASE);
    return {};
  }
  Result<size_t> flow_events_take(std::vector<sl_flow_event>& out, size_t max) override {
    // Round robin from where the last call stopped, so one busy worker
    // does not starve the others' rings.
    size_t got = 0;
    for (size_t i = 0; i < workers_.size() && got < max; i++) {
      size_t w = (next_events_ + i) % workers_.size();
      got += workers_[w]->flow_events_take(out, max - got);
    }
    next_events_ = (next_events_ + 1) % workers_.size();
    return got;
  }
  Result<uint64_t> flow_events_lost() override {
    uint64_t n = 0;
    for (const auto& w : workers_) n += w->stats().events_lost;
    return n;
  }
  Result<void> conn_put(const sl_flow_key& key, const sl_conn& conn) override {
    return each_owner(key, [&](Worker& w) { return w.conn_put(key, conn); });
  }
  Result<void> conn_del(const sl_flow_key& key) override {
    return each_owner(key, [&](Worker& w) { return w.conn_del(key); });
  }

 private:
  DpdkDataplane() = default;
  Result<void> start(const DpdkOptions& opts);
  void shut();

  // A write, then whatever RCU lets go of (never waits).
  Result<void> write(Result<void> r) {
    tables_->reclaim();
    return r;
  }
  template <class F>
  sl_counters sum(F f) const {
    sl_counters s{};
    for (const auto& w : workers_) {
      sl_counters c = f(*w);
      s.packets += c.packets;
      s.bytes += c.bytes;
      s.new_conns += c.new_conns;
    }
    return s;
  }
  // The worker whose queue RSS gives this flow, or every worker when that
  // cannot be known (the port's table was not ours to write).
  template <class F>
  Result<void> each_owner(const sl_flow_key& key, F f) {
    if (workers_.size() == 1) return f(*workers_[0]);
    if (port_ && port_->rss()) {
      uint32_t h = flow_rss_hash(key, port_->rss_key().data(), kRssKeyLen);
      unsigned q = port_->queue_of_hash(h);
      if (q < workers_.size()) return f(*workers_[q]);
    }
    for (auto& w : workers_)
      if (auto r = f(*w); !r) return r;
    return {};
  }

  DataplaneInfo info_;
  // Declared in the order they are made; destroyed in reverse, the EAL last.
  std::unique_ptr<Eal> eal_;
  Mempool pool_;
  std::unique_ptr<Port> port_;
  std::unique_ptr<TapPort> tap_;
  std::optional<KernelDrop> drop_;
  std::unique_ptr<Tables> tables_;
  std::vector<std::unique_ptr<Worker>> workers_;
  std::unique_ptr<Runtime> runtime_;
  size_t next_events_ = 0;
};

Result<std::unique_ptr<Dataplane>> DpdkDataplane::open(const DpdkOptions& opts) {
  std::unique_ptr<DpdkDataplane> dp(new DpdkDataplane());
  // On failure the half-made dataplane unwinds in reverse (workers
  // stopped, ports closed, TAP removed, EAL cleaned up).
  if (auto r = dp->start(opts); !r) return r.error();
  return std::unique_ptr<Dataplane>(std::move(dp));
}

Result<void> DpdkDataplane::start(const DpdkOptions& opts) {
  if (opts.tap.empty()) return make_error("dpdk: no name for the exception port's TAP");
  auto eal = Eal::init(opts.eal_args);
  if (!eal) return eal.error();
  eal_ = std::move(*eal);
  const auto& lcores = eal_->worker_lcores();
  if (lcores.empty())
    return make_error("dpdk: the EAL has no worker lcore: give it at least two (e.g. -l 0-1); "
                      "the main lcore runs the controller");
  unsigned n = opts.workers ? opts.workers : unsigned(lcores.size());
  if (n > lcores.size())
    return make_error("dpdk: " + std::to_string(n) + " workers asked, the EAL has " +
                      std::to_string(lcores.size()) +
                      " worker lcore(s) (the main lcore runs the controller): give -l more "
                      "lcores or ask fewer workers");
  int socket = int(rte_socket_id());
  auto pool = mempool_create("sl_mbufs", n, socket);
  if (!pool) return pool.error();
  pool_ = std::move(*pool);
  auto port = Port::open(PortConfig{opts.port, n}, pool_.get());
  if (!port) return port.error();
  port_ = std::move(*port);
  auto tap = TapPort::create(opts.tap, *port_, pool_.get());
  if (!tap) return tap.error();
  tap_ = std::move(*tap);
  if (opts.kernel_drop && port_->driver() == "net_af_packet" && port_->kernel_ifindex() != 0) {
    auto d = KernelDrop::attach(port_->kernel_ifindex());
    if (!d) return d.error();
    drop_.emplace(std::move(*d));
  }
  auto tables = Tables::create(TablesConfig{n, socket});
  if (!tables) return tables.error();
  tables_ = std::move(*tables);
  for (unsigned i = 0; i < n; i++) {
    WorkerConfig wc;
    wc.id = i;
    wc.conn_table_size = std::max<uint32_t>(8, opts.conn_table_size / n);
    wc.mtu = port_->mtu();
    wc.socket = socket;
    auto w = Worker::create(*tables_, wc);
    if (!w) return w.error();
    workers_.push_back(std::move(*w));
  }
  std::vector<LcoreTask> tasks;
  for (unsigned i = 0; i < n; i++)
    tasks.push_back(LcoreTask{lcores[i], workers_[i].get(), port_->id(), tap_->id(), uint16_t(i)});
  auto rt = Runtime::start(tasks, opts.idle_sleep_us);
  if (!rt) return rt.error();
  runtime_ = std::move(*rt);
  info_.kind = "dpdk";
  info_.mode = std::to_string(n) + (n == 1 ? " worker" : " workers");
  info_.location = "port " + port_->name() + " (" + port_->driver() + "), exception port " +
                   opts.tap;
  return {};
}

void DpdkDataplane::shut() {
  if (runtime_) runtime_->stop();
  drop_.reset();
  if (tap_) tap_->stop();
  if (port_) port_->stop();
  tap_.reset();
  if (tables_) tables_->reclaim();
}

// The cursor walks worker after worker: its position holds the worker's
// own position (Worker::conns_page) and, after it, the worker's index.
Result<std::vector<ConnEntry>> DpdkDataplane::conns_page(ConnCursor& cursor, size_t max) {
  constexpr size_t kWorkerAt = sizeof(uint32_t);
  static_assert(kWorkerAt + sizeof(uint32_t) <= sizeof(ConnCursor::pos));
  std::vector<ConnEntry> out;
  uint32_t w = 0;
  if (cursor.started) std::memcpy(&w, cursor.pos.data() + kWorkerAt, sizeof(w));
  ConnCursor sub;
  sub.started = cursor.started;
  std::memcpy(sub.pos.data(), cursor.pos.data(), kWorkerAt);
  while (w < workers_.size() && (max == 0 || out.size() < max)) {
    auto page = workers_[w]->conns_page(sub, max == 0 ? 0 : max - out.size());
    out.insert(out.end(), page.begin(), page.end());
    if (!sub.done) break;  // the worker's scan limit, or `max`
    w++;
    sub = ConnCursor{};
  }
  cursor.started = true;
  std::memcpy(cursor.pos.data(), sub.pos.data(), kWorkerAt);
  std::memcpy(cursor.pos.data() + kWorkerAt, &w, sizeof(w));
  cursor.done = w >= workers_.size();
  return out;
}

Result<std::unique_ptr<Dataplane>> dpdk_dataplane_open(const DpdkOptions& opts) {
  return DpdkDataplane::open(opts);
}

}  // namespace sluice::dpdk
