// The local image store, under <state-dir>/images/:
//
//   blobs/sha256/<hex>      every blob (manifests, configs, layers) once, verified
//                           against its digest (and size) while written, 0444
//   rootfs/<config-hex>/    each image's layers applied in order into one tree,
//                           built in tmp/ and renamed into place when complete
//   index.json              refs -> image (config digest = image id), durable
//   tmp/                    blobs being written, trees being built, uploads;
//                           emptied when the store opens
//
// Who uses it: the loader (image/loader.hpp) and a registry client write blobs with a
// BlobWriter, then install() a manifest under its refs; the sandbox resolves a ref to
// rootfs_path() + config(); the API lists, inspects, removes and prunes.
//
// Threads: mutations (install, remove, prune) are serialized by the store itself, and
// may run on a worker thread while the daemon's loop reads (list, find, resolve,
// usage), which only ever waits for the short index lock.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "image/digest.hpp"
#include "image/oci.hpp"
#include "image/reference.hpp"
#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::image {

/// One image in the store.
struct ImageRecord {
    Digest id;        ///< the config's digest
    Digest manifest;  ///< the manifest's digest
    std::vector<std::string> refs;  ///< normalized references, sorted
    Descriptor config;
    std::vector<Descriptor> layers;
    std::uint64_t size = 0;         ///< bytes of its blobs (manifest, config, layers)
    std::uint64_t rootfs_size = 0;  ///< disk bytes of its unpacked tree
    std::string created;            ///< the config's "created"
    std::string loaded;             ///< when the store got it (RFC 3339)
};

/// Progress lines for the operator ("layer 2/3 sha256:ab12..: applied, 1.2 MB").
using Progress = std::function<void(const std::string&)>;

class Store;

/// A blob on its way into the store: written to tmp/, hashed as it goes, and moved to
/// blobs/sha256/<hex> by commit() only if its digest (and size) are the expected ones.
/// Destroyed uncommitted, it leaves nothing.
class BlobWriter {
public:
    ~BlobWriter();
    BlobWriter(const BlobWriter&) = delete;
    BlobWriter& operator=(const BlobWriter&) = delete;

    /// Fails as soon as more bytes than an expected size arrive.
    Status write(const void* data, std::size_t size);
    std::uint64_t bytes() const { return hash_.bytes(); }
    /// Ends the writing: the digest of what was written (no commit yet).
    Result<Digest> finish();
    /// Checks the digest and size against `expected` (or what the writer was made
    /// with), then fsyncs and renames into place (a blob already stored is kept and
    /// this copy dropped). Returns the digest.
    Result<Digest> commit(const std::optional<Digest>& expected = std::nullopt,
                          std::optional<std::int64_t> expected_size = std::nullopt);

private:
    friend class Store;
    BlobWriter(Store& store, std::string tmp_name, unique_fd fd, std::optional<Digest> digest,
               std::optional<std::int64_t> size);

    Store& store_;
    std::string tmp_name_;  ///< under tmp/
    unique_fd fd_;
    Sha256 hash_;
    std::optional<Digest> digest_;  ///< after finish()
    std::optional<Digest> expected_;
    std::optional<std::int64_t> expected_size_;
    bool committed_ = false;
};

/// A file under tmp/, removed with this object.
class TempFile {
public:
    TempFile(std::string path, unique_fd fd) : path_(std::move(path)), fd_(std::move(fd)) {}
    ~TempFile();
    TempFile(TempFile&&) noexcept = default;
    TempFile(const TempFile&) = delete;
    TempFile& operator=(const TempFile&) = delete;
    const std::string& path() const { return path_; }
    int fd() const { return fd_.get(); }
    /// Unlinks the file now; the fd stays open until this object goes.
    void remove();

private:
    std::string path_;
    unique_fd fd_;
};

struct RemoveResult {
    std::vector<std::string> untagged;  ///< refs removed
    std::vector<Digest> deleted;        ///< images removed (their last ref went)
};

struct PruneResult {
    std::vector<Digest> images;  ///< images without refs, removed
    std::uint64_t blobs = 0;     ///< blobs removed
    std::uint64_t rootfs = 0;    ///< trees removed
    std::uint64_t bytes = 0;     ///< disk bytes freed
};

struct Usage {
    std::size_t images = 0;
    std::uint64_t bytes = 0;  ///< blobs + trees on disk
};

