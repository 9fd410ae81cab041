// SPDX-License-Identifier: Apache-2.0
// Which dataplanes exist is decided at build time (meson options `xdp` and
// `dpdk`): SLUICE_HAVE_XDP / SLUICE_HAVE_DPDK.
#include "control/daemon/dataplane_open.h"

#if SLUICE_HAVE_XDP
#include "xdp/xdp_dataplane.h"
#endif
#if SLUICE_HAVE_DPDK
#include "dataplane/dpdk/dpdk_dataplane.h"
#endif

namespace sluice {

namespace {

bool built(DataplaneKind kind) {
  switch (kind) {
    case DataplaneKind::xdp:
      return SLUICE_HAVE_XDP;
    case DataplaneKind::dpdk:
      return SLUICE_HAVE_DPDK;
  }
  return false;
}

}  // namespace

const char* dataplane_kind_name(DataplaneKind kind) {
  switch (kind) {
    case DataplaneKind::xdp:
      return "xdp";
    case DataplaneKind::dpdk:
      return "dpdk";
  }
  return "unknown";
}

std::string dataplanes_built() {
  std::string out;
  for (auto k : {DataplaneKind::xdp, DataplaneKind::dpdk})
    if (built(k)) out += (out.empty() ? "" : ", ") + std::string(dataplane_kind_name(k));
  return out.empty() ? "none" : out;
}

Result<void> dataplane_available(DataplaneKind kind) {
  if (built(kind)) return {};
  return make_error(std::string("dataplane ") + dataplane_kind_name(kind) +
                    ": not built into this sluiced (built: " + dataplanes_built() + ")");
}

Result<std::unique_ptr<Dataplane>> dataplane_open(const DataplaneOpenOptions& opts) {
  if (auto r = dataplane_available(opts.kind); !r) return r.error();
#if SLUICE_HAVE_DPDK
  if (opts.kind == DataplaneKind::dpdk) {
    dpdk::DpdkOptions d;
    d.eal_args = opts.eal_args;
    d.port = opts.dpdk_port;
    d.workers = opts.dpdk_workers;
    d.tap = opts.ifname;
    if (opts.conn_table_size) d.conn_table_size = opts.conn_table_size;
    d.idle_sleep_us = opts.dpdk_idle_sleep_us;
    return dpdk::dpdk_dataplane_open(d);
  }
#endif
#if SLUICE_HAVE_XDP
  if (opts.kind == DataplaneKind::xdp) {
    XdpOptions x;
    x.ifname = opts.ifname;
    x.generic = opts.xdp_generic;
    if (opts.conn_table_size) x.conn_table_size = opts.conn_table_size;
    if (opts.syn_table_size) x.syn_table_size = opts.syn_table_size;
    if (opts.acl_trie_nodes) x.acl_trie_nodes = opts.acl_trie_nodes;
    x.bpf_object = opts.bpf_object;
    auto dp = XdpDataplane::open(x);
    if (!dp) return dp.error();
    return std::unique_ptr<Dataplane>(std::move(*dp));
  }
#endif
  return make_error("dataplane: none built");
}

}  // namespace sluice
