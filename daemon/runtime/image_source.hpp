// The port through which the runtime finds an image app's image (issue 14): the
// daemon's image store, wired in main.cpp (the runtime does not know the store). Once
// per start the app's rootfs.image is resolved to an image id, its tree and its config,
// and the image is marked as used by the app until the instance ends, so that the
// store refuses to remove it meanwhile (`isoctl image rm` -> 409 naming the app).
#pragma once

#include <string>

#include "isolated/api_types.hpp"
#include "isolated/image_types.hpp"
#include "isolated/result.hpp"

namespace isolated::runtime {

struct ResolvedImage {
    AppImage image;          ///< normalized ref, id, manifest digest
    std::string rootfs;      ///< its unpacked, read-only tree: the lower of the app's rootfs
    ImageConfigInfo config;  ///< its run defaults
};

class ImageSource {
public:
    virtual ~ImageSource() = default;
    /// Resolves REF for APP and marks the image used by APP (replacing any earlier mark
    /// of APP). With ID (an adopted instance), the image with that id, whatever REF
    /// names now: the instance runs that tree. Errors say what the operator does next
    /// (`image "postgres:16" is not in the store: isoctl image pull postgres:16`); on
    /// error nothing stays marked.
    virtual Result<ResolvedImage> acquire(const std::string& app, const std::string& ref,
                                          const std::string& id = "") = 0;
    /// APP's instance ended: its image is no longer in use by it.
    virtual void release(const std::string& app) = 0;
};

}  // namespace isolated::runtime
