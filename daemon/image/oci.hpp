// The OCI image spec's JSON documents (and Docker's schema-2 equivalents, which differ
// only in media types): descriptors, indexes, manifests and the image config. Parsing
// is strict about what the store relies on (digests, sizes, diff_ids) and lenient about
// the rest; every error names the document and the field.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.hpp"
#include "isolated/result.hpp"

namespace isolated::image {

namespace media_type {
inline constexpr std::string_view oci_index = "application/vnd.oci.image.index.v1+json";
inline constexpr std::string_view oci_manifest = "application/vnd.oci.image.manifest.v1+json";
inline constexpr std::string_view oci_config = "application/vnd.oci.image.config.v1+json";
inline constexpr std::string_view oci_layer = "application/vnd.oci.image.layer.v1.tar";
inline constexpr std::string_view docker_list = "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr std::string_view docker_manifest = "application/vnd.docker.distribution.manifest.v2+json";
}  // namespace media_type

bool is_index_type(std::string_view media_type);
bool is_manifest_type(std::string_view media_type);

struct Platform {
    std::string os;
    std::string architecture;
    std::string variant;
};

struct Descriptor {
    std::string media_type;
    Digest digest;
    std::int64_t size = 0;
    std::map<std::string, std::string> annotations;
    std::optional<Platform> platform;
};

struct Index {
    std::vector<Descriptor> manifests;
};

struct Manifest {
    std::string media_type;
    Descriptor config;
    std::vector<Descriptor> layers;
};

/// The parts of the image config the daemon uses (the run defaults, item 4 of the
/// images issue) and shows (`isoctl image inspect`).
struct ImageConfig {
    std::string architecture;
    std::string os;
    std::string variant;
    std::string created;  ///< RFC 3339 as written, "" when absent
    std::optional<std::vector<std::string>> entrypoint;
    std::optional<std::vector<std::string>> cmd;
    std::vector<std::string> env;  ///< "NAME=value"
    std::string working_dir;
    std::string user;
    std::string stop_signal;
    std::map<std::string, std::string> labels;
    std::vector<std::string> exposed_ports;
    std::vector<std::string> volumes;
    std::vector<Digest> diff_ids;  ///< rootfs.diff_ids: the uncompressed layers' digests
};

/// `what` names the document in errors ("manifest sha256:...").
Result<Descriptor> parse_descriptor_json(const std::string& json_text, const std::string& what);
Result<Index> parse_index(std::string_view json_text, const std::string& what);
Result<Manifest> parse_manifest(std::string_view json_text, const std::string& what);
Result<ImageConfig> parse_config(std::string_view json_text, const std::string& what);

/// GOARCH of this build ("amd64", "arm64", ...), as platforms name it.
std::string host_architecture();

/// The manifest for linux/<this arch> in an index (the first when several match;
/// entries without a platform count as a match only when they are the only one).
/// The error lists the platforms the index has.
Result<Descriptor> pick_platform(const Index& index, const std::string& what);

}  // namespace isolated::image
