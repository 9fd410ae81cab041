// SPDX-License-Identifier: Apache-2.0
#include "control/sync/sync_service.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace sluice::sync {

namespace {

constexpr size_t kDatagramMax = 65536;       // every read: at most one UDP payload
constexpr int kReadsPerWake = 256;           // then the timers and the sender get a turn
constexpr long kTurnNs = 10'000'000;         // 10 ms
constexpr int kSocketBuffer = 4 << 20;

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

socklen_t sockaddr_of(const IpAddr& a, uint16_t port, sockaddr_storage& ss, bool v6_socket) {
  std::memset(&ss, 0, sizeof(ss));
  if (v6_socket) {
    auto* s6 = reinterpret_cast<sockaddr_in6*>(&ss);
    s6->sin6_family = AF_INET6;
    s6->sin6_port = htons(port);
    if (a.is_v6()) {
      std::memcpy(&s6->sin6_addr, a.bytes.data(), 16);
    } else if (a.is_v4()) {  // v4-mapped
      s6->sin6_addr.s6_addr[10] = 0xff;
      s6->sin6_addr.s6_addr[11] = 0xff;
      std::memcpy(&s6->sin6_addr.s6_addr[12], a.bytes.data(), 4);
    }
    return sizeof(sockaddr_in6);
  }
  auto* s4 = reinterpret_cast<sockaddr_in*>(&ss);
  s4->sin_family = AF_INET;
  s4->sin_port = htons(port);
  if (a.is_v4()) std::memcpy(&s4->sin_addr, a.bytes.data(), 4);
  return sizeof(sockaddr_in);
}

IpAddr addr_of(const sockaddr_storage& ss) {
  IpAddr a;
  if (ss.ss_family == AF_INET) {
    const auto* s4 = reinterpret_cast<const sockaddr_in*>(&ss);
    a.family = SL_AF_INET;
    std::memcpy(a.bytes.data(), &s4->sin_addr, 4);
  } else if (ss.ss_family == AF_INET6) {
    const auto* s6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    const uint8_t* b = s6->sin6_addr.s6_addr;
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    if (std::memcmp(b, mapped, 12) == 0) {
      a.family = SL_AF_INET;
      std::memcpy(a.bytes.data(), b + 12, 4);
    } else {
      a.family = SL_AF_INET6;
      std::memcpy(a.bytes.data(), b, 16);
    }
  }
  return a;
}

uint32_t random_u32() {
  uint32_t v = 0;
  if (getrandom(&v, sizeof(v), 0) != sizeof(v)) v = static_cast<uint32_t>(monotonic_ns());
  return v ? v : 1;
}

}  // namespace

SyncTables sync_tables_of(const std::vector<VipState>& vips) {
  SyncTables t;
  t.vips.reserve(vips.size());
  for (const auto& v : vips) {
    if (!v.programmed) continue;
    SyncTables::Vip out;
    out.key = v.key();
    out.vip_id = v.vip_id;
    out.backends.reserve(v.backends.size());
    for (const auto& b : v.backends) out.backends.push_back({b.index, b.cfg.address});
    t.vips.push_back(std::move(out));
  }
  return t;
}

Result<Bytes> key_file_read(const std::string& path) {
  const std::string field = "sync.key_file";
  Fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK));
  if (!fd) return make_error("config: " + field + ": cannot open", errno, path);
  struct stat st{};
  if (fstat(fd.get(), &st) != 0) return make_error("config: " + field + ": fstat", errno, path);
  if (!S_ISREG(st.st_mode)) return make_error("config: " + field + ": not a regular file", 0, path);
  if (st.st_mode & (S_IRWXG | S_IRWXO))
    return make_error("config: " + field + ": group or others may access it (chmod 600)", 0, path);
  if (st.st_size > static_cast<off_t>(kKeyFileMax))
    return make_error("config: " + field + ": larger than " + std::to_string(kKeyFileMax) +
                          " bytes",
                      0, path);
  std::string text(kKeyFileMax + 1, '\0');
  ssize_t n = ::read(fd.get(), text.data(), text.size());
  if (n < 0) return make_error("config: " + field + ": read", errno, path);
  if (static_cast<size_t>(n) > kKeyFileMax)
    return make_error("config: " + field + ": larger than " + std::to_string(kKeyFileMax) +
                          " bytes",
                      0, path);
  text.resize(static_cast<size_t>(n));
  auto key = key_parse(text);
  if (!key.ok()) return make_error("config: " + field + ": " + key.error().op, 0, path);
  return key;
}

