// SPDX-License-Identifier: Apache-2.0
// libFuzzer target for the API's request parser: any bytes a client sends
// get a request or an error, never a crash; what it accepts is consistent
// (a service it parsed prints back to a name that parses to the same key).
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "control/api/api_request.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  auto req = sluice::api_parse_request(text);
  if (!req) {
    if (req.error().message().rfind("bad request: ", 0) != 0) abort();
    return 0;
  }
  if (req->service) {
    auto again = sluice::service_parse(req->service->str());
    if (!again || !(*again == *req->service)) abort();
  }
  if (req->weight && *req->weight > 1000) abort();
  if (req->limit == 0 || req->limit > sluice::kConnsMaxLimit) abort();
  if (sluice::api_command_mutates(req->cmd) && !req->service) abort();
  sluice::service_parse(text);  // the bare service grammar too
  return 0;
}
