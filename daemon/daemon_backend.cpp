#include "daemon_backend.hpp"

#include <unistd.h>

#include <cerrno>

#include "host/log.hpp"
#include "image/loader.hpp"
#include "image_users.hpp"
#include "isolated/app_parser.hpp"
#include "metrics/metrics.hpp"

namespace isolated {

namespace {

api::LogLine to_line(const logs::LogRecord& r) { return api::LogLine{r.time, r.stream, r.text}; }

/// The log store's errors: ENOENT is "no such app / no such log", anything else is ours.
api::ApiError log_error(const Error& e) {
    if (e.errno_value == ENOENT) return api::ApiError{404, api_error::not_found, e.message};
    return api::ApiError{500, api_error::internal, e.to_string()};
}

template <typename T>
class Holder : public api::Subscription {
public:
    explicit Holder(T v) : v_(std::move(v)) {}

private:
    T v_;
};

}  // namespace

DaemonBackend::DaemonBackend(supervisor::Supervisor& sup, supervisor::EventLog& events, logs::LogStore& logs,
                             std::string apps_dir, std::string cgroup_driver)
    : sup_(sup), events_(events), logs_(logs), apps_dir_(std::move(apps_dir)), cgroup_driver_(std::move(cgroup_driver)) {}

std::vector<AppStatus> DaemonBackend::list_apps() { return sup_.list(); }
std::optional<std::uint64_t> DaemonBackend::apps_generation() { return sup_.status_generation(); }

std::optional<AppDetail> DaemonBackend::get_app(const std::string& name) { return sup_.detail(name); }

void DaemonBackend::app_action(const std::string& name, api::AppAction action, std::optional<Duration> timeout,
                               Done done) {
    if (!sup_.contains(name) && !sup_.is_rejected(name)) {
        done(api::ApiError{404, api_error::not_found, "no app named \"" + name + "\""});
        return;
    }
    auto finish = [done = std::move(done)](std::optional<std::string> err) {
        if (err)
            done(api::ApiError{409, api_error::app_failed, *err});
        else
            done(api::ApiResult<void>{});
    };
    switch (action) {
        // For start, the call's timeout is how long to wait for the app to come up.
        case api::AppAction::start: sup_.start(name, std::move(finish), timeout); break;
        case api::AppAction::stop: sup_.stop(name, timeout, std::move(finish)); break;
        case api::AppAction::restart: sup_.restart(name, timeout, std::move(finish)); break;
    }
}

ReloadReport DaemonBackend::reload() {
    auto report = sup_.reload(load_app_dir(apps_dir_, load_options()));
    if (after_reload_) after_reload_();
    return report;
}

LoadOptions DaemonBackend::load_options() const {
    LoadOptions options;
    options.subnet = subnet_;
    // The apps defined now keep their host ports and addresses: a file added since is
    // the one refused when it claims them, not the app already running.
    for (const auto& st : sup_.list())
        if (sup_.contains(st.name)) options.incumbents.insert(st.name);
    return options;
}

VersionInfo DaemonBackend::version() { return VersionInfo{ISOLATED_VERSION, "v1", cgroup_driver_}; }

std::vector<AppEvent> DaemonBackend::events(const std::string& app) { return events_.recent(app); }

std::unique_ptr<api::Subscription> DaemonBackend::subscribe_events(const std::string& app,
                                                                   std::function<void(const AppEvent&)> fn) {
    auto sub = events_.subscribe([app, fn = std::move(fn)](const AppEvent& e) {
        if (app.empty() || e.app == app) fn(e);
    });
    return std::make_unique<Holder<std::unique_ptr<supervisor::EventLog::Subscription>>>(std::move(sub));
}

api::ApiResult<std::vector<api::LogLine>> DaemonBackend::read_logs(const std::string& app, std::size_t tail,
                                                                   std::optional<WallTime> since) {
    std::vector<api::LogLine> out;
    for (const auto& r : journal_ ? journal_->read_tail(app, tail, since) : logs_.read_tail(app, tail, since))
        out.push_back(to_line(r));
    return out;
}

api::ApiResult<std::unique_ptr<api::Subscription>> DaemonBackend::follow_logs(
    const std::string& app, std::size_t tail, std::optional<WallTime> since,
    std::function<void(const api::LogLine&)> on_line) {
    if (journal_) {
        auto j = journal_->follow(app, tail, since,
                                  [fn = std::move(on_line)](const logs::LogRecord& r) { fn(to_line(r)); });
        if (!j) return log_error(j.error());
        return std::unique_ptr<api::Subscription>(
            std::make_unique<Holder<std::shared_ptr<logs::JournalLog::Follower>>>(std::move(*j)));
    }
    auto f = logs_.follow(app, tail, since, [fn = std::move(on_line)](const logs::LogRecord& r) { fn(to_line(r)); });
    if (!f) return log_error(f.error());
    return std::unique_ptr<api::Subscription>(
        std::make_unique<Holder<std::shared_ptr<logs::LogStore::Follower>>>(std::move(*f)));
}

std::string DaemonBackend::metrics() {
    metrics::DaemonFacts d;
    d.version = ISOLATED_VERSION;
    d.uptime_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started_).count();
    // Seqs start at 1 and grow by one per event, so the last one is the count.
    if (auto last = events_.recent({}, 1); !last.empty()) d.events_total = last.back().seq;
    if (images_) {
        auto u = images_->usage();
        d.images = u.images;
        d.image_store_bytes = u.bytes;
    }
    return metrics::render(sup_.list(), d);
}

}  // namespace isolated

