// SPDX-License-Identifier: Apache-2.0
#include "control/vrrp/vrrp_service.h"

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <net/if.h>
#include <poll.h>
#include <spdlog/spdlog.h>
#include <sys/eventfd.h>
#include <sys/timerfd.h>

#include <cerrno>
#include <condition_variable>

#include "control/net/netlink.h"
#include "control/net/netlink_attr.h"
#include "control/net/vip_addresses.h"
#include "control/vrrp/advert_socket.h"
#include "control/vrrp/announce.h"
#include "control/vrrp/notify_runner.h"
#include "control/vrrp/vrrp_node.h"

namespace sluice::vrrp {

namespace {

// Datagrams taken per wake-up before the timers get their turn again: a
// flood of adverts costs the thread a bounded slice, never an advert.
constexpr int kRxBurst = 64;
constexpr int kLinkBurst = 8;
constexpr std::chrono::milliseconds kRenewEvery{1000};

struct MnlCloser {
  void operator()(mnl_socket* s) const { mnl_socket_close(s); }
};
using MnlSocket = std::unique_ptr<mnl_socket, MnlCloser>;

Result<MnlSocket> link_monitor_open() {
  MnlSocket s(mnl_socket_open2(NETLINK_ROUTE, SOCK_CLOEXEC | SOCK_NONBLOCK));
  if (!s) return make_error("vrrp: netlink link monitor", errno);
  if (mnl_socket_bind(s.get(), RTMGRP_LINK, MNL_SOCKET_AUTOPID) < 0)
    return make_error("vrrp: netlink link monitor: bind", errno);
  return s;
}

// Asks for the link's state; the answer arrives like an event.
void link_request(mnl_socket* s, int ifindex) {
  char buf[MNL_SOCKET_BUFFER_SIZE];
  nlmsghdr* nlh = mnl_nlmsg_put_header(buf);
  nlh->nlmsg_type = RTM_GETLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST;
  auto* ifi = static_cast<ifinfomsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(ifinfomsg)));
  ifi->ifi_family = AF_UNSPEC;
  ifi->ifi_index = ifindex;
  mnl_socket_sendto(s, nlh, nlh->nlmsg_len);
}

void arm(int timerfd, TimePoint at) {
  auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(at.time_since_epoch()).count();
  if (ns <= 0) ns = 1;  // 0 would disarm
  itimerspec its{};
  its.it_value.tv_sec = ns / 1'000'000'000;
  its.it_value.tv_nsec = ns % 1'000'000'000;
  // steady_clock is CLOCK_MONOTONIC on Linux.
  timerfd_settime(timerfd, TFD_TIMER_ABSTIME, &its, nullptr);
}

}  // namespace

uint8_t advert_family(const VrrpConfig& c, const std::vector<IpAddr>& vips) {
  if (!c.unicast_peers.empty()) return c.unicast_peers.front().family;
  bool v4 = false, v6 = false;
  for (const IpAddr& a : vips) (a.is_v4() ? v4 : v6) = true;
  return v4 || !v6 ? SL_AF_INET : SL_AF_INET6;
}

struct VrrpService::Impl final : RoleEffects {
  ServiceOptions o;
  Netlink nl;
  VipAddresses vips;
  Announcer announcer;
  AdvertSocket sock;
  MnlSocket links;
  Fd wake;
  Fd timer;
  std::unique_ptr<NotifyRunner> notify;
  VrrpNode node;
  bool link_up;
  LogLimit announce_warning{std::chrono::seconds(10)};

  // Posted by other threads, taken by the VRRP thread.
  mutable std::mutex mu;
  std::condition_variable cv;
  std::optional<std::vector<IpAddr>> pending_vips;
  bool vip_without_serving = false;
  bool hold = false;
  std::vector<std::function<void(bool)>> pending_role_cbs;
  bool shutdown_asked = false;
  bool shutdown_done = false;
  bool stop = false;
  VrrpReport snapshot;

  // VRRP thread only.
  bool posted_hold = false;
  std::vector<std::function<void(bool)>> role_cbs;
  bool master = false;
  std::thread thread;

  Impl(ServiceOptions opts, Netlink n, Announcer a, AdvertSocket s, MnlSocket l, Fd w, Fd t,
       NodeConfig nc)
      : o(std::move(opts)),
        nl(std::move(n)),
        vips(nl, o.vip_ifindex, AddrLifetime{o.vip_lifetime_s, o.vip_lifetime_s}),
        announcer(std::move(a)),
        sock(std::move(s)),
        links(std::move(l)),
        wake(std::move(w)),
        timer(std::move(t)),
        node(std::move(nc), sock, *this),
        link_up(o.advert_link_up) {
    if (!o.vrrp.notify.empty())
      notify =
          std::make_unique<NotifyRunner>(NotifyRunner::Options{o.vrrp.notify, o.notify_timeout, 8});
    node.on_transition([this](const Transition& t) { transition(t); });
  }

