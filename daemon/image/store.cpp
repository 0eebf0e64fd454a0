#include "image/store.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <set>

#include <nlohmann/json.hpp>

#include "image/layer.hpp"
#include "image/tree.hpp"
#include "image/unpack_client.hpp"
#include "isolated/units.hpp"
#include "sys/file.hpp"

namespace isolated::image {

using nlohmann::json;

namespace {

constexpr const char* index_name = "index.json";

std::string short_hex(const Digest& d) { return d.hex.substr(0, 12); }

std::string human_bytes(std::uint64_t n) {
    const char* units[] = {"B", "kB", "MB", "GB", "TB"};
    double v = static_cast<double>(n);
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        ++u;
    }
    char buf[32];
    std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.1f %s", v, units[u]);
    return buf;
}

std::vector<std::string> list_dir(int dirfd) {
    std::vector<std::string> out;
    int dup = ::openat(dirfd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dup < 0) return out;
    DIR* d = ::fdopendir(dup);
    if (!d) {
        ::close(dup);
        return out;
    }
    while (dirent* e = ::readdir(d)) {
        std::string n = e->d_name;
        if (n != "." && n != "..") out.push_back(n);
    }
    ::closedir(d);
    return out;
}

Status fsync_dir(int dirfd) {
    if (::fsync(dirfd) != 0) return os_error("fsync directory");
    return {};
}

json descriptor_json(const Descriptor& d) {
    json j{{"mediaType", d.media_type}, {"digest", d.digest.str()}, {"size", d.size}};
    return j;
}

json record_json(const ImageRecord& r) {
    json layers = json::array();
    for (const auto& l : r.layers) layers.push_back(descriptor_json(l));
    return json{{"id", r.id.str()},
                {"manifest", r.manifest.str()},
                {"refs", r.refs},
                {"config", descriptor_json(r.config)},
                {"layers", std::move(layers)},
                {"size", r.size},
                {"rootfsSize", r.rootfs_size},
                {"created", r.created},
                {"loaded", r.loaded}};
}

/// One index entry, checked field by field: the file is ours, but a disk, an editor or
/// an older daemon may have left anything in it.
Result<ImageRecord> record_from_json(const json& j) {
    if (!j.is_object()) return Error::msg("not an object");
    ImageRecord r;
    auto digest_field = [&](const char* key, Digest& out) -> Status {
        auto it = j.find(key);
        if (it == j.end() || !it->is_string()) return Error::msg(std::string("no ") + key);
        auto d = parse_digest(it->get<std::string>());
        if (!d) return Error::msg(std::string(key) + ": " + d.error().message);
        out = *d;
        return {};
    };
    if (auto s = digest_field("id", r.id); !s) return s.error();
    if (auto s = digest_field("manifest", r.manifest); !s) return s.error();
    auto refs = j.find("refs");
    if (refs == j.end() || !refs->is_array()) return Error::msg("no refs");
    for (const auto& ref : *refs) {
        if (!ref.is_string()) return Error::msg("a ref is not a string");
        auto parsed = parse_reference(ref.get<std::string>());
        if (!parsed || parsed->str() != ref.get<std::string>())
            return Error::msg("ref \"" + ref.get<std::string>() + "\" is not a normalized reference");
        r.refs.push_back(ref.get<std::string>());
    }
    auto cfg = j.find("config");
    if (cfg == j.end()) return Error::msg("no config");
    auto c = parse_descriptor_json(cfg->dump(), "config");
    if (!c) return c.error();
    r.config = *c;
    if (r.config.digest != r.id) return Error::msg("config digest differs from the id");
    auto layers = j.find("layers");
    if (layers == j.end() || !layers->is_array()) return Error::msg("no layers");
    for (const auto& l : *layers) {
        auto d = parse_descriptor_json(l.dump(), "layer");
        if (!d) return d.error();
        r.layers.push_back(*d);
    }
    auto num = [&](const char* key) -> std::uint64_t {
        auto it = j.find(key);
        return it != j.end() && it->is_number_unsigned() ? it->get<std::uint64_t>() : 0;
    };
    r.size = num("size");
    r.rootfs_size = num("rootfsSize");
    if (auto it = j.find("created"); it != j.end() && it->is_string()) r.created = it->get<std::string>();
    if (auto it = j.find("loaded"); it != j.end() && it->is_string()) r.loaded = it->get<std::string>();
    return r;
}

Result<unique_fd> open_dir_at(int dirfd, const std::string& name, const std::string& path, mode_t mode) {
    if (::mkdirat(dirfd, name.c_str(), mode) != 0 && errno != EEXIST) return os_error("mkdir \"" + path + "\"");
    int fd = ::openat(dirfd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return os_error("open \"" + path + "\"");
    return unique_fd(fd);
}

}  // namespace

// ---- TempFile -------------------------------------------------------------------------

TempFile::~TempFile() { remove(); }

void TempFile::remove() {
    if (!path_.empty()) ::unlink(path_.c_str());
    path_.clear();
}

// ---- BlobWriter -----------------------------------------------------------------------

BlobWriter::BlobWriter(Store& store, std::string tmp_name, unique_fd fd, std::optional<Digest> digest,
                       std::optional<std::int64_t> size)
    : store_(store), tmp_name_(std::move(tmp_name)), fd_(std::move(fd)), expected_(std::move(digest)),
      expected_size_(size) {}

BlobWriter::~BlobWriter() {
    if (!committed_) ::unlinkat(store_.tmp_fd_.get(), tmp_name_.c_str(), 0);
}

Status BlobWriter::write(const void* data, std::size_t size) {
    if (digest_) return Error::msg("blob writer: write after finish");
    if (expected_size_ && hash_.bytes() + size > static_cast<std::uint64_t>(*expected_size_))
        return Error::msg("blob " + (expected_ ? expected_->str() : std::string("")) + ": more than the " +
                          std::to_string(*expected_size_) + " bytes its descriptor gives");
    const char* p = static_cast<const char*>(data);
    std::size_t left = size;
    while (left > 0) {
        ssize_t n = ::write(fd_.get(), p, left);
        if (n < 0) {
            if (errno == EINTR) continue;
            return os_error("write \"" + store_.dir_ + "/tmp/" + tmp_name_ + "\"");
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    hash_.update(data, size);
    return {};
}

Result<Digest> BlobWriter::finish() {
    if (!digest_) digest_ = hash_.finish();
    return *digest_;
}

Result<Digest> BlobWriter::commit(const std::optional<Digest>& expected, std::optional<std::int64_t> expected_size) {
    if (committed_) return *digest_;
    auto got = finish();
    if (!got) return got.error();
    const auto& want = expected ? expected : expected_;
    const auto want_size = expected_size ? expected_size : expected_size_;
    if (want && *want != *got)
        return Error::msg("blob " + want->str() + ": its content's digest is " + got->str() + " (corrupt or tampered)");
    if (want_size && static_cast<std::uint64_t>(*want_size) != hash_.bytes())
        return Error::msg("blob " + got->str() + ": " + std::to_string(hash_.bytes()) + " bytes, its descriptor says " +
                          std::to_string(*want_size));
    if (::fsync(fd_.get()) != 0) return os_error("fsync blob " + got->str());
    if (::fchmod(fd_.get(), 0444) != 0) return os_error("chmod blob " + got->str());
    fd_.reset();
    struct stat st{};
    if (::fstatat(store_.blobs_fd_.get(), got->hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
        // Stored already (content-addressed: the same bytes): this copy goes.
        ::unlinkat(store_.tmp_fd_.get(), tmp_name_.c_str(), 0);
    } else {
        if (::renameat(store_.tmp_fd_.get(), tmp_name_.c_str(), store_.blobs_fd_.get(), got->hex.c_str()) != 0)
            return os_error("rename blob " + got->str() + " into the store");
        if (auto s = fsync_dir(store_.blobs_fd_.get()); !s) return s.error();
    }
    committed_ = true;
    return *got;
}

// ---- Store ----------------------------------------------------------------------------

Store::Store(std::string dir) : dir_(std::move(dir)) {}
Store::~Store() = default;

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, std::vector<std::string>* warnings,
                                           std::string unpack_helper) {
    std::unique_ptr<Store> s(new Store(dir));
    s->unpack_helper_ = unpack_helper.empty() ? find_unpack_helper() : std::move(unpack_helper);
    if (auto st = sys::make_dirs(dir, 0700); !st) return st.error();
    auto top = sys::open_dir(dir);
    if (!top) return top.error();
    // Only root reaches the trees: their modes are the image's own (a setuid binary
    // among them), and nothing on the host should run or change them in place.
    ::fchmod(top->get(), 0700);
    auto blobs = open_dir_at(top->get(), "blobs", dir + "/blobs", 0700);
    if (!blobs) return blobs.error();
    auto sha = open_dir_at(blobs->get(), "sha256", dir + "/blobs/sha256", 0700);
    if (!sha) return sha.error();
    s->blobs_fd_ = std::move(*sha);
    auto rootfs = open_dir_at(top->get(), "rootfs", dir + "/rootfs", 0700);
    if (!rootfs) return rootfs.error();
    s->rootfs_fd_ = std::move(*rootfs);
    auto tmp = open_dir_at(top->get(), "tmp", dir + "/tmp", 0700);
    if (!tmp) return tmp.error();
    s->tmp_fd_ = std::move(*tmp);
    // What a crash or a kill left half-made: never part of the store.
    for (const auto& name : list_dir(s->tmp_fd_.get())) {
        if (auto r = remove_tree_at(s->tmp_fd_.get(), name); !r && warnings)
            warnings->push_back("images: cannot remove leftover tmp/" + name + ": " + r.error().to_string());
        else if (warnings)
            warnings->push_back("images: removed leftover tmp/" + name);
    }
    if (auto st = s->load_index(warnings); !st) return st.error();
    return s;
}

Status Store::load_index(std::vector<std::string>* warnings) {
    const std::string path = dir_ + "/" + index_name;
    if (!sys::exists(path)) return {};
    // Capped: an index over 64 MiB (tens of thousands of images) is damaged, not ours.
    auto text = sys::read_file(path, std::size_t{64} << 20);
    if (!text && text.error().errno_value != 0) return text.error();
    auto j = text ? json::parse(*text, nullptr, /* allow_exceptions= */ false) : json(json::value_t::discarded);
    if (j.is_discarded() || !j.is_object() || !j.contains("images") || !j["images"].is_array()) {
        // Set aside, not deleted: an operator can still read what it held.
        std::string aside = path + ".bad";
        if (::rename(path.c_str(), aside.c_str()) != 0) return os_error("rename \"" + path + "\"");
        if (warnings) warnings->push_back("images: " + path + " is damaged: moved to " + aside + ", the store starts empty");
        return {};
    }
    std::set<std::string> seen_refs;
    for (const auto& e : j["images"]) {
        auto r = record_from_json(e);
        if (!r) {
            if (warnings) warnings->push_back("images: index entry dropped: " + r.error().message);
            continue;
        }
        struct stat st{};
        if (::fstatat(rootfs_fd_.get(), r->id.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(st.st_mode)) {
            if (warnings) warnings->push_back("images: index entry " + r->id.str() + " dropped: its rootfs is missing");
            continue;
        }
        if (std::any_of(images_.begin(), images_.end(), [&](const ImageRecord& o) { return o.id == r->id; })) continue;
        std::vector<std::string> refs;
        for (auto& ref : r->refs)
            if (seen_refs.insert(ref).second) refs.push_back(ref);
        r->refs = std::move(refs);
        images_.push_back(std::move(*r));
    }
    return {};
}

Status Store::save_index_locked() {
    json images = json::array();
    for (const auto& r : images_) images.push_back(record_json(r));
    json j{{"schemaVersion", 1}, {"images", std::move(images)}};
    return sys::replace_file_durably(dir_ + "/" + index_name, j.dump(2) + "\n");
}

Result<std::unique_ptr<BlobWriter>> Store::blob_writer(std::optional<Digest> expected,
                                                       std::optional<std::int64_t> expected_size) {
    std::string name = "blob-XXXXXX";
    std::string path = dir_ + "/tmp/" + name;
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return os_error("create a temp file in \"" + dir_ + "/tmp\"");
    name = path.substr(path.size() - name.size());
    return std::unique_ptr<BlobWriter>(new BlobWriter(*this, name, unique_fd(fd), std::move(expected), expected_size));
}

bool Store::has_blob(const Digest& d) const {
    struct stat st{};
    return ::fstatat(blobs_fd_.get(), d.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode);
}

std::string Store::blob_path(const Digest& d) const { return dir_ + "/blobs/sha256/" + d.hex; }

Result<std::string> Store::read_blob(const Digest& d, std::size_t max) const {
    unique_fd fd(::openat(blobs_fd_.get(), d.hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd) return Error::os(errno, "blob " + d.str() + " is not in the store");
    auto text = sys::read_all(fd.get(), max);
    if (!text) return Error::msg("blob " + d.str() + ": " + text.error().to_string());
    if (sha256_of(*text) != d) return Error::msg("blob " + d.str() + " in the store does not match its digest (disk corruption?)");
    return text;
}

Result<TempFile> Store::temp_file(const std::string& prefix) {
    std::string path = dir_ + "/tmp/" + prefix + "-XXXXXX";
    int fd = ::mkostemp(path.data(), O_CLOEXEC);
    if (fd < 0) return os_error("create a temp file in \"" + dir_ + "/tmp\"");
    return TempFile(path, unique_fd(fd));
}

Result<ImageRecord> Store::install(const Digest& manifest_digest, const std::vector<Reference>& refs,
                                   const Progress& progress) {
    std::lock_guard lock(mutate_);
    auto say = [&](const std::string& s) {
        if (progress) progress(s);
    };
    const std::string mwhat = "manifest " + manifest_digest.str();
    auto mtext = read_blob(manifest_digest);
    if (!mtext) return mtext.error();
    auto manifest = parse_manifest(*mtext, mwhat);
    if (!manifest) return manifest.error();
    auto ctext = read_blob(manifest->config.digest);
    if (!ctext) return Error::msg(mwhat + ": its config: " + ctext.error().message);
    if (static_cast<std::int64_t>(ctext->size()) != manifest->config.size)
        return Error::msg(mwhat + ": config " + manifest->config.digest.str() + " is " + std::to_string(ctext->size()) +
                          " bytes, the manifest says " + std::to_string(manifest->config.size));
    auto config = parse_config(*ctext, "config " + manifest->config.digest.str());
    if (!config) return config.error();
    if (config->diff_ids.size() != manifest->layers.size())
        return Error::msg(mwhat + ": " + std::to_string(manifest->layers.size()) + " layers but the config lists " +
                          std::to_string(config->diff_ids.size()) + " diff_ids");
    if (!config->os.empty() && config->os != "linux")
        return Error::msg(mwhat + ": the image is for " + config->os + ", not linux");
    std::uint64_t size = mtext->size() + ctext->size();
    for (const auto& l : manifest->layers) {
        struct stat st{};
        if (::fstatat(blobs_fd_.get(), l.digest.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0)
            return Error::msg(mwhat + ": layer " + l.digest.str() + " is not in the store");
        if (st.st_size != l.size)
            return Error::msg(mwhat + ": layer " + l.digest.str() + " is " + std::to_string(st.st_size) +
                              " bytes, the manifest says " + std::to_string(l.size));
        size += static_cast<std::uint64_t>(l.size);
    }
    const Digest id = manifest->config.digest;

    ImageRecord rec;
    rec.id = id;
    rec.manifest = manifest_digest;
    rec.config = manifest->config;
    rec.layers = manifest->layers;
    rec.size = size;
    rec.created = config->created;
    rec.loaded = format_rfc3339(std::chrono::system_clock::now());

    struct stat st{};
    if (::fstatat(rootfs_fd_.get(), id.hex.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode)) {
        say("rootfs " + short_hex(id) + ": already unpacked");
        std::lock_guard ilock(index_mu_);
        for (const auto& r : images_)
            if (r.id == id) rec.rootfs_size = r.rootfs_size;
        if (rec.rootfs_size == 0) rec.rootfs_size = tree_disk_usage(rootfs_path(id));
    } else {
        // Built in tmp/, renamed into rootfs/ only when whole and verified.
        std::string tmp_path = dir_ + "/tmp/rootfs-XXXXXX";
        if (!::mkdtemp(tmp_path.data())) return os_error("mkdtemp in \"" + dir_ + "/tmp\"");
        std::string tmp_name = tmp_path.substr(dir_.size() + 5);
        auto cleanup = [&] { (void)remove_tree_at(tmp_fd_.get(), tmp_name); };
        unique_fd root(::openat(tmp_fd_.get(), tmp_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!root) {
            auto e = os_error("open \"" + tmp_path + "\"");
            cleanup();
            return e;
        }
        ::fchmod(root.get(), 0755);
        ApplyOptions opts;
        opts.privileged = ::geteuid() == 0;
        for (std::size_t i = 0; i < manifest->layers.size(); ++i) {
            const auto& l = manifest->layers[i];
            std::string what = "layer " + std::to_string(i + 1) + "/" + std::to_string(manifest->layers.size()) + " " +
                               l.digest.str();
            unique_fd fd(::openat(blobs_fd_.get(), l.digest.hex.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
            if (!fd) {
                auto e = os_error(what + ": open its blob");
                cleanup();
                return e;
            }
            auto applied = apply_layer(unpack_helper_, root.get(), fd.get(), what, config->diff_ids[i], opts);
            if (!applied) {
                cleanup();
                return applied.error();
            }
            say("layer " + std::to_string(i + 1) + "/" + std::to_string(manifest->layers.size()) + " " +
                short_hex(l.digest) + ": applied, " + std::to_string(applied->entries) + " entries, " +
                human_bytes(applied->uncompressed_bytes));
        }
        // Durable before it becomes visible: a crash leaves it whole or in tmp/.
        if (::syncfs(root.get()) != 0) {
            auto e = os_error("syncfs \"" + tmp_path + "\"");
            cleanup();
            return e;
        }
        root.reset();
        rec.rootfs_size = tree_disk_usage(tmp_path);
        if (::renameat(tmp_fd_.get(), tmp_name.c_str(), rootfs_fd_.get(), id.hex.c_str()) != 0) {
            auto e = os_error("rename the unpacked tree into \"" + dir_ + "/rootfs/" + id.hex + "\"");
            cleanup();
            return e;
        }
        (void)fsync_dir(rootfs_fd_.get());
        say("rootfs " + short_hex(id) + ": unpacked, " + human_bytes(rec.rootfs_size));
    }

    std::lock_guard ilock(index_mu_);
    std::vector<ImageRecord> next = images_;
    std::set<std::string> new_refs;
    for (const auto& r : refs) new_refs.insert(r.str());
    // A ref names one image: moving it here takes it from where it was (docker tag).
    for (auto& other : next)
        std::erase_if(other.refs, [&](const std::string& r) { return other.id != id && new_refs.count(r); });
    auto it = std::find_if(next.begin(), next.end(), [&](const ImageRecord& r) { return r.id == id; });
    if (it == next.end()) {
        next.push_back(rec);
        it = next.end() - 1;
    } else {
        // The same image by another manifest (another compression, a re-save): the
        // tree is the same; the newest manifest is kept.
        rec.refs = it->refs;
        *it = rec;
    }
    for (const auto& r : new_refs)
        if (std::find(it->refs.begin(), it->refs.end(), r) == it->refs.end()) it->refs.push_back(r);
    std::sort(it->refs.begin(), it->refs.end());
    ImageRecord result = *it;
    std::swap(images_, next);
    if (auto s = save_index_locked(); !s) {
        std::swap(images_, next);
        return s.error();
    }
    return result;
}

std::vector<ImageRecord> Store::list() const {
    std::lock_guard lock(index_mu_);
    return images_;
}

std::optional<std::size_t> Store::find_locked(const ImageRef& ref) const {
    for (std::size_t i = 0; i < images_.size(); ++i) {
        const auto& r = images_[i];
        if (ref.id) {
            if (r.id == *ref.id) return i;
            continue;
        }
        if (ref.ref.digest) {
            // name@digest: the manifest's digest, under that repository name; or the
            // ref as recorded (a pull by an index's digest records name@<index digest>).
            if (std::find(r.refs.begin(), r.refs.end(), ref.ref.str()) != r.refs.end()) return i;
            if (r.manifest != *ref.ref.digest) continue;
            std::string name = ref.ref.name();
            for (const auto& s : r.refs) {
                auto p = parse_reference(s);
                if (p && p->name() == name) return i;
            }
            continue;
        }
        if (std::find(r.refs.begin(), r.refs.end(), ref.ref.str()) != r.refs.end()) return i;
    }
    return std::nullopt;
}

std::optional<ImageRecord> Store::find(const ImageRef& ref) const {
    std::lock_guard lock(index_mu_);
    auto i = find_locked(ref);
    if (!i) return std::nullopt;
    return images_[*i];
}

Result<ImageRecord> Store::resolve(std::string_view text) const {
    auto ref = parse_image_ref(text);
    if (!ref) return Error::os(EINVAL, ref.error().message);
    auto found = find(*ref);
    if (!found) return Error::os(ENOENT, "image \"" + std::string(text) + "\" is not in the store");
    return *found;
}

std::string Store::rootfs_path(const Digest& id) const { return dir_ + "/rootfs/" + id.hex; }

Result<ImageConfig> Store::config(const ImageRecord& image) const {
    auto text = read_blob(image.id);
    if (!text) return text.error();
    return parse_config(*text, "config " + image.id.str());
}

void Store::set_in_use(InUse fn) {
    std::lock_guard lock(index_mu_);
    in_use_ = std::move(fn);
}

Result<RemoveResult> Store::remove(std::string_view text) {
    auto ref = parse_image_ref(text);
    if (!ref) return Error::os(EINVAL, ref.error().message);
    std::lock_guard lock(mutate_);
    RemoveResult out;
    {
        std::lock_guard ilock(index_mu_);
        auto i = find_locked(*ref);
        if (!i) return Error::os(ENOENT, "image \"" + std::string(text) + "\" is not in the store");
        std::vector<ImageRecord> next = images_;
        ImageRecord& rec = next[*i];
        bool whole = ref->id || ref->ref.digest || rec.refs.size() <= 1;
        if (in_use_) {
            Removal what{rec, whole ? rec.refs : std::vector<std::string>{ref->ref.str()}, whole, false};
            if (auto app = in_use_(what))
                return Error::os(EBUSY, "image \"" + std::string(text) + "\" is used by app \"" + *app + "\"");
        }
        if (whole) {
            out.untagged = rec.refs;
            out.deleted.push_back(rec.id);
            next.erase(next.begin() + static_cast<std::ptrdiff_t>(*i));
        } else {
            std::erase(rec.refs, ref->ref.str());
            out.untagged.push_back(ref->ref.str());
        }
        std::swap(images_, next);
        if (auto s = save_index_locked(); !s) {
            std::swap(images_, next);
            return s.error();
        }
    }
    if (!out.deleted.empty())
        if (auto s = delete_unreferenced_locked(nullptr); !s) return s.error();
    return out;
}

Status Store::delete_unreferenced_locked(PruneResult* out) {
    std::set<std::string> trees, blobs;
    {
        std::lock_guard ilock(index_mu_);
        for (const auto& r : images_) {
            trees.insert(r.id.hex);
            blobs.insert(r.id.hex);
            blobs.insert(r.manifest.hex);
            for (const auto& l : r.layers) blobs.insert(l.digest.hex);
        }
    }
    for (const auto& name : list_dir(rootfs_fd_.get())) {
        if (trees.count(name)) continue;
        std::uint64_t bytes = tree_disk_usage(dir_ + "/rootfs/" + name);
        if (auto s = remove_tree_at(rootfs_fd_.get(), name); !s)
            return Error::msg("remove \"" + dir_ + "/rootfs/" + name + "\": " + s.error().to_string());
        if (out) {
            ++out->rootfs;
            out->bytes += bytes;
        }
    }
    for (const auto& name : list_dir(blobs_fd_.get())) {
        if (blobs.count(name)) continue;
        struct stat st{};
        ::fstatat(blobs_fd_.get(), name.c_str(), &st, AT_SYMLINK_NOFOLLOW);
        if (::unlinkat(blobs_fd_.get(), name.c_str(), 0) != 0 && errno != ENOENT)
            return os_error("remove \"" + dir_ + "/blobs/sha256/" + name + "\"");
        if (out) {
            ++out->blobs;
            out->bytes += static_cast<std::uint64_t>(st.st_blocks) * 512;
        }
    }
    return {};
}

Result<PruneResult> Store::prune() {
    std::lock_guard lock(mutate_);
    PruneResult out;
    {
        std::lock_guard ilock(index_mu_);
        std::vector<ImageRecord> next;
        for (const auto& r : images_) {
            if (r.refs.empty() && !(in_use_ && in_use_(Removal{r, {}, true, true})))
                out.images.push_back(r.id);
            else
                next.push_back(r);
        }
        if (!out.images.empty()) {
            std::swap(images_, next);
            if (auto s = save_index_locked(); !s) {
                std::swap(images_, next);
                return s.error();
            }
        }
    }
    if (auto s = delete_unreferenced_locked(&out); !s) return s.error();
    return out;
}

Usage Store::usage() const {
    Usage u;
    std::set<std::string> blobs;
    std::lock_guard lock(index_mu_);
    u.images = images_.size();
    for (const auto& r : images_) {
        u.bytes += r.rootfs_size;
        std::uint64_t known = static_cast<std::uint64_t>(r.config.size);
        if (blobs.insert(r.id.hex).second) u.bytes += static_cast<std::uint64_t>(r.config.size);
        for (const auto& l : r.layers) {
            known += static_cast<std::uint64_t>(l.size);
            if (blobs.insert(l.digest.hex).second) u.bytes += static_cast<std::uint64_t>(l.size);
        }
        // The manifest's size is what the record's total has beyond config and layers.
        if (blobs.insert(r.manifest.hex).second && r.size > known) u.bytes += r.size - known;
    }
    return u;
}

}  // namespace isolated::image
