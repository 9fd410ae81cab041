// SPDX-License-Identifier: Apache-2.0
#include "control/daemon/dataplane_open.h"

#include "xdp/xdp_dataplane.h"

namespace sluice {

const char* dataplane_kind_name(DataplaneKind kind) {
  switch (kind) {
    case DataplaneKind::xdp:
      return "xdp";
    case DataplaneKind::dpdk:
      return "dpdk";
  }
  return "unknown";
}

Result<void> dataplane_available(DataplaneKind kind) {
  if (kind == DataplaneKind::xdp) return {};
  return make_error(std::string("dataplane ") + dataplane_kind_name(kind) +
                    ": not built into this sluiced (use xdp)");
}

Result<std::unique_ptr<Dataplane>> dataplane_open(const DataplaneOpenOptions& opts) {
  if (auto r = dataplane_available(opts.kind); !r) return r.error();
  XdpOptions x;
  x.ifname = opts.ifname;
  x.generic = opts.xdp_generic;
  if (opts.conn_table_size) x.conn_table_size = opts.conn_table_size;
  x.bpf_object = opts.bpf_object;
  auto dp = XdpDataplane::open(x);
  if (!dp) return dp.error();
  return std::unique_ptr<Dataplane>(std::move(*dp));
}

}  // namespace sluice