  // RoleEffects, on the VRRP thread.
  Result<void> set_role(bool active) override {
    return o.set_role ? o.set_role(active) : Result<void>();
  }
  Result<void> hold_vips(const std::vector<IpAddr>& v) override { return vips.sync(v); }
  Result<void> renew_vips() override { return vips.renew(); }
  Result<void> release_vips(const std::vector<IpAddr>& also) override {
    auto first = vips.remove_each(also);
    auto rest = vips.remove_all();
    return first ? rest : first;
  }
  void announce(const std::vector<IpAddr>& v) override {
    if (auto r = announcer.announce(v); !r)
      if (auto held = announce_warning.take(std::chrono::steady_clock::now()))
        spdlog::warn("vrrp: {}", r.error().message());
  }
  void heartbeat(std::chrono::nanoseconds timeout) override {
    if (o.heartbeat) o.heartbeat(timeout);
  }

  void transition(const Transition& t) {
    if (notify)
      notify->post({"INSTANCE", "VI_" + std::to_string(o.vrrp.vrid), notify_state_name(t.to),
                    std::to_string(t.priority)});
    bool now_master = t.to == State::master;
    if (now_master == master) return;
    master = now_master;
    for (auto& cb : role_cbs) cb(master);
  }

  bool hold_now() const { return posted_hold || (o.preempt_hold && o.preempt_hold()); }

  void wakeup() {
    uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(wake.get(), &one, sizeof(one));
  }

  // Takes what other threads posted; false: stop now.
  bool take_posts(TimePoint now) {
    std::optional<std::vector<IpAddr>> v;
    std::vector<std::function<void(bool)>> cbs;
    bool no_serving, held, quit, graceful;
    {
      std::lock_guard lock(mu);
      v = std::move(pending_vips);
      pending_vips.reset();
      cbs = std::move(pending_role_cbs);
      pending_role_cbs.clear();
      no_serving = vip_without_serving;
      held = hold;
      quit = stop;
      graceful = shutdown_asked && !shutdown_done;
    }
    if (v) node.set_vips(now, std::move(*v));
    posted_hold = held;
    node.set_preempt_hold(hold_now());
    node.set_tracking(now, no_serving, !link_up);
    for (auto& cb : cbs) {
      cb(master);
      role_cbs.push_back(std::move(cb));
    }
    if (graceful) {
      node.shutdown(now);
      publish();
      std::lock_guard lock(mu);
      shutdown_done = true;
      cv.notify_all();
      return false;
    }
    return !quit;
  }

  void read_links(TimePoint now) {
    char buf[8192];
    for (int i = 0; i < kLinkBurst; ++i) {
      ssize_t n = mnl_socket_recvfrom(links.get(), buf, sizeof(buf));
      if (n < 0) {
        if (errno == ENOBUFS) link_request(links.get(), o.advert_ifindex);  // events lost
        break;
      }
      for (auto* nlh = reinterpret_cast<const nlmsghdr*>(buf);
           mnl_nlmsg_ok(nlh, static_cast<int>(n));
           nlh = mnl_nlmsg_next(nlh, reinterpret_cast<int*>(&n))) {
        if (nlh->nlmsg_type != RTM_NEWLINK && nlh->nlmsg_type != RTM_DELLINK) continue;
        auto* ifi = static_cast<const ifinfomsg*>(mnl_nlmsg_get_payload(nlh));
        if (ifi->ifi_index != o.advert_ifindex) continue;
        bool up = nlh->nlmsg_type == RTM_NEWLINK && (ifi->ifi_flags & IFF_UP) &&
                  (ifi->ifi_flags & IFF_RUNNING);
        if (up != link_up)
          spdlog::info("vrrp: interface {} is {}", o.advert_ifname, up ? "up" : "down");
        link_up = up;
      }
    }
    bool no_serving;
    {
      std::lock_guard lock(mu);
      no_serving = vip_without_serving;
    }
    node.set_tracking(now, no_serving, !link_up);
  }

  void publish() {
    VrrpReport r = node.report();
    std::lock_guard lock(mu);
    r.sync = snapshot.sync;
    snapshot = std::move(r);
  }

