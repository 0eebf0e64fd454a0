// Hand-built layers and image archives for the image store's unit tests: libarchive's
// writer makes exactly the entries a case needs (a whiteout, a device, a hostile path)
// that no image tool would write.
#pragma once

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>

#include <cstdint>
#include <map>
#include <stdexcept>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "image/digest.hpp"

namespace isolated::test::images {

struct Entry {
    std::string path;
    char type = 'f';  ///< f file, d dir, l symlink, h hardlink, c char device, p fifo
    unsigned mode = 0644;
    std::string data{};    ///< file content
    std::string target{};  ///< symlink or hardlink target
    unsigned uid = 0, gid = 0;
    unsigned major = 0, minor = 0;
    std::map<std::string, std::string> xattrs{};
    long mtime = 1700000000;
};

inline Entry file(std::string path, std::string data, unsigned mode = 0644) {
    return Entry{std::move(path), 'f', mode, std::move(data)};
}
inline Entry dir(std::string path, unsigned mode = 0755) { return Entry{std::move(path), 'd', mode}; }
inline Entry slink(std::string path, std::string target) {
    Entry e{std::move(path), 'l', 0777};
    e.target = std::move(target);
    return e;
}
inline Entry hardlink(std::string path, std::string target) {
    Entry e{std::move(path), 'h', 0644};
    e.target = std::move(target);
    return e;
}

enum class Compression { none, gzip, zstd };

/// A tar (pax) of `entries`, compressed as asked.
inline std::string tar(const std::vector<Entry>& entries, Compression c = Compression::none) {
    archive* a = archive_write_new();
    archive_write_set_format_pax_restricted(a);
    if (c == Compression::gzip) archive_write_add_filter_gzip(a);
    if (c == Compression::zstd) archive_write_add_filter_zstd(a);
    archive_write_set_bytes_in_last_block(a, 1);
    std::vector<char> buf(64 * 1024 * 1024);
    size_t used = 0;
    if (archive_write_open_memory(a, buf.data(), buf.size(), &used) != ARCHIVE_OK)
        throw std::runtime_error(archive_error_string(a));
    for (const auto& e : entries) {
        archive_entry* ae = archive_entry_new();
        archive_entry_set_pathname(ae, e.path.c_str());
        archive_entry_set_uid(ae, e.uid);
        archive_entry_set_gid(ae, e.gid);
        archive_entry_set_mtime(ae, e.mtime, 0);
        archive_entry_set_perm(ae, e.mode);
        switch (e.type) {
            case 'f':
                archive_entry_set_filetype(ae, AE_IFREG);
                archive_entry_set_size(ae, static_cast<la_int64_t>(e.data.size()));
                break;
            case 'd': archive_entry_set_filetype(ae, AE_IFDIR); break;
            case 'l':
                archive_entry_set_filetype(ae, AE_IFLNK);
                archive_entry_set_symlink(ae, e.target.c_str());
                break;
            case 'h':
                archive_entry_set_filetype(ae, AE_IFREG);
                archive_entry_set_hardlink(ae, e.target.c_str());
                archive_entry_set_size(ae, 0);
                break;
            case 'c':
                archive_entry_set_filetype(ae, AE_IFCHR);
                archive_entry_set_rdevmajor(ae, e.major);
                archive_entry_set_rdevminor(ae, e.minor);
                break;
            case 'p': archive_entry_set_filetype(ae, AE_IFIFO); break;
        }
        for (const auto& [k, v] : e.xattrs) archive_entry_xattr_add_entry(ae, k.c_str(), v.data(), v.size());
        if (archive_write_header(a, ae) != ARCHIVE_OK) throw std::runtime_error(archive_error_string(a));
        if (e.type == 'f' && !e.data.empty()) archive_write_data(a, e.data.data(), e.data.size());
        archive_entry_free(ae);
    }
    archive_write_close(a);
    archive_write_free(a);
    return std::string(buf.data(), used);
}

/// A layer as an image carries it: its (maybe compressed) bytes and its diff_id.
struct Layer {
    std::string blob;
    image::Digest diff_id;
};

inline Layer layer(const std::vector<Entry>& entries, Compression c = Compression::none) {
    std::string plain = tar(entries);
    Layer l;
    l.diff_id = image::sha256_of(plain);
    l.blob = c == Compression::none ? plain : tar(entries, c);
    return l;
}

inline const char* layer_media_type(Compression c) {
    switch (c) {
        case Compression::gzip: return "application/vnd.oci.image.layer.v1.tar+gzip";
        case Compression::zstd: return "application/vnd.oci.image.layer.v1.tar+zstd";
        default: return "application/vnd.oci.image.layer.v1.tar";
    }
}

/// An OCI image layout as a tar, holding one image of `layers`. `ref_name` is the
/// index entry's org.opencontainers.image.ref.name ("" = none). Options let a test
/// break it: a config whose diff_ids differ, a manifest naming a missing blob.
struct OciOptions {
    std::string ref_name{};
    Compression compression = Compression::none;
    bool drop_first_layer_blob = false;
    std::vector<std::string> cmd = {"/bin/sh"};
};

inline std::string oci_archive(const std::vector<Layer>& layers, const OciOptions& o = {},
                               std::vector<image::Digest>* diff_ids_override = nullptr) {
    using nlohmann::json;
    std::vector<Entry> files{dir("blobs"), dir("blobs/sha256"),
                             file("oci-layout", R"({"imageLayoutVersion":"1.0.0"})")};
    json diff_ids = json::array();
    if (diff_ids_override)
        for (const auto& d : *diff_ids_override) diff_ids.push_back(d.str());
    else
        for (const auto& l : layers) diff_ids.push_back(l.diff_id.str());
    json config{{"architecture", "amd64"},
                {"os", "linux"},
                {"created", "2024-01-02T03:04:05Z"},
                {"config", {{"Cmd", o.cmd}, {"Env", {"PATH=/bin", "GREETING=hi"}}, {"WorkingDir", "/srv"},
                            {"User", "1000:1000"}, {"StopSignal", "SIGINT"}}},
                {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}}};
    std::string config_text = config.dump();
    auto config_digest = image::sha256_of(config_text);
    files.push_back(file("blobs/sha256/" + config_digest.hex, config_text));
    json mlayers = json::array();
    for (std::size_t i = 0; i < layers.size(); ++i) {
        auto d = image::sha256_of(layers[i].blob);
        mlayers.push_back({{"mediaType", layer_media_type(o.compression)}, {"digest", d.str()}, {"size", layers[i].blob.size()}});
        if (!(i == 0 && o.drop_first_layer_blob)) files.push_back(file("blobs/sha256/" + d.hex, layers[i].blob));
    }
    json manifest{{"schemaVersion", 2},
                  {"mediaType", "application/vnd.oci.image.manifest.v1+json"},
                  {"config", {{"mediaType", "application/vnd.oci.image.config.v1+json"}, {"digest", config_digest.str()},
                              {"size", config_text.size()}}},
                  {"layers", mlayers}};
    std::string manifest_text = manifest.dump();
    auto manifest_digest = image::sha256_of(manifest_text);
    files.push_back(file("blobs/sha256/" + manifest_digest.hex, manifest_text));
    json desc{{"mediaType", "application/vnd.oci.image.manifest.v1+json"}, {"digest", manifest_digest.str()},
              {"size", manifest_text.size()}};
    if (!o.ref_name.empty()) desc["annotations"] = {{"org.opencontainers.image.ref.name", o.ref_name}};
    json index{{"schemaVersion", 2}, {"manifests", json::array({desc})}};
    files.push_back(file("index.json", index.dump()));
    return tar(files);
}

}  // namespace isolated::test::images
