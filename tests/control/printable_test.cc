// SPDX-License-Identifier: Apache-2.0
#include "control/config/printable.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "control/ctl/ctl_print.h"

namespace sluice {
namespace {

TEST(Printable, EscapesControlBytesAndKeepsTheRest) {
  EXPECT_EQ(printable("plain: 198.18.0.1 'x' \\n"), "plain: 198.18.0.1 'x' \\n");
  EXPECT_EQ(printable(std::string("a\0b", 3)), "a\\x00b");
  EXPECT_EQ(printable("\x1b[2J\r\n\t\x7f"), "\\x1b[2J\\x0d\\x0a\\x09\\x7f");
  // C1 controls in UTF-8 (U+009B is CSI on some terminals).
  EXPECT_EQ(printable("a\xc2\x9b" "b\xc2\x80"), "a\\xc2\\x9bb\\xc2\\x80");
}

TEST(Printable, KeepsValidUtf8AndEscapesTheInvalid) {
  EXPECT_EQ(printable("caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc2\xa0"),
            "caf\xc3\xa9 \xe6\x97\xa5 \xf0\x9f\x98\x80 \xc2\xa0");
  EXPECT_EQ(printable("\xff\xfe"), "\\xff\\xfe");
  EXPECT_EQ(printable("\x80"), "\\x80");                       // lone continuation
  EXPECT_EQ(printable("\xc0\xaf"), "\\xc0\\xaf");               // overlong '/'
  EXPECT_EQ(printable("\xe0\x80\xaf"), "\\xe0\\x80\\xaf");       // overlong, 3 bytes
  EXPECT_EQ(printable("\xed\xa0\x80"), "\\xed\\xa0\\x80");       // a surrogate
  EXPECT_EQ(printable("\xf4\x90\x80\x80"), "\\xf4\\x90\\x80\\x80");  // above U+10FFFF
  EXPECT_EQ(printable("x\xe6\x97"), "x\\xe6\\x97");              // cut short
}

TEST(Printable, TwiceIsOnce) {
  for (std::string s : {"\x1b[31m\xff\\x41", "ok"})
    EXPECT_EQ(printable(printable(s)), printable(s));
}

// sluicectl must not trust the server to have escaped its error.
TEST(Printable, SluicectlEscapesTheServerError) {
  nlohmann::json reply = {{"ok", false}, {"error", "bad request: '\x1b]0;owned\x07'"}};
  EXPECT_EQ(ctl_server_error(reply), "bad request: '\\x1b]0;owned\\x07'");
  EXPECT_EQ(ctl_server_error(nlohmann::json{{"ok", false}, {"error", 3}}), "request failed");
  EXPECT_EQ(ctl_server_error(nlohmann::json{{"ok", false}}), "request failed");
}

}  // namespace
}  // namespace sluice
