// SPDX-License-Identifier: Apache-2.0
#include "xdp/xdp_dataplane.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <spdlog/spdlog.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <tuple>
#include <utility>
#include <vector>

#include "sluice.skel.h"
#include "core/host/fd.h"
#include "xdp/rx_vlan_offload.h"
#include "xdp/xdp_acl.h"
#include "xdp/xdp_acl_trie.h"
#include "xdp/xdp_attach.h"
#include "xdp/xdp_pins.h"

namespace sluice {
namespace {

// The fast path's program name: what marks a program on an interface as
// sluice's own (to adopt, replace or detach) rather than another tool's.
constexpr const char* kProgName = "sluice_xdp";

struct ObjectCloser {
  void operator()(bpf_object* o) const { bpf_object__close(o); }
};
using Object = std::unique_ptr<bpf_object, ObjectCloser>;

// The maps the loader writes and reads, found by name so an object opened
// from a file (an upgrade) and the embedded one are handled alike.
struct SluiceMaps {
  bpf_map* vips = nullptr;
  bpf_map* backends = nullptr;
  bpf_map* rings = nullptr;
  bpf_map* conns = nullptr;
  bpf_map* conns_syn = nullptr;
  bpf_map* vip_stats = nullptr;
  bpf_map* backend_stats = nullptr;
  bpf_map* reason_stats = nullptr;
  bpf_map* global = nullptr;
  bpf_map* control = nullptr;
  bpf_map* flow_events = nullptr;
  bpf_map* acl_nodes = nullptr;
  bpf_map* acl_fast = nullptr;
  bpf_map* acl_v4 = nullptr;
  bpf_map* acl_v6 = nullptr;
  bpf_map* acl_hits = nullptr;
};

Result<void> map_put(bpf_map* map, const void* key, const void* value, const char* what) {
  if (bpf_map_update_elem(bpf_map__fd(map), key, value, BPF_ANY) != 0)
    return make_error("bpf_map_update_elem", errno, what);
  return {};
}

// Per-CPU values are laid out one per possible CPU, each rounded up to 8
// bytes; sl_counters is already a multiple of 8.
Result<sl_counters> percpu_sum(bpf_map* map, uint32_t key, const char* what) {
  static_assert(sizeof(sl_counters) % 8 == 0);
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error("libbpf_num_possible_cpus", -ncpu, what);
  std::vector<sl_counters> per(static_cast<size_t>(ncpu));
  if (bpf_map_lookup_elem(bpf_map__fd(map), &key, per.data()) != 0)
    return make_error("bpf_map_lookup_elem", errno, std::string(what) + "[" + std::to_string(key) + "]");
  sl_counters sum{};
  for (const auto& c : per) {
    sum.packets += c.packets;
    sum.bytes += c.bytes;
    sum.new_conns += c.new_conns;
  }
  return sum;
}

}  // namespace

// Where ring_buffer__consume puts the events of one flow_events_take.
struct EventTake {
  std::vector<sl_flow_event>* out = nullptr;
  size_t max = 0;
  size_t n = 0;
  bool full = false;
};

struct XdpDataplane::Impl {
  XdpOptions opts;
  Object obj;
  bpf_program* prog = nullptr;
  SluiceMaps maps;
  std::string pin_dir;
  int ifindex = 0;
  // The `control` map's one value, shared with the program.
  sl_control* control = nullptr;
  size_t control_len = 0;
  ring_buffer* events = nullptr;
  EventTake take;
  // The firewall trie (acl_nodes), shared with the program, and its writer.
  sl_acl_node* acl_nodes = nullptr;
  size_t acl_nodes_len = 0;
  uint64_t* acl_fast = nullptr;  // the /16 tables (acl_fast)
  // IPv4 rules the trie has no room for (each put into the trie changes
  // it wholly or not at all), and whether a sync at start was cut short:
  // the trie holds every IPv4 rule when neither is.
  std::set<std::tuple<uint32_t, uint8_t, uint32_t>> acl_trie_missing;
  bool acl_trie_sync_short = true;
  std::unique_ptr<AclTrie> acl_trie;

