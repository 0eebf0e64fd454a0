#include "image/loader.hpp"

#include <unistd.h>

#include <cstring>
#include <map>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "image/unpack_client.hpp"
#include "image/unpack_protocol.hpp"

namespace isolated::image {

using nlohmann::json;

namespace {

constexpr std::size_t small_max = 4 * 1024 * 1024;  // manifests, configs, index.json
constexpr int max_link_depth = 16;
constexpr std::string_view annotation_ref = "org.opencontainers.image.ref.name";
constexpr std::string_view annotation_containerd = "io.containerd.image.name";

/// An archive member: a normalized path ("blobs/sha256/ab..", "abc/layer.tar").
Result<std::string> normalize(const std::string& raw) {
    if (!raw.empty() && raw[0] == '/') return Error::msg("archive member \"" + raw + "\" has an absolute path");
    std::vector<std::string> parts;
    std::size_t i = 0;
    while (i <= raw.size()) {
        auto j = raw.find('/', i);
        if (j == std::string::npos) j = raw.size();
        std::string c = raw.substr(i, j - i);
        i = j + 1;
        if (c.empty() || c == ".") continue;
        if (c == "..") {
            if (parts.empty()) return Error::msg("archive member \"" + raw + "\" climbs out of the archive");
            parts.pop_back();
            continue;
        }
        parts.push_back(c);
    }
    std::string out;
    for (const auto& p : parts) out += (out.empty() ? "" : "/") + p;
    return out;
}

std::string dirname(const std::string& p) {
    auto s = p.rfind('/');
    return s == std::string::npos ? std::string() : p.substr(0, s);
}

struct Member {
    std::unique_ptr<BlobWriter> writer;
    Digest digest;
    std::uint64_t size = 0;
    std::optional<std::string> content;  ///< small members, kept for reading
};

struct Archive {
    std::map<std::string, Member> files;
    std::map<std::string, std::string> links;  ///< member -> member it stands for

