// Directory trees under a directory fd, for the store's own trees (rootfs being built,
// leftovers in tmp, unreferenced rootfs): removal and size, never following a symlink.
#pragma once

#include <cstdint>
#include <string>

#include "isolated/result.hpp"

namespace isolated::image {

/// Removes `name` under `dirfd` and, when it is a directory, everything below it
/// (rm -rf without following symlinks). Missing is success.
Status remove_tree_at(int dirfd, const std::string& name);

/// Bytes of the regular files under `path` (st_blocks * 512: what the disk holds),
/// directories and symlinks included by their own blocks; hardlinks counted once.
std::uint64_t tree_disk_usage(const std::string& path);

}  // namespace isolated::image
