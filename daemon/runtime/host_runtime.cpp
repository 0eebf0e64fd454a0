#include "runtime/host_runtime.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "host/log.hpp"
#include "isolated/api_json.hpp"
#include "isolated/image_run.hpp"
#include "isolated/unique_fd.hpp"
#include "runtime/app_files.hpp"
#include "runtime/instance_record.hpp"
#include "runtime/instance_resources.hpp"
#include "runtime/instance_watch.hpp"
#include "runtime/run_files.hpp"
#include "sandbox/init_protocol.h"
#include "sandbox/sandbox_plan.hpp"
#include "sandbox/spawn.hpp"
#include "sys/crash_point.hpp"
#include "sys/file.hpp"
#include "sys/process.hpp"

namespace isolated::runtime {

namespace asio = boost::asio;

HostRuntime::HostRuntime(asio::io_context& io, HostRuntimeOptions options)
    : io_(io), options_(std::move(options)), rng_(std::random_device{}()), hosts_(std::make_shared<net::HostsFiles>()),
      kept_(options_.run_dir) {
    hosts_->on_error = [](const std::string& app, const std::string& error) {
        host::log_warning(app, "/etc/hosts not updated: " + error);
    };
    // Without the copy the init is executed from its path (logged by the launch error
    // if that fails too).
    if (auto fd = sandbox::sealed_copy(options_.init_path)) init_fd_ = std::move(*fd);
}

std::string HostRuntime::new_instance_id() {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(rng_()));
    return buf;
}

namespace {

// The limits an app file sets, by their names in it: "memory, pids".
std::string limit_names(const ResourcesSpec& r) {
    std::vector<std::string> names;
    if (r.cpu) names.push_back("cpu");
    if (r.cpu_weight) names.push_back("cpuWeight");
    if (r.memory) names.push_back("memory");
    if (r.memory_high) names.push_back("memoryHigh");
    if (r.swap) names.push_back("swap");
    if (r.pids) names.push_back("pids");
    if (r.io_weight) names.push_back("ioWeight");
    std::string out;
    for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
    return out;
}

}  // namespace

std::optional<std::string> HostRuntime::cannot_run(const AppSpec& spec) const {
    if (spec.resources == ResourcesSpec{}) return std::nullopt;
    if (options_.cgroups && options_.cgroups->driver() != cgroup::Driver::none) return std::nullopt;
    return "no cgroup driver (cgroups: none), so its resources (" + limit_names(spec.resources) +
           ") cannot be enforced; run isolated where a cgroup hierarchy is mounted (not under `ip netns exec`, "
           "which remounts /sys) or pick one with --cgroup-driver systemd|v2|v1, or remove \"resources\" from "
           "the app";
}

ResourcesSpec HostRuntime::enforced_limits(const ResourcesSpec& limits) const {
    if (!options_.cgroups) return {};
    ResourcesSpec r = limits;
    switch (options_.cgroups->driver()) {
        case cgroup::Driver::none: return {};
        case cgroup::Driver::v1:
            // Documented exceptions of the v1 driver: no memory.high, no io weight.
            r.memory_high.reset();
            r.io_weight.reset();
            return r;
        case cgroup::Driver::v2:
        case cgroup::Driver::systemd: return r;
    }
    return r;
}

Result<sandbox::StartFiles> HostRuntime::read_start_files(const AppSpec& spec) {
    auto files = sandbox::read_start_files(spec);
    if (!files) return files.error();
    if (options_.learned_secrets) options_.learned_secrets->learn(spec.name, files->values());
    launched_env_[spec.name] = files->env;
    return files;
}

namespace {

// An image marked used by an app until the launch hands it to the instance's resources.
struct ImageMark {
    ImageSource* source = nullptr;
    std::string app;
    ImageMark() = default;
    ImageMark(const ImageMark&) = delete;
    ImageMark& operator=(const ImageMark&) = delete;
    ~ImageMark() {
        if (source) source->release(app);
    }
};

}  // namespace

Result<AppSpec> HostRuntime::run_spec(const AppSpec& spec, const std::string& id, std::optional<AppImage>* image) {
    if (spec.rootfs.type != RootfsType::image) return image_run_spec(spec, {}, "");
    if (!options_.images)
        return Error::msg("image \"" + spec.rootfs.image + "\" cannot be used: this daemon has no image store");
    auto resolved = options_.images->acquire(spec.name, spec.rootfs.image, id);
    if (!resolved) return resolved.error();
    auto run = image_run_spec(spec, resolved->config, resolved->rootfs);
    if (!run) {
        options_.images->release(spec.name);
        return run.error();
    }
    if (image) *image = resolved->image;
    return run;
}

