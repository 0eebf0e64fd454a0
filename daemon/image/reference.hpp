// Image references, as Docker, Podman and containers/image read them (the
// distribution/reference grammar, normalized): "busybox" is
// docker.io/library/busybox:latest, "ghcr.io/o/app:1.2", "name@sha256:...", and a bare
// "sha256:<64 hex>" is an image id (the config's digest). The store keeps refs in the
// normalized form only, so "busybox" and "docker.io/library/busybox:latest" are one ref.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "image/digest.hpp"
#include "isolated/result.hpp"

namespace isolated::image {

inline constexpr std::string_view default_domain = "docker.io";
inline constexpr std::string_view default_tag = "latest";

struct Reference {
    std::string domain;            ///< "docker.io", "localhost:5000", "[::1]:5000"
    std::string path;              ///< "library/busybox"
    std::string tag;               ///< "" when the reference is by digest only
    std::optional<Digest> digest;  ///< the manifest's digest, for name@sha256:...

    /// "docker.io/library/busybox"
    std::string name() const { return domain + "/" + path; }
    /// "docker.io/library/busybox:latest", "docker.io/library/busybox@sha256:..."
    /// (both when both were given).
    std::string str() const;
    /// The familiar short form Docker prints: "busybox:latest", "ghcr.io/o/app:1".
    std::string familiar() const;
    friend bool operator==(const Reference&, const Reference&) = default;
};

/// A normalized reference: default domain and `library/`, and the tag "latest" when
/// neither a tag nor a digest is given. Errors say what is malformed:
/// `invalid reference "Busybox": repository name must be lowercase`.
Result<Reference> parse_reference(std::string_view text);

/// What an operator may name an image by: a reference or an image id.
struct ImageRef {
    std::optional<Digest> id;  ///< "sha256:<64 hex>" or 64 bare hex: the config digest
    Reference ref;             ///< otherwise
};
Result<ImageRef> parse_image_ref(std::string_view text);

}  // namespace isolated::image