  ~Impl() {
    acl_trie.reset();
    if (acl_nodes != nullptr) munmap(acl_nodes, acl_nodes_len);
    if (acl_fast != nullptr) munmap(acl_fast, size_t(SL_ACL_FAST_ENTRIES) * sizeof(uint64_t));
    if (events != nullptr) ring_buffer__free(events);
    if (control != nullptr) munmap(control, control_len);
  }
};

// Finds maps to adopt: the pins first, then (pins invisible, e.g. a fresh
// bpffs under `ip netns exec`) the maps of the sluice program attached.
static Result<void> adopt_state(XdpDataplane::Impl& im) {
  bpf_object* obj = im.obj.get();
  int adopted = 0;
  if (im.opts.pin) {
    auto r = maps_adopt_pinned(obj, im.pin_dir);
    if (!r.ok()) return r.error();
    adopted = *r;
  }
  if (adopted == 0 && im.opts.attach) {
    auto prog = xdp_attached_named(im.ifindex, kProgName, nullptr);
    if (!prog.ok()) return prog.error();
    if (*prog) {
      auto r = maps_adopt_from_prog(obj, prog->get());
      if (!r.ok()) return r.error();
    }
  }
  return {};
}

// The embedded object (the skeleton's bytes) or, for an upgrade or a test,
// an object file built from the same source (same map names and layouts).
static Result<Object> object_open(const std::string& file) {
  bpf_object* o = nullptr;
  if (file.empty()) {
    size_t size = 0;
    const void* bytes = sluice_bpf__elf_bytes(&size);
    LIBBPF_OPTS(bpf_object_open_opts, oo, .object_name = "sluice_bpf");
    o = bpf_object__open_mem(bytes, size, &oo);
    if (o == nullptr) return make_error("bpf_object__open_mem", errno, "sluice.bpf.o (embedded)");
  } else {
    o = bpf_object__open_file(file.c_str(), nullptr);
    if (o == nullptr) return make_error("bpf_object__open_file", errno, file);
  }
  return Object(o);
}

static Result<void> find_maps(bpf_object* obj, SluiceMaps& m) {
  const std::pair<const char*, bpf_map**> named[] = {
      {"vips", &m.vips},       {"backends", &m.backends},   {"rings", &m.rings},
      {"conns", &m.conns},     {"conns_syn", &m.conns_syn},     {"vip_stats", &m.vip_stats}, {"backend_stats", &m.backend_stats},
      {"reason_stats", &m.reason_stats}, {"global", &m.global},
      {"control", &m.control}, {"flow_events", &m.flow_events},
      {"acl_nodes", &m.acl_nodes}, {"acl_fast", &m.acl_fast}, {"acl_v4", &m.acl_v4}, {"acl_v6", &m.acl_v6},
      {"acl_hits", &m.acl_hits},
  };
  for (const auto& [name, slot] : named) {
    *slot = bpf_object__find_map_by_name(obj, name);
    if (*slot == nullptr) return make_error("bpf object: no map named", ENOENT, name);
  }
  return {};
}

static Result<void> load(XdpDataplane::Impl& im) {
  auto obj = object_open(im.opts.bpf_object);
  if (!obj.ok()) return obj.error();
  im.obj = std::move(*obj);
  im.prog = bpf_object__find_program_by_name(im.obj.get(), kProgName);
  if (im.prog == nullptr) return make_error("bpf object: no program named", ENOENT, kProgName);
  if (auto r = find_maps(im.obj.get(), im.maps); !r.ok()) return r;
  int err = bpf_map__set_max_entries(im.maps.acl_nodes, im.opts.acl_trie_nodes);
  if (err != 0) return make_error("bpf_map__set_max_entries", -err, "acl_nodes");
  err = bpf_map__set_max_entries(im.maps.conns, im.opts.conn_table_size);
  if (err != 0) return make_error("bpf_map__set_max_entries", -err, "conns");
  err = bpf_map__set_max_entries(im.maps.conns_syn, im.opts.syn_table_size
                                                        ? im.opts.syn_table_size
                                                        : im.opts.conn_table_size);
  if (err != 0) return make_error("bpf_map__set_max_entries", -err, "conns_syn");
  if (im.opts.flow_events_bytes != 0) {
    err = bpf_map__set_max_entries(im.maps.flow_events, im.opts.flow_events_bytes);
    if (err != 0) return make_error("bpf_map__set_max_entries", -err, "flow_events");
  }
  auto a = adopt_state(im);
  if (!a.ok()) return a;
  err = bpf_object__load(im.obj.get());
  if (err != 0)
    return make_error("bpf_object__load", -err,
                      im.opts.bpf_object.empty() ? "sluice.bpf.o" : im.opts.bpf_object);
  return {};
}

// Before the program sees a packet: a tag the NIC strips is invisible to
// it, and the second-tag rule (pass_not_ip) would not hold. Not fatal: the
// balancer still works for everything else, and the log says what holds.
static void rx_vlan_strip_off_logged(const std::string& ifname) {
  auto r = rx_vlan_strip_off(ifname);
  if (!r) {
    spdlog::warn("{}: rx VLAN stripping left as it is ({}): a double-tagged frame whose outer "
                 "tag the NIC strips is steered as single-tagged", ifname, r.error().message());
    return;
  }
  std::string note = rx_vlan_offload_note(*r, ifname);
  if (note.empty()) return;
  if (r->fixed_on.empty())
    spdlog::info("{}", note);
  else
    spdlog::warn("{}", note);
}

Result<std::optional<AttachedProg>> xdp_detach_foreign(const std::string& ifname) {
  auto idx = xdp_ifindex(ifname);
  if (!idx.ok()) return idx.error();
  auto foreign = xdp_foreign_prog(*idx, kProgName);
  if (!foreign.ok() || !*foreign) return foreign;
  if (auto r = xdp_detach_prog(*idx, **foreign, ifname); !r.ok()) return r.error();
  return foreign;
}

namespace {

int on_flow_event(void* ctx, void* data, size_t len) {
  auto* t = static_cast<EventTake*>(ctx);
  if (len < sizeof(sl_flow_event)) return 0;  // not ours: skipped
  sl_flow_event e;
  std::memcpy(&e, data, sizeof(e));
  t->out->push_back(e);
  // A negative return stops the consumer after this record (it is
  // consumed): how a bounded take ends.
  if (++t->n >= t->max) {
    t->full = true;
    return -1;
  }
  return 0;
}

}  // namespace

// After load: the shared mapping of `control` and the consumer of the
// program's event ring.
static Result<void> sync_open(XdpDataplane::Impl& im) {
  long page = sysconf(_SC_PAGESIZE);
  im.control_len = static_cast<size_t>(page > 0 ? page : 4096);
  void* p = mmap(nullptr, im.control_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(im.maps.control), 0);
  if (p == MAP_FAILED) return make_error("mmap", errno, "control map");
  im.control = static_cast<sl_control*>(p);
  im.events = ring_buffer__new(bpf_map__fd(im.maps.flow_events), on_flow_event, &im.take, nullptr);
  if (im.events == nullptr) return make_error("ring_buffer__new", errno, "flow_events");
  return {};
}

// Fewer IPv4 rules than this: the LPM trie is as fast or faster (a few
// nodes deep; bench/results/acl-*.md measured 2 and 16 rules).
constexpr size_t kAclTrieMinRules = 8;

// Whether the program walks the trie for IPv4 sources (SL_CTL_F_ACL_TRIE)
// or the LPM trie acl_v4. Both hold every rule whenever the trie is
// complete, so the flag may flip between any two packets; a trie that had
// no room for a rule stays out of use until a sync fits them all (the next
// start). IPv6 rules stay out of the trie: the program reads acl_v6.
static void acl_trie_use(XdpDataplane::Impl& im) {
  bool on = !im.acl_trie_sync_short && im.acl_trie_missing.empty() &&
            im.acl_trie->rules() >= kAclTrieMinRules;
  if (on)
    __atomic_fetch_or(&im.control->flags, SL_CTL_F_ACL_TRIE, __ATOMIC_RELEASE);
  else
    __atomic_fetch_and(&im.control->flags, ~SL_CTL_F_ACL_TRIE, __ATOMIC_RELEASE);
}

// After load, before the program is attached: the shared mapping of the
// firewall trie, made to hold exactly the rules kept in acl_v4/acl_v6
// (adopted nodes are checked and mended in place; fresh ones, as after an
// upgrade from the LPM-trie program, are filled).
static Result<void> acl_trie_open(XdpDataplane::Impl& im) {
  uint32_t n = bpf_map__max_entries(im.maps.acl_nodes);
  im.acl_nodes_len = size_t(n) * sizeof(sl_acl_node);
  void* p = mmap(nullptr, im.acl_nodes_len, PROT_READ | PROT_WRITE, MAP_SHARED,
                 bpf_map__fd(im.maps.acl_nodes), 0);
  if (p == MAP_FAILED) return make_error("mmap", errno, "acl_nodes map");
  im.acl_nodes = static_cast<sl_acl_node*>(p);
  if (bpf_map__max_entries(im.maps.acl_fast) != SL_ACL_FAST_ENTRIES)
    return make_error("acl_fast map", EINVAL, "not SL_ACL_FAST_ENTRIES entries");
  p = mmap(nullptr, size_t(SL_ACL_FAST_ENTRIES) * sizeof(uint64_t), PROT_READ | PROT_WRITE,
           MAP_SHARED, bpf_map__fd(im.maps.acl_fast), 0);
  if (p == MAP_FAILED) return make_error("mmap", errno, "acl_fast map");
  im.acl_fast = static_cast<uint64_t*>(p);
  im.acl_trie = std::make_unique<AclTrie>(im.acl_nodes, n, im.acl_fast);
  auto rules = acl_map_list({bpf_map__fd(im.maps.acl_v4), bpf_map__fd(im.maps.acl_v6),
                             bpf_map__fd(im.maps.acl_hits)});
  if (!rules.ok()) return rules.error();
  std::erase_if(*rules, [](const AclEntry& e) { return e.family != SL_AF_INET; });
  auto r = im.acl_trie->sync(*rules);
  if (!r && r.error().err != ENOSPC) return r;
  im.acl_trie_sync_short = !r.ok();
  acl_trie_use(im);
  return {};
}

Result<std::unique_ptr<XdpDataplane>> XdpDataplane::open(const XdpOptions& opts) {
  auto im = std::make_unique<Impl>();
  im->opts = opts;
  if (opts.attach || opts.pin) {
    auto idx = xdp_ifindex(opts.ifname);
    if (!idx.ok()) return idx.error();
    im->ifindex = *idx;
  }
  if (opts.pin) {
    if (auto r = bpffs_ensure(opts.pin_root); !r.ok()) return r.error();
    auto dir = xdp_pin_dir(opts.pin_root, opts.ifname);
    if (!dir.ok()) return dir.error();
    im->pin_dir = *dir;
  }
  if (auto r = load(*im); !r.ok()) return r.error();
  if (auto r = sync_open(*im); !r.ok()) return r.error();
  if (auto r = acl_trie_open(*im); !r.ok()) return r.error();
  // Only a loaded program gets a directory: a failed start leaves no trace.
  if (opts.pin) {
    if (auto r = pin_dir_create(im->pin_dir); !r.ok()) return r.error();
    if (auto r = maps_pin(im->obj.get(), im->pin_dir); !r.ok()) return r.error();
  }
  if (opts.attach) {
    rx_vlan_strip_off_logged(opts.ifname);
    int fd = bpf_program__fd(im->prog);
    if (auto r = xdp_attach(im->ifindex, fd, kProgName, opts.generic, opts.ifname); !r.ok())
      return r.error();
  }
  return std::unique_ptr<XdpDataplane>(new XdpDataplane(std::move(im)));
}

XdpDataplane::XdpDataplane(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

// Closing our fds leaves the attached program (held by the interface) and
// the pinned maps in place: the balancer keeps running without us.
XdpDataplane::~XdpDataplane() = default;

Result<void> XdpDataplane::detach() {
  if (impl_->ifindex != 0) {
    auto r = xdp_detach_named(impl_->ifindex, kProgName, impl_->opts.ifname);
    if (!r.ok()) return r;
  }
  if (!impl_->pin_dir.empty()) return maps_unpin(impl_->pin_dir);
  return {};
}

const std::string& XdpDataplane::pin_dir() const { return impl_->pin_dir; }

DataplaneInfo XdpDataplane::describe() const {
  return DataplaneInfo{"xdp", attached_generic() ? "generic" : "native", impl_->pin_dir};
}
int XdpDataplane::ifindex() const { return impl_->ifindex; }
int XdpDataplane::prog_fd() const { return bpf_program__fd(impl_->prog); }
bool XdpDataplane::attached_generic() const { return impl_->opts.attach && impl_->opts.generic; }

uint32_t XdpDataplane::conn_table_size() const { return bpf_map__max_entries(impl_->maps.conns); }

namespace {

// Walks the connection table in batches of 8192 with `op` (lookup, or
// lookup-and-delete); returns how many entries it saw.
template <class Op>
Result<uint64_t> conns_batch_walk(int fd, Op op, const char* what) {
  constexpr uint32_t kBatch = 8192;
  std::vector<sl_flow_key> keys(kBatch);
  std::vector<sl_conn> values(kBatch);
  // The batch cursor is opaque (a bucket index for hash maps); a key-sized
  // buffer is large enough for any map type.
  sl_flow_key cursor{}, next{};
  void* in = nullptr;
  uint64_t total = 0;
  for (;;) {
    uint32_t n = kBatch;
    LIBBPF_OPTS(bpf_map_batch_opts, o);
    int err = op(fd, in, &next, keys.data(), values.data(), &n, &o);
    if (err != 0 && errno != ENOENT) return make_error(what, errno, "conns");
    total += n;  // ENOENT: the last, partial batch
    if (err != 0) return total;
    cursor = next;
    in = &cursor;
  }
}

}  // namespace

Result<uint64_t> XdpDataplane::conn_count() const {
  return conns_batch_walk(bpf_map__fd(impl_->maps.conns), bpf_map_lookup_batch,
                          "bpf_map_lookup_batch");
}

Result<uint64_t> XdpDataplane::conns_flush() {
  auto half = conns_batch_walk(bpf_map__fd(impl_->maps.conns_syn),
                               bpf_map_lookup_and_delete_batch, "bpf_map_lookup_and_delete_batch");
  if (!half.ok()) return half.error();
  return conns_batch_walk(bpf_map__fd(impl_->maps.conns), bpf_map_lookup_and_delete_batch,
                          "bpf_map_lookup_and_delete_batch");
}

Result<void> XdpDataplane::global_set(const sl_global& g) {
  uint32_t key = 0;
  return map_put(impl_->maps.global, &key, &g, "global");
}

Result<void> XdpDataplane::vip_put(const sl_vip_key& key, const sl_vip_meta& meta) {
  return map_put(impl_->maps.vips, &key, &meta, "vips");
}

Result<void> XdpDataplane::vip_del(const sl_vip_key& key) {
  if (bpf_map_delete_elem(bpf_map__fd(impl_->maps.vips), &key) != 0 && errno != ENOENT)
    return make_error("bpf_map_delete_elem", errno, "vips");
  return {};
}

Result<void> XdpDataplane::backend_put(uint32_t index, const sl_backend& be) {
  return map_put(impl_->maps.backends, &index, &be, "backends");
}

Result<void> XdpDataplane::ring_put(uint32_t ring_id, const sl_ring& ring) {
  return map_put(impl_->maps.rings, &ring_id, &ring, "rings");
}

Result<std::optional<sl_vip_meta>> XdpDataplane::vip_get(const sl_vip_key& key) {
  sl_vip_meta meta{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->maps.vips), &key, &meta) == 0)
    return std::optional<sl_vip_meta>(meta);
  if (errno == ENOENT) return std::optional<sl_vip_meta>{};
  return make_error("bpf_map_lookup_elem", errno, "vips");
}

