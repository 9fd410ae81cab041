// SPDX-License-Identifier: Apache-2.0
#include "xdp/rx_vlan_offload.h"

#include <linux/ethtool.h>
#include <linux/sockios.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "core/host/fd.h"

namespace sluice {
namespace {

// The strings ETH_SS_FEATURES names the stripping features by (the names
// `ethtool -k` prints); their bit numbers differ between kernels.
constexpr const char* kStripFeatures[] = {"rx-vlan-hw-parse", "rx-vlan-stag-hw-parse"};

// One ethtool ioctl on `ifname` with a variable-length request. The buffer
// is of 64-bit words so every ethtool struct in it is aligned.
class Ethtool {
 public:
  Ethtool(int sock, std::string ifname) : sock_(sock), ifname_(std::move(ifname)) {}

  Result<void> call(void* req, const char* what) const {
    ifreq ifr{};
    std::strncpy(ifr.ifr_name, ifname_.c_str(), IFNAMSIZ - 1);
    ifr.ifr_data = static_cast<char*>(req);
    if (ioctl(sock_, SIOCETHTOOL, &ifr) < 0) return make_error(what, errno, ifname_);
    return {};
  }

 private:
  int sock_;
  std::string ifname_;
};

std::vector<uint64_t> buffer(size_t bytes) { return std::vector<uint64_t>((bytes + 7) / 8, 0); }

Result<std::vector<std::string>> feature_names(const Ethtool& et) {
  auto info_buf = buffer(sizeof(ethtool_sset_info) + sizeof(uint32_t));
  auto* info = reinterpret_cast<ethtool_sset_info*>(info_buf.data());
  info->cmd = ETHTOOL_GSSET_INFO;
  info->sset_mask = 1ull << ETH_SS_FEATURES;
  if (auto r = et.call(info, "ethtool GSSET_INFO"); !r) return r.error();
  uint32_t n = (info->sset_mask & (1ull << ETH_SS_FEATURES)) ? info->data[0] : 0;

  auto str_buf = buffer(sizeof(ethtool_gstrings) + size_t(n) * ETH_GSTRING_LEN);
  auto* strs = reinterpret_cast<ethtool_gstrings*>(str_buf.data());
  strs->cmd = ETHTOOL_GSTRINGS;
  strs->string_set = ETH_SS_FEATURES;
  strs->len = n;
  if (auto r = et.call(strs, "ethtool GSTRINGS"); !r) return r.error();
  std::vector<std::string> names;
  for (uint32_t i = 0; i < strs->len && i < n; ++i) {
    const char* s = reinterpret_cast<const char*>(strs->data) + size_t(i) * ETH_GSTRING_LEN;
    names.emplace_back(s, strnlen(s, ETH_GSTRING_LEN));
  }
  return names;
}

struct Features {
  std::vector<uint64_t> buf;
  ethtool_gfeatures* get() { return reinterpret_cast<ethtool_gfeatures*>(buf.data()); }
  bool active(uint32_t bit) { return get()->features[bit / 32].active & (1u << (bit % 32)); }
  bool changeable(uint32_t bit) { return get()->features[bit / 32].available & (1u << (bit % 32)); }
};

Result<Features> features_get(const Ethtool& et, uint32_t blocks) {
  Features f{buffer(sizeof(ethtool_gfeatures) + blocks * sizeof(ethtool_get_features_block))};
  f.get()->cmd = ETHTOOL_GFEATURES;
  f.get()->size = blocks;
  if (auto r = et.call(f.get(), "ethtool GFEATURES"); !r) return r.error();
  return f;
}

std::string driver_name(const Ethtool& et) {
  ethtool_drvinfo info{};
  info.cmd = ETHTOOL_GDRVINFO;
  if (!et.call(&info, "ethtool GDRVINFO")) return {};
  return std::string(info.driver, strnlen(info.driver, sizeof(info.driver)));
}

std::string joined(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += (s.empty() ? "" : ", ") + x;
  return s;
}

}  // namespace

Result<RxVlanOffload> rx_vlan_strip_off(const std::string& ifname) {
  Fd sock(socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!sock) return make_error("socket(AF_INET) for ethtool", errno, ifname);
  Ethtool et(sock.get(), ifname);
  RxVlanOffload out;
  out.driver = driver_name(et);
  auto names = feature_names(et);
  if (!names) return names.error();
  uint32_t blocks = uint32_t((names->size() + 31) / 32);
  auto feats = features_get(et, blocks);
  if (!feats) return feats.error();

  auto set_buf = buffer(sizeof(ethtool_sfeatures) + blocks * sizeof(ethtool_set_features_block));
  auto* set = reinterpret_cast<ethtool_sfeatures*>(set_buf.data());
  set->cmd = ETHTOOL_SFEATURES;
  set->size = blocks;
  std::vector<uint32_t> bits;
  for (uint32_t bit = 0; bit < names->size(); ++bit) {
    bool strip = false;
    for (const char* f : kStripFeatures) strip = strip || (*names)[bit] == f;
    if (!strip || !feats->active(bit)) continue;
    if (!feats->changeable(bit)) {
      out.fixed_on.push_back((*names)[bit]);
      continue;
    }
    set->features[bit / 32].valid |= 1u << (bit % 32);  // requested bit stays 0: off
    bits.push_back(bit);
  }
  if (bits.empty()) return out;
  if (auto r = et.call(set, "ethtool SFEATURES"); !r) return r.error();
  // The driver may refuse quietly (ETHTOOL_F_WISH): believe what is active.
  auto after = features_get(et, blocks);
  if (!after) return after.error();
  for (uint32_t bit : bits)
    (after->active(bit) ? out.fixed_on : out.turned_off).push_back((*names)[bit]);
  return out;
}

std::string rx_vlan_offload_note(const RxVlanOffload& o, const std::string& ifname) {
  std::string note;
  if (!o.turned_off.empty())
    note = ifname + ": turned off " + joined(o.turned_off) +
           " so XDP sees VLAN tags in the frame (a second tag is passed, not steered)";
  if (!o.fixed_on.empty())
    note += std::string(note.empty() ? ifname + ": " : "; ") + joined(o.fixed_on) +
            " cannot be turned off: XDP does not see the outer tag the NIC strips, so a "
            "double-tagged frame is steered as single-tagged";
  if (o.driver == "veth" && !note.empty())
    note +=
        "; on a veth, a tag the peer's tx VLAN offload keeps as metadata stays invisible "
        "(turn off txvlan and tx-vlan-stag-hw-insert on the peer)";
  return note;
}

}  // namespace sluice
