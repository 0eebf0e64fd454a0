#include "image_users.hpp"

#include <algorithm>
#include <cerrno>

namespace isolated {

ImageConfigInfo config_info(const image::ImageConfig& c) {
    ImageConfigInfo ci;
    ci.architecture = c.architecture;
    ci.os = c.os;
    ci.variant = c.variant;
    ci.entrypoint = c.entrypoint;
    ci.cmd = c.cmd;
    ci.env = c.env;
    ci.working_dir = c.working_dir;
    ci.user = c.user;
    ci.stop_signal = c.stop_signal;
    ci.labels = c.labels;
    ci.exposed_ports = c.exposed_ports;
    ci.volumes = c.volumes;
    return ci;
}

ImageUsers::ImageUsers(image::Store& store) : store_(store) {
    store_.set_in_use([this](const image::Store::Removal& r) { return user_of(r); });
}

ImageUsers::~ImageUsers() { store_.set_in_use(nullptr); }

Result<runtime::ResolvedImage> ImageUsers::acquire(const std::string& app, const std::string& ref,
                                                   const std::string& id) {
    auto parsed = image::parse_image_ref(ref);
    if (!parsed) return Error::msg("rootfs.image: " + parsed.error().message);
    Mark mark;
    if (!parsed->id) mark.ref = parsed->ref.str();
    if (!id.empty()) mark.id = id;
    else if (parsed->id) mark.id = parsed->id->str();
    {
        std::lock_guard lock(mu_);
        marks_[app] = mark;
    }
    auto fail = [&](Error e) -> Result<runtime::ResolvedImage> {
        release(app);
        return e;
    };
    auto rec = store_.resolve(id.empty() ? ref : id);
    if (!rec) {
        if (rec.error().errno_value != ENOENT) return fail(Error::msg("rootfs.image: " + rec.error().message));
        if (!id.empty()) return fail(Error::msg("image " + id + " (\"" + ref + "\") is no longer in the store"));
        // Where it can come from: a registry, unless it is named by id.
        return fail(Error::msg("image \"" + ref + "\" is not in the store: " +
                               (parsed->id ? std::string("isoctl image load FILE") : "isoctl image pull " + ref)));
    }
    auto config = store_.config(*rec);
    if (!config) return fail(Error::msg("image \"" + ref + "\": its config: " + config.error().to_string()));
    runtime::ResolvedImage out;
    out.image.ref = parsed->id ? parsed->id->str() : parsed->ref.str();
    out.image.id = rec->id.str();
    out.image.manifest = rec->manifest.str();
    out.rootfs = store_.rootfs_path(rec->id);
    out.config = config_info(*config);
    {
        std::lock_guard lock(mu_);
        marks_[app].id = out.image.id;
    }
    return out;
}

void ImageUsers::release(const std::string& app) {
    std::lock_guard lock(mu_);
    marks_.erase(app);
}

void ImageUsers::set_defined(std::map<std::string, std::string> refs) {
    std::lock_guard lock(mu_);
    defined_ = std::move(refs);
}

std::optional<std::string> ImageUsers::user_of(const image::Store::Removal& removal) const {
    const std::string id = removal.image.id.str();
    std::lock_guard lock(mu_);
    for (const auto& [app, m] : marks_) {
        if (removal.whole && m.id == id) return app;
        if (!m.ref.empty() && std::find(removal.refs.begin(), removal.refs.end(), m.ref) != removal.refs.end())
            return app;
    }
    if (removal.prune) {
        for (const auto& [app, text] : defined_) {
            auto r = image::parse_image_ref(text);
            if (!r) continue;
            if (r->id ? *r->id == removal.image.id
                      : (r->ref.digest ? *r->ref.digest == removal.image.manifest
                                       : std::find(removal.image.refs.begin(), removal.image.refs.end(),
                                                   r->ref.str()) != removal.image.refs.end()))
                return app;
        }
    }
    return std::nullopt;
}

}  // namespace isolated