class Store {
public:
    /// Opens (creating) the store at `dir`, empties tmp/, reads the index. A damaged
    /// index is set aside (index.json.bad) and the store starts empty; entries that
    /// are not well-formed, or whose tree is missing, are dropped. Each such finding is
    /// one line in `warnings`. `unpack_helper` is the isolated-unpack that parses
    /// layers and archives (image/unpack_client.hpp); "" finds it as
    /// find_unpack_helper() does.
    static Result<std::unique_ptr<Store>> open(const std::string& dir, std::vector<std::string>* warnings = nullptr,
                                               std::string unpack_helper = {});
    ~Store();
    Store(const Store&) = delete;
    Store& operator=(const Store&) = delete;

    const std::string& dir() const { return dir_; }
    /// The isolated-unpack binary that applies layers and reads archives.
    const std::string& unpack_helper() const { return unpack_helper_; }

    // ---- blobs ----
    /// A writer for one blob; with an expected digest/size (from a descriptor) the
    /// commit checks them.
    Result<std::unique_ptr<BlobWriter>> blob_writer(std::optional<Digest> expected = std::nullopt,
                                                    std::optional<std::int64_t> expected_size = std::nullopt);
    bool has_blob(const Digest& d) const;
    std::string blob_path(const Digest& d) const;
    /// A whole small blob (manifest, config), its digest checked again. ENOENT when it
    /// is not stored.
    Result<std::string> read_blob(const Digest& d, std::size_t max = 4 * 1024 * 1024) const;

    /// An empty file under tmp/ (an upload): removed when the TempFile goes.
    Result<TempFile> temp_file(const std::string& prefix);

    // ---- images ----
    /// Makes the image of the stored manifest available under `refs` (added to any it
    /// has): checks the manifest, its config and every layer blob are stored with the
    /// right digests, unpacks its tree unless another ref already did (in tmp/, each
    /// layer's uncompressed digest checked against the config's diff_ids, then renamed
    /// into rootfs/), and records it in the index. On any error nothing is visible.
    Result<ImageRecord> install(const Digest& manifest, const std::vector<Reference>& refs,
                                const Progress& progress = {});

    std::vector<ImageRecord> list() const;
    /// By normalized reference (name:tag, name@digest: the manifest's) or image id.
    std::optional<ImageRecord> find(const ImageRef& ref) const;
    /// parse_image_ref + find: EINVAL for a malformed ref, ENOENT when not stored.
    Result<ImageRecord> resolve(std::string_view text) const;
    /// The image's unpacked tree: what a sandbox mounts read-only.
    std::string rootfs_path(const Digest& id) const;
    Result<ImageConfig> config(const ImageRecord& image) const;

    /// What a removal would take away: REFS of IMAGE (normalized), and the image itself
    /// when WHOLE (its id, digest or last ref removed, or a prune).
    struct Removal {
        const ImageRecord& image;
        std::vector<std::string> refs;
        bool whole = false;
        bool prune = false;
    };
    /// Who holds what a removal takes (the name of an app using it), or nullopt; set by
    /// the daemon so that removing an image an app uses is refused (EBUSY). Called on
    /// the thread of the removal (the image worker) with the index lock held: it must
    /// not call back into the store.
    using InUse = std::function<std::optional<std::string>(const Removal&)>;
    void set_in_use(InUse fn);

    /// Removes a ref (name:tag); an image id removes the image and all its refs. The
    /// image, its tree and the blobs no other image uses go with its last ref.
    /// Errors: EINVAL (malformed), ENOENT (not stored), EBUSY (in use: the message
    /// names the app).
    Result<RemoveResult> remove(std::string_view text);
    /// Removes images without refs, and every tree and blob no image references.
    Result<PruneResult> prune();
    Usage usage() const;

private:
    explicit Store(std::string dir);
    friend class BlobWriter;

    Status load_index(std::vector<std::string>* warnings);
    Status save_index_locked();
    Status delete_unreferenced_locked(PruneResult* out);
    std::optional<std::size_t> find_locked(const ImageRef& ref) const;

    std::string dir_;
    std::string unpack_helper_;
    unique_fd tmp_fd_;
    unique_fd blobs_fd_;   ///< blobs/sha256
    unique_fd rootfs_fd_;  ///< rootfs
    /// One mutation at a time.
    std::mutex mutate_;
    /// The in-memory index (and in_use_).
    mutable std::mutex index_mu_;
    std::vector<ImageRecord> images_;
    InUse in_use_;
};

}  // namespace isolated::image
