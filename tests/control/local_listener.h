// SPDX-License-Identifier: Apache-2.0
// A TCP listener on 127.0.0.1 at a kernel-chosen port, for probe tests: it
// completes handshakes and never reads.
#pragma once

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>

#include "core/host/fd.h"

namespace sluice {

inline Fd listen_local(uint16_t& port) {
  Fd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sin);
  EXPECT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&sin), len), 0);
  EXPECT_EQ(listen(fd.get(), 64), 0);
  EXPECT_EQ(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&sin), &len), 0);
  port = ntohs(sin.sin_port);
  return fd;
}

}  // namespace sluice