Result<std::unique_ptr<supervisor::Instance>> HostRuntime::launch(const AppSpec& defined,
                                                                  const supervisor::LaunchContext& ctx,
                                                                  supervisor::InstanceCallbacks callbacks) {
    if (auto why = cannot_run(defined)) return Error::msg(*why);
    // At every start, before anything is made: a changed envFile or secret takes effect
    // now, and one that cannot be read fails the start with nothing to undo.
    auto files = read_start_files(defined);
    if (!files) return files.error();
    // An image app: its image resolved now, once per start (a tag may have moved since
    // the last one), and held (the store refuses to remove it) until the instance
    // ends. From here on it is a directory rootfs over the image's tree.
    std::optional<AppImage> image;
    auto run = run_spec(defined, "", &image);
    if (!run) return run.error();
    ImageMark mark;
    if (image) mark.source = options_.images, mark.app = defined.name;
    const AppSpec& spec = *run;
    std::string apps_dir = options_.run_dir + "/apps";
    std::string app_dir = apps_dir + "/" + spec.name;
    for (const auto* d : {&apps_dir, &app_dir})
        if (auto st = sys::make_dir(*d, 0755); !st) return st.error();
    auto run_dir = sys::open_dir(app_dir);
    if (!run_dir) return run_dir.error();
    auto log_dir = sys::open_dir(options_.log_dir);
    if (!log_dir) return log_dir.error();
    // Records left by an earlier run must never be read as this one's.
    for (const char* name : {INIT_EXIT_FILE, kInstanceRecord, INIT_LOG_DROPPED_FILE})
        if (::unlinkat(run_dir->get(), name, 0) < 0 && errno != ENOENT)
            return os_error("remove \"" + app_dir + "/" + name + "\"");

    // The bridge address first: /etc/hosts names it.
    const bool bridged = spec.network.mode == NetworkMode::bridge && options_.network;
    std::optional<net::Ipv4> pinned, leased;
    std::string hosts;
    if (bridged) {
        if (!spec.network.address.empty()) {
            auto p = net::parse_pinned_address(spec.network.address);
            if (!p) return p.error();
            pinned = *p;
        }
        auto lease = options_.network->lease(spec.name, pinned);
        if (!lease) return lease.error();
        leased = *lease;
        hosts = hosts_->render(spec.name, spec.effective_hostname(), *lease);
    }
    // The pod sandbox (issue 19): the network namespace an earlier instance of the app
    // left, joined again when it was made for the same network definition and is intact;
    // else whatever is left of it goes and this launch makes (and keeps) a new one.
    const bool keep = keeps_sandbox(spec);
    const SandboxKey key = sandbox_key(spec, leased ? leased->to_string() : "");
    unique_fd kept_netns;
    if (keep) {
        if (auto rec = kept_.recorded(spec.name)) {
            std::string why;
            if (!(*rec == key)) {
                why = "its network definition changed";
            } else if (auto fd = kept_.open(spec.name); !fd) {
                why = fd.error().to_string();
            } else if (bridged) {
                if (auto st = options_.network->check_kept(spec.name, net::NetnsRef::of_fd(fd->get()), *leased); !st)
                    why = st.error().to_string();
                else
                    kept_netns = std::move(*fd);
            } else {
                kept_netns = std::move(*fd);
            }
            if (!kept_netns) {
                host::log_info(spec.name, "kept network namespace not reused (" + why + "): making a new one");
                release_sandbox(spec.name);
            }
        } else if (kept_.has(spec.name)) {
            release_sandbox(spec.name);  // a bind mount without its record
        }
    } else if (kept_.has(spec.name)) {
        release_sandbox(spec.name);  // now `host` or `app:NAME`
    }
    const bool reuse = static_cast<bool>(kept_netns);
    // A launch that fails from here on takes the kept sandbox with it: what failed may
    // have been in it (Kubernetes makes a new pod sandbox when one fails).
    struct DropOnFailure {
        HostRuntime* rt;
        std::string app;
        bool armed = false;
        ~DropOnFailure() {
            if (armed) rt->release_sandbox(app);
        }
    } drop_on_failure{this, spec.name, keep};
    if (auto st = prepare_app_files(spec, app_dir, options_.state_dir, hosts); !st) return st.error();

    auto w = std::make_shared<Watch>(io_);
    w->instance = new_instance_id();
    w->init_is_app = !spec.init;
    w->init_path = options_.init_path;
    auto plan = sandbox::make_launch_plan(spec, w->instance, options_.log, files->env);
    plan.secrets = std::move(files->secrets);
    sandbox::SandboxInputs inputs;
    inputs.root_stage = app_dir + "/root";
    inputs.etc_dir = app_dir + "/etc";
    inputs.overlay_upper = options_.state_dir + "/overlay/" + spec.name + "/upper";
    inputs.overlay_work = options_.state_dir + "/overlay/" + spec.name + "/work";
    inputs.config_dir = options_.config_dir;
    if (auto st = sandbox::plan_sandbox(plan, spec, inputs); !st) return st.error();
    sandbox::prune_rotated_logs(log_dir->get(), plan);

    sandbox::SpawnRequest req;
    req.init_path = options_.init_path;
    req.init_fd = init_fd_.get();
    req.plan = &plan;
    req.log_dir_fd = log_dir->get();
    req.run_dir_fd = run_dir->get();
    req.clone_flags = sandbox::namespace_clone_flags(spec);
    // Joins of another app's namespaces (`app:NAME`): the supervisor only launches once
    // NAME runs, and passes its instance, whose sandbox handle has its init's pidfd.
    auto peer_sandbox = [&](const std::string& name) -> Result<supervisor::SandboxHandle> {
        auto it = ctx.peers.find(name);
        auto sandbox = it == ctx.peers.end() || !it->second ? supervisor::SandboxHandle{} : it->second->sandbox();
        if (!sandbox) return Error::msg("app \"" + name + "\" is not running, so its namespaces cannot be joined");
        return sandbox;
    };
    int n = 0;
    auto add_join = [&](const std::string& name, int flag) -> Status {
        auto peer = peer_sandbox(name);
        if (!peer) return peer.error();
        req.joins[n++] = {peer->pidfd, flag};
        return {};
    };
    if (spec.namespaces.pid.kind == NamespaceKind::app) {
        auto peer = peer_sandbox(spec.namespaces.pid.app);
        if (!peer) return peer.error();
        req.join_pid_pidfd = peer->pidfd;
        w->pid_peer = spec.namespaces.pid.app;
        w->pid_peer_fd.reset(::fcntl(peer->pidfd, F_DUPFD_CLOEXEC, 3));
        w->pid_peer_pid = peer->pid;
    }
    if (spec.network.mode == NetworkMode::app)
        if (auto st = add_join(spec.network.app, CLONE_NEWNET); !st) return st.error();
    if (reuse) {
        req.joins[n++] = {kept_netns.get(), CLONE_NEWNET};
        req.clone_flags &= ~static_cast<std::uint64_t>(CLONE_NEWNET);
        plan.flags &= ~static_cast<std::uint32_t>(SB_LOOPBACK);  // lo is up in it already
    }
    if (spec.namespaces.ipc.kind == NamespaceKind::app)
        if (auto st = add_join(spec.namespaces.ipc.app, CLONE_NEWIPC); !st) return st.error();
    if (spec.namespaces.uts.kind == NamespaceKind::app)
        if (auto st = add_join(spec.namespaces.uts.app, CLONE_NEWUTS); !st) return st.error();
    // What the instance holds from here on; a launch that fails gives it back
    // (InstanceResources::release, as the instance's exit does).
    InstanceResources& held = w->resources;
    held.app = spec.name;
    held.keep_sandbox = reuse;
    held.images = std::exchange(mark.source, nullptr);
    // The cgroup exists before the init: on v2 the init is born in it, on v1 its first
    // instructions move it there; with systemd it is attached while it waits.
    cgroup::Placement placement;
    if (options_.cgroups) {
        auto c = options_.cgroups->create(spec.name, spec.resources);
        if (!c) {
            held.release(nullptr);
            return c.error();
        }
        held.cgroup = std::move(*c);
        placement = held.cgroup->placement();
        req.cgroup_dir_fd = placement.cgroup_dir_fd;
        req.cgroup_procs_fds = placement.procs_fds;
    }
    // Work from outside the new namespaces (systemd attach, veth) happens while the
    // init waits on the go pipe.
    // A new sandbox to keep is bound before the init goes on: an app that exits at once
    // leaves no namespace to bind.
    const bool need_go = placement.attach_after_clone || (bridged && !reuse) || (keep && !reuse);
    unique_fd go_r, go_w;
    if (need_go) {
        int gp[2];
        if (::pipe2(gp, O_CLOEXEC) < 0) {
            Error e = os_error("pipe2");
            held.release(nullptr);
            return e;
        }
        go_r.reset(gp[0]);
        go_w.reset(gp[1]);
        req.go_fd = go_r.get();
        plan.flags |= SB_WAIT_GO;
        // Already in its cgroup (born there, or moved by its own first instructions): the
        // init builds the root while the veth is made, and waits only before the app.
        if (!placement.attach_after_clone) plan.flags |= SB_GO_LATE;
        if (bridged) plan.flags &= ~static_cast<std::uint32_t>(SB_LOOPBACK);  // set up with the veth
    }
    auto spawned = sandbox::spawn_init(req);
    if (!spawned) {
        held.release(nullptr);
        return spawned.error();
    }
    go_r.reset();
    sys::crash_point("launch.after-clone");
    // A failure now leaves a waiting init: kill it (closing the go pipe makes it give up
    // anyway) and reap it, then release what it held, so that nothing of this launch
    // remains -- its forwards included, once attach_app() placed them.
    auto abandon = [&](const Error& e) -> Error {
        (void)sys::pidfd_send_signal(spawned->pidfd.get(), SIGKILL);
        siginfo_t si{};
        ::waitid(static_cast<idtype_t>(P_PIDFD), static_cast<id_t>(spawned->pidfd.get()), &si, WEXITED);
        held.release(nullptr);
        return e;
    };
    if (held.cgroup && placement.attach_after_clone)
        if (auto st = held.cgroup->attach(spawned->pid); !st) return abandon(st.error());
    if (bridged && reuse) {
        w->info.address = leased->to_string();  // checked above: eth0 has it
        held.network = options_.network;
    } else if (bridged) {
        auto att = options_.network->attach_app(spec.name, net::NetnsRef::of_fd(spawned->pidfd.get()), pinned,
                                                spec.network.ports);
        if (!att) return abandon(att.error());
        w->info.address = att->address.to_string();
        held.network = options_.network;
        sys::crash_point("launch.after-veth");
    }
    if (keep && !reuse) {
        // Not keeping it is no reason to fail the start: the next one makes a new one.
        if (auto st = kept_.keep(spec.name, spawned->pid, sandbox_key(spec, w->info.address)); !st)
            host::log_warning(spec.name, "network namespace not kept for restarts: " + st.error().to_string());
        else
            held.keep_sandbox = true;
        sys::crash_point("launch.after-keep");
    }
    sys::crash_point("launch.before-go");
    if (go_w && ::write(go_w.get(), "g", 1) != 1) return abandon(os_error("release the init"));
    go_w.reset();
    sys::crash_point("launch.after-go");
    if (bridged) {
        // The app is on the bridge: every running bridged app (this one included) now
        // finds it by name. (Still there from the instance before in a kept sandbox.)
        if (auto addr = net::Ipv4::parse(w->info.address)) {
            auto m = hosts_->members().find(spec.name);
            if (!reuse || m == hosts_->members().end() || m->second.address != *addr ||
                m->second.hostname != spec.effective_hostname())
                hosts_->join(spec.name, {*addr, spec.effective_hostname(), app_dir + "/etc/hosts"});
            held.hosts = hosts_;
        }
    }

    w->run_dir = std::move(*run_dir);
    w->callbacks = std::move(callbacks);
    w->info.init_pid = spawned->pid;
    // Read while the init is our unreaped child: its pid is still its own.
    w->init_start = sys::process_start_time(spawned->pid).value_or(0);
    w->app = spec.name;
    w->record.instance = w->instance;
    w->record.init_pid = spawned->pid;
    w->record.init_start = w->init_start;
    w->record.address = w->info.address;
    w->record.restarts = ctx.restarts;
    w->record.last_exit = ctx.last_exit;
    w->record.spec = defined;  // as the app file says: a later daemon compares it with the file
    if (image) {
        w->info.image = image;
        w->info.stop_signal = spec.stop.signal;
        w->record.image = image;
        w->record.stop_signal = spec.stop.signal;
        run_specs_[spec.name] = spec;
    }
    w->write_record();
    drop_on_failure.armed = false;
    w->pidfd.assign(spawned->pidfd.release());
    w->report.assign(spawned->report.release());
    w->read_report();
    w->wait_exit();
    return make_host_instance(w, options_.init_grace);
}

