// `isoctl image load`: an archive in any of the formats engines write, into the store.
//
//   OCI image layout, as a tar (skopeo's oci-archive:, podman save --format oci-archive)
//   docker save, legacy: manifest.json + <id>/layer.tar + <config>.json (+ repositories)
//   docker save of Docker 25+: both, manifest.json pointing into blobs/sha256/
//   podman save (docker-archive): the legacy layout
//
// The archive may itself be gzip- or zstd-compressed; layers are tar, tar+gzip or
// tar+zstd. Every regular file of the archive is streamed into a BlobWriter (hashed as
// it goes; a blobs/sha256/<hex> whose content does not hash to <hex> is refused), and
// only the blobs the chosen images reference are committed. When manifest.json is
// there it is used (its RepoTags name the images); otherwise index.json, whose entries
// are images (named by their org.opencontainers.image.ref.name or
// io.containerd.image.name annotation) or multi-platform indexes (linux/<this arch>
// is taken).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "image/reference.hpp"
#include "image/store.hpp"
#include "isolated/result.hpp"

namespace isolated::image {

struct LoadOptions {
    /// Added to the image's refs (an image without a name needs it to be named at
    /// all); refused when the archive holds more than one image.
    std::optional<Reference> name;
};

/// Loads the archive read from `fd` (from its offset) into `store`. Each image is
/// installed whole or not at all; on an error in the second image, the first stays.
Result<std::vector<ImageRecord>> load_archive(Store& store, int fd, const LoadOptions& options,
                                              const Progress& progress = {});

}  // namespace isolated::image
