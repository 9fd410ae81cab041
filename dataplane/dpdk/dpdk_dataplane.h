// SPDX-License-Identifier: Apache-2.0
// The DPDK dataplane behind sluice::Dataplane: EAL in sluiced's process,
// one data port, one worker per worker lcore (an RX/TX queue pair each,
// RSS on the 5-tuple), the tables the controller writes under RCU, and the
// TAP exception port that is the kernel's view of the node.
//
// Threads, as dataplane.h asks: the table writes and conns() come from the
// main loop (which also reclaims what RCU has freed); the counter reads,
// conn_count, conn_table_size and describe from any thread (per-worker
// tables read with relaxed loads, summed here); heartbeat from the VRRP
// thread (an atomic store); flow events and conn_put/conn_del from the
// sync thread (each worker's bounded rings; conn_put goes to the worker
// whose queue the port's RSS gives the flow).
//
// Unlike XDP nothing outlives the process: a restarted sluiced starts with
// empty tables, and detach() (or exit) stops the workers, closes the ports
// and removes the TAP and the EAL's run directory.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "dataplane/dataplane.h"

namespace sluice::dpdk {

struct DpdkOptions {
  std::vector<std::string> eal_args;  // EAL arguments (lcores, devices, memory)
  std::string port;                    // ethdev name; empty: the first port
  unsigned workers = 0;                // 0: one per worker lcore
  std::string tap;                     // the exception port's kernel interface
  uint32_t conn_table_size = SL_CONN_TABLE_DEFAULT;  // in all, split over the workers
  uint32_t idle_sleep_us = 0;          // see runtime.h
  // net_af_packet: keep the kernel's stack off the port's interface (see
  // KernelDrop in port.h). Off only for tests that look at both copies.
  bool kernel_drop = true;
};

class DpdkDataplane;

// Opens the DPDK dataplane, or fails naming the cause with nothing left
// running (workers, ports, the TAP, the EAL run directory).
Result<std::unique_ptr<Dataplane>> dpdk_dataplane_open(const DpdkOptions& opts);

}  // namespace sluice::dpdk