void HostRuntime::remember_stopped(const std::string& app, bool stopped) {
    std::string dir = options_.run_dir + "/apps/" + app;
    std::string marker = dir + "/stopped";
    if (!stopped) {
        (void)::unlink(marker.c_str());
        return;
    }
    if (auto st = sys::make_dirs(dir, 0755); !st) {
        host::log_warning(app, st.error().to_string());
        return;
    }
    if (auto st = sys::update_file(marker, "stopped by the operator\n"); !st) host::log_warning(app, st.error().to_string());
}

namespace {
constexpr const char* kHistoryFile = "history.json";
constexpr std::size_t kHistoryMax = 64 * 1024;
}  // namespace

void HostRuntime::remember_history(const std::string& app, const supervisor::AppHistory& history) {
    // Only what differs from a fresh app is kept (no file for an app that never ended).
    std::string dir = options_.run_dir + "/apps/" + app;
    std::string path = dir + "/" + kHistoryFile;
    if (history.restarts == 0 && !history.last_exit) {
        (void)::unlink(path.c_str());
        return;
    }
    nlohmann::json j = {{"restarts", history.restarts},
                        {"lastExit", history.last_exit ? nlohmann::json(*history.last_exit) : nlohmann::json(nullptr)}};
    if (auto st = sys::make_dirs(dir, 0755); !st) return host::log_warning(app, st.error().to_string());
    // update_file: written (temp + rename) only when it changed.
    if (auto st = sys::update_file(path, j.dump() + "\n"); !st) host::log_warning(app, st.error().to_string());
}

