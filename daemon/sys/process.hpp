// Process-level syscalls used by the runtime: pidfds, signals through pidfds, and
// walking a process tree through /proc. No policy, no logging.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "isolated/result.hpp"
#include "isolated/unique_fd.hpp"

namespace isolated::sys {

/// pidfd_open(2), CLOEXEC.
Result<unique_fd> pidfd_open(pid_t pid);
/// pidfd_send_signal(2). ESRCH when the process is gone.
Status pidfd_send_signal(int pidfd, int sig);

/// Direct children of `pid` (all its threads), from /proc/PID/task/*/children.
std::vector<pid_t> children_of(pid_t pid);

/// SIGKILLs every descendant of `root` (not `root` itself), walking the tree again
/// until a walk finds none or `max_rounds` is reached (a process may fork while we
/// walk). Descendants whose parent dies are re-parented to the nearest subreaper --
/// the init -- so they stay in the tree for the next round.
void kill_descendants(pid_t root, int max_rounds = 50);

/// The wait status (as waitpid(2) gives it) of the process behind `pidfd`, for any
/// process, not only a child: PIDFD_GET_INFO with PIDFD_INFO_EXIT (Linux 6.15). Known
/// once the process has been reaped (by whoever is its parent); nullopt before, on
/// older kernels, or on error.
std::optional<int> pidfd_exit_status(int pidfd);

/// The process's start time in clock ticks since boot (/proc/PID/stat field 22):
/// with the pid, a unique identity (a recycled pid has another start time).
std::optional<std::uint64_t> process_start_time(pid_t pid);

/// The process is on its way out: PF_EXITING in its flags (/proc/PID/stat field 9),
/// set from the start of its exit on (a pid namespace's init stays there until every
/// process of its namespace is reaped), or there is no such process.
bool process_exiting(pid_t pid);

/// The parent of `pid` (/proc/PID/stat field 4); nullopt when unreadable.
std::optional<pid_t> parent_pid(pid_t pid);

/// Where /proc/PID/exe points ("/usr/sbin/nginx", "/memfd:isolated-init (deleted)");
/// "" when unreadable.
std::string exe_path(pid_t pid);

/// The process behind `pidfd` has not been reaped yet (a zombie still counts): what was
/// read about its pid from /proc since the pidfd was opened was about this process.
bool pidfd_alive(int pidfd);

/// The pid of `pid`'s process in the innermost pid namespace it is in (last NSpid
/// field of /proc/PID/status); nullopt when unreadable.
std::optional<pid_t> innermost_pid(pid_t pid);

}  // namespace isolated::sys
