// SPDX-License-Identifier: Apache-2.0
// The HMAC key sync_fuzz verifies with, and vrrp_sync_seeds signs with.
#pragma once

#include <array>
#include <cstdint>

inline constexpr std::array<uint8_t, 32> kFuzzKey = {
    's', 'l', 'u', 'i', 'c', 'e', '-', 'f', 'u', 'z', 'z', '-', 'k', 'e', 'y', '-',
    '0', '1', '2', '3', '4', '5', '6', '7', '8', '9', 'a', 'b', 'c', 'd', 'e', 'f'};