std::optional<supervisor::AppHistory> HostRuntime::remembered_history(const std::string& app) {
    std::string path = options_.run_dir + "/apps/" + app + "/" + kHistoryFile;
    auto text = sys::read_file(path, kHistoryMax);
    if (!text) return std::nullopt;
    // Read defensively: anything but what remember_history() writes is ignored.
    auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object() || !j.contains("restarts") || !j["restarts"].is_number_unsigned()) {
        host::log_warning(app, path + " is damaged; its restart count starts over");
        return std::nullopt;
    }
    supervisor::AppHistory h;
    h.restarts = j["restarts"].get<std::uint32_t>();
    if (j.contains("lastExit") && j["lastExit"].is_object()) {
        try {
            h.last_exit = j["lastExit"].get<ExitInfo>();
        } catch (const std::exception&) {
        }
    }
    return h;
}

void HostRuntime::forget(const std::string& app) {
    (void)::unlink((options_.run_dir + "/apps/" + app + "/" + kHistoryFile).c_str());
    // The reload that removed the app released nothing of it yet (it was still
    // stopping); its lease would otherwise stay until the next reload or daemon start.
    if (options_.network)
        if (auto st = options_.network->remove_app(app); !st) host::log_warning(app, "network: " + st.error().to_string());
}

void HostRuntime::release_sandbox(const std::string& app) {
    // Cheap when nothing is kept: no forwards means no nftables transaction, no member
    // no rewrite of the hosts files.
    if (options_.network)
        if (auto st = options_.network->detach_app(app); !st) host::log_warning(app, "network: " + st.error().to_string());
    hosts_->leave(app);
    kept_.drop(app);
}