Result<std::unique_ptr<SyncService>> SyncService::start(const SyncOptions& in, Dataplane& dp) {
  SyncOptions opts = in;
  const IpAddr& peer = opts.config.peer;
  if (!peer.is_v4() && !peer.is_v6()) return make_error("config: sync.peer: no address");
  if (!opts.config.key_file.empty()) {
    auto key = key_file_read(opts.config.key_file);
    if (!key.ok()) return key.error();
    opts.engine.key = std::move(*key);
  }
  opts.engine.peer = peer;
  opts.engine.node_id = random_u32();
  opts.engine.epoch = static_cast<uint32_t>(time(nullptr));

  bool v6 = peer.is_v6();
  Fd sock(::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!sock) return make_error("sync: socket", errno);
  int one = 1, buf = kSocketBuffer;
  setsockopt(sock.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  // A burst outlasts the default receive buffer (net.core.rmem_max, about
  // 200 KB: 24 ms of 100,000 records/s) whenever the thread is descheduled,
  // and a lost datagram costs a full resync: sluiced has CAP_NET_ADMIN.
  if (setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUFFORCE, &buf, sizeof(buf)) != 0)
    setsockopt(sock.get(), SOL_SOCKET, SO_RCVBUF, &buf, sizeof(buf));
  setsockopt(sock.get(), SOL_SOCKET, SO_SNDBUF, &buf, sizeof(buf));
  sockaddr_storage ss{};
  socklen_t len = sockaddr_of(opts.bind.value_or(IpAddr{}), opts.config.port, ss, v6);
  if (::bind(sock.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0)
    return make_error("sync: bind", errno, "sync.port " + std::to_string(opts.config.port));
  Fd timer(timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer) return make_error("sync: timerfd_create", errno);
  itimerspec its{};
  its.it_interval.tv_nsec = kTurnNs;
  its.it_value.tv_nsec = kTurnNs;
  if (timerfd_settime(timer.get(), 0, &its, nullptr) != 0)
    return make_error("sync: timerfd_settime", errno);
  Fd wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return make_error("sync: eventfd", errno);

  std::unique_ptr<SyncService> s(
      new SyncService(opts, dp, std::move(sock), std::move(timer), std::move(wake)));
  s->thread_ = std::thread([p = s.get()] { p->run(); });
  return s;
}

SyncService::SyncService(const SyncOptions& opts, Dataplane& dp, Fd sock, Fd timer, Fd wake)
    : opts_(opts),
      engine_(opts.engine, dp),
      sock_(std::move(sock)),
      timer_(std::move(timer)),
      wake_(std::move(wake)),
      events_fd_(dp.flow_events_fd()),
      peer_(opts.config.peer),
      peer_port_(opts.peer_port ? opts.peer_port : opts.config.port) {
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  if (getsockname(sock_.get(), reinterpret_cast<sockaddr*>(&ss), &len) == 0)
    local_port_ = ntohs(ss.ss_family == AF_INET6 ? reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port
                                                 : reinterpret_cast<sockaddr_in*>(&ss)->sin_port);
  report_ = engine_.counters();
  report_.port = opts.config.port;
  want_master_ = false;  // start as BACKUP: ask for a resync
}

SyncService::~SyncService() {
  stop_.store(true);
  wake();
  if (thread_.joinable()) thread_.join();
}

void SyncService::wake() {
  uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wake_.get(), &one, sizeof(one));
}