namespace isolated {

api::ApiResult<api::ExecTicket> DaemonBackend::exec_ticket(const std::string& app,
                                                           const std::vector<std::string>& command, bool tty) {
    auto detail = sup_.detail(app);
    if (!detail) return api::ApiError{404, api_error::not_found, "no app named \"" + app + "\""};
    const auto& st = detail->status;
    // The init as its instance holds it (a pidfd, with its pid and start time), not as
    // the status's pid says: the ticket names the process the pidfd pins.
    auto sandbox = sup_.sandbox(app);
    if (!sandbox || st.pid <= 0)
        return api::ApiError{409, api_error::conflict, app + " is " + to_string(st.state) + ", not running"};
    if (sandbox.start_time == 0)
        return api::ApiError{500, api_error::internal,
                             "the start time of " + app + "'s init is unknown, so isoctl could not tell it from "
                             "a process that took its pid over"};
    if (!exec_planner_) return api::ApiError{501, api_error::internal, "exec is not available in this daemon"};
    auto plan = exec_planner_(detail->spec, command, tty);
    if (!plan) return api::ApiError{500, api_error::internal, plan.error().to_string()};
    api::ExecTicket ticket;
    ticket.init_pid = sandbox.pid;
    ticket.init_start = sandbox.start_time;
    ticket.init_path = init_path_;
    ticket.plan = std::move(*plan);
    return ticket;
}

api::ApiResult<api::SignalResult> DaemonBackend::signal_app(const std::string& app, int sig, bool all) {
    if (!sup_.contains(app)) {
        if (sup_.is_rejected(app))
            return api::ApiError{409, api_error::conflict, app + " is failed (its app file was rejected), not running"};
        return api::ApiError{404, api_error::not_found, "no app named \"" + app + "\""};
    }
    auto d = sup_.signal(app, sig, all);
    if (!d) return api::ApiError{409, api_error::conflict, d.error().message};
    api::SignalResult out;
    out.signal = sig;
    out.all = all;
    out.main_pid = d->main_pid;
    out.pids = d->pids;
    return out;
}

}  // namespace isolated

// ---- images ---------------------------------------------------------------------------

