// Which apps use which images (issue 14): wiring between the image store and the
// runtime, beside daemon_backend.*. It is the runtime's ImageSource (an image app's
// start resolves its image here, once per start, and marks it used until the instance
// ends) and the store's in-use hook (a removal of what an app uses is refused, naming
// the app).
//
// Threads: marks are made and cleared on the daemon's loop (launch, adoption, an
// instance's end), the hook runs on the image worker during a removal, under the
// store's index lock. So the marks live behind their own mutex, and the hook never
// calls into the store. A start marks the app's ref before resolving it: a removal
// that runs between the two sees the mark and is refused, rather than taking a tree
// the start is about to mount.
#pragma once

#include <map>
#include <mutex>
#include <optional>
#include <string>

#include "image/store.hpp"
#include "runtime/image_source.hpp"

namespace isolated {

/// The run defaults of an image's config, in the API's (and image_run.hpp's) form.
ImageConfigInfo config_info(const image::ImageConfig& c);

class ImageUsers : public runtime::ImageSource {
public:
    /// Installs itself as STORE's in-use hook (the destructor takes it out); STORE
    /// outlives it.
    explicit ImageUsers(image::Store& store);
    ~ImageUsers() override;
    ImageUsers(const ImageUsers&) = delete;
    ImageUsers& operator=(const ImageUsers&) = delete;

    Result<runtime::ResolvedImage> acquire(const std::string& app, const std::string& ref,
                                           const std::string& id = "") override;
    void release(const std::string& app) override;

    /// The image references of the apps' definitions (app -> rootfs.image), whatever
    /// their state: prune keeps an image a definition names by id or digest. Set from
    /// the loop before a prune is queued.
    void set_defined(std::map<std::string, std::string> refs);

    /// The store's hook: the app holding what REMOVAL takes, if any. A running or
    /// starting app holds its image (by id) and the ref its app file names; a prune
    /// also keeps what any definition names.
    std::optional<std::string> user_of(const image::Store::Removal& removal) const;

private:
    struct Mark {
        std::string ref;  ///< normalized ref the app file names ("" when it names an id)
        std::string id;   ///< "sha256:..." once resolved
    };
    image::Store& store_;
    mutable std::mutex mu_;
    std::map<std::string, Mark> marks_;           ///< by app
    std::map<std::string, std::string> defined_;  ///< app -> rootfs.image as written
};

}  // namespace isolated
