// SPDX-License-Identifier: Apache-2.0
// Readiness and state notifications to the service manager (systemd's
// Type=notify). Without $NOTIFY_SOCKET, or in a build without libsystemd,
// every call does nothing: sluiced behaves the same in a shell.
#pragma once

#include <string>

namespace sluice {

// READY=1 with a one-line STATUS=: the dataplane is programmed and serving.
// Also ends a reload that notify_reloading() started.
void notify_ready(const std::string& status);
// RELOADING=1: systemd waits for the next notify_ready(), so pair them.
void notify_reloading();
// STOPPING=1: on the way out, before the (possibly slow) detach.
void notify_stopping();

// Whether this sluiced was built with libsystemd (reported by --version).
bool notify_supported();

}  // namespace sluice
