// SPDX-License-Identifier: Apache-2.0
#include "control/daemon/sd_notify.h"

#ifdef SLUICE_HAVE_LIBSYSTEMD
#include <systemd/sd-daemon.h>
#endif

#include <spdlog/spdlog.h>

#include <cstring>

namespace sluice {

namespace {

void send(const std::string& state) {
#ifdef SLUICE_HAVE_LIBSYSTEMD
  // unset_environment=0: reloads and the stop notify through the same socket.
  int r = sd_notify(0, state.c_str());
  if (r < 0) spdlog::warn("sd_notify: {}", std::strerror(-r));
#else
  (void)state;
#endif
}

// STATUS= is one line; a newline would start another assignment.
std::string one_line(std::string s) {
  for (char& c : s)
    if (c == '\n') c = ' ';
  return s;
}

}  // namespace

void notify_ready(const std::string& status) { send("READY=1\nSTATUS=" + one_line(status)); }

void notify_reloading() { send("RELOADING=1\nSTATUS=reloading the config"); }

void notify_stopping() { send("STOPPING=1\nSTATUS=stopping"); }

bool notify_supported() {
#ifdef SLUICE_HAVE_LIBSYSTEMD
  return true;
#else
  return false;
#endif
}

}  // namespace sluice
