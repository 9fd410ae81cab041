// SPDX-License-Identifier: Apache-2.0
#include "xdp/xdp_attach.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>
#include <net/if.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace sluice {
namespace {

uint32_t mode_flag(bool generic) { return generic ? XDP_FLAGS_SKB_MODE : XDP_FLAGS_DRV_MODE; }

Result<std::string> prog_name_of(int fd, uint32_t id) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return make_error("bpf_obj_get_info_by_fd", errno, std::to_string(id));
  return std::string(info.name, strnlen(info.name, sizeof(info.name)));
}

// The program with this id if it is named `prog_name`, else an empty Fd.
Result<Fd> prog_if_named(uint32_t id, const char* prog_name) {
  if (id == 0) return Fd();
  Fd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return make_error("bpf_prog_get_fd_by_id", errno, std::to_string(id));
  auto name = prog_name_of(fd.get(), id);
  if (!name.ok()) return name.error();
  if (*name != std::string(prog_name).substr(0, BPF_OBJ_NAME_LEN - 1)) return Fd();
  return fd;
}

// Tag (a hash of the instructions, map references masked) and map ids.
struct ProgIdentity {
  uint8_t tag[BPF_TAG_SIZE] = {};
  uint32_t map_ids[32] = {};
  uint32_t nr_maps = 0;
  bool operator==(const ProgIdentity& o) const {
    return std::memcmp(tag, o.tag, sizeof(tag)) == 0 && nr_maps == o.nr_maps &&
           std::memcmp(map_ids, o.map_ids, nr_maps * sizeof(uint32_t)) == 0;
  }
};

Result<ProgIdentity> prog_identity(int fd) {
  ProgIdentity id;
  bpf_prog_info info{};
  info.nr_map_ids = 32;
  info.map_ids = reinterpret_cast<uint64_t>(id.map_ids);
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return make_error("bpf_obj_get_info_by_fd", errno);
  std::memcpy(id.tag, info.tag, sizeof(id.tag));
  id.nr_maps = info.nr_map_ids > 32 ? 32 : info.nr_map_ids;
  std::sort(id.map_ids, id.map_ids + id.nr_maps);
  return id;
}

// A restart of the same controller loads the same object over the same
// (pinned or adopted) maps: the running program is then kept, not swapped.
Result<bool> same_program(int running_fd, int new_fd) {
  auto a = prog_identity(running_fd);
  if (!a.ok()) return a.error();
  auto b = prog_identity(new_fd);
  if (!b.ok()) return b.error();
  return *a == *b;
}

}  // namespace

Result<int> xdp_ifindex(const std::string& ifname) {
  unsigned idx = if_nametoindex(ifname.c_str());
  if (idx == 0) return make_error("if_nametoindex", errno, ifname);
  return static_cast<int>(idx);
}

std::string AttachedProg::describe() const {
  return "'" + (name.empty() ? std::string("(no name)") : name) + "' (id " + std::to_string(id) +
         ", " + (generic ? "generic" : "native") + " mode)";
}

Result<std::optional<AttachedProg>> xdp_foreign_prog(int ifindex, const char* ours) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err != 0) return make_error("bpf_xdp_query", -err, std::to_string(ifindex));
  for (bool skb : {false, true}) {
    uint32_t id = skb ? q.skb_prog_id : q.drv_prog_id;
    if (id == 0) continue;
    Fd fd(bpf_prog_get_fd_by_id(id));
    if (!fd) return make_error("bpf_prog_get_fd_by_id", errno, std::to_string(id));
    auto name = prog_name_of(fd.get(), id);
    if (!name.ok()) return name.error();
    if (*name != std::string(ours).substr(0, BPF_OBJ_NAME_LEN - 1))
      return std::optional<AttachedProg>(AttachedProg{id, *name, skb});
  }
  return std::optional<AttachedProg>();
}