Result<std::vector<std::pair<sl_vip_key, sl_vip_meta>>> XdpDataplane::vip_list() {
  int fd = bpf_map__fd(impl_->maps.vips);
  std::vector<std::pair<sl_vip_key, sl_vip_meta>> out;
  sl_vip_key key{}, next{};
  const void* prev = nullptr;  // nullptr: start from the first key
  while (bpf_map_get_next_key(fd, prev, &next) == 0) {
    key = next;
    prev = &key;
    sl_vip_meta meta{};
    if (bpf_map_lookup_elem(fd, &key, &meta) == 0) out.emplace_back(key, meta);
    else if (errno != ENOENT) return make_error("bpf_map_lookup_elem", errno, "vips");
  }
  if (errno != ENOENT) return make_error("bpf_map_get_next_key", errno, "vips");
  return out;
}

Result<sl_backend> XdpDataplane::backend_get(uint32_t index) {
  sl_backend be{};
  if (bpf_map_lookup_elem(bpf_map__fd(impl_->maps.backends), &index, &be) != 0)
    return make_error("bpf_map_lookup_elem", errno, "backends[" + std::to_string(index) + "]");
  return be;
}

Result<sl_counters> XdpDataplane::vip_counters(uint32_t vip_id) {
  return percpu_sum(impl_->maps.vip_stats, vip_id, "vip_stats");
}

