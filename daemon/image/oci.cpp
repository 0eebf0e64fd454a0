#include "image/oci.hpp"

#include <nlohmann/json.hpp>

namespace isolated::image {

using nlohmann::json;

namespace {

Error bad(const std::string& what, const std::string& why) { return Error::msg(what + ": " + why); }

Result<json> parse_object(std::string_view text, const std::string& what) {
    auto j = json::parse(text, nullptr, /* allow_exceptions= */ false);
    if (j.is_discarded()) return bad(what, "not valid JSON");
    if (!j.is_object()) return bad(what, "not a JSON object");
    return j;
}

std::string str_field(const json& j, const char* key) {
    auto it = j.find(key);
    return it != j.end() && it->is_string() ? it->get<std::string>() : std::string();
}

Result<std::optional<std::vector<std::string>>> str_list(const json& j, const char* key, const std::string& what) {
    std::optional<std::vector<std::string>> out;
    auto it = j.find(key);
    if (it == j.end() || it->is_null()) return out;
    if (!it->is_array()) return bad(what, std::string(key) + " is not a list of strings");
    out.emplace();
    for (const auto& v : *it) {
        if (!v.is_string()) return bad(what, std::string(key) + " is not a list of strings");
        out->push_back(v.get<std::string>());
    }
    return out;
}

Result<Descriptor> parse_descriptor(const json& j, const std::string& what) {
    if (!j.is_object()) return bad(what, "descriptor is not an object");
    Descriptor d;
    d.media_type = str_field(j, "mediaType");
    auto digest = j.find("digest");
    if (digest == j.end() || !digest->is_string()) return bad(what, "descriptor has no digest");
    auto parsed = parse_digest(digest->get<std::string>());
    if (!parsed) return bad(what, parsed.error().message);
    d.digest = *parsed;
    auto size = j.find("size");
    if (size == j.end() || !size->is_number_integer() || size->get<std::int64_t>() < 0)
        return bad(what, "descriptor " + d.digest.str() + " has no valid size");
    d.size = size->get<std::int64_t>();
    if (auto a = j.find("annotations"); a != j.end() && a->is_object())
        for (const auto& [k, v] : a->items())
            if (v.is_string()) d.annotations[k] = v.get<std::string>();
    if (auto p = j.find("platform"); p != j.end() && p->is_object())
        d.platform = Platform{str_field(*p, "os"), str_field(*p, "architecture"), str_field(*p, "variant")};
    return d;
}

}  // namespace

bool is_index_type(std::string_view t) { return t == media_type::oci_index || t == media_type::docker_list; }
bool is_manifest_type(std::string_view t) { return t == media_type::oci_manifest || t == media_type::docker_manifest; }

Result<Descriptor> parse_descriptor_json(const std::string& text, const std::string& what) {
    auto j = parse_object(text, what);
    if (!j) return j.error();
    return parse_descriptor(*j, what);
}

Result<Index> parse_index(std::string_view text, const std::string& what) {
    auto j = parse_object(text, what);
    if (!j) return j.error();
    auto m = j->find("manifests");
    if (m == j->end() || !m->is_array()) return bad(what, "no \"manifests\" list");
    Index index;
    for (const auto& d : *m) {
        auto desc = parse_descriptor(d, what);
        if (!desc) return desc.error();
        index.manifests.push_back(std::move(*desc));
    }
    return index;
}

Result<Manifest> parse_manifest(std::string_view text, const std::string& what) {
    auto j = parse_object(text, what);
    if (!j) return j.error();
    Manifest m;
    m.media_type = str_field(*j, "mediaType");
    if (j->contains("manifests")) return bad(what, "is an image index, not a manifest");
    if (!m.media_type.empty() && !is_manifest_type(m.media_type))
        return bad(what, "media type \"" + m.media_type + "\" is not an image manifest");
    auto config = j->find("config");
    if (config == j->end()) return bad(what, "no \"config\"");
    auto c = parse_descriptor(*config, what + " config");
    if (!c) return c.error();
    m.config = std::move(*c);
    auto layers = j->find("layers");
    if (layers == j->end() || !layers->is_array()) return bad(what, "no \"layers\" list");
    for (const auto& l : *layers) {
        auto d = parse_descriptor(l, what + " layer");
        if (!d) return d.error();
        m.layers.push_back(std::move(*d));
    }
    return m;
}

Result<ImageConfig> parse_config(std::string_view text, const std::string& what) {
    auto j = parse_object(text, what);
    if (!j) return j.error();
    ImageConfig c;
    c.architecture = str_field(*j, "architecture");
    c.os = str_field(*j, "os");
    c.variant = str_field(*j, "variant");
    c.created = str_field(*j, "created");
    auto rootfs = j->find("rootfs");
    if (rootfs == j->end() || !rootfs->is_object()) return bad(what, "no \"rootfs\"");
    if (str_field(*rootfs, "type") != "layers") return bad(what, "rootfs.type is not \"layers\"");
    auto ids = rootfs->find("diff_ids");
    if (ids == rootfs->end() || !ids->is_array()) return bad(what, "no rootfs.diff_ids list");
    for (const auto& id : *ids) {
        if (!id.is_string()) return bad(what, "rootfs.diff_ids holds a non-string");
        auto d = parse_digest(id.get<std::string>());
        if (!d) return bad(what, "rootfs.diff_ids: " + d.error().message);
        c.diff_ids.push_back(*d);
    }
    auto cfg = j->find("config");
    if (cfg == j->end() || cfg->is_null()) return c;
    if (!cfg->is_object()) return bad(what, "\"config\" is not an object");
    auto ep = str_list(*cfg, "Entrypoint", what);
    if (!ep) return ep.error();
    c.entrypoint = std::move(*ep);
    auto cmd = str_list(*cfg, "Cmd", what);
    if (!cmd) return cmd.error();
    c.cmd = std::move(*cmd);
    auto env = str_list(*cfg, "Env", what);
    if (!env) return env.error();
    if (*env) c.env = std::move(**env);
    c.working_dir = str_field(*cfg, "WorkingDir");
    c.user = str_field(*cfg, "User");
    c.stop_signal = str_field(*cfg, "StopSignal");
    if (auto l = cfg->find("Labels"); l != cfg->end() && l->is_object())
        for (const auto& [k, v] : l->items())
            if (v.is_string()) c.labels[k] = v.get<std::string>();
    if (auto p = cfg->find("ExposedPorts"); p != cfg->end() && p->is_object())
        for (const auto& [k, v] : p->items()) c.exposed_ports.push_back(k);
    if (auto v = cfg->find("Volumes"); v != cfg->end() && v->is_object())
        for (const auto& [k, _] : v->items()) c.volumes.push_back(k);
    return c;
}

std::string host_architecture() {
#if defined(__x86_64__)
    return "amd64";
#elif defined(__aarch64__)
    return "arm64";
#elif defined(__arm__)
    return "arm";
#elif defined(__i386__)
    return "386";
#elif defined(__powerpc64__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    return "ppc64le";
#elif defined(__s390x__)
    return "s390x";
#elif defined(__riscv) && __riscv_xlen == 64
    return "riscv64";
#else
    return "unknown";
#endif
}

Result<Descriptor> pick_platform(const Index& index, const std::string& what) {
    const std::string arch = host_architecture();
    if (index.manifests.empty()) return bad(what, "the index lists no manifests");
    for (const auto& d : index.manifests)
        if (d.platform && d.platform->os == "linux" && d.platform->architecture == arch) return d;
    if (index.manifests.size() == 1 && !index.manifests[0].platform) return index.manifests[0];
    std::string have;
    for (const auto& d : index.manifests) {
        have += have.empty() ? "" : ", ";
        have += d.platform ? d.platform->os + "/" + d.platform->architecture +
                                 (d.platform->variant.empty() ? "" : "/" + d.platform->variant)
                           : "(no platform)";
    }
    return bad(what, "no manifest for linux/" + arch + " (it has: " + have + ")");
}

}  // namespace isolated::image
