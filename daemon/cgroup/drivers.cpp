// The cgroupfs building blocks the v2, v1 and systemd drivers share (drivers.hpp).
#include <errno.h>
#include <time.h>

#include "cgroup/drivers.hpp"
#include "cgroup/fs.hpp"

namespace isolated::cgroup {

Status make_dirs(const std::string& base, const std::string& rel, const MkdirHook& hook) {
    std::string cur = base;
    size_t pos = 0;
    while (pos <= rel.size()) {
        size_t slash = rel.find('/', pos);
        if (slash == std::string::npos) slash = rel.size();
        std::string part = rel.substr(pos, slash - pos);
        pos = slash + 1;
        if (part.empty() || part == ".") continue;
        cur += "/" + part;
        bool created = false;
        if (auto r = sys::make_dir(cur, 0755, &created); !r) return r;
        if (created && hook) hook(cur);
    }
    return {};
}

bool poll_for(const std::function<bool()>& done, std::chrono::milliseconds limit) {
    auto end = std::chrono::steady_clock::now() + limit;
    while (true) {
        if (done()) return true;
        if (std::chrono::steady_clock::now() >= end) return done();
        timespec ts{0, 1000000};
        ::nanosleep(&ts, nullptr);
    }
}

Status remove_with_retry(const std::vector<std::string>& dirs, const std::function<Status()>& kill) {
    Status last;
    for (int attempt = 0; attempt < 100; ++attempt) {
        last = {};
        bool busy = false;
        for (auto& d : dirs) {
            auto r = rmdir_recursive(d);
            if (!r) {
                if (r.error().errno_value != EBUSY) return r;
                busy = true;
                last = r;
            }
        }
        if (!busy) return {};
        if (kill) (void)kill();
        timespec ts{0, 10 * 1000000};
        ::nanosleep(&ts, nullptr);
    }
    // Still busy after ~1 s of kills: a process that cannot die (frozen by someone
    // else, stuck in the kernel). Say so, naming the cgroup; the caller decides.
    return Error{EBUSY, "cgroup busy: a process in it did not exit after SIGKILL; " + last.error().message};
}

}  // namespace isolated::cgroup