Result<void> xdp_detach_prog(int ifindex, const AttachedProg& prog, const std::string& ifname) {
  Fd fd(bpf_prog_get_fd_by_id(prog.id));
  if (!fd) return make_error("bpf_prog_get_fd_by_id", errno, std::to_string(prog.id));
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd.get());
  int err = bpf_xdp_detach(ifindex, mode_flag(prog.generic), &opts);
  if (err != 0) return make_error("bpf_xdp_detach " + prog.describe(), -err, ifname);
  return {};
}

Result<void> xdp_attach(int ifindex, int prog_fd, const char* ours, bool generic,
                        const std::string& ifname) {
  const char* op = generic ? "bpf_xdp_attach generic" : "bpf_xdp_attach native";
  // Another tool's program (a firewall, a sampler) is the operator's to
  // remove: replacing it silently would take its function away unseen.
  auto foreign = xdp_foreign_prog(ifindex, ours);
  if (!foreign.ok()) return foreign.error();
  if (*foreign)
    return make_error("xdp attach: " + ifname + " has another XDP program attached, " +
                      (*foreign)->describe() + "; not replacing it (detach it, or start " +
                      "sluiced with --force)");
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err != 0) return make_error("bpf_xdp_query", -err, ifname);
  uint32_t old_id = generic ? q.skb_prog_id : q.drv_prog_id;
  if (old_id == 0) {
    // Nothing in this mode: a program that appears meanwhile is someone
    // else's, and is not silently replaced.
    err = bpf_xdp_attach(ifindex, prog_fd, mode_flag(generic) | XDP_FLAGS_UPDATE_IF_NOEXIST,
                         nullptr);
    if (err != 0) return make_error(op, -err, ifname);
    return {};
  }
  // A restart or an upgrade: swap programs in one step, and only if the one
  // we saw is still there (the kernel checks old_prog_fd), so the
  // interface is never without a program and a concurrent change is not
  // overwritten.
  Fd old(bpf_prog_get_fd_by_id(old_id));
  if (!old) return make_error("bpf_prog_get_fd_by_id", errno, std::to_string(old_id));
  auto same = same_program(old.get(), prog_fd);
  if (!same.ok()) return same.error();
  if (*same) return {};
  LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = old.get());
  err = bpf_xdp_attach(ifindex, prog_fd, mode_flag(generic) | XDP_FLAGS_REPLACE, &opts);
  if (err != 0) return make_error(std::string(op) + " (replace)", -err, ifname);
  return {};
}

Result<Fd> xdp_attached_named(int ifindex, const char* prog_name, bool* generic) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err != 0) return make_error("bpf_xdp_query", -err, std::to_string(ifindex));
  for (bool skb : {false, true}) {
    auto fd = prog_if_named(skb ? q.skb_prog_id : q.drv_prog_id, prog_name);
    if (!fd.ok() || *fd) {
      if (fd.ok() && generic) *generic = skb;
      return fd;
    }
  }
  return Fd();
}

Result<void> xdp_detach_named(int ifindex, const char* prog_name, const std::string& ifname) {
  LIBBPF_OPTS(bpf_xdp_query_opts, q);
  int err = bpf_xdp_query(ifindex, 0, &q);
  if (err != 0) return make_error("bpf_xdp_query", -err, ifname);
  for (bool skb : {false, true}) {
    uint32_t id = skb ? q.skb_prog_id : q.drv_prog_id;
    if (id == 0) continue;
    auto fd = prog_if_named(id, prog_name);
    if (!fd.ok()) return fd.error();
    if (!*fd)
      return make_error(std::string("xdp detach: another XDP program is attached, not ") + prog_name,
                        0, ifname);
    // REPLACE with the expected program: if someone swapped it meanwhile,
    // the kernel refuses instead of removing theirs.
    LIBBPF_OPTS(bpf_xdp_attach_opts, opts, .old_prog_fd = fd->get());
    err = bpf_xdp_detach(ifindex, mode_flag(skb), &opts);
    if (err != 0) return make_error("bpf_xdp_detach", -err, ifname);
  }
  return {};
}

}  // namespace sluice