void SyncService::set_master(bool master) {
  {
    std::lock_guard lock(mu_);
    want_master_ = master;
  }
  wake();
}

void SyncService::set_tables(SyncTables tables) {
  {
    std::lock_guard lock(mu_);
    want_tables_ = std::move(tables);
  }
  wake();
}

vrrp::SyncReport SyncService::report() const {
  std::lock_guard lock(mu_);
  return report_;
}

EngineExtra SyncService::extra() const {
  std::lock_guard lock(mu_);
  return extra_;
}

void SyncService::read_socket(uint64_t now_ns) {
  std::vector<uint8_t> buf(kDatagramMax);
  for (int i = 0; i < kReadsPerWake; ++i) {
    sockaddr_storage from{};
    socklen_t flen = sizeof(from);
    ssize_t n = ::recvfrom(sock_.get(), buf.data(), buf.size(), MSG_TRUNC,
                           reinterpret_cast<sockaddr*>(&from), &flen);
    if (n < 0) return;  // EAGAIN, or an ICMP error of the peer's port: next wake
    size_t got = std::min(static_cast<size_t>(n), buf.size());
    engine_.receive(std::span<const uint8_t>(buf.data(), got), addr_of(from), now_ns);
  }
}

void SyncService::flush() {
  sockaddr_storage to{};
  socklen_t len = sockaddr_of(peer_, peer_port_, to, peer_.is_v6());
  auto& out = engine_.outbox();
  while (!out.empty()) {
    const Bytes& b = out.front();
    ssize_t n = ::sendto(sock_.get(), b.data(), b.size(), 0, reinterpret_cast<sockaddr*>(&to), len);
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == ENOBUFS)) return;
    // Sent, or refused for good (e.g. the peer is down: ECONNREFUSED):
    // either way the datagram leaves the queue; the peer's sequence
    // tracking asks for a resync if it mattered.
    out.pop_front();
    if (n >= 0) {
      std::lock_guard lock(mu_);
      ++report_.datagrams_sent;
    }
  }
}

void SyncService::run() {
  uint64_t datagrams_sent = 0;
  while (!stop_.load()) {
    pollfd fds[4] = {{sock_.get(), POLLIN, 0}, {timer_.get(), POLLIN, 0},
                     {wake_.get(), POLLIN, 0}, {events_fd_, POLLIN, 0}};
    short out_events = engine_.outbox().empty() ? 0 : POLLOUT;
    fds[0].events = static_cast<short>(POLLIN | out_events);
    int nfds = events_fd_ >= 0 ? 4 : 3;
    if (::poll(fds, static_cast<nfds_t>(nfds), 100) < 0 && errno != EINTR) break;
    if (stop_.load()) break;
    uint64_t drain = 0;
    if (fds[1].revents & POLLIN) {
      [[maybe_unused]] ssize_t n = ::read(timer_.get(), &drain, 8);
    }
    if (fds[2].revents & POLLIN) {
      [[maybe_unused]] ssize_t n = ::read(wake_.get(), &drain, 8);
    }
    uint64_t now = monotonic_ns();
    std::optional<bool> master;
    std::optional<SyncTables> tables;
    {
      std::lock_guard lock(mu_);
      master.swap(want_master_);
      tables.swap(want_tables_);
    }
    if (tables) engine_.set_tables(*tables);
    if (master) engine_.set_master(*master, now);
    if (fds[0].revents & POLLIN) read_socket(now);
    engine_.turn(now);
    flush();
    {
      std::lock_guard lock(mu_);
      datagrams_sent = report_.datagrams_sent;
      report_ = engine_.counters();
      report_.port = opts_.config.port;
      report_.datagrams_sent = datagrams_sent;
      extra_ = engine_.extra();
    }
    resynced_.store(engine_.resynced(), std::memory_order_release);
  }
}

}  // namespace sluice::sync
