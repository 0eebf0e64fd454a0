#include "isolated/image_types.hpp"

namespace isolated {

using nlohmann::json;

namespace {
template <typename T>
void opt(const json& j, const char* key, T& out) {
    if (auto it = j.find(key); it != j.end() && !it->is_null()) it->get_to(out);
}
}  // namespace

void to_json(json& j, const ImageConfigInfo& v) {
    j = json{{"architecture", v.architecture}, {"os", v.os}, {"variant", v.variant},
             {"entrypoint", v.entrypoint ? json(*v.entrypoint) : json(nullptr)},
             {"cmd", v.cmd ? json(*v.cmd) : json(nullptr)},
             {"env", v.env}, {"workingDir", v.working_dir}, {"user", v.user}, {"stopSignal", v.stop_signal},
             {"labels", v.labels}, {"exposedPorts", v.exposed_ports}, {"volumes", v.volumes}};
}

void from_json(const json& j, ImageConfigInfo& v) {
    opt(j, "architecture", v.architecture);
    opt(j, "os", v.os);
    opt(j, "variant", v.variant);
    if (auto it = j.find("entrypoint"); it != j.end() && !it->is_null()) v.entrypoint = it->get<std::vector<std::string>>();
    if (auto it = j.find("cmd"); it != j.end() && !it->is_null()) v.cmd = it->get<std::vector<std::string>>();
    opt(j, "env", v.env);
    opt(j, "workingDir", v.working_dir);
    opt(j, "user", v.user);
    opt(j, "stopSignal", v.stop_signal);
    opt(j, "labels", v.labels);
    opt(j, "exposedPorts", v.exposed_ports);
    opt(j, "volumes", v.volumes);
}

void to_json(json& j, const ImageInfo& v) {
    j = json{{"id", v.id}, {"manifest", v.manifest}, {"refs", v.refs}, {"size", v.size},
             {"rootfsSize", v.rootfs_size}, {"layers", v.layers}, {"created", v.created}, {"loaded", v.loaded}};
    if (v.config) j["config"] = *v.config;
}

void from_json(const json& j, ImageInfo& v) {
    j.at("id").get_to(v.id);
    opt(j, "manifest", v.manifest);
    opt(j, "refs", v.refs);
    opt(j, "size", v.size);
    opt(j, "rootfsSize", v.rootfs_size);
    opt(j, "layers", v.layers);
    opt(j, "created", v.created);
    opt(j, "loaded", v.loaded);
    if (auto it = j.find("config"); it != j.end() && it->is_object()) v.config = it->get<ImageConfigInfo>();
}

void to_json(json& j, const ImageRemoveReport& v) { j = json{{"untagged", v.untagged}, {"deleted", v.deleted}}; }
void from_json(const json& j, ImageRemoveReport& v) {
    opt(j, "untagged", v.untagged);
    opt(j, "deleted", v.deleted);
}

void to_json(json& j, const ImagePruneReport& v) {
    j = json{{"images", v.images}, {"blobs", v.blobs}, {"rootfs", v.rootfs}, {"bytes", v.bytes}};
}
void from_json(const json& j, ImagePruneReport& v) {
    opt(j, "images", v.images);
    opt(j, "blobs", v.blobs);
    opt(j, "rootfs", v.rootfs);
    opt(j, "bytes", v.bytes);
}

}  // namespace isolated
