// SPDX-License-Identifier: Apache-2.0
// Connection-state sync on its own thread: a UDP socket on sync.port that
// accepts only sync.peer, the optional HMAC key from sync.key_file, and a
// SyncEngine driven by poll() over the socket, the dataplane's event ring
// and a 10 ms timerfd. Never waits on the main loop: the main loop and the
// VRRP thread hand it values under a short lock and wake it.
//
// Wiring (sluiced): start() after the dataplane is open; set_tables() from
// the main loop after each apply; set_master() from the VRRP thread on
// each transition (true entering MASTER, false otherwise); resynced() holds
// preempt; report() for sluicectl vrrp and the metrics.
#pragma once

#include <atomic>
#include <memory>
#include <mutex>
#include <optional>
#include <thread>

#include "control/config/config.h"
#include "dataplane/dataplane.h"
#include "core/host/fd.h"
#include "core/host/result.h"
#include "control/daemon/service_table.h"
#include "control/sync/sync_engine.h"
#include "control/vrrp/vrrp_report.h"

namespace sluice::sync {

inline constexpr size_t kKeyFileMax = 4096;

// The key in `path`: a regular file of at most kKeyFileMax bytes that
// neither group nor others may read or write. Errors name sync.key_file.
Result<Bytes> key_file_read(const std::string& path);

// What the main loop hands set_tables() after each apply: the programmed
// VIPs of ServiceTable::vips() and the slot of each of their backends.
SyncTables sync_tables_of(const std::vector<VipState>& vips);

struct SyncOptions {
  SyncConfig config;
  // Tests run two services on one host: where to bind (unset: any
  // address of the peer's family) and the peer's port (0: config.port).
  std::optional<IpAddr> bind;
  uint16_t peer_port = 0;
  EngineOptions engine;  // node_id, epoch, key and peer are filled by start()
};

class SyncService {
 public:
  // Reads the key, binds the socket and starts the thread, as BACKUP
  // (asking the peer for a resync) until set_master(true).
  static Result<std::unique_ptr<SyncService>> start(const SyncOptions& opts, Dataplane& dp);
  ~SyncService();  // stops and joins the thread

  SyncService(const SyncService&) = delete;
  SyncService& operator=(const SyncService&) = delete;

  // Thread-safe; take effect on the service's next turn.
  void set_master(bool master);
  void set_tables(SyncTables tables);
  bool resynced() const { return resynced_.load(std::memory_order_acquire); }
  vrrp::SyncReport report() const;
  EngineExtra extra() const;
  uint16_t local_port() const { return local_port_; }

 private:
  SyncService(const SyncOptions& opts, Dataplane& dp, Fd sock, Fd timer, Fd wake);
  void run();
  void read_socket(uint64_t now_ns);
  void flush();
  void wake();

  SyncOptions opts_;
  SyncEngine engine_;  // the service thread's only
  Fd sock_, timer_, wake_;
  int events_fd_ = -1;
  uint16_t local_port_ = 0;
  IpAddr peer_;
  uint16_t peer_port_ = 0;
  std::thread thread_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> resynced_{false};

  mutable std::mutex mu_;  // guards the hand-over fields below
  std::optional<bool> want_master_;
  std::optional<SyncTables> want_tables_;
  vrrp::SyncReport report_;
  EngineExtra extra_;
};

}  // namespace sluice::sync
