// SPDX-License-Identifier: Apache-2.0
// The API's changes as edits of a Config value: each finds its VIP or
// backend, refuses what does not make sense (unknown, duplicate), and leaves
// the rest of the validation to config_parse (ConfigStore re-parses).
#pragma once

#include "control/api/api_request.h"
#include "control/config/config.h"

namespace sluice {

// vip_add .. backend_undrain, acl_add, acl_del; `req` as api_parse_request returned it.
Result<void> config_edit(Config& cfg, const ApiRequest& req);

// The VIPs as the dataplane should serve them: a drained backend has
// weight 0 there, while its config keeps the weight undrain restores.
std::vector<VipConfig> dataplane_vips(const Config& cfg);

VipConfig* find_vip(Config& cfg, const ServiceKey& key);
const VipConfig* find_vip(const Config& cfg, const ServiceKey& key);

}  // namespace sluice
