// isolated-unpack's layer mode: the applier itself, over libarchive's reader. Only the
// helper links this (daemon/image/unpack/, not part of the image library): the daemon
// runs it through image/layer.hpp's apply_layer(), which spawns the helper.
//
// Written over libarchive's reader, not archive_write_disk: every path is resolved by
// our own walk, one component at a time, each directory opened with openat2
// (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) against the tree's
// fd, so nothing is ever created, written or linked outside the tree. What a hostile
// layer tries is refused with an error naming the entry: an absolute path, a `..`
// component, a parent that is a symlink pointing outside (absolute, or climbing above
// the root), a hardlink to something outside or missing.
#pragma once

#include <optional>
#include <string>

#include "image/digest.hpp"
#include "image/layer.hpp"
#include "isolated/result.hpp"

namespace isolated::image::unpack {

/// Applies the layer read from `layer_fd` to the tree at `root_fd`, in this process
/// (image/layer.hpp's apply_layer() says what it does and what it checks).
Result<LayerResult> apply_layer(int root_fd, int layer_fd, const std::string& what,
                                const std::optional<Digest>& diff_id, const ApplyOptions& options);

}  // namespace isolated::image::unpack
