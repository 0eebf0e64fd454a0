// The watch of a running instance, launched or adopted: the init's pidfd and report
// pipe on the daemon's loop, the app's main process, the exit (the init's exit record,
// waitid, or the kernel's PIDFD_GET_INFO) and what the instance holds until then. The
// Instance the supervisor gets (make_host_instance) signals, kills and reads usage
// through it. Internal to daemon/runtime/: HostRuntime fills a Watch and starts it.
#pragma once

#include <sys/types.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>

#include "isolated/unique_fd.hpp"
#include "runtime/instance_record.hpp"
#include "runtime/instance_resources.hpp"
#include "sandbox/init_protocol.h"
#include "supervisor/runtime.hpp"

namespace isolated::runtime {

// State shared between the Instance (owned by the supervisor) and the handlers
// pending on the loop. The Instance's destructor marks it detached and cancels the
// handlers; nothing is killed.
struct Watch : std::enable_shared_from_this<Watch> {
    explicit Watch(boost::asio::io_context& io)
        : pidfd(io), report(io), grace_timer(io), status_timer(io), drop_timer(io) {}

    boost::asio::posix::stream_descriptor pidfd;
    boost::asio::posix::stream_descriptor report;
    boost::asio::steady_timer grace_timer;
    boost::asio::steady_timer status_timer;  // waiting for the kernel to know the init's status
    int status_tries = 50;                   // of 20 ms each
    boost::asio::steady_timer drop_timer;    // looks at the init's log-dropped record
    std::uint64_t drops_warned = 0;          // dropped log lines the last warning counted
    int drop_quiet_checks = 0;               // checks left before the next warning may go
    /// `namespaces.pid: app:NAME`: NAME and a pidfd of NAME's init at launch, whose
    /// exit takes this sandbox's processes with it (the kernel kills the namespace).
    std::string pid_peer;
    unique_fd pid_peer_fd;
    pid_t pid_peer_pid = 0;
    unique_fd run_dir;
    std::string instance;
    supervisor::InstanceCallbacks callbacks;
    supervisor::InstanceInfo info;
    std::uint64_t init_start = 0;  // the init's start time (sys::process_start_time)
    init_report msg{};
    std::optional<std::string> failure;  // from a REPORT_FAILED
    bool detached = false;
    bool exited = false;

    bool started = false;
    bool init_is_app = false;  // "init": false -- the init execs the app itself
    /// The app's main process (the init's child) once it is known, for operators'
    /// signals; with "init": false the init's own pidfd is the main process's.
    unique_fd main_pidfd;
    std::string init_path;  // the isolated-init binary, to tell its processes apart
    std::string app;
    /// The cgroup, the forwards, the hosts files: released once the exit is handled.
    InstanceResources resources;
    InstanceRecord record;  // the instance record, as last written

    /// Writes `record` to the run dir (a failure is logged: only adoption needs it).
    void write_record();
    /// Starts reading the init's report pipe (`report`, launched instances only).
    void read_report();
    /// Starts waiting for the init's pidfd (`pidfd`) to signal its exit.
    void wait_exit();
    /// Every 5 s until the exit: warns in the daemon's log when the init dropped log
    /// lines (a full log dir), at once for the first ones, then at most once a minute
    /// while more are dropped.
    void watch_log_drops();

    /// The app's pid as the host sees it: the init's child that has the pid the report
    /// carries inside the sandbox's pid namespace (`reported`), or, when that is not
    /// known (adoption), its first child -- the app, forked before anything else.
    pid_t host_pid_of_app(pid_t reported) const;
    /// Takes `main_pidfd` on the main process `pid`, only while it is the init's child
    /// (and has the pid `reported` inside the sandbox when that is known).
    void open_main(pid_t pid, pid_t reported);

private:
    void handle_report();
    void drain_report();
    ExitInfo init_killed_exit() const;
    void handle_exit();
};

/// The supervisor's Instance over a started Watch. GRACE: after kill_all(), how long
/// the init may take to record the exit and leave before it is killed as well.
std::unique_ptr<supervisor::Instance> make_host_instance(std::shared_ptr<Watch> watch, Duration grace);

/// Words an init failure report for operators: `command "x" not found on PATH`,
/// `exec "/bin/x": EACCES (Permission denied)`.
std::string describe_init_failure(int step, int err, const std::string& detail);

}  // namespace isolated::runtime
