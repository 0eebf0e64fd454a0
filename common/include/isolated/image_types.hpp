// The API's image types (docs/API.md, "Images") and their JSON: what GET /v1/images
// lists, GET /v1/images/{ref} inspects, and the results of load, rm and prune. Used by
// daemon/api to answer and by isoctl to read.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace isolated {

/// The run defaults of an image's config (what `inspect` shows).
struct ImageConfigInfo {
    std::string architecture;
    std::string os;
    std::string variant;
    std::optional<std::vector<std::string>> entrypoint;
    std::optional<std::vector<std::string>> cmd;
    std::vector<std::string> env;  ///< "NAME=value": an image's env is public (anyone who pulls it reads it)
    std::string working_dir;
    std::string user;
    std::string stop_signal;
    std::map<std::string, std::string> labels;
    std::vector<std::string> exposed_ports;
    std::vector<std::string> volumes;
};

struct ImageInfo {
    std::string id;        ///< "sha256:..." (the config's digest)
    std::string manifest;  ///< "sha256:..."
    std::vector<std::string> refs;
    std::uint64_t size = 0;         ///< blobs
    std::uint64_t rootfs_size = 0;  ///< unpacked tree on disk
    std::size_t layers = 0;
    std::string created;
    std::string loaded;
    std::optional<ImageConfigInfo> config;  ///< inspect only
};

struct ImageRemoveReport {
    std::vector<std::string> untagged;
    std::vector<std::string> deleted;
};

struct ImagePruneReport {
    std::vector<std::string> images;
    std::uint64_t blobs = 0;
    std::uint64_t rootfs = 0;
    std::uint64_t bytes = 0;
};

void to_json(nlohmann::json& j, const ImageConfigInfo& v);
void from_json(const nlohmann::json& j, ImageConfigInfo& v);
void to_json(nlohmann::json& j, const ImageInfo& v);
void from_json(const nlohmann::json& j, ImageInfo& v);
void to_json(nlohmann::json& j, const ImageRemoveReport& v);
void from_json(const nlohmann::json& j, ImageRemoveReport& v);
void to_json(nlohmann::json& j, const ImagePruneReport& v);
void from_json(const nlohmann::json& j, ImagePruneReport& v);

}  // namespace isolated