Result<void> XdpDataplane::counters_reset(CounterKind kind, uint32_t id) {
  bool vip = kind == CounterKind::vip;
  bpf_map* map = vip ? impl_->maps.vip_stats : impl_->maps.backend_stats;
  const char* what = vip ? "vip_stats" : "backend_stats";
  int ncpu = libbpf_num_possible_cpus();
  if (ncpu <= 0) return make_error("libbpf_num_possible_cpus", -ncpu, what);
  std::vector<sl_counters> zero(static_cast<size_t>(ncpu));
  if (bpf_map_update_elem(bpf_map__fd(map), &id, zero.data(), BPF_ANY) != 0)
    return make_error("bpf_map_update_elem", errno, std::string(what) + "[" + std::to_string(id) + "]");
  return {};
}

static AclMapFds acl_fds(const XdpDataplane::Impl& im) {
  return {bpf_map__fd(im.maps.acl_v4), bpf_map__fd(im.maps.acl_v6), bpf_map__fd(im.maps.acl_hits)};
}

// The generation goes up after the rules changed, done or not (a stale
// record is judged again; see core/pipeline.h, sl_pl_acl_due).
//
// The list (acl_v4/acl_v6, the source of truth) first: a rule it refuses
// is not in force anywhere. Then the trie; a trie without room for the
// rule hands the judging to the LPM tries, which have it already.
static std::tuple<uint32_t, uint8_t, uint32_t> acl_key4(const AclEntry& e) {
  return {e.scope, e.prefix_len, e.addr[0]};
}
Result<void> XdpDataplane::acl_put(const AclEntry& e) {
  Result<void> r = acl_map_put(acl_fds(*impl_), e);
  if (r && e.family == SL_AF_INET) {
    if (impl_->acl_trie->put(e)) {
      impl_->acl_trie_missing.erase(acl_key4(e));
    } else {
      if (impl_->acl_trie_missing.empty())
        spdlog::warn("acl: the firewall trie's {} nodes are all in use: IPv4 sources are judged "
                     "by the slower LPM trie until the rules fit again (acl_trie_nodes)",
                     impl_->acl_trie->capacity());
      impl_->acl_trie_missing.insert(acl_key4(e));
    }
  }
  acl_trie_use(*impl_);
  acl_gen_bump(impl_->control);
  return r;
}
Result<void> XdpDataplane::acl_del(const AclEntry& e) {
  Result<void> r = acl_map_del(acl_fds(*impl_), e);
  if (r && e.family == SL_AF_INET) {
    impl_->acl_trie_missing.erase(acl_key4(e));
    r = impl_->acl_trie->del(e);
  }
  acl_trie_use(*impl_);
  acl_gen_bump(impl_->control);
  return r;
}
uint32_t XdpDataplane::acl_trie_nodes_used() const { return impl_->acl_trie->nodes_used(); }
uint32_t XdpDataplane::acl_trie_nodes() const { return impl_->acl_trie->capacity(); }
bool XdpDataplane::acl_trie_in_use() const {
  return (__atomic_load_n(&impl_->control->flags, __ATOMIC_ACQUIRE) & SL_CTL_F_ACL_TRIE) != 0;
}
Result<std::vector<AclEntry>> XdpDataplane::acl_list() { return acl_map_list(acl_fds(*impl_)); }
Result<std::vector<uint64_t>> XdpDataplane::acl_hits() { return acl_map_hits(acl_fds(*impl_)); }
Result<void> XdpDataplane::acl_hits_reset(uint32_t rule_id) {
  return acl_map_hits_reset(acl_fds(*impl_), rule_id);
}

