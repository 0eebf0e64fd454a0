// HostRuntime: the supervisor's Runtime port implemented on the real host. For each
// launch it prepares the app's run and log directories (app_files.hpp), builds the
// launch plan, clones the init (sandbox::spawn_init), attaches the cgroup and the
// network, writes the instance record (instance_record.hpp) and hands the init to a
// Watch on the daemon's io_context (instance_watch.hpp). Adoption reads the record
// back and hands the init to a Watch the same way (see docs/ARCHITECTURE.md).
#pragma once

#include <boost/asio/io_context.hpp>
#include <cstdint>
#include <map>
#include <memory>
#include <random>
#include <string>

#include "cgroup/cgroup.hpp"
#include "isolated/redact.hpp"
#include "isolated/unique_fd.hpp"
#include "net/discovery.hpp"
#include "net/network.hpp"
#include "runtime/image_source.hpp"
#include "runtime/kept_sandbox.hpp"
#include "sandbox/launch_plan.hpp"
#include "sandbox/start_files.hpp"
#include "supervisor/runtime.hpp"

namespace isolated::runtime {

struct HostRuntimeOptions {
    std::string init_path;   ///< the isolated-init binary
    std::string run_dir;     ///< per-app state goes to <run_dir>/apps/<app>/
    std::string log_dir;     ///< <log_dir>/<app>.log, written by the init
    sandbox::LogSettings log;
    std::string state_dir;   ///< overlay upper dirs under <state_dir>/overlay/<app>/
    std::string config_dir = "/etc/isolated";  ///< masked inside host-rootfs sandboxes
    cgroup::Manager* cgroups = nullptr;  ///< nullptr: no cgroups (tests of the runtime alone)
    net::Network* network = nullptr;     ///< nullptr: bridge mode gets loopback only
    /// Told the envFile values and secrets' contents read at each start and adoption,
    /// for the read-only socket's redaction; nullptr: no one.
    LearnedSecrets* learned_secrets = nullptr;
    /// Image apps (issue 14): the image store, through its port; nullptr: none (an image
    /// app fails to start).
    ImageSource* images = nullptr;
    /// After kill_all(), how long the init may take to record the exit and leave
    /// before it is killed as well.
    Duration init_grace = std::chrono::seconds(3);
};

class HostRuntime : public supervisor::Runtime {
public:
    HostRuntime(boost::asio::io_context& io, HostRuntimeOptions options);

    Result<std::unique_ptr<supervisor::Instance>> launch(const AppSpec& spec, const supervisor::LaunchContext& ctx,
                                                         supervisor::InstanceCallbacks callbacks) override;

    /// Without a cgroup driver (`none`, or no cgroup manager at all) an app with any
    /// resource limit cannot run: a limit is never silently left unenforced.
    std::optional<std::string> cannot_run(const AppSpec& spec) const override;
    /// None without a cgroup driver; v1 drops memoryHigh and ioWeight (v1 has neither).
    ResourcesSpec enforced_limits(const ResourcesSpec& limits) const override;

    /// <run_dir>/apps/<app>/stopped exists while an operator's stop holds.
    void remember_stopped(const std::string& app, bool stopped) override;
    void forget(const std::string& app) override;
    void remember_history(const std::string& app, const supervisor::AppHistory& history) override;
    std::optional<supervisor::AppHistory> remembered_history(const std::string& app) override;
    std::set<std::string> remembered_stopped() override;
    /// The app's kept sandbox goes: its forwards, its place in the others' /etc/hosts,
    /// the bind mount of its network namespace (which then goes with its veth once
    /// nothing holds it) and its record.
    void release_sandbox(const std::string& app) override;
    std::set<std::string> kept_sandboxes() override { return kept_.list(); }
    /// Clean daemon exit: the mount point of <run_dir>/netns goes when nothing is kept.
    void shutdown_cleanup() { kept_.unmount_dir_if_empty(); }
    /// Apps with an instance record under <run_dir>/apps/ (left by an earlier daemon).
    std::vector<std::string> recorded_instances() override;
    /// Adoption: reads the app's instance record, re-acquires its init with
    /// pidfd_open() and accepts it only if its start time (and, with cgroups, its
    /// cgroup) match the record, so a recycled PID is never adopted. The cgroup and
    /// network attachment are taken over as they are. An instance that ended while no
    /// daemon watched is reported with the exit its init recorded, and released.
    std::optional<supervisor::Adoption> adopt(const std::string& app, supervisor::InstanceCallbacks callbacks) override;

    const HostRuntimeOptions& options() const { return options_; }

    /// The encoded exec plan for `isoctl exec APP -- COMMAND` (see init_protocol.h).
    Result<std::string> exec_plan(const AppSpec& spec, const std::vector<std::string>& command, bool tty);

private:
    std::string new_instance_id();
    /// The spec a start runs with: for an image app, its image acquired (by ID when
    /// given: an adopted instance's) and its defaults applied (image_run.hpp), the
    /// image put in IMAGE; else the spec with its args appended.
    Result<AppSpec> run_spec(const AppSpec& spec, const std::string& id, std::optional<AppImage>* image);
    /// Reads SPEC's envFiles and secrets (sandbox/start_files.hpp), remembers the
    /// variables for exec plans and tells learned_secrets every value.
    Result<sandbox::StartFiles> read_start_files(const AppSpec& spec);

    unique_fd init_fd_;      ///< sealed memfd copy of the init (CVE-2019-5736)
    boost::asio::io_context& io_;
    HostRuntimeOptions options_;
    std::mt19937_64 rng_;
    /// The running bridged apps' hosts files (name discovery); shared with the
    /// instances, which leave it when they end.
    std::shared_ptr<net::HostsFiles> hosts_;
    /// Each app's envFile variables as its running instance got them: `isoctl exec` and
    /// exec probes see the app's environment (Docker's and Kubernetes' exec do), not a
    /// file changed since. Memory only.
    std::map<std::string, EnvList> launched_env_;
    /// Each image app's run spec as its running instance got it (image_run.hpp): exec
    /// enters the tree and user the instance runs.
    std::map<std::string, AppSpec> run_specs_;
    /// The apps' network namespaces kept across restarts (issue 19).
    KeptSandboxes kept_;
};

}  // namespace isolated::runtime
