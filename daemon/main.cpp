// isolated: wiring only. Parse settings, build the modules, run the one event loop.
#include <fcntl.h>
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <filesystem>
#include <random>

#include "api/server.hpp"
#include "cgroup/cgroup.hpp"
#include "config/settings.hpp"
#include "daemon_backend.hpp"
#include "hooks/host_hook_runner.hpp"
#include "host/asio_clock.hpp"
#include "host/log.hpp"
#include "host/notify.hpp"
#include "image/store.hpp"
#include "image/worker.hpp"
#include "registry/pull.hpp"
#include "image_users.hpp"
#include "isolated/app_parser.hpp"
#include "logs/journal_log.hpp"
#include "logs/log_store.hpp"
#include "net/network.hpp"
#include "probe/probe_manager.hpp"
#include "runtime/host_runtime.hpp"
#include "runtime/sandbox_exec_runner.hpp"
#include "supervisor/supervisor.hpp"
#include "sys/crash_point.hpp"
#include "sys/file.hpp"

using namespace isolated;

namespace {

std::string status_line(const supervisor::Supervisor& sup) {
    auto census = sup.census();
    std::size_t total = 0;
    for (auto& [s, n] : census) total += n;
    std::string line = std::to_string(total) + (total == 1 ? " app" : " apps");
    std::string parts;
    for (auto& [s, n] : census) parts += (parts.empty() ? ": " : ", ") + std::to_string(n) + " " + to_string(s);
    return line + parts;
}

void log_rejected(const AppDir& dir) {
    for (const auto& [name, diags] : dir.rejected)
        for (const auto& d : diags) host::log_error(name, "rejected: " + d.to_string());
}

}  // namespace