Result<sl_counters> XdpDataplane::backend_counters(uint32_t index) {
  return percpu_sum(impl_->maps.backend_stats, index, "backend_stats");
}

Result<std::array<sl_counters, SL_R_MAX>> XdpDataplane::reason_counters() {
  std::array<sl_counters, SL_R_MAX> out{};
  for (uint32_t r = 0; r < SL_R_MAX; ++r) {
    auto c = percpu_sum(impl_->maps.reason_stats, r, "reason_stats");
    if (!c.ok()) return c.error();
    out[r] = *c;
  }
  return out;
}

Result<std::vector<ConnEntry>> XdpDataplane::conns(size_t limit) {
  int fd = bpf_map__fd(impl_->maps.conns);
  std::vector<ConnEntry> out;
  sl_flow_key key{};
  const void* prev = nullptr;  // nullptr: start from the first key
  while (limit == 0 || out.size() < limit) {
    ConnEntry e{};
    if (bpf_map_get_next_key(fd, prev, &e.key) != 0) {
      if (errno == ENOENT) break;
      return make_error("bpf_map_get_next_key", errno, "conns");
    }
    key = e.key;
    prev = &key;
    // An entry may be evicted between the two calls (LRU): skip it.
    if (bpf_map_lookup_elem(fd, &e.key, &e.conn) == 0) out.push_back(e);
    else if (errno != ENOENT) return make_error("bpf_map_lookup_elem", errno, "conns");
  }
  return out;
}

