// SPDX-License-Identifier: Apache-2.0
#include "control/config/config_fields.h"

#include <charconv>

namespace sluice::cfg {

namespace {

std::string shown(const YAML::Node& n) {
  if (n.IsScalar()) return "'" + n.Scalar() + "'";
  if (n.IsSequence()) return "a list";
  if (n.IsMap()) return "a map";
  return "nothing";
}

std::string choices_text(std::initializer_list<const char*> choices) {
  std::string s;
  for (const char* c : choices) {
    if (!s.empty()) s += '|';
    s += c;
  }
  return s;
}

}  // namespace

void fail(const std::string& path, const std::string& why) {
  throw FieldError{path + ": " + why};
}

std::string join(const std::string& path, const std::string& key) {
  return path.empty() ? key : path + "." + key;
}

std::string index(const std::string& path, size_t i) {
  return path + "[" + std::to_string(i) + "]";
}

void require_map(const YAML::Node& n, const std::string& path) {
  if (!n.IsMap()) fail(path, "must be a map, got " + shown(n));
}

void require_seq(const YAML::Node& n, const std::string& path) {
  if (!n.IsSequence()) fail(path, "must be a list, got " + shown(n));
}

void check_keys(const YAML::Node& n, const std::string& path,
                std::initializer_list<const char*> allowed) {
  for (const auto& kv : n) {
    std::string key = kv.first.IsScalar() ? kv.first.Scalar() : "?";
    bool known = false;
    for (const char* a : allowed) known = known || key == a;
    if (!known) fail(join(path, key), "unknown key");
  }
}

std::string read_string(const YAML::Node& n, const std::string& path) {
  if (!n.IsScalar() || n.Scalar().empty())
    fail(path, "must be a non-empty string, got " + shown(n));
  return n.Scalar();
}

uint64_t read_uint(const YAML::Node& n, const std::string& path, uint64_t lo, uint64_t hi) {
  std::string range = std::to_string(lo) + ".." + std::to_string(hi);
  if (!n.IsScalar()) fail(path, "must be " + range + ", got " + shown(n));
  const std::string& s = n.Scalar();
  uint64_t v = 0;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty())
    fail(path, "must be an integer " + range + ", got '" + s + "'");
  if (v < lo || v > hi) fail(path, "must be " + range + ", got " + s);
  return v;
}

bool read_bool(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar()) {
    const std::string& s = n.Scalar();
    if (s == "true" || s == "yes" || s == "on") return true;
    if (s == "false" || s == "no" || s == "off") return false;
  }
  fail(path, "must be true or false, got " + shown(n));
}

IpAddr read_addr(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar())
    if (auto a = IpAddr::parse(n.Scalar())) return *a;
  fail(path, "must be an IPv4 or IPv6 address, got " + shown(n));
}

Cidr read_cidr(const YAML::Node& n, const std::string& path) {
  if (n.IsScalar())
    if (auto c = Cidr::parse(n.Scalar())) return *c;
  fail(path, "must be an address/prefix (CIDR), got " + shown(n));
}

size_t read_choice(const YAML::Node& n, const std::string& path,
                   std::initializer_list<const char*> choices) {
  if (n.IsScalar()) {
    size_t i = 0;
    for (const char* c : choices) {
      if (n.Scalar() == c) return i;
      ++i;
    }
  }
  fail(path, "must be " + choices_text(choices) + ", got " + shown(n));
}

void check_listen(const YAML::Node& n, const std::string& path) {
  std::string s = read_string(n, path);
  size_t colon = s.rfind(':');
  std::string host = colon == std::string::npos ? "" : s.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']')
    host = host.substr(1, host.size() - 2);
  else if (host.find(':') != std::string::npos)
    host.clear();  // bare IPv6 without brackets is ambiguous
  YAML::Node port(colon == std::string::npos ? std::string() : s.substr(colon + 1));
  if (host.empty() || !IpAddr::parse(host))
    fail(path, "must be ADDR:PORT ([ADDR]:PORT for IPv6), got '" + s + "'");
  read_uint(port, path + " port", 1, 65535);
}

}  // namespace sluice::cfg
