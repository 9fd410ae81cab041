// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_check.h"

#include <fmt/format.h>

#include "control/config/printable.h"

namespace sluice {

namespace {

std::string plural(size_t n, const char* one, const char* many) {
  return fmt::format("{} {}", n, n == 1 ? one : many);
}

std::string summarize(const Config& c) {
  size_t backends = 0;
  for (const auto& v : c.vips) backends += v.backends.size();
  return fmt::format("interface {} ({}, {}), {}, {}", c.interface,
                     c.dataplane == DataplaneKind::xdp ? "xdp" : "dpdk",
                     c.xdp_generic ? "generic" : "native", plural(c.vips.size(), "VIP", "VIPs"),
                     plural(backends, "backend", "backends"));
}

}  // namespace

// SLUICE_HAVE_XDP / SLUICE_HAVE_DPDK: what meson built (control/meson.build).
Result<void> dataplane_supported(DataplaneKind kind) {
  if (kind == DataplaneKind::dpdk && !SLUICE_HAVE_DPDK)
    return make_error("dataplane dpdk: not built into this sluiced");
  if (kind == DataplaneKind::xdp && !SLUICE_HAVE_XDP)
    return make_error("dataplane xdp: not built into this sluiced");
  return {};
}

Result<ConfigCheck> config_check(const std::string& path) {
  auto cfg = config_load(path);
  if (!cfg) return cfg.error();
  if (auto r = dataplane_supported(cfg->dataplane); !r) return r.error();
  if (cfg->dataplane == DataplaneKind::dpdk && (!cfg->dpdk || cfg->dpdk->eal.empty()))
    return make_error("config: dpdk.eal: required with dataplane: dpdk (the EAL arguments)");
  ConfigCheck check{*cfg, summarize(*cfg), {}};
  for (const auto& block : cfg->ignored_blocks())
    check.notes.push_back(block + ": valid, but not acted on yet by this sluiced");
  return check;
}

int config_check_report(const std::string& path, std::FILE* out, std::FILE* err) {
  auto check = config_check(path);
  if (!check) {
    std::fprintf(err, "sluiced: %s\n", printable(check.error().message()).c_str());
    return 2;
  }
  std::string shown = printable(path);
  for (const auto& note : check->notes)
    std::fprintf(err, "sluiced: %s: note: %s\n", shown.c_str(), note.c_str());
  std::fprintf(out, "sluiced: %s: configuration OK: %s\n", shown.c_str(),
               printable(check->summary).c_str());
  return 0;
}

}  // namespace sluice
