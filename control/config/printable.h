// SPDX-License-Identifier: Apache-2.0
// Text from a config file or an API request, made safe to print on one line
// of a terminal or a log: control bytes (C0, DEL, C1) and bytes that are not
// valid UTF-8 become \xNN, so a hostile file cannot move the cursor, recolour
// the terminal or split an error into two lines. Everything else, including
// backslashes, is kept: applying it twice gives the same text, so each place
// that shows an error to a user may apply it without knowing where the text
// passed before.
// Header-only: the API request parser is also compiled alone by the fuzzer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace sluice {

namespace printable_detail {

// Length of the well-formed UTF-8 sequence at s[i] (RFC 3629: no overlongs,
// no surrogates, nothing above U+10FFFF), or 0.
inline size_t utf8_length(std::string_view s, size_t i) {
  auto at = [&](size_t k) { return static_cast<uint8_t>(s[k]); };
  uint8_t c = at(i);
  size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (c > 0xf4 || n == 0 || i + n > s.size()) return 0;
  uint8_t lo = 0x80, hi = 0xbf;  // the second byte's range
  if (c == 0xe0) lo = 0xa0;
  if (c == 0xed) hi = 0x9f;
  if (c == 0xf0) lo = 0x90;
  if (c == 0xf4) hi = 0x8f;
  if (at(i + 1) < lo || at(i + 1) > hi) return 0;
  for (size_t k = 2; k < n; ++k)
    if ((at(i + k) & 0xc0) != 0x80) return 0;
  return n;
}

inline void append_hex(std::string& out, uint8_t b) {
  static constexpr char kDigits[] = "0123456789abcdef";
  out += "\\x";
  out += kDigits[b >> 4];
  out += kDigits[b & 0xf];
}

}  // namespace printable_detail

inline std::string printable(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  size_t i = 0;
  while (i < s.size()) {
    uint8_t c = static_cast<uint8_t>(s[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
      ++i;
      continue;
    }
    size_t n = c >= 0x80 ? printable_detail::utf8_length(s, i) : 0;
    // C1 controls (U+0080..U+009F, encoded C2 80..C2 9F) act like C0 on
    // some terminals (0x9b is CSI).
    bool c1 = n == 2 && c == 0xc2 && static_cast<uint8_t>(s[i + 1]) < 0xa0;
    if (n == 0 || c1) {
      for (size_t k = 0; k < (c1 ? 2 : 1); ++k)
        printable_detail::append_hex(out, static_cast<uint8_t>(s[i + k]));
      i += c1 ? 2 : 1;
      continue;
    }
    out.append(s.substr(i, n));
    i += n;
  }
  return out;
}

}  // namespace sluice
