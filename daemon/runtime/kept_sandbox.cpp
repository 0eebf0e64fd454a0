#include "runtime/kept_sandbox.hpp"

#include <dirent.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <linux/nsfs.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "runtime/run_files.hpp"
#include "sys/file.hpp"

namespace isolated::runtime {

namespace {
constexpr const char* kRecord = "sandbox.json";
constexpr std::size_t kRecordMax = 64 * 1024;
}  // namespace

bool keeps_sandbox(const AppSpec& spec) {
    return spec.network.mode == NetworkMode::bridge || spec.network.mode == NetworkMode::none;
}

SandboxKey sandbox_key(const AppSpec& spec, const std::string& address) {
    SandboxKey k;
    k.mode = to_string(spec.network.mode);
    k.hostname = spec.effective_hostname();
    if (spec.network.mode == NetworkMode::bridge) {
        k.pinned = spec.network.address;
        for (const auto& p : spec.network.ports)
            k.ports += std::to_string(p.host) + ":" + std::to_string(p.app) + "/" + to_string(p.protocol) + "@" +
                       p.host_address + ";";
        k.address = address;
    }
    return k;
}

Status KeptSandboxes::ensure_dir() {
    if (dir_ready_) return {};
    const std::string dir = run_dir_ + "/netns";
    if (auto st = sys::make_dir(dir, 0755); !st) return st;
    // ip/ipnetns.c: make the directory a shared mount point, binding it on itself when
    // it is not a mount point yet (EINVAL), so that an unmount of a namespace file
    // propagates to the copies other mount namespaces took of it.
    bool bound = false;
    while (::mount("", dir.c_str(), "none", MS_SHARED | MS_REC, nullptr) < 0) {
        if (errno != EINVAL || bound) return os_error("make \"" + dir + "\" a shared mount point");
        if (::mount(dir.c_str(), dir.c_str(), "none", MS_BIND | MS_REC, nullptr) < 0)
            return os_error("bind \"" + dir + "\" on itself");
        bound = true;
    }
    dir_ready_ = true;
    return {};
}

Status KeptSandboxes::keep(const std::string& app, pid_t pid, const SandboxKey& key) {
    drop(app);
    if (auto st = ensure_dir(); !st) return st;
    // The record first: a bind mount without one (a crash in between) is dropped as
    // damaged, never reused for a definition nobody recorded.
    nlohmann::json j = {{"mode", key.mode},         {"pinned", key.pinned},   {"hostname", key.hostname},
                        {"ports", key.ports},       {"address", key.address}};
    if (auto st = sys::update_file(record_path(app), j.dump() + "\n"); !st) return st;
    const std::string target = netns_path(app);
    int fd = ::open(target.c_str(), O_RDONLY | O_CREAT | O_CLOEXEC, 0444);
    if (fd < 0) {
        Error e = os_error("create \"" + target + "\"");
        drop(app);
        return e;
    }
    ::close(fd);
    const std::string source = "/proc/" + std::to_string(pid) + "/ns/net";
    if (::mount(source.c_str(), target.c_str(), "none", MS_BIND, nullptr) < 0) {
        Error e = os_error("bind " + source + " on \"" + target + "\"");
        drop(app);
        return e;
    }
    return {};
}

std::optional<SandboxKey> KeptSandboxes::recorded(const std::string& app) const {
    auto text = sys::read_file(record_path(app), kRecordMax);
    if (!text) return std::nullopt;
    // Read defensively: anything but what keep() writes is no record.
    auto j = nlohmann::json::parse(*text, nullptr, /*allow_exceptions=*/false);
    if (!j.is_object()) return std::nullopt;
    SandboxKey k;
    for (auto [name, field] : {std::pair{"mode", &k.mode}, {"pinned", &k.pinned}, {"hostname", &k.hostname},
                               {"ports", &k.ports}, {"address", &k.address}}) {
        auto it = j.find(name);
        if (it == j.end() || !it->is_string()) return std::nullopt;
        *field = it->get<std::string>();
    }
    return k;
}

Result<unique_fd> KeptSandboxes::open(const std::string& app) const {
    const std::string path = netns_path(app);
    unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW));
    if (!fd) return os_error("open \"" + path + "\"");
    // The empty file under an unmounted (or never mounted) path is no namespace; nor is
    // anything but a network namespace.
    struct statfs sfs;
    if (::fstatfs(fd.get(), &sfs) < 0) return os_error("statfs \"" + path + "\"");
    if (sfs.f_type != NSFS_MAGIC) return Error::msg("\"" + path + "\" is not a namespace (not mounted)");
    if (::ioctl(fd.get(), NS_GET_NSTYPE) != CLONE_NEWNET)
        return Error::msg("\"" + path + "\" is not a network namespace");
    return fd;
}

void KeptSandboxes::drop(const std::string& app) {
    const std::string path = netns_path(app);
    // Every mount stacked there (a bind repeated by a crash between keep's steps).
    while (::umount2(path.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
    }
    (void)::unlink(path.c_str());
    (void)::unlink(record_path(app).c_str());
}

bool KeptSandboxes::has(const std::string& app) const {
    return ::access(netns_path(app).c_str(), F_OK) == 0 || ::access(record_path(app).c_str(), F_OK) == 0;
}

std::set<std::string> KeptSandboxes::list() const {
    std::set<std::string> out = apps_having(run_dir_, kRecord);
    const std::string dir = run_dir_ + "/netns";
    if (DIR* d = ::opendir(dir.c_str())) {
        while (dirent* e = ::readdir(d)) {
            std::string name = e->d_name;
            if (name == "." || name == "..") continue;
            out.insert(name);
        }
        ::closedir(d);
    }
    return out;
}

void KeptSandboxes::unmount_dir_if_empty() {
    const std::string dir = run_dir_ + "/netns";
    if (!list().empty()) return;
    while (::umount2(dir.c_str(), MNT_DETACH | UMOUNT_NOFOLLOW) == 0) {
    }
    (void)::rmdir(dir.c_str());
    dir_ready_ = false;
}

}  // namespace isolated::runtime