  void run() {
    auto now = std::chrono::steady_clock::now();
    node.start(now);
    if (!take_posts(now)) return;
    publish();
    for (;;) {
      arm(timer.get(), node.next_wakeup());
      pollfd fds[4] = {{sock.fd(), POLLIN, 0},
                       {timer.get(), POLLIN, 0},
                       {wake.get(), POLLIN, 0},
                       {mnl_socket_get_fd(links.get()), POLLIN, 0}};
      if (::poll(fds, 4, -1) < 0 && errno != EINTR) {
        spdlog::error("vrrp: poll: {}", std::strerror(errno));
        return;
      }
      now = std::chrono::steady_clock::now();
      node.set_preempt_hold(hold_now());
      if (fds[1].revents) {
        uint64_t ticks;
        [[maybe_unused]] auto n = ::read(timer.get(), &ticks, sizeof(ticks));
      }
      // Adverts already received before the timers: a backup whose thread
      // woke late must hear the master that is there before it declares it
      // down. The burst is bounded, so a flood delays a due advert by
      // microseconds, never by the flood.
      if (fds[0].revents) {
        for (int i = 0; i < kRxBurst; ++i) {
          auto rx = sock.receive();
          if (!rx) break;
          node.on_receive(now, *rx);
        }
      }
      node.on_timer(now);
      if (fds[2].revents) {
        uint64_t count;
        [[maybe_unused]] auto n = ::read(wake.get(), &count, sizeof(count));
        if (!take_posts(now)) return;
      }
      if (fds[3].revents) read_links(now);
      publish();
    }
  }
};

VrrpService::VrrpService(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Result<std::unique_ptr<VrrpService>> VrrpService::start(ServiceOptions o) {
  NodeConfig nc;
  nc.name = "VI_" + std::to_string(o.vrrp.vrid);
  nc.interface = o.advert_ifname;
  nc.vrrp = o.vrrp;
  nc.primary = o.primary;
  nc.vips = o.vips;
  nc.renew_every = kRenewEvery;
  AdvertSocketOptions so{o.advert_ifname, o.advert_ifindex, o.advert_mac, o.primary, {}};
  for (const IpAddr& p : o.vrrp.unicast_peers)
    if (p.family == o.primary.family) so.unicast_peers.push_back(p);
  auto sock = AdvertSocket::open(so);
  if (!sock) return sock.error();
  auto nl = Netlink::open();
  if (!nl) return nl.error();
  auto announcer = Announcer::open(o.vip_ifindex, o.vip_mac);
  if (!announcer) return announcer.error();
  auto links = link_monitor_open();
  if (!links) return links.error();
  Fd wake(::eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC));
  if (!wake) return make_error("vrrp: eventfd", errno);
  Fd timer(::timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC));
  if (!timer) return make_error("vrrp: timerfd", errno);
  auto impl =
      std::make_unique<Impl>(std::move(o), std::move(*nl), std::move(*announcer), std::move(*sock),
                             std::move(*links), std::move(wake), std::move(timer), std::move(nc));
  Impl* p = impl.get();
  spdlog::info("vrrp VI_{}: adverts on {} from {} to {} every {} ms, priority {}", p->o.vrrp.vrid,
               p->o.advert_ifname, p->o.primary.str(),
               so.unicast_peers.empty() ? advert_group(p->o.primary.family).str()
                                        : std::to_string(so.unicast_peers.size()) + " peer(s)",
               p->o.vrrp.advert_interval_ms, p->o.vrrp.priority);
  // Starts in Backup: no VIP (also none a previous run left behind).
  if (auto r = p->vips.remove_each(p->o.vips); !r) spdlog::warn("vrrp: {}", r.error().message());
  p->thread = std::thread([p] { p->run(); });
  return std::unique_ptr<VrrpService>(new VrrpService(std::move(impl)));
}

VrrpService::~VrrpService() {
  {
    std::lock_guard lock(impl_->mu);
    impl_->stop = true;
  }
  impl_->wakeup();
  if (impl_->thread.joinable()) impl_->thread.join();
}

void VrrpService::set_vips(std::vector<IpAddr> vips) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->pending_vips = std::move(vips);
  }
  impl_->wakeup();
}

void VrrpService::set_vip_without_serving_backend(bool v) {
  {
    std::lock_guard lock(impl_->mu);
    if (impl_->vip_without_serving == v) return;
    impl_->vip_without_serving = v;
  }
  impl_->wakeup();
}

void VrrpService::set_preempt_hold(bool hold) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->hold = hold;
  }
  impl_->wakeup();
}

void VrrpService::on_role(std::function<void(bool master)> cb) {
  {
    std::lock_guard lock(impl_->mu);
    impl_->pending_role_cbs.push_back(std::move(cb));
  }
  impl_->wakeup();
}

VrrpReport VrrpService::report() const {
  std::lock_guard lock(impl_->mu);
  return impl_->snapshot;
}

void VrrpService::shutdown(std::chrono::milliseconds wait) {
  std::unique_lock lock(impl_->mu);
  impl_->shutdown_asked = true;
  lock.unlock();
  impl_->wakeup();
  lock.lock();
  if (!impl_->cv.wait_for(lock, wait, [&] { return impl_->shutdown_done; }))
    spdlog::warn("vrrp: shutdown not done after {} ms", wait.count());
}

}  // namespace sluice::vrrp