namespace isolated {

namespace {

api::ApiError no_images() { return api::ApiError{501, api_error::internal, "this daemon has no image store"}; }

/// The store's errors in HTTP terms: EINVAL a bad ref (400), ENOENT not stored (404),
/// EBUSY used by an app (409); an error without errno is a refused archive (400).
api::ApiError image_error(const Error& e) {
    switch (e.errno_value) {
        case EINVAL: return api::ApiError{400, api_error::bad_request, e.message};
        case ENOENT: return api::ApiError{404, api_error::not_found, e.message};
        case EBUSY: return api::ApiError{409, api_error::conflict, e.message};
        case 0: return api::ApiError{400, api_error::invalid_image, e.message};
        default: return api::ApiError{500, api_error::internal, e.to_string()};
    }
}

ImageInfo to_info(const image::ImageRecord& r) {
    ImageInfo i;
    i.id = r.id.str();
    i.manifest = r.manifest.str();
    i.refs = r.refs;
    i.size = r.size;
    i.rootfs_size = r.rootfs_size;
    i.layers = r.layers.size();
    i.created = r.created;
    i.loaded = r.loaded;
    return i;
}

class StoreUpload : public api::Upload {
public:
    explicit StoreUpload(image::TempFile f) : file_(std::move(f)) {}
    const std::string& path() const override { return file_.path(); }
    int fd() const override { return file_.fd(); }
    void discard() override { file_.remove(); }

private:
    image::TempFile file_;
};

}  // namespace

api::ApiResult<std::shared_ptr<api::Upload>> DaemonBackend::begin_upload() {
    if (!images_) return no_images();
    auto f = images_->temp_file("upload");
    if (!f) return api::ApiError{500, api_error::internal, f.error().to_string()};
    return std::shared_ptr<api::Upload>(std::make_shared<StoreUpload>(std::move(*f)));
}

api::ApiResult<void> DaemonBackend::load_image(std::shared_ptr<api::Upload> upload, const std::string& name,
                                               ImageEvents on_event) {
    if (!images_ || !image_worker_) return no_images();
    image::LoadOptions options;
    if (!name.empty()) {
        auto ref = image::parse_reference(name);
        if (!ref) return api::ApiError{400, api_error::bad_request, "name: " + ref.error().message};
        if (ref->digest) return api::ApiError{400, api_error::bad_request, "name: a name:tag, not a digest"};
        options.name = *ref;
    }
    // The job holds the upload (its file goes when the job is done) and posts every
    // event back to the loop, where the API's stream lives.
    image_worker_->submit([store = images_, post = post_, upload = std::move(upload), options,
                           on_event = std::move(on_event)] {
        auto emit = [&](api::ImageLoadEvent e) {
            post([on_event, e = std::move(e)]() mutable { on_event(std::move(e)); });
        };
        ::lseek(upload->fd(), 0, SEEK_SET);
        auto loaded = image::load_archive(*store, upload->fd(), options, [&](const std::string& line) {
            emit(api::ImageLoadEvent{api::ImageLoadEvent::Kind::progress, line, {}, {}});
        });
        api::ImageLoadEvent last;
        if (loaded) {
            last.kind = api::ImageLoadEvent::Kind::result;
            for (const auto& r : *loaded) last.images.push_back(to_info(r));
        } else {
            last.kind = api::ImageLoadEvent::Kind::error;
            last.error = image_error(loaded.error());
        }
        upload->discard();
        emit(std::move(last));
    });
    return {};
}

namespace {

/// A failed pull in the API's terms.
api::ApiError pull_error(const registry::PullError& e) {
    using Kind = registry::PullError::Kind;
    switch (e.kind) {
        case Kind::bad_request: return api::ApiError{400, api_error::bad_request, e.message};
        case Kind::not_found: return api::ApiError{404, api_error::not_found, e.message};
        case Kind::invalid: return api::ApiError{502, api_error::invalid_image, e.message};
        case Kind::store: return api::ApiError{500, api_error::internal, e.message};
        case Kind::denied:
        case Kind::registry: break;
    }
    return api::ApiError{502, api_error::registry_error, e.message};
}

}  // namespace

api::ApiResult<void> DaemonBackend::pull_image(const api::ImagePullRequest& request, PullEvents on_event) {
    if (!images_ || !image_worker_) return no_images();
    auto ref = image::parse_reference(request.ref);
    if (!ref) return api::ApiError{400, api_error::bad_request, ref.error().message};
    registry::PullOptions options = pull_defaults_;
    if (!request.authfile.empty()) {
        options.auth_file = request.authfile;
        options.reader = registry::AuthFile::Reader{request.uid, request.gid, request.groups};
    }
    image_worker_->submit([store = images_, post = post_, ref = *ref, options = std::move(options),
                           stopping = pull_stopping_, on_event = std::move(on_event)]() mutable {
        auto emit = [&](api::ImagePullEvent e) {
            post([on_event, e = std::move(e)]() mutable { on_event(std::move(e)); });
        };
        options.cancel = stopping.get();
        auto pulled = registry::pull(*store, ref, options, [&](const registry::PullEvent& p) {
            api::ImagePullEvent e;
            e.message = p.message;
            e.id = p.id;
            e.current = p.current;
            e.total = p.total;
            emit(std::move(e));
        });
        api::ImagePullEvent last;
        if (pulled) {
            last.kind = api::ImagePullEvent::Kind::result;
            last.images.push_back(to_info(*pulled));
        } else {
            last.kind = api::ImagePullEvent::Kind::error;
            last.error = pull_error(pulled.error());
        }
        emit(std::move(last));
    });
    return {};
}

api::ApiResult<std::vector<ImageInfo>> DaemonBackend::list_images() {
    if (!images_) return no_images();
    std::vector<ImageInfo> out;
    for (const auto& r : images_->list()) out.push_back(to_info(r));
    return out;
}

api::ApiResult<ImageInfo> DaemonBackend::inspect_image(const std::string& ref) {
    if (!images_) return no_images();
    auto r = images_->resolve(ref);
    if (!r) return image_error(r.error());
    ImageInfo info = to_info(*r);
    auto c = images_->config(*r);
    if (!c) return api::ApiError{500, api_error::internal, c.error().to_string()};
    info.config = config_info(*c);
    return info;
}

void DaemonBackend::remove_image(const std::string& ref, Then<ImageRemoveReport> done) {
    if (!images_ || !image_worker_) return done(no_images());
    image_worker_->submit([store = images_, post = post_, ref, done = std::move(done)] {
        auto r = store->remove(ref);
        api::ApiResult<ImageRemoveReport> out = image_error(Error::msg(""));
        if (r) {
            ImageRemoveReport rep;
            rep.untagged = r->untagged;
            for (const auto& d : r->deleted) rep.deleted.push_back(d.str());
            out = rep;
        } else {
            out = image_error(r.error());
        }
        post([done, out = std::move(out)] { done(out); });
    });
}

void DaemonBackend::prune_images(Then<ImagePruneReport> done) {
    if (!images_ || !image_worker_) return done(no_images());
    // Prune keeps what any app's definition names (by id or digest: a ref-less image
    // can be named no other way), running or not: the definitions as they are now.
    if (image_users_) {
        std::map<std::string, std::string> defined;
        for (const auto& st : sup_.list())
            if (auto d = sup_.detail(st.name); d && d->has_spec && d->spec.rootfs.type == RootfsType::image)
                defined[st.name] = d->spec.rootfs.image;
        image_users_->set_defined(std::move(defined));
    }
    image_worker_->submit([store = images_, post = post_, done = std::move(done)] {
        auto r = store->prune();
        api::ApiResult<ImagePruneReport> out = image_error(Error::msg(""));
        if (r) {
            ImagePruneReport rep;
            for (const auto& d : r->images) rep.images.push_back(d.str());
            rep.blobs = r->blobs;
            rep.rootfs = r->rootfs;
            rep.bytes = r->bytes;
            out = rep;
        } else {
            out = api::ApiError{500, api_error::internal, r.error().to_string()};
        }
        post([done, out = std::move(out)] { done(out); });
    });
}

}  // namespace isolated