std::set<std::string> HostRuntime::remembered_stopped() { return apps_having(options_.run_dir, "stopped"); }

std::vector<std::string> HostRuntime::recorded_instances() {
    auto apps = apps_having(options_.run_dir, kInstanceRecord);
    return {apps.begin(), apps.end()};
}

std::optional<supervisor::Adoption> HostRuntime::adopt(const std::string& app, supervisor::InstanceCallbacks callbacks) {
    std::string app_dir = options_.run_dir + "/apps/" + app;
    auto run_dir = sys::open_dir(app_dir);
    if (!run_dir) return std::nullopt;
    const std::string record_path = app_dir + "/" + kInstanceRecord;
    // Written by replace (temp + rename), so a damaged record is a disk fault, a crash
    // of the host before the data reached the disk, or a hand edit. Whatever it is, it
    // says nothing trustworthy about which process is ours: a warning, the record goes,
    // and nothing is adopted. The app's old cgroup, if any, is killed by the cgroup
    // reconcile (no live instance names it) before the app starts again, so the
    // instance the record described does not run twice.
    auto text = sys::read_file_at(run_dir->get(), kInstanceRecord, kInstanceRecordMax);
    if (!text && text.error().errno_value == ENOENT) return std::nullopt;
    Result<InstanceRecord> rec = Error::msg("is empty");
    if (!text)
        rec = Error::msg("cannot be read: " + text.error().to_string());
    else if (!text->empty())
        rec = parse_instance_record(app, *text, record_path);
    if (!rec) {
        host::log_warning(app, "instance record " + record_path + " " + rec.error().to_string() + "; not adopted");
        (void)::unlinkat(run_dir->get(), kInstanceRecord, 0);
        return std::nullopt;
    }

    supervisor::Adoption a;
    a.spec = rec->spec;
    a.restarts = rec->restarts;
    a.last_exit = rec->last_exit;
    a.started_at = rec->started_at;
    const std::string instance = rec->instance;
    const pid_t init_pid = rec->init_pid;
    const std::uint64_t init_start = rec->init_start;

    // The pidfd pins the process: checked after it is open, the start time cannot
    // belong to a process that replaced ours under the same PID.
    unique_fd pidfd;
    if (init_pid > 0)
        if (auto fd = sys::pidfd_open(init_pid); fd && sys::process_start_time(init_pid) == init_start)
            pidfd = std::move(*fd);
    std::unique_ptr<cgroup::AppCgroup> cg;
    if (options_.cgroups)
        if (auto c = options_.cgroups->open(app); c) cg = std::move(*c);
    if (pidfd && cg && options_.cgroups->driver() != cgroup::Driver::none) {
        auto pids = cg->pids();
        if (pids && std::find(pids->begin(), pids->end(), init_pid) == pids->end()) {
            host::log_warning(app, "process " + std::to_string(init_pid) +
                                       " matches the record but is not in the app's cgroup; not adopted");
            pidfd.reset();
        }
    }
    const bool bridged = a.spec.network.mode == NetworkMode::bridge && options_.network;

    if (!pidfd) {
        // Ended while no daemon watched: its init recorded how (unless it was killed
        // itself, or the app ran without the init).
        auto exit_text = sys::read_file_at(run_dir->get(), INIT_EXIT_FILE, kExitRecordMax);
        auto recorded = parse_exit_record(exit_text.value_or(""), instance);
        // No record is normal (the init was killed, or the app ran without it); one that
        // is there but unreadable, or another instance's, is worth a word: the exit is
        // then told as unknown.
        if (!recorded && (exit_text || exit_text.error().errno_value != ENOENT))
            host::log_warning(app, "exit record " + app_dir + "/" + INIT_EXIT_FILE +
                                       " is damaged or not this instance's; its exit is unknown");
        ExitInfo exit = exit_while_down(recorded, a.spec.init, std::chrono::system_clock::now());
        InstanceResources left;
        left.app = app;
        left.cgroup = std::move(cg);
        if (bridged) left.network = options_.network;
        // Its kept sandbox waits for the restart policy (the supervisor releases it if
        // the app does not start again).
        left.keep_sandbox = kept_.recorded(app).has_value();
        left.release(&exit);
        (void)::unlinkat(run_dir->get(), kInstanceRecord, 0);
        a.exit = exit;
        return a;
    }

    // What its start read is not on disk anywhere: read it again, for exec plans and
    // the redaction. A file that changed or went meanwhile is no reason to give up a
    // running app; exec then runs without its variables.
    if (auto files = read_start_files(a.spec); !files)
        host::log_warning(app, "adopted, but " + files.error().to_string() +
                                   " (isoctl exec and exec probes run without the envFile variables)");

    // An image app keeps the image it was started with (the recorded id), marked used
    // again; exec plans need its run spec. Not finding it is no reason to give up a
    // running app.
    std::optional<AppSpec> run;
    if (a.spec.rootfs.type == RootfsType::image) {
        if (!rec->image) {
            host::log_warning(app, "adopted, but its instance record names no image (isoctl exec and exec probes "
                                   "cannot enter it, and the image is not protected from removal)");
        } else if (auto r = run_spec(a.spec, rec->image->id, nullptr); !r) {
            host::log_warning(app, "adopted, but its image " + rec->image->id + ": " + r.error().to_string() +
                                       " (isoctl exec and exec probes cannot enter it)");
        } else {
            run = std::move(*r);
            run_specs_[app] = *run;
        }
    }

    auto w = std::make_shared<Watch>(io_);
    w->instance = instance;
    w->init_is_app = !a.spec.init;
    w->info.image = rec->image;
    w->info.stop_signal = rec->stop_signal;
    if (run) w->resources.images = options_.images;
    w->init_path = options_.init_path;
    w->started = true;
    w->app = app;
    w->info.init_pid = init_pid;
    w->init_start = init_start;  // checked above, once the pidfd pinned the process
    w->info.address = rec->address;
    w->info.pid = rec->pid;
    w->info.started_at = a.started_at;
    if (w->info.pid <= 0) w->info.pid = w->host_pid_of_app(0);
    // The main process again, for operators' signals: the same process as recorded
    // (pid and start time, as for the init above), or, for a record without its start
    // time, the init's child under the recorded pid. Either way it must be the init's
    // child: a record edited to name another live process with its start time would
    // otherwise have `isoctl kill` signal that process.
    if (!w->init_is_app && w->info.pid > 0) {
        const auto pid_start = rec->pid_start;
        if (pid_start == 0) {
            w->open_main(w->info.pid, 0);
        } else if (auto fd = sys::pidfd_open(w->info.pid); fd) {
            if (sys::process_start_time(w->info.pid) == pid_start && sys::parent_pid(w->info.pid) == init_pid &&
                sys::pidfd_alive(fd->get()))
                w->main_pidfd = std::move(*fd);
            else {
                // Not ours: never signalled, and not shown as the app's pid either; the
                // init's child is the main process, as for a record without a pid.
                host::log_warning(app, "main process " + std::to_string(w->info.pid) +
                                           " named by the instance record is not the app's (another start time, "
                                           "or not its init's child): ignored");
                w->info.pid = w->host_pid_of_app(0);
                w->open_main(w->info.pid, 0);
                rec->pid = w->info.pid;
                rec->pid_start = w->main_pidfd ? sys::process_start_time(w->info.pid).value_or(0) : 0;
            }
        }
    }
    w->resources.app = app;
    w->resources.cgroup = std::move(cg);
    w->resources.keep_sandbox = kept_.recorded(app).has_value();
    if (bridged) {
        w->resources.network = options_.network;
        if (auto addr = net::Ipv4::parse(w->info.address)) {
            hosts_->join(app, {*addr, a.spec.effective_hostname(), app_dir + "/etc/hosts"});
            w->resources.hosts = hosts_;
        }
    }
    w->run_dir = std::move(*run_dir);
    w->callbacks = std::move(callbacks);
    w->record = std::move(*rec);
    w->pidfd.assign(pidfd.release());
    w->wait_exit();
    a.instance = make_host_instance(w, options_.init_grace);
    return a;
}

Result<std::string> HostRuntime::exec_plan(const AppSpec& defined, const std::vector<std::string>& command,
                                           bool tty) {
    // An image app is entered as its instance runs: over its image's tree, as its user.
    const AppSpec* spec_p = &defined;
    if (defined.rootfs.type == RootfsType::image) {
        auto it = run_specs_.find(defined.name);
        if (it == run_specs_.end()) return Error::msg("app \"" + defined.name + "\" has no running instance to enter");
        spec_p = &it->second;
    }
    const AppSpec& spec = *spec_p;
    AppSpec s = spec;
    s.command = command;
    auto env = launched_env_.find(spec.name);
    auto plan = sandbox::make_launch_plan(s, "exec", options_.log, env == launched_env_.end() ? EnvList{} : env->second);
    if (auto st = sandbox::plan_exec(plan, s, tty); !st) return st.error();
    // Into the app's cgroup before the command runs: its limits apply, its usage counts
    // (issue 4). The cgroup exists while the app runs; without one there is nothing to join.
    if (options_.cgroups)
        if (auto cg = options_.cgroups->open(spec.name); cg) plan.cgroup_procs = (*cg)->procs_files();
    return plan.encode();
}

}  // namespace isolated::runtime
