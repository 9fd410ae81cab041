// SPDX-License-Identifier: Apache-2.0
// Typed readers over yaml-cpp nodes for the config parser. Internal to
// config*.cc: they throw FieldError, which config_parse() turns into an
// Error at its edge.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <initializer_list>
#include <string>

#include "core/host/ip_addr.h"

namespace sluice::cfg {

struct FieldError {
  std::string message;  // "vips[0].port: must be 1..65535, got 0"
};

[[noreturn]] void fail(const std::string& path, const std::string& why);

std::string join(const std::string& path, const std::string& key);
std::string index(const std::string& path, size_t i);

void require_map(const YAML::Node& n, const std::string& path);
void require_seq(const YAML::Node& n, const std::string& path);
// Every key of `n` must be one of `allowed`.
void check_keys(const YAML::Node& n, const std::string& path,
                std::initializer_list<const char*> allowed);

std::string read_string(const YAML::Node& n, const std::string& path);
uint64_t read_uint(const YAML::Node& n, const std::string& path, uint64_t lo, uint64_t hi);
bool read_bool(const YAML::Node& n, const std::string& path);
IpAddr read_addr(const YAML::Node& n, const std::string& path);
Cidr read_cidr(const YAML::Node& n, const std::string& path);
// One of `choices`; returns its position.
size_t read_choice(const YAML::Node& n, const std::string& path,
                   std::initializer_list<const char*> choices);
// host:port, [v6]:port
void check_listen(const YAML::Node& n, const std::string& path);

}  // namespace sluice::cfg