namespace {

uint64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return uint64_t(ts.tv_sec) * 1000000000u + uint64_t(ts.tv_nsec);
}

}  // namespace

// Each field of `control` has one writer (the fast path only adds to
// events_lost): plain atomic stores, no read-modify-write of the value.
Result<void> XdpDataplane::heartbeat(uint64_t timeout_ns) {
  return heartbeat_at(monotonic_ns(), timeout_ns);
}

Result<void> XdpDataplane::heartbeat_at(uint64_t stamp_ns, uint64_t timeout_ns) {
  // The stamp first: a timeout switched on never meets an old stamp.
  __atomic_store_n(&impl_->control->heartbeat_ns, stamp_ns, __ATOMIC_RELEASE);
  __atomic_store_n(&impl_->control->heartbeat_timeout_ns, timeout_ns, __ATOMIC_RELEASE);
  return {};
}

Result<void> XdpDataplane::flow_events_enable(bool on) {
  if (on)
    __atomic_fetch_or(&impl_->control->flags, SL_CTL_F_FLOW_EVENTS, __ATOMIC_RELEASE);
  else
    __atomic_fetch_and(&impl_->control->flags, ~SL_CTL_F_FLOW_EVENTS, __ATOMIC_RELEASE);
  return {};
}

sl_control XdpDataplane::control_get() const {
  sl_control c{};
  c.heartbeat_ns = __atomic_load_n(&impl_->control->heartbeat_ns, __ATOMIC_ACQUIRE);
  c.heartbeat_timeout_ns = __atomic_load_n(&impl_->control->heartbeat_timeout_ns, __ATOMIC_ACQUIRE);
  c.flags = __atomic_load_n(&impl_->control->flags, __ATOMIC_ACQUIRE);
  c.acl_gen = __atomic_load_n(&impl_->control->acl_gen, __ATOMIC_ACQUIRE);
  c.events_lost = __atomic_load_n(&impl_->control->events_lost, __ATOMIC_ACQUIRE);
  return c;
}

