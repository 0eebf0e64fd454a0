// isolated: wiring only. Parse settings, build the modules, run the one event loop.
#include <grp.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <cstdio>
#include <filesystem>
#include <random>

#include "api/server.hpp"
#include "backend/daemon_backend.hpp"
#include "config/settings.hpp"
#include "host/asio_clock.hpp"
#include "host/log.hpp"
#include "host/notify.hpp"
#include "isolated/app_parser.hpp"
#include "logs/log_store.hpp"
#include "runtime/host_runtime.hpp"
#include "supervisor/supervisor.hpp"

using namespace isolated;

namespace {

Status make_dirs(const std::string& path, mode_t mode) {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return Error::os(ec.value(), "create directory \"" + path + "\"");
    ::chmod(path.c_str(), mode);
    return {};
}

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
    host::LogLevel level;
    host::log_level_from_string(s.log_level, level);
    host::set_log_level(level);

    // Writes to a closed socket must fail with EPIPE, not kill the daemon. Children
    // get default dispositions back in the init.
    ::signal(SIGPIPE, SIG_IGN);
    ::umask(022);

    for (auto [dir, mode] : {std::pair{s.run_dir, 0755}, {s.log_dir, 0750}, {s.state_dir, 0750}})
        if (auto st = make_dirs(dir, static_cast<mode_t>(mode)); !st) {
            host::log_error("", st.error().to_string());
            return 1;
        }
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
    rt_options.log = {s.log_max_size, s.log_max_files};
    rt_options.state_dir = s.state_dir;
    if (!s.config_file.empty()) rt_options.config_dir = std::filesystem::path(s.config_file).parent_path().string();
    runtime::HostRuntime runtime(io, rt_options);
    std::mt19937_64 rng(std::random_device{}());
    supervisor::Supervisor sup(clock, runtime, events,
                               [&rng] { return std::uniform_real_distribution<double>(0.0, 1.0)(rng); });
    logs::LogStore logs(io, s.log_dir, s.log_max_files);
    backend::DaemonBackend backend(sup, events, logs, s.apps_dir, "none");
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

    AppDir apps = load_app_dir(s.apps_dir);
    log_rejected(apps);
    sup.load(apps.apps);
    sup.start_all();
    host::log_info("", "isolated " + std::string(ISOLATED_VERSION) + " listening on " + s.socket_path() + "; " +
                           std::to_string(apps.apps.size()) + " apps, " + std::to_string(apps.rejected.size()) +
                           " rejected");
    host::notify("READY=1\nSTATUS=" + status_line(sup));

    boost::asio::signal_set signals(io, SIGINT, SIGTERM, SIGHUP);
    std::function<void(boost::system::error_code, int)> on_signal = [&](boost::system::error_code e, int sig) {
        if (e) return;
        if (sig == SIGHUP) {
            host::notify("RELOADING=1");
            host::log_info("", "SIGHUP: reloading " + s.apps_dir);
            AppDir fresh = load_app_dir(s.apps_dir);
            log_rejected(fresh);
            sup.reload(fresh);
            host::notify("READY=1\nSTATUS=" + status_line(sup));
        } else if (!sup.shutting_down()) {
            host::log_info("", std::string(sig == SIGINT ? "SIGINT" : "SIGTERM") +
                                   ": stopping every app, dependents first");
            host::notify("STOPPING=1\nSTATUS=stopping apps");
            sup.shutdown([&](std::optional<std::string>) {
                host::log_info("", "all apps stopped; exiting");
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
