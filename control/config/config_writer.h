// SPDX-License-Identifier: Apache-2.0
// The Config as YAML, in the shape config_parse() reads: what sluiced writes
// back after an API change. config_parse(config_emit(c)) == c for every
// config config_parse accepts (defaults are written out explicitly).
#pragma once

#include <string>

#include "control/config/config.h"

namespace sluice {

std::string config_emit(const Config& cfg);

}  // namespace sluice