Result<size_t> XdpDataplane::flow_events_take(std::vector<sl_flow_event>& out, size_t max) {
  if (max == 0) return size_t{0};
  impl_->take = EventTake{&out, max, 0, false};
  int rc = ring_buffer__consume(impl_->events);
  size_t n = impl_->take.n;
  bool full = impl_->take.full;
  impl_->take = EventTake{};
  if (rc < 0 && !full) return make_error("ring_buffer__consume", -rc, "flow_events");
  return n;
}

int XdpDataplane::flow_events_fd() const { return ring_buffer__epoll_fd(impl_->events); }

Result<uint64_t> XdpDataplane::flow_events_lost() { return control_get().events_lost; }

Result<void> XdpDataplane::conn_put(const sl_flow_key& key, const sl_conn& conn) {
  return map_put(impl_->maps.conns, &key, &conn, "conns");
}

Result<void> XdpDataplane::conns_put(const std::vector<ConnEntry>& entries) {
  if (entries.empty()) return {};
  std::vector<sl_flow_key> keys(entries.size());
  std::vector<sl_conn> values(entries.size());
  for (size_t i = 0; i < entries.size(); ++i) {
    keys[i] = entries[i].key;
    values[i] = entries[i].conn;
  }
  uint32_t n = static_cast<uint32_t>(entries.size());
  LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
  if (bpf_map_update_batch(bpf_map__fd(impl_->maps.conns), keys.data(), values.data(), &n, &o) != 0)
    return make_error("bpf_map_update_batch", errno, "conns");
  return {};
}

