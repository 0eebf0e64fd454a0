// The daemon's HookRunner: runs an app's hooks.onFailure / onUnhealthy / onOOM command
// on the host (docs/man/isolated.app.5.scd, "Hooks"; docs/DECISIONS.md, issue 16).
//
//   - stdin: the event as one JSON line (the shape of a GET /v1/events item), from a
//     sealed memfd (nothing to write, nothing to block on);
//   - environment: ISOLATED_APP, ISOLATED_EVENT (failure|unhealthy|oom) and a fixed
//     PATH, nothing of the daemon's;
//   - as the hook's user (resolved at each run), in a session of its own, in a cgroup of
//     its own (cgroup::Manager::create_hook: <root>/_hooks/<app>.<kind>, or the scope
//     isolated-<app>.<kind>.scope under systemd), removed when it ends;
//   - stdout and stderr into the daemon's log, line by line, prefixed with the app and
//     the hook, bounded per run;
//   - watched on the loop through its pidfd; at its timeout everything in its cgroup
//     (and its process group) is SIGKILLed;
//   - at most one run per app and kind: a transition while the last one still runs is
//     not handed to a second copy (systemd's OnFailure= does not start a unit that is
//     already active), and an event says so.
// Failures -- could not run (user unknown, exec failed), non-zero exit, killed by a
// signal, killed at the timeout -- are `hook` events of the app; a success is a log line.
#pragma once

#include <cstddef>
#include <map>
#include <memory>
#include <string>

#include <boost/asio/io_context.hpp>

#include "cgroup/cgroup.hpp"
#include "supervisor/event_log.hpp"
#include "supervisor/hook_runner.hpp"

namespace isolated::hooks {

/// Output of one run that reaches the daemon's log; the rest is counted, not logged.
inline constexpr std::size_t max_logged_output = 16 * 1024;
/// A longer output line is cut there.
inline constexpr std::size_t max_logged_line = 1024;
/// The hook's PATH (systemd's default for services).
inline constexpr const char* hook_path = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

class HostHookRunner final : public supervisor::HookRunner {
public:
    /// `cgroups`: where each run gets its cgroup (null = none, as with --cgroup-driver
    /// none: only the process group is killed at the timeout).
    HostHookRunner(boost::asio::io_context& io, supervisor::EventLog& events, cgroup::Manager* cgroups);
    /// shutdown().
    ~HostHookRunner() override;
    HostHookRunner(const HostHookRunner&) = delete;
    HostHookRunner& operator=(const HostHookRunner&) = delete;

    void run(const std::string& app, supervisor::HookKind kind, const HookSpec& hook, const AppEvent& event) override;

    /// Daemon start, before any run: kills and removes the hook cgroups a daemon that
    /// died without its shutdown left (their hooks with them). Returns how many.
    std::size_t remove_leftovers();
    /// Daemon exit: kills every running hook (its cgroup and its process group), reaps
    /// it and removes its cgroup; later run()s are refused. Idempotent.
    void shutdown();
    /// Hooks running now.
    std::size_t running() const { return runs_.size(); }

private:
    struct Run;
    /// A `hook` event of `app` (and a warning in the log).
    void publish(const std::string& app, const std::string& message);
    void finished(const std::shared_ptr<Run>& run);

    boost::asio::io_context& io_;
    supervisor::EventLog& events_;
    cgroup::Manager* cgroups_;
    std::map<std::string, std::shared_ptr<Run>> runs_;  // by "<app>.<kind>"
    bool shut_down_ = false;
};

}  // namespace isolated::hooks
