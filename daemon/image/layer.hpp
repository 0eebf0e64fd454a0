// Applying one layer (a tar changeset, plain, gzip or zstd) onto a tree, as the OCI
// image spec's "Applying Changesets" says: `.wh.NAME` deletes NAME, `.wh..wh..opq`
// hides the directory's lower content, hardlinks, symlinks as written, devices (as
// root), owners, modes with setuid/setgid, xattrs (file capabilities) and mtimes kept.
//
// The work is done by the helper isolated-unpack (image/unpack/apply.hpp), which this
// process runs and waits for: libarchive is never loaded into the daemon, and the
// hostile layer is parsed in a confined process of its own (image/unpack/main.cpp).
// Every path is resolved there by our own walk, one component at a time, each
// directory opened with openat2 (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS |
// RESOLVE_NO_MAGICLINKS) against the tree's fd, so nothing is ever created, written or
// linked outside the tree. What a hostile layer tries is refused with an error naming
// the entry: an absolute path, a `..` component, a parent that is a symlink pointing
// outside (absolute, or climbing above the root), a hardlink to something outside or
// missing.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "image/digest.hpp"
#include "isolated/result.hpp"

namespace isolated::image {

struct LayerResult {
    Digest diff_id;              ///< sha256 of the uncompressed tar
    std::uint64_t entries = 0;
    std::uint64_t uncompressed_bytes = 0;
};

struct ApplyOptions {
    /// Owners, device nodes and non-user xattrs need root (as the daemon is); without
    /// it they are skipped, as rootless umoci and Podman do.
    bool privileged = true;
};

/// Applies the layer read from `layer_fd` (from its current offset) to the tree whose
/// root directory is `root_fd`, by running `helper` (isolated-unpack) and waiting for
/// it; its errors come back as they were made there (a helper that dies or cannot
/// run is an error naming it). `what` names the layer in errors ("layer sha256:..").
/// When `diff_id` is given, the uncompressed stream's sha256 must equal it; a mismatch
/// is an error after the fact, so the caller must throw the tree away on any error
/// (the store builds trees in its tmp dir for that).
Result<LayerResult> apply_layer(const std::string& helper, int root_fd, int layer_fd, const std::string& what,
                                const std::optional<Digest>& diff_id, const ApplyOptions& options = {});

}  // namespace isolated::image
