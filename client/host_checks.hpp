// What `isoctl validate` can tell about an app on this host beyond its file: what a
// start would fail on. These look at the host's file system, so they stay out of the
// parser the daemon uses (a file is valid or not wherever it is read; the daemon
// reports these when it starts the app).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "isolated/app_parser.hpp"

namespace isoctl {

/// Warnings, each at the field it concerns (file, line, field as in the parser's
/// diagnostics):
///  - mounts[i].source: a bind source that does not exist, without "create": true;
///  - rootfs.path: a directory rootfs that is not a directory;
///  - user: a user or group name not in the rootfs's /etc/passwd or /etc/group
///    (the host's for rootfs host);
///  - security.seccomp: a profile file that cannot be read;
///  - command[0]: a program that is not in the sandbox's view -- an absolute path, a
///    path relative to workdir, or a name searched in the PATH of the app's env (else
///    the default PATH) -- or is not executable. Paths under a bind mount's target are
///    looked up in its source; under a tmpfs they cannot be known and are not checked.
std::vector<isolated::Diagnostic> host_warnings(const isolated::AppSpec& spec);

/// An image app whose image is not in the store at STATE_DIR/images (its index.json
/// read as the daemon keeps it): one warning at rootfs.image, in the words of the
/// start that would fail. Nothing when the index cannot be read (the store is root's):
/// the file's syntax is all that is checked then.
std::vector<isolated::Diagnostic> image_warnings(const isolated::AppSpec& spec, const std::string& state_dir);

/// An image reference as the daemon's store names it (daemon/image/reference.hpp, the
/// distribution grammar normalized as Docker does), as far as finding it in the index
/// and writing it for another consumer needs: "nginx" -> docker.io/library/nginx:latest.
struct ImageName {
    std::string id;      ///< "sha256:<hex>": an image id (then nothing else is set)
    std::string name;    ///< "docker.io/library/postgres"
    std::string tag;     ///< "16" ("" when by digest only)
    std::string digest;  ///< "sha256:..." of the manifest
    /// "name[:tag][@digest]", or the id.
    std::string str() const;
};
ImageName parse_image_name(std::string text);

/// An image of the store as its index.json records it.
struct StoredImage {
    std::string id;                 ///< "sha256:<hex>" of its config
    std::string manifest;           ///< "sha256:<hex>" of its manifest
    std::vector<std::string> refs;  ///< normalized references
};

/// What REF (an app file's rootfs.image: a reference or an image id) names in the store
/// at STATE_DIR/images. `readable` is false when the index cannot be read (the store is
/// root's); `why` says so, or that the image is not there.
struct StoreLookup {
    bool readable = false;
    std::optional<StoredImage> image;
    std::string why;
};
StoreLookup find_stored_image(const std::string& ref, const std::string& state_dir);

/// The state dir a daemon reading CONFIG_TEXT uses: its `state-dir` key, else
/// /var/lib/isolated.
std::string state_dir_of_config(const std::string& config_text);

/// The subnet a daemon reading CONFIG_TEXT (isolated.conf, "key = value" lines) uses:
/// its `subnet` key, else the default 10.100.0.0/24.
std::string subnet_of_config(const std::string& config_text);

/// The sandbox's default PATH when the app's env sets none.
inline constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

}  // namespace isoctl