    Member* find(std::string path) {
        for (int i = 0; i < max_link_depth; ++i) {
            if (auto it = files.find(path); it != files.end()) return &it->second;
            auto l = links.find(path);
            if (l == links.end()) return nullptr;
            path = l->second;
        }
        return nullptr;
    }
    Member* blob(const Digest& d) { return find("blobs/sha256/" + d.hex); }
};

/// The archive's members, read by isolated-unpack (image/unpack_protocol.hpp) and
/// streamed here: the blobs are written and hashed by the store in this process, so a
/// helper that misparses cannot make a blob that is not what its digest says.
Result<Archive> read_members(Store& store, int fd, const Progress& say) {
    namespace proto = unpack_protocol;
    const std::string not_archive = "not an image archive (a tar of an OCI layout or of docker save): ";
    auto helper = UnpackHelper::spawn(store.unpack_helper(), {"members", std::to_string(::getpid())}, fd);
    if (!helper) return Error::os(helper.error().errno_value, "the archive: " + helper.error().message);
    // The helper's own end, for a message: it died, or was refused something.
    auto helper_failed = [&](const Error& e) -> Error {
        auto ended = helper->wait();
        if (!ended) return Error::msg("the archive: " + ended.error().message);
        return Error::msg("the archive: " + e.message);
    };
    Archive out;
    std::uint64_t total = 0;
    char kind = 0;
    std::string rec;
    auto next = [&]() -> Status {
        auto got = helper->read_record(kind, rec);
        if (!got) return got.error();
        if (!*got) return Error::msg("the unpack helper \"" + store.unpack_helper() + "\" ended without a result");
        return {};
    };
    while (true) {
        if (auto st = next(); !st) return helper_failed(st.error());
        if (kind == proto::kind_done) break;
        if (kind == proto::kind_error) {
            if (rec.empty()) return helper_failed(Error::msg("an empty error record"));
            const char stage = rec[0];
            std::string why = rec.substr(1);
            if (stage == proto::stage_open) return Error::msg(not_archive + why);
            if (stage == proto::stage_header) {
                if (out.files.empty() && out.links.empty()) return Error::msg(not_archive + why);
                return Error::msg("the archive: " + why);
            }
            return helper_failed(Error::msg("an error record out of place: " + why));
        }
        if (kind != proto::kind_entry || rec.size() < 13)
            return helper_failed(Error::msg("a record out of place (kind " + std::to_string(kind) + ")"));
        const char type = rec[0];
        std::uint64_t entry_size = 0;
        std::uint32_t path_len = 0;
        std::memcpy(&entry_size, rec.data() + 1, sizeof entry_size);
        std::memcpy(&path_len, rec.data() + 9, sizeof path_len);
        if (path_len > rec.size() - 13) return helper_failed(Error::msg("an entry record with a bad path length"));
        const std::string raw_path = rec.substr(13, path_len);
        const std::string link = rec.substr(13 + path_len);
        auto path = normalize(raw_path);
        if (!path) return path.error();
        const bool is_file = type == proto::entry_file;
        // A file's data follows its entry; a member that is not kept is read past.
        auto skip_data = [&]() -> Status {
            while (true) {
                if (auto st = next(); !st) return helper_failed(st.error());
                if (kind == proto::kind_data) {
                    if (rec.empty()) return {};
                    continue;
                }
                if (kind == proto::kind_error && !rec.empty() && rec[0] == proto::stage_data)
                    return Error::msg("the archive, member \"" + *path + "\": " + rec.substr(1));
                return helper_failed(Error::msg("a record out of place in a member's data"));
            }
        };
        if (path->empty()) {
            if (is_file)
                if (auto st = skip_data(); !st) return st.error();
            continue;
        }
        if (type == proto::entry_hardlink) {
            auto target = normalize(link);
            if (!target) return target.error();
            out.links[*path] = *target;
            continue;
        }
        if (type == proto::entry_symlink) {
            // docker save links a layer shared by two images: abc/layer.tar -> ../def/layer.tar
            auto resolved = normalize(!link.empty() && link[0] == '/' ? link.substr(1) : dirname(*path) + "/" + link);
            if (!resolved) return Error::msg("archive member \"" + *path + "\": link " + resolved.error().message);
            out.links[*path] = *resolved;
            continue;
        }
        if (!is_file) continue;
        auto w = store.blob_writer();
        if (!w) return w.error();
        Member m;
        bool keep = entry_size <= small_max;
        if (keep) m.content.emplace();
        while (true) {
            if (auto st = next(); !st) return helper_failed(st.error());
            if (kind == proto::kind_error && !rec.empty() && rec[0] == proto::stage_data)
                return Error::msg("the archive, member \"" + *path + "\": " + rec.substr(1));
            if (kind != proto::kind_data) return helper_failed(Error::msg("a record out of place in a member's data"));
            if (rec.empty()) break;
            if (auto st = (*w)->write(rec.data(), rec.size()); !st) return st.error();
            if (keep) {
                if (m.content->size() + rec.size() > small_max) {
                    keep = false;
                    m.content.reset();
                } else {
                    m.content->append(rec);
                }
            }
        }
        auto d = (*w)->finish();
        if (!d) return d.error();
        m.digest = *d;
        m.size = (*w)->bytes();
        total += m.size;
        m.writer = std::move(*w);
        // A content-addressed member must be what its name says.
        if (path->rfind("blobs/sha256/", 0) == 0) {
            std::string hex = path->substr(13);
            if (is_sha256_hex(hex) && hex != m.digest.hex)
                return Error::msg("archive member \"" + *path + "\": its content's digest is " + m.digest.str() +
                                  " (corrupt or tampered archive)");
        }
        out.files[*path] = std::move(m);
    }
    if (auto ended = helper->wait(); !ended) return Error::msg("the archive: " + ended.error().message);
    if (out.files.empty()) return Error::msg("not an image archive: it holds no files");
    if (say) say("archive read: " + std::to_string(out.files.size()) + " files, " + std::to_string(total) + " bytes");
    return out;
}

/// What to install: a manifest (already a member, or made here) and its names.
struct Found {
    std::string manifest_text;
    std::string what;
    std::vector<Reference> refs;
    std::vector<std::string> notes;
};

Result<std::string> text_of(Archive& ar, const std::string& path, const std::string& why) {
    Member* m = ar.find(path);
    if (!m) return Error::msg(why + ": \"" + path + "\" is not in the archive");
    if (!m->content) return Error::msg(why + ": \"" + path + "\" is too large for a JSON document");
    return *m->content;
}

Result<std::string> blob_text(Archive& ar, const Descriptor& d, const std::string& why) {
    Member* m = ar.blob(d.digest);
    if (!m) return Error::msg(why + " refers to blob " + d.digest.str() + ", which is not in the archive");
    if (static_cast<std::int64_t>(m->size) != d.size)
        return Error::msg(why + ": blob " + d.digest.str() + " is " + std::to_string(m->size) + " bytes, its descriptor says " +
                          std::to_string(d.size));
    if (!m->content) return Error::msg(why + ": blob " + d.digest.str() + " is too large for a JSON document");
    return *m->content;
}

/// A name from an annotation: a full reference, or (OCI's ref.name is often only
/// that) a tag, which needs the --name repository to mean anything.
std::optional<Reference> name_from(const std::string& text, const LoadOptions& opts, std::vector<std::string>& notes) {
    if (text.empty()) return std::nullopt;
    if (text.find_first_of("/:@") == std::string::npos) {
        if (opts.name) {
            Reference r = *opts.name;
            r.tag = text;
            r.digest.reset();
            if (auto p = parse_reference(r.str()); p) return *p;
        }
        notes.push_back("the archive names its image only by the tag \"" + text + "\": give --name to name it");
        return std::nullopt;
    }
    auto r = parse_reference(text);
    if (!r) {
        notes.push_back("ignored the archive's name \"" + text + "\": " + r.error().message);
        return std::nullopt;
    }
    return *r;
}

Result<std::vector<Found>> from_docker_manifest(Archive& ar, Store& store, const std::string& text,
                                                const LoadOptions& opts) {
    auto j = json::parse(text, nullptr, false);
    if (j.is_discarded() || !j.is_array()) return Error::msg("manifest.json: not a JSON list");
    std::vector<Found> out;
    for (const auto& entry : j) {
        if (!entry.is_object() || !entry.contains("Config") || !entry["Config"].is_string() ||
            !entry.contains("Layers") || !entry["Layers"].is_array())
            return Error::msg("manifest.json: an entry without Config or Layers");
        Found f;
        auto cpath = normalize(entry["Config"].get<std::string>());
        if (!cpath) return Error::msg("manifest.json: " + cpath.error().message);
        Member* cm = ar.find(*cpath);
        if (!cm) return Error::msg("manifest.json: its config \"" + *cpath + "\" is not in the archive");
        // Found by digest from here on, wherever the archive keeps it.
        ar.links.emplace("blobs/sha256/" + cm->digest.hex, *cpath);
        if (!cm->content) return Error::msg("manifest.json: its config \"" + *cpath + "\" is too large");
        json manifest{{"schemaVersion", 2},
                      {"mediaType", media_type::oci_manifest},
                      {"config", {{"mediaType", media_type::oci_config}, {"digest", cm->digest.str()}, {"size", cm->size}}},
                      {"layers", json::array()}};
        for (const auto& l : entry["Layers"]) {
            if (!l.is_string()) return Error::msg("manifest.json: a layer path is not a string");
            auto lpath = normalize(l.get<std::string>());
            if (!lpath) return Error::msg("manifest.json: " + lpath.error().message);
            Member* lm = ar.find(*lpath);
            if (!lm) return Error::msg("manifest.json: layer \"" + *lpath + "\" is not in the archive");
            ar.links.emplace("blobs/sha256/" + lm->digest.hex, *lpath);
            manifest["layers"].push_back(
                {{"mediaType", media_type::oci_layer}, {"digest", lm->digest.str()}, {"size", lm->size}});
        }
        if (entry.contains("RepoTags") && entry["RepoTags"].is_array())
            for (const auto& t : entry["RepoTags"])
                if (t.is_string())
                    if (auto r = name_from(t.get<std::string>(), opts, f.notes)) f.refs.push_back(*r);
        f.manifest_text = manifest.dump();
        f.what = "image " + cm->digest.str() + " of manifest.json";
        // The synthesized manifest is a blob like any other.
        auto w = store.blob_writer();
        if (!w) return w.error();
        if (auto st = (*w)->write(f.manifest_text.data(), f.manifest_text.size()); !st) return st.error();
        auto d = (*w)->finish();
        if (!d) return d.error();
        Member m;
        m.digest = *d;
        m.size = f.manifest_text.size();
        m.content = f.manifest_text;
        m.writer = std::move(*w);
        ar.files["blobs/sha256/" + d->hex] = std::move(m);
        out.push_back(std::move(f));
    }
    return out;
}

Result<std::vector<Found>> from_oci_index(Archive& ar, const std::string& text, const LoadOptions& opts) {
    auto index = parse_index(text, "index.json");
    if (!index) return index.error();
    std::vector<Descriptor> entries = index->manifests;
    // A multi-platform image written straight into index.json: entries with platforms
    // and no names are one image's variants.
    bool variants = entries.size() > 1 && std::all_of(entries.begin(), entries.end(), [](const Descriptor& d) {
                        return d.platform && !d.annotations.count(std::string(annotation_ref)) &&
                               !d.annotations.count(std::string(annotation_containerd));
                    });
    if (variants) {
        auto pick = pick_platform(*index, "index.json");
        if (!pick) return pick.error();
        entries = {*pick};
    }
    std::vector<Found> out;
    for (const auto& d : entries) {
        Found f;
        std::string name;
        if (auto it = d.annotations.find(std::string(annotation_containerd)); it != d.annotations.end()) name = it->second;
        else if (auto it2 = d.annotations.find(std::string(annotation_ref)); it2 != d.annotations.end()) name = it2->second;
        Descriptor m = d;
        std::string why = "index.json";
        for (int depth = 0; is_index_type(m.media_type); ++depth) {
            if (depth > 4) return Error::msg("index.json: indexes nested too deep");
            auto t = blob_text(ar, m, why);
            if (!t) return t.error();
            auto nested = parse_index(*t, "index " + m.digest.str());
            if (!nested) return nested.error();
            auto pick = pick_platform(*nested, "index " + m.digest.str());
            if (!pick) return pick.error();
            why = "index " + m.digest.str();
            m = *pick;
        }
        auto t = blob_text(ar, m, why);
        if (!t) return t.error();
        f.manifest_text = *t;
        f.what = "manifest " + m.digest.str();
        if (auto r = name_from(name, opts, f.notes)) f.refs.push_back(*r);
        out.push_back(std::move(f));
    }
    return out;
}

Status commit_blob(Archive& ar, Store& store, const Descriptor& d, const std::string& why) {
    Member* m = ar.blob(d.digest);
    if (!m) {
        if (store.has_blob(d.digest)) return {};  // stored already (another image has it)
        return Error::msg(why + " refers to blob " + d.digest.str() + ", which is not in the archive");
    }
    if (static_cast<std::int64_t>(m->size) != d.size)
        return Error::msg(why + ": blob " + d.digest.str() + " is " + std::to_string(m->size) + " bytes, its descriptor says " +
                          std::to_string(d.size));
    auto c = m->writer->commit(d.digest, d.size);
    if (!c) return c.error();
    return {};
}

}  // namespace

Result<std::vector<ImageRecord>> load_archive(Store& store, int fd, const LoadOptions& options,
                                              const Progress& progress) {
    auto say = [&](const std::string& s) {
        if (progress) progress(s);
    };
    auto ar = read_members(store, fd, progress);
    if (!ar) return ar.error();
    Result<std::vector<Found>> found = std::vector<Found>{};
    if (ar->find("manifest.json")) {
        auto text = text_of(*ar, "manifest.json", "docker save archive");
        if (!text) return text.error();
        found = from_docker_manifest(*ar, store, *text, options);
    } else if (ar->find("index.json")) {
        auto text = text_of(*ar, "index.json", "OCI layout");
        if (!text) return text.error();
        if (!ar->find("oci-layout")) say("note: the archive has index.json but no oci-layout file");
        found = from_oci_index(*ar, *text, options);
    } else {
        return Error::msg(
            "not an image archive: it has neither index.json (an OCI image layout) nor manifest.json (docker save)");
    }
    if (!found) return found.error();
    if (found->empty()) return Error::msg("the archive lists no images");
    if (options.name && found->size() > 1)
        return Error::msg("the archive holds " + std::to_string(found->size()) +
                          " images: --name can only name an archive of one image");

    std::vector<ImageRecord> out;
    for (auto& f : *found) {
        for (const auto& n : f.notes) say("note: " + n);
        auto manifest_digest = sha256_of(f.manifest_text);
        auto manifest = parse_manifest(f.manifest_text, f.what);
        if (!manifest) return manifest.error();
        // Commit only what this image references, each checked against its descriptor.
        Descriptor md{std::string(media_type::oci_manifest), manifest_digest,
                      static_cast<std::int64_t>(f.manifest_text.size()), {}, std::nullopt};
        if (auto st = commit_blob(*ar, store, md, f.what); !st) return st.error();
        if (auto st = commit_blob(*ar, store, manifest->config, f.what); !st) return st.error();
        for (const auto& l : manifest->layers)
            if (auto st = commit_blob(*ar, store, l, f.what); !st) return st.error();
        std::vector<Reference> refs = f.refs;
        if (options.name) refs.push_back(*options.name);
        auto rec = store.install(manifest_digest, refs, progress);
        if (!rec) return rec.error();
        say("loaded " + rec->id.str() + (rec->refs.empty() ? std::string(" (no name)") : " as " + rec->refs.front()));
        out.push_back(std::move(*rec));
    }
    return out;
}

}  // namespace isolated::image
