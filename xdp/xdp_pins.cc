// SPDX-License-Identifier: Apache-2.0
#include "xdp/xdp_pins.h"

#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/vfs.h>

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "core/host/fd.h"
#include "xdp/xdp_dataplane.h"

namespace sluice {
namespace {

bool is_state_map(const char* name) {
  for (const char* n : kStateMaps)
    if (std::strcmp(n, name) == 0) return true;
  return false;
}

Result<bpf_map_info> map_info(int fd, const std::string& where) {
  bpf_map_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(fd, &info, &len) != 0)
    return make_error("bpf_obj_get_info_by_fd", errno, where);
  return info;
}

// Points `map` at an existing kernel map after checking it has the layout
// this build expects. A layout change means the ABI moved: refusing is
// safer than reading old records with new code.
Result<void> map_adopt(bpf_map* map, int fd, const std::string& where) {
  auto info = map_info(fd, where);
  if (!info.ok()) return info.error();
  const char* name = bpf_map__name(map);
  if (info->type != bpf_map__type(map) || info->key_size != bpf_map__key_size(map) ||
      info->value_size != bpf_map__value_size(map))
    return make_error("adopt map: layout differs from this build (detach to reset)", 0, where);
  if (info->max_entries != bpf_map__max_entries(map)) {
    if (std::strcmp(name, "conns") != 0 && std::strcmp(name, "conns_syn") != 0)
      return make_error("adopt map: size differs from this build (detach to reset)", 0, where);
    // Resizing would drop every established flow; the new size takes
    // effect after a detach.
    std::fprintf(stderr, "sluice: keeping the pinned connection table size %u (asked %u)\n",
                 info->max_entries, bpf_map__max_entries(map));
  }
  int err = bpf_map__reuse_fd(map, fd);
  if (err != 0) return make_error("bpf_map__reuse_fd", -err, where);
  return {};
}

}  // namespace

Result<std::string> xdp_pin_dir(const std::string& pin_root, const std::string& ifname) {
  if (ifname.empty()) return make_error("xdp pin dir: no interface", EINVAL, pin_root);
  struct stat st{};
  if (stat("/proc/self/ns/net", &st) != 0) return make_error("stat", errno, "/proc/self/ns/net");
  return pin_root + "/" + std::to_string(st.st_ino) + "-" + ifname;
}

Result<void> bpffs_ensure(const std::string& pin_root) {
  // The nearest existing ancestor of the pin root decides where pins land.
  std::string at = pin_root;
  struct statfs fs {};
  while (statfs(at.c_str(), &fs) != 0) {
    if (errno != ENOENT || at.size() <= 1) return make_error("statfs", errno, at);
    size_t slash = at.find_last_of('/');
    at = slash == 0 ? "/" : at.substr(0, slash);
  }
  if (fs.f_type == BPF_FS_MAGIC) return {};
  // `ip netns exec` gives the process its own mount namespace with a fresh
  // sysfs and no bpffs: mount one there (it is private to that namespace).
  // The pins a previous run left are then out of sight; the loader adopts
  // the attached program's maps by id instead.
  if (at == "/sys/fs/bpf") {
    if (mount("bpf", "/sys/fs/bpf", "bpf", 0, "mode=0700") != 0)
      return make_error("mount bpffs", errno, at);
    return {};
  }
  return make_error("pin root is not on a bpf filesystem", 0, pin_root);
}

Result<void> pin_dir_create(const std::string& dir) {
  for (size_t pos = 1; pos != std::string::npos;) {
    pos = dir.find('/', pos + 1);
    std::string part = dir.substr(0, pos);
    if (mkdir(part.c_str(), 0700) != 0 && errno != EEXIST) return make_error("mkdir", errno, part);
  }
  return {};
}

Result<int> maps_adopt_pinned(bpf_object* obj, const std::string& dir) {
  int adopted = 0;
  for (const char* name : kStateMaps) {
    bpf_map* map = bpf_object__find_map_by_name(obj, name);
    if (map == nullptr) return make_error("find map", ENOENT, name);
    std::string path = dir + "/" + name;
    Fd fd(bpf_obj_get(path.c_str()));
    if (!fd) {
      if (errno == ENOENT) continue;
      return make_error("bpf_obj_get", errno, path);
    }
    auto r = map_adopt(map, fd.get(), path);
    if (!r.ok()) return r.error();
    ++adopted;
  }
  return adopted;
}

Result<int> maps_adopt_from_prog(bpf_object* obj, int prog_fd) {
  bpf_prog_info info{};
  uint32_t len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return make_error("bpf_obj_get_info_by_fd", errno, "attached program");
  std::vector<uint32_t> ids(info.nr_map_ids);
  info = bpf_prog_info{};
  info.nr_map_ids = ids.size();
  info.map_ids = reinterpret_cast<uintptr_t>(ids.data());
  len = sizeof(info);
  if (bpf_obj_get_info_by_fd(prog_fd, &info, &len) != 0)
    return make_error("bpf_obj_get_info_by_fd", errno, "attached program maps");
  int adopted = 0;
  for (uint32_t id : ids) {
    Fd fd(bpf_map_get_fd_by_id(id));
    if (!fd) return make_error("bpf_map_get_fd_by_id", errno, std::to_string(id));
    auto mi = map_info(fd.get(), "map id " + std::to_string(id));
    if (!mi.ok()) return mi.error();
    if (!is_state_map(mi->name)) continue;  // .rodata and friends are per-load
    bpf_map* map = bpf_object__find_map_by_name(obj, mi->name);
    if (map == nullptr) continue;
    auto r = map_adopt(map, fd.get(), std::string("attached map ") + mi->name);
    if (!r.ok()) return r.error();
    ++adopted;
  }
  return adopted;
}

Result<void> maps_pin(bpf_object* obj, const std::string& dir) {
  for (const char* name : kStateMaps) {
    bpf_map* map = bpf_object__find_map_by_name(obj, name);
    if (map == nullptr) return make_error("find map", ENOENT, name);
    std::string path = dir + "/" + name;
    Fd old(bpf_obj_get(path.c_str()));
    if (old) {
      auto a = map_info(old.get(), path);
      auto b = map_info(bpf_map__fd(map), name);
      if (a.ok() && b.ok() && a->id == b->id) continue;  // adopted: already pinned
      if (unlink(path.c_str()) != 0) return make_error("unlink", errno, path);
    }
    if (bpf_obj_pin(bpf_map__fd(map), path.c_str()) != 0)
      return make_error("bpf_obj_pin", errno, path);
  }
  return {};
}

Result<void> maps_unpin(const std::string& dir) {
  for (const char* name : kStateMaps) {
    std::string path = dir + "/" + name;
    if (unlink(path.c_str()) != 0 && errno != ENOENT) return make_error("unlink", errno, path);
  }
  if (rmdir(dir.c_str()) != 0 && errno != ENOENT) return make_error("rmdir", errno, dir);
  return {};
}

}  // namespace sluice
