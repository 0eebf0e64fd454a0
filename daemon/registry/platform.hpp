// Which manifest of an image index this host runs, with containerd's platform matcher
// as the yardstick (platforms.Only): names normalized (x86_64 -> amd64, aarch64 ->
// arm64, arm64/v8 -> arm64, arm -> arm/v7), then candidates tried in order of
// preference -- the host's own platform, then what it also runs: amd64 also 386;
// arm/vN also arm/v(N-1) down to v5; arm64 also arm/v8 down to arm/v5.
#pragma once

#include <string>
#include <vector>

#include "image/oci.hpp"
#include "isolated/result.hpp"

namespace isolated::registry {

struct PlatformSpec {
    std::string os;
    std::string architecture;
    std::string variant;
    std::string str() const { return os + "/" + architecture + (variant.empty() ? "" : "/" + variant); }
    friend bool operator==(const PlatformSpec&, const PlatformSpec&) = default;
};

/// Names as containerd normalizes them.
PlatformSpec normalize(PlatformSpec p);
/// linux/<this build's architecture>, with the arm variant read from /proc/cpuinfo
/// ("CPU architecture: 7" -> v7; v7 when it says nothing).
PlatformSpec host_platform();
/// `want` and what it also runs, most preferred first.
std::vector<PlatformSpec> compatible_platforms(const PlatformSpec& want);

/// The index's entry for `want`: the first entry matching the most preferred
/// candidate. An index whose only entry has no platform is taken as is. The error
/// lists the platforms the index has.
Result<image::Descriptor> pick_manifest(const image::Index& index, const PlatformSpec& want, const std::string& what);

}  // namespace isolated::registry