int main(int argc, char** argv) {
    auto parsed = config::parse_settings(argc, argv);
    if (!parsed) {
        std::fprintf(stderr, "isolated: %s\n", parsed.error().to_string().c_str());
        return 2;
    }
    if (parsed->help) {
        std::fputs(parsed->help_text.c_str(), stdout);
        return 0;
    }
    if (parsed->version) {
        std::printf("isolated %s\n", ISOLATED_VERSION);
        return 0;
    }
    const config::Settings& s = parsed->settings;
    sys::arm_crash_points();  // ISOLATED_CRASH_AT, a testing aid (tests/soak/)
    host::LogLevel level;
    host::log_level_from_string(s.log_level, level);
    host::set_log_level(level);

    // Writes to a closed socket must fail with EPIPE, not kill the daemon. Children
    // get default dispositions back in the init.
    ::signal(SIGPIPE, SIG_IGN);
    ::umask(022);

    for (auto [dir, mode] : {std::pair{s.run_dir, 0755}, {s.log_dir, 0750}, {s.state_dir, 0750}}) {
        if (auto st = sys::make_dirs(dir, static_cast<mode_t>(mode)); !st) {
            host::log_error("", st.error().to_string());
            return 1;
        }
        // Ones already there get their mode back too (logs and state are not for all).
        ::chmod(dir.c_str(), static_cast<mode_t>(mode));
    }
    // A read-only state dir (a file system remounted read-only after errors, a mistake
    // in a mount unit) does not stop the daemon: the apps it supervises matter more than
    // what it cannot save, and each write that fails says so where it is needed (as
    // systemd runs on when /var is read-only and fails only the units that need it).
    if (::access(s.state_dir.c_str(), W_OK) != 0)
        host::log_warning("", Error::os(errno, "the state dir \"" + s.state_dir + "\"").to_string() +
                                  ": it is read-only to the daemon, which runs on without saving: a bridged app "
                                  "that has no address lease yet, image pulls and loads, and overlay rootfs "
                                  "apps fail to start until it is writable again");
    std::error_code ec;
    std::string init = config::find_init(s, std::filesystem::read_symlink("/proc/self/exe", ec).string());
    if (::access(init.c_str(), X_OK) != 0) {
        host::log_error("", Error::os(errno, "the sandbox init \"" + init + "\"").to_string() +
                                "; set --init-path");
        return 1;
    }

    boost::asio::io_context io(1);
    host::AsioClock clock(io);
    supervisor::EventLog events;
    runtime::HostRuntimeOptions rt_options;
    rt_options.init_path = init;
    rt_options.run_dir = s.run_dir;
    rt_options.log_dir = s.log_dir;
    rt_options.log = {s.log_max_size, s.log_max_files, {}};
    // App output: straight from each app's init to journald when it runs (the journal
    // then holds it, with ISOLATED_APP=), else rotated files in the log dir.
    const char* journal_socket = "/run/systemd/journal/socket";
    bool use_journal = s.log_driver == "journald" ||
                       (s.log_driver == "auto" && ::access(journal_socket, W_OK) == 0 &&
                        ::access("/run/systemd/system", F_OK) == 0);
    if (use_journal) rt_options.log.journal_socket = journal_socket;
    host::log_info("", std::string("app output: ") + (use_journal ? "journald (ISOLATED_APP=<app>)" : "files in " + s.log_dir));
    rt_options.state_dir = s.state_dir;
    if (!s.config_file.empty()) rt_options.config_dir = std::filesystem::path(s.config_file).parent_path().string();
    // Cgroups: one driver for the daemon's life, chosen from the host's layout.
    cgroup::ManagerOptions cg_options;
    cg_options.driver = s.cgroup_driver;
    cg_options.root = s.cgroup_root;
    auto cgroups = cgroup::make_manager(cg_options);
    if (!cgroups) {
        host::log_error("", "cgroups: " + cgroups.error().to_string());
        return 1;
    }
    if (auto st = (*cgroups)->prepare_daemon(); !st) {
        host::log_error("", "cgroups: " + st.error().to_string());
        return 1;
    }
    if ((*cgroups)->driver() == cgroup::Driver::none)
        host::log_warning("", "cgroups: " + (*cgroups)->describe());
    else
        host::log_info("", "cgroups: " + (*cgroups)->describe());
    rt_options.cgroups = cgroups->get();

    // The bridge and the nftables table, in the daemon's network namespace.
    net::NetworkConfig net_config;
    net_config.bridge = s.bridge;
    auto subnet = net::Subnet::parse(s.subnet);
    if (!subnet) {
        host::log_error("", subnet.error().to_string());
        return 1;
    }
    net_config.subnet = *subnet;
    net_config.state_dir = s.state_dir;
    std::string leases_warning;
    auto network = net::Network::open(net_config, &leases_warning);
    if (!network) {
        host::log_error("", "network: " + network.error().to_string());
        return 1;
    }
    if (!leases_warning.empty()) host::log_warning("", "network: " + leases_warning);
    if (auto st = (*network)->start(); !st) {
        host::log_error("", "network: " + st.error().to_string());
        return 1;
    }
    rt_options.network = network->get();

    // envFile values and secrets' contents read at starts: the read-only socket's
    // redaction must know them, and no app file holds them.
    LearnedSecrets learned_secrets;
    rt_options.learned_secrets = &learned_secrets;
    // The image store (issue 14): image apps resolve their image in it at every start
    // (image_users.hpp); the thread its slow work runs on comes below, declared after
    // the store, so it is gone (its job finished) before the store is.
    std::vector<std::string> store_warnings;
    auto image_store = image::Store::open(s.state_dir + "/images", &store_warnings);
    if (!image_store) {
        host::log_error("", "image store: " + image_store.error().to_string());
        return 1;
    }
    for (const auto& w : store_warnings) host::log_warning("", w);
    // Layers and archives are parsed by isolated-unpack, a process of its own: without
    // it the daemon runs, and only pulls and loads fail (naming it).
    if (::access((*image_store)->unpack_helper().c_str(), X_OK) != 0)
        host::log_warning("", Error::os(errno, "the image unpack helper \"" + (*image_store)->unpack_helper() + "\"")
                                      .to_string() +
                                  ": image pulls and loads fail until it is there");
    ImageUsers image_users(**image_store);
    rt_options.images = &image_users;
    runtime::HostRuntime runtime(io, rt_options);
    std::mt19937_64 rng(std::random_device{}());
    auto random = [&rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); };
    // Probes: HTTP/TCP from the daemon's loop with sockets made in the app's netns,
    // exec probes through isolated-init's exec mode inside the sandbox.
    probe::ProbeManager probes(
        io, clock,
        probe::netns_of_init([&](const AppSpec& spec, const supervisor::Instance& inst)
                                 -> std::shared_ptr<probe::ExecRunner> {
            // A dup of the instance's own pidfd of its init, never one reopened by pid.
            auto sandbox = inst.sandbox();
            unique_fd pidfd(sandbox ? ::fcntl(sandbox.pidfd, F_DUPFD_CLOEXEC, 3) : -1);
            if (!pidfd) return nullptr;
            return std::make_shared<runtime::SandboxExecRunner>(
                io, spec, std::move(pidfd), init,
                [&runtime](const AppSpec& sp, const std::vector<std::string>& cmd) {
                    return runtime.exec_plan(sp, cmd, false);
                });
        }),
        random);
    // Failure hooks: host commands in cgroups of their own (daemon/hooks/).
    hooks::HostHookRunner hook_runner(io, events, cgroups->get());
    if (auto n = hook_runner.remove_leftovers())
        host::log_info("", "removed " + std::to_string(n) + " leftover hook cgroups (their hooks killed)");
    supervisor::Supervisor sup(clock, runtime, events, random, &probes, &hook_runner);
    logs::LogStore logs(io, s.log_dir);
    image::Worker image_worker;
    DaemonBackend backend(sup, events, logs, s.apps_dir, std::string(cgroup::to_string((*cgroups)->driver())));
    backend.set_images(
        image_store->get(), &image_worker, [&io](std::function<void()> fn) { boost::asio::post(io, std::move(fn)); },
        s.image_load_max_size);
    {
        registry::PullOptions pull;
        pull.auth_file = s.registry_auth_file;
        pull.certs_dir = s.registry_certs_dir;
        pull.insecure = s.insecure_registries;
        backend.set_pull_defaults(std::move(pull));
    }
    backend.set_image_users(&image_users);
    logs::JournalLog journal(io);
    if (use_journal) backend.set_journal(&journal);
    backend.set_learned_secrets(&learned_secrets);
    backend.set_subnet(subnet->to_string());
    // Leases of apps that are no longer defined (or no longer bridged) are released.
    auto reconcile_network = [&] {
        std::map<std::string, std::optional<net::Ipv4>> bridged;
        std::set<std::string> running;
        for (const auto& st : sup.list()) {
            // Only accepted apps: a file rejected before it was ever accepted is listed
            // too, and must not take an address (nor count as accepted at the next start).
            if (!sup.contains(st.name)) continue;
            auto d = sup.detail(st.name);
            if (!d || d->spec.network.mode != NetworkMode::bridge) continue;
            std::optional<net::Ipv4> pin;
            if (auto p = net::parse_pinned_address(d->spec.network.address); p) pin = *p;
            // A running app keeps the address it has, whatever the leases file says: it
            // is pinned here, so a lost or damaged leases.json (its instance record
            // holds the address) never hands it to another app.
            if (!pin && st.init_pid > 0)
                if (auto a = net::Ipv4::parse(st.address)) pin = *a;
            bridged[st.name] = pin;
            if (st.init_pid > 0) running.insert(st.name);
        }
        // A kept pod sandbox (issue 19) keeps its veth and forwards while its app is
        // between instances; the supervisor releases those of apps that will not start.
        for (const auto& name : runtime.kept_sandboxes())
            if (bridged.count(name)) running.insert(name);
        if (auto r = (*network)->reconcile(bridged, running); !r) host::log_warning("", "network: " + r.error().to_string());
    };
    backend.set_after_reload(reconcile_network);
    backend.set_exec_planner(
        [&runtime](const AppSpec& spec, const std::vector<std::string>& cmd, bool tty) {
            return runtime.exec_plan(spec, cmd, tty);
        },
        init);

    api::ServerOptions opts;
    opts.socket_path = s.socket_path();
    opts.ro_socket_path = s.ro_socket_path();
    if (const group* g = ::getgrnam(s.socket_group.c_str()))
        opts.group = g->gr_gid;
    else
        host::log_info("", "group \"" + s.socket_group + "\" does not exist: only root may use the control socket");
    opts.log = [](std::string_view m) { host::log_info("", m); };
    api::Server server(io, backend, opts);
    if (auto st = server.start(); !st) {
        host::log_error("", st.error().to_string());
        return 1;
    }

    // Who keeps a host port or pinned address that two files claim (check_app_set): at
    // start, the apps the previous daemon had -- an instance record (still running, about
    // to be adopted) or an address lease (a bridged app it had accepted; leases of apps
    // no longer defined are released). Both outlive the daemon in its run and state dirs,
    // so a restart keeps the winner a reload chose. Reloads use the defined apps instead.
    LoadOptions start_options = backend.load_options();
    for (const auto& name : runtime.recorded_instances()) start_options.incumbents.insert(name);
    for (const auto& [name, _] : (*network)->addresses()) start_options.incumbents.insert(name);
    AppDir apps = load_app_dir(s.apps_dir, start_options);
    log_rejected(apps);
    sup.load(apps.apps);
    sup.set_rejected(apps.rejected);
    // Adoption: what an earlier daemon left running keeps running, untouched; what
    // ended meanwhile is handled by its restart policy. Then every cgroup, forward and
    // veth that belongs to no running app goes, and the rest of the apps start.
    auto adopted = sup.adopt_all();
    std::set<std::string> live;
    for (const auto& st : sup.list())
        if (st.init_pid > 0) live.insert(st.name);
    if (auto gone = (*cgroups)->reconcile(live); !gone)
        host::log_warning("", "cgroups: stale app cgroups left in place (removed at their app's next start): " +
                                  gone.error().to_string());
    else if (!gone->empty())
        host::log_info("", "removed " + std::to_string(gone->size()) + " stale app cgroups");
    reconcile_network();
    sup.start_all(adopted);
    host::log_info("", "isolated " + std::string(ISOLATED_VERSION) + " listening on " + s.socket_path() + "; " +
                           std::to_string(apps.apps.size()) + " apps (" + std::to_string(live.size()) +
                           " adopted running), " + std::to_string(apps.rejected.size()) + " rejected");
    std::string last_status = status_line(sup);
    host::notify("READY=1\nSTATUS=" + last_status);

    // The watchdog is pinged from the loop itself: a stalled loop stops the pings and
    // systemd restarts the daemon (the apps stay; the next daemon adopts them). The
    // STATUS= line follows the apps' states.
    boost::asio::steady_timer watchdog(io), status_timer(io);
    std::function<void()> ping;
    if (auto interval = host::watchdog_interval()) {
        host::log_info("", "watchdog: pinging every " + std::to_string(interval->count() / 2000) + " ms");
        ping = [&, half = *interval / 2] {
            host::notify("WATCHDOG=1");
            watchdog.expires_after(half);
            watchdog.async_wait([&](boost::system::error_code e) {
                if (!e) ping();
            });
        };
        ping();
    }
    std::function<void()> refresh_status = [&] {
        status_timer.expires_after(std::chrono::seconds(1));
        status_timer.async_wait([&](boost::system::error_code e) {
            if (e) return;
            if (!sup.shutting_down()) {
                std::string line = status_line(sup);
                if (line != last_status) host::notify("STATUS=" + (last_status = line));
            }
            refresh_status();
        });
    };
    refresh_status();

    // The network as the daemon made it, checked every few seconds and put back if
    // someone deleted the bridge or the table, or changed them (kube-proxy resyncs its
    // rules periodically the same way; docs/DECISIONS.md). A failure is logged once
    // until it changes, not every tick.
    boost::asio::steady_timer network_timer(io);
    std::string last_repair_error;
    std::function<void()> check_network = [&] {
        network_timer.expires_after(std::chrono::seconds(5));
        network_timer.async_wait([&](boost::system::error_code e) {
            if (e) return;
            if (!sup.shutting_down()) {
                // Not sup.list(): that reads every app's usage from its cgroup (six
                // files an app), which made this check cost ~10 ms with 100 apps.
                // Kept sandboxes' veths too: the app's next instance joins them.
                auto attached = sup.launched_with(NetworkMode::bridge);
                for (const auto& name : runtime.kept_sandboxes()) attached.insert(name);
                auto r = (*network)->repair(attached);
                if (!r) {
                    if (r.error().to_string() != last_repair_error)
                        host::log_warning("", "network: " + (last_repair_error = r.error().to_string()));
                } else {
                    last_repair_error.clear();
                    for (const auto& what : *r) host::log_warning("", "network: repaired: " + what);
                }
            }
            check_network();
        });
    };
    check_network();

    boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code e, int sig) {
        if (e) return;
        if (sig == SIGHUP) {
            host::notify("RELOADING=1");
            host::log_info("", "SIGHUP: reloading " + s.apps_dir);
            AppDir fresh = load_app_dir(s.apps_dir, backend.load_options());
            log_rejected(fresh);
            sup.reload(fresh);
            reconcile_network();
            host::notify("READY=1\nSTATUS=" + status_line(sup));
        } else if (sig == SIGTERM && !sup.shutting_down() &&
                   host::job_restarts_service(host::service_job_type())) {
            // `systemctl restart`, a package upgrade: a new daemon follows at once and
            // adopts the apps, which keep running meanwhile (docs/DECISIONS.md).
            host::log_info("", "SIGTERM under a restart of the service: leaving the apps running for the next daemon");
            host::notify("STOPPING=1\nSTATUS=restarting; apps keep running");
            hook_runner.shutdown();  // hooks are the daemon's own work: they do not outlive it
            server.stop();
            io.stop();
            return;
        } else if (!sup.shutting_down()) {
            host::log_info("", std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                   ": stopping every app, dependents first");
            host::notify("STOPPING=1\nSTATUS=stopping apps");
            sup.shutdown([&](std::optional<std::string>) {
                host::log_info("", "all apps stopped; exiting");
                hook_runner.shutdown();
                // Nothing runs any more: the table and the bridge go too.
                runtime.shutdown_cleanup();
                if (auto st = (*network)->shutdown_cleanup(); !st)
                    host::log_warning("", "network: " + st.error().to_string());
                if (auto st = (*cgroups)->remove_root(); !st)
                    host::log_warning("", "cgroups: " + st.error().to_string());
                server.stop();
                io.stop();
            });
        } else {
            host::log_info("", "already stopping; waiting for the apps' stop timeouts");
        }
        signals.async_wait(on_signal);
    };
    signals.async_wait(on_signal);

    io.run();
    return 0;
}
