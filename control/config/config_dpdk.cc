// SPDX-License-Identifier: Apache-2.0
// The `dpdk:` block: what the DPDK dataplane needs beyond `interface:`
// (which names the TAP, the kernel's side of the port, under dpdk).
#include <yaml-cpp/yaml.h>

#include "control/config/config.h"
#include "control/config/config_fields.h"

namespace sluice::cfg {

namespace {

constexpr size_t kMaxEalArgs = 256;
constexpr size_t kMaxEalArgLen = 4096;
constexpr size_t kMaxAddresses = 64;

}  // namespace

DpdkConfig parse_dpdk(const YAML::Node& n, const std::string& path) {
  require_map(n, path);
  check_keys(n, path, {"eal", "port", "workers", "idle_sleep_us", "addresses"});
  DpdkConfig d;
  if (n["eal"]) {
    const std::string p = join(path, "eal");
    require_seq(n["eal"], p);
    if (n["eal"].size() > kMaxEalArgs)
      fail(p, "more than " + std::to_string(kMaxEalArgs) + " arguments");
    for (size_t i = 0; i < n["eal"].size(); i++) {
      std::string a = read_string(n["eal"][i], index(p, i));
      if (a.empty() || a.size() > kMaxEalArgLen)
        fail(index(p, i), "must be 1.." + std::to_string(kMaxEalArgLen) + " characters");
      d.eal.push_back(std::move(a));
    }
  }
  if (n["port"]) d.port = read_string(n["port"], join(path, "port"));
  if (n["workers"]) d.workers = read_uint(n["workers"], join(path, "workers"), 1, 127);
  if (n["idle_sleep_us"])
    d.idle_sleep_us = read_uint(n["idle_sleep_us"], join(path, "idle_sleep_us"), 0, 100000);
  if (n["addresses"]) {
    const std::string p = join(path, "addresses");
    require_seq(n["addresses"], p);
    if (n["addresses"].size() > kMaxAddresses)
      fail(p, "more than " + std::to_string(kMaxAddresses) + " addresses");
    for (size_t i = 0; i < n["addresses"].size(); i++) {
      std::string s = read_string(n["addresses"][i], index(p, i));
      auto c = Cidr::parse(s);
      if (!c || s.find('/') == std::string::npos)
        fail(index(p, i), "must be ADDRESS/PREFIX (198.18.0.1/24, 2001:2::1/64), got '" + s + "'");
      d.addresses.push_back(*c);
    }
  }
  return d;
}

void emit_dpdk(YAML::Emitter& out, const DpdkConfig& d) {
  out << YAML::Key << "dpdk" << YAML::Value << YAML::BeginMap;
  out << YAML::Key << "eal" << YAML::Value << YAML::Flow << d.eal;
  if (!d.port.empty()) out << YAML::Key << "port" << YAML::Value << d.port;
  if (d.workers) out << YAML::Key << "workers" << YAML::Value << d.workers;
  if (d.idle_sleep_us) out << YAML::Key << "idle_sleep_us" << YAML::Value << d.idle_sleep_us;
  if (!d.addresses.empty()) {
    out << YAML::Key << "addresses" << YAML::Value << YAML::Flow << YAML::BeginSeq;
    for (const auto& a : d.addresses) out << a.str();
    out << YAML::EndSeq;
  }
  out << YAML::EndMap;
}

}  // namespace sluice::cfg
