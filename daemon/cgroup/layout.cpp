#include "cgroup/layout.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <sstream>

#include "cgroup/fs.hpp"
#include "cgroup/limits.hpp"

namespace isolated::cgroup {
namespace {

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    size_t start = 0;
    while (true) {
        size_t p = s.find(sep, start);
        out.push_back(s.substr(start, p == std::string_view::npos ? std::string_view::npos : p - start));
        if (p == std::string_view::npos) break;
        start = p + 1;
    }
    return out;
}

// mountinfo escapes space, tab, newline and backslash as \ooo (fs/proc_namespace.c).
std::string unescape_octal(std::string_view s) {
    std::string out;
    auto octal = [&](size_t k) { return k < s.size() && s[k] >= '0' && s[k] <= '7'; };
    for (size_t i = 0; i < s.size(); ++i) {
        if (s[i] == '\\' && octal(i + 1) && octal(i + 2) && octal(i + 3)) {
            out += static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0'));
            i += 3;
            continue;
        }
        out += s[i];
    }
    return out;
}

}  // namespace

std::vector<MountEntry> parse_mountinfo(std::string_view text) {
    std::vector<MountEntry> out;
    for (auto line : split(text, '\n')) {
        if (line.empty()) continue;
        std::vector<std::string_view> f;
        for (auto w : split(line, ' '))
            if (!w.empty()) f.push_back(w);
        // id parent maj:min root mountpoint options [optional...] - fstype source superopts
        auto dash = std::find(f.begin(), f.end(), std::string_view("-"));
        if (f.size() < 7 || dash == f.end() || dash - f.begin() < 6 || f.end() - dash < 3) continue;
        MountEntry e;
        e.root = unescape_octal(f[3]);
        e.mount_point = unescape_octal(f[4]);
        e.fstype = std::string(*(dash + 1));
        for (auto o : split(*(dash + 3), ','))
            if (!o.empty()) e.super_options.emplace_back(o);
        out.push_back(std::move(e));
    }
    return out;
}

std::vector<ProcCgroupEntry> parse_proc_cgroup(std::string_view text) {
    std::vector<ProcCgroupEntry> out;
    for (auto line : split(text, '\n')) {
        if (line.empty()) continue;
        // The path may itself contain ':' -- split on the first two only.
        size_t a = line.find(':');
        if (a == std::string_view::npos) continue;
        size_t b = line.find(':', a + 1);
        if (b == std::string_view::npos) continue;
        auto id = parse_i64(line.substr(0, a));
        if (!id) continue;
        ProcCgroupEntry e;
        e.id = static_cast<int>(*id);
        for (auto c : split(line.substr(a + 1, b - a - 1), ','))
            if (!c.empty()) e.controllers.emplace_back(c);
        e.path = std::string(line.substr(b + 1));
        out.push_back(std::move(e));
    }
    return out;
}

std::optional<std::string> relative_to_mount(const std::string& path, const std::string& mount_root) {
    if (mount_root == "/" || mount_root.empty()) return path.empty() ? std::string("/") : path;
    if (path == mount_root) return std::string("/");
    if (path.size() > mount_root.size() && path.compare(0, mount_root.size(), mount_root) == 0 &&
        path[mount_root.size()] == '/')
        return path.substr(mount_root.size());
    return std::nullopt;
}

Layout layout_from(std::string_view mountinfo, std::string_view proc_cgroup, const std::string& fs_prefix,
                   bool systemd_booted, const std::string& unified_controllers_text) {
    Layout l;
    l.systemd_booted = systemd_booted;
    // Several cgroup2 mounts can exist (bind mounts, containers): prefer the canonical
    // places, pure v2 first.
    std::optional<MountEntry> unified;
    auto rank = [](const std::string& mp) {
        if (mp == "/sys/fs/cgroup") return 0;
        if (mp == "/sys/fs/cgroup/unified") return 1;
        return 2;
    };
    for (auto& m : parse_mountinfo(mountinfo)) {
        if (m.fstype == "cgroup2") {
            if (!unified || rank(m.mount_point) < rank(unified->mount_point)) unified = m;
        } else if (m.fstype == "cgroup") {
            for (auto& c : v1_controllers()) {
                if (l.v1.count(c)) continue;
                if (std::find(m.super_options.begin(), m.super_options.end(), c) != m.super_options.end()) {
                    l.v1[c] = fs_prefix + m.mount_point;
                    l.v1_mount_root[c] = m.root;
                }
            }
        }
    }
    if (unified) {
        l.unified = fs_prefix + unified->mount_point;
        l.unified_mount_root = unified->root;
        std::istringstream in(unified_controllers_text);
        std::string c;
        while (in >> c) l.unified_controllers.insert(c);
        for (auto& e : parse_proc_cgroup(proc_cgroup))
            if (e.id == 0 && e.controllers.empty()) l.own_unified = relative_to_mount(e.path, unified->root);
    }
    return l;
}

Result<Layout> detect_layout(const std::string& fs_prefix, const std::string& proc_self) {
    auto mi = read_file(proc_self + "/mountinfo");
    if (!mi) return mi.error();
    auto pc = read_file(proc_self + "/cgroup");
    if (!pc) return pc.error();
    struct stat st;
    bool booted = ::stat((fs_prefix + "/run/systemd/system").c_str(), &st) == 0 && S_ISDIR(st.st_mode);
    Layout probe = layout_from(*mi, *pc, fs_prefix, booted, "");
    std::string controllers;
    if (probe.unified) {
        auto c = read_file(*probe.unified + "/cgroup.controllers");
        if (c) controllers = *c;
    }
    return layout_from(*mi, *pc, fs_prefix, booted, controllers);
}

Driver auto_driver(const Layout& l) {
    if (l.systemd_booted) return Driver::systemd;
    for (const char* c : {"memory", "cpu", "pids"})
        if (l.v1.count(c)) return Driver::v1;
    if (l.unified) return Driver::v2;
    return Driver::none;
}

bool is_app_name(std::string_view s) {
    if (s.empty() || s.size() > 32) return false;
    auto ok = [](char c, bool first) {
        return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || (!first && c == '-');
    };
    for (size_t i = 0; i < s.size(); ++i)
        if (!ok(s[i], i == 0)) return false;
    return true;
}

bool is_hook_name(std::string_view s) {
    auto dot = s.find('.');
    if (dot == std::string_view::npos || !is_app_name(s.substr(0, dot))) return false;
    auto word = s.substr(dot + 1);
    if (word.empty() || word.size() > 16) return false;
    for (char c : word)
        if (c < 'a' || c > 'z') return false;
    return true;
}

}  // namespace isolated::cgroup
