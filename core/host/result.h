// SPDX-License-Identifier: Apache-2.0
// Result<T>: a value or an Error, across every boundary of the host code.
// (std::expected is C++23; the host builds as C++20 with GCC 12.)
#pragma once

#include <cstring>
#include <string>
#include <utility>
#include <variant>

namespace sluice {

struct Error {
  std::string op;       // what failed: "bpf_xdp_attach", "config: vips[0].port"
  int err = 0;          // errno, 0 when not a system error
  std::string context;  // the object: interface, path, address

  std::string message() const {
    std::string m = op;
    if (!context.empty()) m += " (" + context + ")";
    if (err != 0) m += ": " + std::string(std::strerror(err));
    return m;
  }
};

inline Error make_error(std::string op, int err = 0, std::string context = {}) {
  return Error{std::move(op), err, std::move(context)};
}

template <class T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}
  Result(Error e) : v_(std::move(e)) {}

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : e_(std::move(e)), ok_(false) {}

  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return e_; }

 private:
  Error e_;
  bool ok_ = true;
};

}  // namespace sluice
