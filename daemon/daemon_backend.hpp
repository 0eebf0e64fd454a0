// The API's Backend over the real daemon: the Supervisor, the EventLog and the log
// store. Translation only; no policy lives here. It sits next to main.cpp, outside
// every module, because it is wiring: the one place where api (which knows only its
// Backend port) meets supervisor, logs and metrics, none of which may know the API.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "api/backend.hpp"
#include "image/store.hpp"
#include "image/worker.hpp"
#include "isolated/app_parser.hpp"
#include "logs/journal_log.hpp"
#include "logs/log_store.hpp"
#include "registry/pull.hpp"
#include "supervisor/event_log.hpp"
#include "supervisor/supervisor.hpp"

namespace isolated {

class ImageUsers;

class DaemonBackend : public api::Backend {
public:
    DaemonBackend(supervisor::Supervisor& sup, supervisor::EventLog& events, logs::LogStore& logs,
                  std::string apps_dir, std::string cgroup_driver);

    std::vector<AppStatus> list_apps() override;
    std::optional<std::uint64_t> apps_generation() override;
    std::optional<AppDetail> get_app(const std::string& name) override;
    void app_action(const std::string& name, api::AppAction action, std::optional<Duration> timeout,
                    Done done) override;
    ReloadReport reload() override;
    VersionInfo version() override;
    std::vector<AppEvent> events(const std::string& app) override;
    std::unique_ptr<api::Subscription> subscribe_events(const std::string& app,
                                                        std::function<void(const AppEvent&)> fn) override;
    api::ApiResult<std::vector<api::LogLine>> read_logs(const std::string& app, std::size_t tail,
                                                        std::optional<WallTime> since) override;
    api::ApiResult<std::unique_ptr<api::Subscription>> follow_logs(
        const std::string& app, std::size_t tail, std::optional<WallTime> since,
        std::function<void(const api::LogLine&)> on_line) override;
    std::string metrics() override;
    const LearnedSecrets* learned_secrets() override { return learned_; }
    api::ApiResult<api::ExecTicket> exec_ticket(const std::string& app, const std::vector<std::string>& command,
                                                bool tty) override;
    api::ApiResult<api::SignalResult> signal_app(const std::string& app, int sig, bool all) override;

    api::ApiResult<std::shared_ptr<api::Upload>> begin_upload() override;
    std::uint64_t max_upload_bytes() override { return max_upload_; }
    api::ApiResult<void> load_image(std::shared_ptr<api::Upload> upload, const std::string& name,
                                    ImageEvents on_event) override;
    api::ApiResult<std::vector<ImageInfo>> list_images() override;
    api::ApiResult<ImageInfo> inspect_image(const std::string& ref) override;
    void remove_image(const std::string& ref, Then<ImageRemoveReport> done) override;
    void prune_images(Then<ImagePruneReport> done) override;
    api::ApiResult<void> pull_image(const api::ImagePullRequest& request, PullEvents on_event) override;
    /// A pull still running on the image worker stops at its next read.
    ~DaemonBackend() override { pull_stopping_->store(true); }

    /// Runs `fn` on the daemon's loop (from the image worker's thread).
    using Post = std::function<void(std::function<void()>)>;
    /// The image store, the thread its slow work runs on, and the upload limit.
    void set_images(image::Store* store, image::Worker* worker, Post post, std::uint64_t max_upload) {
        images_ = store;
        image_worker_ = worker;
        post_ = std::move(post);
        max_upload_ = max_upload;
    }
    /// Who uses which image: prune is told the apps' definitions before it runs.
    void set_image_users(ImageUsers* users) { image_users_ = users; }

    /// What every pull starts from: the auth file, certs dir and insecure registries of
    /// the settings.
    void set_pull_defaults(registry::PullOptions defaults) { pull_defaults_ = std::move(defaults); }

    /// Builds the exec plan for an app's spec (the runtime's job).
    using ExecPlanner = std::function<Result<std::string>(const AppSpec&, const std::vector<std::string>&, bool)>;
    /// The bridge's subnet (--subnet), against which pinned addresses are checked.
    void set_subnet(std::string cidr) { subnet_ = std::move(cidr); }
    /// For load_app_dir on a reload (API or SIGHUP): the subnet, and the apps defined now
    /// as incumbents.
    LoadOptions load_options() const;
    /// Called after every reload with the apps now defined (networks reconcile leases).
    void set_after_reload(std::function<void()> fn) { after_reload_ = std::move(fn); }
    /// App output is in the journal (--log-driver journald): logs are read from there.
    void set_journal(logs::JournalLog* journal) { journal_ = journal; }
    /// The runtime's record of envFile values and secrets read at starts (redaction).
    void set_learned_secrets(const LearnedSecrets* learned) { learned_ = learned; }
    void set_exec_planner(ExecPlanner planner, std::string init_path) {
        exec_planner_ = std::move(planner);
        init_path_ = std::move(init_path);
    }

private:
    ExecPlanner exec_planner_;
    std::function<void()> after_reload_;
    std::string init_path_;
    supervisor::Supervisor& sup_;
    supervisor::EventLog& events_;
    logs::LogStore& logs_;
    logs::JournalLog* journal_ = nullptr;
    const LearnedSecrets* learned_ = nullptr;
    std::string apps_dir_;
    std::string cgroup_driver_;
    std::string subnet_;
    image::Store* images_ = nullptr;
    image::Worker* image_worker_ = nullptr;
    ImageUsers* image_users_ = nullptr;
    Post post_;
    std::uint64_t max_upload_ = 0;
    registry::PullOptions pull_defaults_;
    std::shared_ptr<std::atomic<bool>> pull_stopping_ = std::make_shared<std::atomic<bool>>(false);
    std::chrono::steady_clock::time_point started_ = std::chrono::steady_clock::now();
};

}  // namespace isolated