Result<void> XdpDataplane::conn_del(const sl_flow_key& key) {
  if (bpf_map_delete_elem(bpf_map__fd(impl_->maps.conns), &key) != 0 && errno != ENOENT)
    return make_error("bpf_map_delete_elem", errno, "conns");
  return {};
}

// The batch cursor of a hash map is a bucket index: a walk survives
// entries that come and go (get_next_key from a vanished key would start
// over). A bucket larger than the page asked: ENOSPC, asked again larger.
Result<std::vector<ConnEntry>> XdpDataplane::conns_page(ConnCursor& cursor, size_t max) {
  std::vector<ConnEntry> out;
  if (cursor.done || max == 0) return out;
  int fd = bpf_map__fd(impl_->maps.conns);
  size_t want = max;
  for (;;) {
    std::vector<sl_flow_key> keys(want);
    std::vector<sl_conn> values(want);
    std::array<uint8_t, sizeof(cursor.pos)> next{};
    uint32_t n = static_cast<uint32_t>(want);
    LIBBPF_OPTS(bpf_map_batch_opts, o);
    int err = bpf_map_lookup_batch(fd, cursor.started ? cursor.pos.data() : nullptr, next.data(),
                                   keys.data(), values.data(), &n, &o);
    if (err != 0 && errno == ENOSPC && n == 0 && want < 65536) {
      want *= 2;
      continue;
    }
    if (err != 0 && errno != ENOENT) return make_error("bpf_map_lookup_batch", errno, "conns");
    for (uint32_t i = 0; i < n; ++i) out.push_back(ConnEntry{keys[i], values[i]});
    cursor.started = true;
    cursor.pos = next;
    cursor.done = err != 0;  // ENOENT: that was the last bucket
    return out;
  }
}

}  // namespace sluice
