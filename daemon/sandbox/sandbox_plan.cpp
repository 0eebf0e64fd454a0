#include "sandbox/sandbox_plan.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <sstream>

#include "isolated/unique_fd.hpp"
#include "sandbox/init_protocol.h"
#include "sandbox/security.hpp"
#include "sandbox/start_files.hpp"
#include "sys/file.hpp"

namespace isolated::sandbox {
namespace {

MountStep step(std::uint32_t op, std::string target, std::uint32_t flags = 0) {
    MountStep s;
    s.op = op;
    s.target = std::move(target);
    s.flags = flags;
    return s;
}

MountStep fs(std::string fstype, std::string target, std::string data, std::uint64_t attr,
             std::uint32_t flags = MF_MKDIR) {
    MountStep s = step(MOP_FS, std::move(target), flags);
    s.fstype = std::move(fstype);
    s.data = std::move(data);
    s.attr = attr;
    return s;
}

MountStep bind_step(std::string source, std::string target, std::uint32_t flags) {
    MountStep s = step(MOP_BIND, std::move(target), flags);
    s.source = std::move(source);
    return s;
}

MountStep mkdir_step(std::string target, std::uint32_t mode) {
    MountStep s = step(MOP_MKDIR, std::move(target));
    s.mode = mode;
    return s;
}

MountStep symlink_step(std::string target, std::string text) {
    MountStep s = step(MOP_SYMLINK, std::move(target));
    s.source = std::move(text);
    return s;
}

MountStep node(std::string target, std::uint32_t major, std::uint32_t minor) {
    MountStep s = step(MOP_MKNOD, std::move(target));
    s.mode = 0666;
    s.major = major;
    s.minor = minor;
    return s;
}

bool valid_option_value(const std::string& v) { return v.find(',') == std::string::npos; }

// /proc, /sys and /dev: the same for every rootfs type (runc's defaults, Docker's masks).
void add_kernel_filesystems(std::vector<MountStep>& out, const AppSpec& spec) {
    out.push_back(fs("proc", "/proc", "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    out.push_back(fs("sysfs", "/sys", "", MOUNT_ATTR_RDONLY | MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    out.push_back(fs("tmpfs", "/dev", "mode=0755,size=65536k", MOUNT_ATTR_NOSUID | MOUNT_ATTR_STRICTATIME));
    out.push_back(node("/dev/null", 1, 3));
    out.push_back(node("/dev/zero", 1, 5));
    out.push_back(node("/dev/full", 1, 7));
    out.push_back(node("/dev/random", 1, 8));
    out.push_back(node("/dev/urandom", 1, 9));
    out.push_back(node("/dev/tty", 5, 0));
    // Every entry of /dev's own tmpfs before the mounts below it: the init makes them
    // relative to the tmpfs it has just attached, before an attach makes it look again.
    out.push_back(symlink_step("/dev/ptmx", "pts/ptmx"));
    out.push_back(symlink_step("/dev/fd", "/proc/self/fd"));
    out.push_back(symlink_step("/dev/stdin", "/proc/self/fd/0"));
    out.push_back(symlink_step("/dev/stdout", "/proc/self/fd/1"));
    out.push_back(symlink_step("/dev/stderr", "/proc/self/fd/2"));
    out.push_back(fs("devpts", "/dev/pts", "newinstance,ptmxmode=0666,mode=0620,gid=5",
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NOEXEC));
    out.push_back(fs("tmpfs", "/dev/shm", "mode=1777,size=65536k",
                     MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
    if (spec.namespaces.ipc.kind == NamespaceKind::private_)
        out.push_back(fs("mqueue", "/dev/mqueue", "", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
}

// The host's root, read-only and without its secrets, over an empty tmpfs.
void add_host_root(std::vector<MountStep>& out, const SandboxInputs& in) {
    for (const char* d : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"}) {
        auto e = in.probe(d);
        if (e.kind == HostEntry::symlink)
            out.push_back(symlink_step(d, e.link));
        else if (e.kind == HostEntry::directory)
            out.push_back(bind_step(d, d, MF_READONLY | MF_RECURSIVE | MF_MKDIR));
    }
    out.push_back(bind_step("/etc", "/etc", MF_READONLY | MF_RECURSIVE | MF_MKDIR));
    std::vector<std::string> secrets = {"/etc/shadow",  "/etc/shadow-",        "/etc/gshadow", "/etc/gshadow-",
                                        "/etc/sudoers", "/etc/sudoers.d",      "/etc/ssl/private",
                                        "/etc/security/opasswd", in.config_dir};
    for (const char* key : {"rsa", "ecdsa", "ed25519", "dsa"})
        secrets.push_back(std::string("/etc/ssh/ssh_host_") + key + "_key");
    // isolated's own configuration (app files, /etc/isolated/secrets) wherever it is under
    // a tree bound above (--config may be /usr/local/etc/isolated/...); elsewhere the
    // sandbox has an empty directory of its own and nothing to mask.
    auto under = [](const std::string& path, std::string_view dir) {
        return path.size() > dir.size() && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
    };
    for (const auto& s : secrets) {
        bool bound = under(s, "/etc");
        for (const char* d : {"/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32"})
            bound = bound || (s == in.config_dir && under(s, d));
        if (bound) out.push_back(step(MOP_MASK, s));
    }
    out.push_back(mkdir_step("/root", 0700));
    out.push_back(mkdir_step("/home", 0755));
    out.push_back(mkdir_step("/mnt", 0755));
    out.push_back(mkdir_step("/opt", 0755));
    out.push_back(mkdir_step("/srv", 0755));
    out.push_back(fs("tmpfs", "/tmp", "mode=1777", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    out.push_back(fs("tmpfs", "/run", "mode=0755", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    out.push_back(mkdir_step("/run/lock", 01777));
    // A private, empty /var with the usual skeleton (the host's /var holds other
    // services' data and logs; apps get theirs through volumes).
    out.push_back(fs("tmpfs", "/var", "mode=0755", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    for (const char* d : {"/var/cache", "/var/lib", "/var/log", "/var/spool", "/var/mail", "/var/opt", "/var/local"})
        out.push_back(mkdir_step(d, 0755));
    out.push_back(mkdir_step("/var/tmp", 01777));
    out.push_back(symlink_step("/var/run", "/run"));
    out.push_back(symlink_step("/var/lock", "/run/lock"));
}

}  // namespace

HostEntry probe_host(const std::string& path) {
    struct stat st;
    HostEntry e;
    if (::lstat(path.c_str(), &st) < 0) return e;
    if (S_ISDIR(st.st_mode)) {
        e.kind = HostEntry::directory;
    } else if (S_ISLNK(st.st_mode)) {
        e.kind = HostEntry::symlink;
        char buf[4096];
        ssize_t n = ::readlink(path.c_str(), buf, sizeof buf);
        if (n > 0) e.link.assign(buf, static_cast<size_t>(n));
    } else if (S_ISREG(st.st_mode)) {
        e.kind = HostEntry::file;
    } else {
        e.kind = HostEntry::other;
    }
    return e;
}

std::uint64_t namespace_clone_flags(const AppSpec& spec) {
    // The cgroup namespace is unshared by the init once it sits in the app's cgroup
    // (SB_CGROUP_NS), not at clone time: on cgroup v1 it is moved there after the clone.
    std::uint64_t f = CLONE_NEWNS;
    if (spec.namespaces.pid.kind == NamespaceKind::private_) f |= CLONE_NEWPID;
    if (spec.namespaces.ipc.kind == NamespaceKind::private_) f |= CLONE_NEWIPC;
    if (spec.namespaces.uts.kind == NamespaceKind::private_) f |= CLONE_NEWUTS;
    if (spec.network.mode == NetworkMode::bridge || spec.network.mode == NetworkMode::none) f |= CLONE_NEWNET;
    return f;
}

const std::vector<std::string>& masked_paths() {
    static const std::vector<std::string> p = {
        "/proc/asound",   "/proc/acpi",         "/proc/kcore",       "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug",
        "/proc/scsi",     "/proc/interrupts",   "/sys/firmware",     "/sys/devices/virtual/powercap",
    };
    return p;
}

const std::vector<std::string>& readonly_paths() {
    static const std::vector<std::string> p = {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
                                               "/proc/sysrq-trigger"};
    return p;
}

Result<std::vector<MountStep>> plan_mounts(const AppSpec& spec, const SandboxInputs& in) {
    std::vector<MountStep> out;
    MountStep root;
    root.op = MOP_ROOT;
    root.target = "/";
    if (spec.rootfs.type == RootfsType::host) {
        root.fstype = "tmpfs";
        root.data = "mode=0755,size=1m";
        root.attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
        out.push_back(root);
        add_host_root(out, in);
    } else {
        auto e = in.probe(spec.rootfs.path);
        if (e.kind != HostEntry::directory)
            return Error::msg("rootfs \"" + spec.rootfs.path + "\" is not a directory");
        if (spec.rootfs.writable == RootfsWritable::overlay) {
            for (const auto* p : {&spec.rootfs.path, &in.overlay_upper, &in.overlay_work})
                if (!valid_option_value(*p) || p->find(':') != std::string::npos)
                    return Error::msg("overlay path \"" + *p + "\" must not contain ',' or ':'");
            root.fstype = "overlay";
            root.data = "upperdir=" + in.overlay_upper + ",workdir=" + in.overlay_work;
            if (spec.namespaces.user.enabled)
                root.source = spec.rootfs.path;  // the lower layer, cloned idmapped by the init
            else
                root.data = "lowerdir=" + spec.rootfs.path + "," + root.data;
        } else {
            // The tree under an overlay whose upper is a small tmpfs of the init's: the
            // mount points the tree lacks (/proc, /etc/hosts, volume targets...) are made
            // there, in the sandbox's view only, and the root is read-only once built
            // (crun/podman's read-only root). Where overlayfs refuses the tree, the init
            // binds it read-only and names a missing mount point.
            // The layers are named by paths on the stage (the tree is cloned by its fd).
            if (!valid_option_value(in.root_stage) || in.root_stage.find(':') != std::string::npos)
                return Error::msg("state path \"" + in.root_stage + "\" must not contain ',' or ':'");
            root.fstype = "overlay";
            root.source = spec.rootfs.path;
            root.flags = MF_READONLY | MF_TMPFS_UPPER;
        }
        out.push_back(root);
        if (spec.rootfs.writable == RootfsWritable::readonly) {
            // podman --read-only's default: writable /tmp and /run, made where the tree
            // lacks them; skipped only where overlayfs refused the tree (see above).
            out.push_back(fs("tmpfs", "/tmp", "mode=1777", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MF_MKDIR | MF_OPTIONAL));
            out.push_back(fs("tmpfs", "/run", "mode=0755", MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV, MF_MKDIR | MF_OPTIONAL));
        }
    }
    add_kernel_filesystems(out, spec);
    for (const char* f : {"hosts", "hostname", "resolv.conf"})
        out.push_back(bind_step(in.etc_dir + "/" + f, std::string("/etc/") + f, MF_READONLY | MF_MKFILE));

    for (const auto& m : spec.mounts) {
        if (m.type == MountType::tmpfs) {
            std::string data = "mode=" + [&] {
                std::ostringstream o;
                o << std::oct << m.mode.value_or(01777);
                return o.str();
            }();
            if (m.size) data += ",size=" + std::to_string(*m.size);
            out.push_back(fs("tmpfs", m.target, data,
                             MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | (m.readonly ? MOUNT_ATTR_RDONLY : 0)));
            continue;
        }
        auto e = in.probe(m.source);
        if (e.kind == HostEntry::missing)
            return Error::msg("volume source \"" + m.source + "\" does not exist (set \"create\": true to create it)");
        // A symlinked source is resolved on the host: the operator wrote it, not the app.
        bool is_dir = e.kind == HostEntry::directory;
        if (e.kind == HostEntry::symlink) {
            struct stat st;
            if (::stat(m.source.c_str(), &st) < 0)
                return Error::msg("volume source \"" + m.source + "\" is a dangling symlink");
            is_dir = S_ISDIR(st.st_mode);
        }
        out.push_back(bind_step(m.source, m.target,
                           MF_RECURSIVE | (m.readonly ? std::uint32_t(MF_READONLY) : 0u) | (is_dir ? std::uint32_t(MF_MKDIR) : std::uint32_t(MF_MKFILE))));
    }
    // The app's secrets: a small tmpfs of their own that the init fills and makes
    // read-only before it appears at /run/secrets (Docker's place; systemd's read-only
    // credentials directory), over whatever the rootfs has there. Its root is the
    // sandbox's root's (the mapped root with a user namespace), each file its app user's.
    if (!spec.secrets.empty()) {
        MountStep sec = step(MOP_SECRETS, kSecretsDir, MF_MKDIR);
        sec.fstype = "tmpfs";
        std::size_t pages = secrets_total_max_bytes / 4096 + spec.secrets.size() + 1;
        sec.data = "mode=0755,size=" + std::to_string(pages * 4096) +
                   ",nr_inodes=" + std::to_string(spec.secrets.size() + 8);
        sec.attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC;
        out.push_back(std::move(sec));
    }
    for (const auto& p : masked_paths()) out.push_back(step(MOP_MASK, p));
    for (const auto& p : readonly_paths()) out.push_back(step(MOP_READONLY, p));
    return out;
}

Result<Credentials> resolve_user(const std::string& user, const std::string& passwd, const std::string& group) {
    Credentials c;
    c.home = "/root";
    if (user.empty() || user == "root" || user == "0") {
        c.home = "/root";
        return c;
    }
    auto colon = user.find(':');
    std::string u = user.substr(0, colon), g = colon == std::string::npos ? "" : user.substr(colon + 1);
    auto numeric = [](const std::string& s, std::uint32_t& out) {
        auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
        return ec == std::errc() && p == s.data() + s.size() && !s.empty();
    };
    auto fields = [](const std::string& line) {
        std::vector<std::string> f;
        std::string cur;
        for (char ch : line) {
            if (ch == ':') {
                f.push_back(cur);
                cur.clear();
            } else {
                cur += ch;
            }
        }
        f.push_back(cur);
        return f;
    };
    bool found = false, uid_numeric = numeric(u, c.uid);
    std::string name;
    std::istringstream pw(passwd);
    for (std::string line; std::getline(pw, line);) {
        auto f = fields(line);
        if (f.size() < 7) continue;
        std::uint32_t id;
        if (!numeric(f[2], id)) continue;
        if ((uid_numeric && id == c.uid) || (!uid_numeric && f[0] == u)) {
            c.uid = id;
            numeric(f[3], c.gid);
            c.home = f[5].empty() ? "/" : f[5];
            name = f[0];
            found = true;
            break;
        }
    }
    if (!found && !uid_numeric) return Error::msg("user \"" + u + "\" is not in the rootfs's /etc/passwd");
    if (!found) {
        c.gid = c.uid;
        c.home = "/";
    }
    std::istringstream gr(group);
    std::vector<std::pair<std::string, std::uint32_t>> groups;
    std::vector<std::string> members_of;
    for (std::string line; std::getline(gr, line);) {
        auto f = fields(line);
        if (f.size() < 4) continue;
        std::uint32_t id;
        if (!numeric(f[2], id)) continue;
        groups.emplace_back(f[0], id);
        if (!name.empty()) {
            std::istringstream m(f[3]);
            for (std::string member; std::getline(m, member, ',');)
                if (member == name) c.groups.push_back(id);
        }
    }
    if (!g.empty()) {
        std::uint32_t gid;
        if (numeric(g, gid)) {
            c.gid = gid;
        } else {
            auto it = std::find_if(groups.begin(), groups.end(), [&](const auto& p) { return p.first == g; });
            if (it == groups.end()) return Error::msg("group \"" + g + "\" is not in the rootfs's /etc/group");
            c.gid = it->second;
        }
    }
    if (std::find(c.groups.begin(), c.groups.end(), c.gid) == c.groups.end()) c.groups.insert(c.groups.begin(), c.gid);
    // (uid_t)-1 is "leave unchanged" to setresuid/setresgid: an app given it would stay
    // root. The parser refuses it in `user`; the rootfs's passwd and group must not bring it.
    constexpr std::uint32_t unchanged = static_cast<std::uint32_t>(-1);
    if (c.uid == unchanged || c.gid == unchanged ||
        std::find(c.groups.begin(), c.groups.end(), unchanged) != c.groups.end())
        return Error::msg("user \"" + user + "\" resolves to id 4294967295 in the rootfs's /etc/passwd or /etc/group, "
                          "which the kernel reads as \"unchanged\" (it would leave the app root)");
    return c;
}

std::string read_in_root(const std::string& root, const std::string& path) {
    unique_fd dir(::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) return {};
    open_how how{};
    how.flags = O_RDONLY | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    int fd = static_cast<int>(::syscall(SYS_openat2, dir.get(), path.c_str(), &how, sizeof how));
    if (fd < 0) return {};
    unique_fd f(fd);
    auto text = sys::read_all(fd);
    return text ? std::move(*text) : std::string();
}

namespace {

// Credentials and hardening: the same for the app and for `isoctl exec` in its sandbox.
Status plan_process(LaunchPlan& plan, const AppSpec& spec) {
    plan.flags |= SB_HAS_CAPS;
    if (spec.security.no_new_privileges) plan.flags |= SB_NO_NEW_PRIVS;
    std::string root = spec.rootfs.type == RootfsType::host ? "/" : spec.rootfs.path;
    auto creds = resolve_user(spec.user, read_in_root(root, "/etc/passwd"), read_in_root(root, "/etc/group"));
    if (!creds) return creds.error();
    if (const auto& u = spec.namespaces.user; u.enabled) {
        // Ids inside the user namespace: only 0..count-1 exist there.
        if (creds->uid >= u.count || creds->gid >= u.count)
            return Error::msg("user \"" + (spec.user.empty() ? std::string("root") : spec.user) + "\" (uid " +
                              std::to_string(creds->uid) + ", gid " + std::to_string(creds->gid) +
                              ") is outside the user namespace's " + std::to_string(u.count) +
                              " ids (namespaces.user.count)");
        std::erase_if(creds->groups, [&](std::uint32_t g) { return g >= u.count; });
    }
    plan.uid = creds->uid;
    plan.gid = creds->gid;
    plan.groups = creds->groups;
    if (!plan.home_set) {
        for (auto& e : plan.env)
            if (e.rfind("HOME=", 0) == 0) e = "HOME=" + creds->home;
    }

    plan.caps = capability_mask(spec.security);
    if (spec.security.seccomp == SeccompMode::default_) {
        auto bpf = default_seccomp_bpf(*plan.caps);
        if (!bpf) return bpf.error();
        plan.seccomp_bpf = std::move(*bpf);
    } else if (spec.security.seccomp == SeccompMode::path) {
        std::string text = read_in_root("/", spec.security.seccomp_path);
        if (text.empty()) return Error::msg("seccomp profile \"" + spec.security.seccomp_path + "\" cannot be read");
        auto bpf = seccomp_bpf_from_profile(text, *plan.caps);
        if (!bpf) return bpf.error();
        plan.seccomp_bpf = std::move(*bpf);
    }
    // systemd's defaults for services: 1024 soft (select() stays safe), 512Ki hard.
    // Never above the daemon's own hard limit: raising it needs CAP_SYS_RESOURCE,
    // which not every host gives root.
    struct rlimit cur{};
    ::getrlimit(RLIMIT_NOFILE, &cur);
    std::uint64_t hard = std::min<std::uint64_t>(524288, cur.rlim_max);
    plan.rlimits.push_back({RLIMIT_NOFILE, std::min<std::uint64_t>(1024, hard), hard});
    plan.umask = 022;
    return {};
}

}  // namespace

Status plan_sandbox(LaunchPlan& plan, const AppSpec& spec, const SandboxInputs& in) {
    auto mounts = plan_mounts(spec, in);
    if (!mounts) return mounts.error();
    plan.mounts = std::move(*mounts);
    plan.root_stage = in.root_stage;
    plan.flags = SB_MOUNT_NS | SB_CGROUP_NS;
    if (namespace_clone_flags(spec) & CLONE_NEWNET) plan.flags |= SB_LOOPBACK;
    if (spec.security.readonly_rootfs.value_or(spec.rootfs.type == RootfsType::host)) plan.flags |= SB_READONLY_ROOT;
    if (!spec.init) plan.flags |= SB_NO_INIT;
    if (spec.namespaces.uts.kind == NamespaceKind::private_) plan.hostname = spec.effective_hostname();
    if (const auto& u = spec.namespaces.user; u.enabled) {
        plan.userns = LaunchPlan::UserNs{u.uid, u.gid, u.count};
        // Host trees are idmapped: host files owned by uid N show inside as N - uid, so
        // the host's root-owned system files are root's inside, and a volume's files
        // keep their owners on disk whatever the app writes as root inside. What the
        // init makes (tmpfs, directories, nodes) it makes as the mapped root instead.
        // An overlay root's source is its lower layer (plan_mounts): idmapped too, and
        // overlayfs takes idmapped layers (Linux >= 5.19).
        for (auto& m : plan.mounts)
            if (m.op == MOP_BIND || (m.op == MOP_ROOT && !m.source.empty())) m.flags |= MF_IDMAP;
        // Root inside holds no capability over a network namespace the host's user
        // namespace owns: low ports open to everyone there instead (Docker's default).
        if (spec.network.mode != NetworkMode::host) plan.flags |= SB_UNPRIV_PORTS;
    }
    if (auto st = plan_process(plan, spec); !st) return st;
    // The secrets belong to the app's user: as the host sees it, the mapped ids when the
    // app has a user namespace (the init, outside it, chowns them).
    std::uint32_t uid_base = plan.userns ? plan.userns->uid : 0, gid_base = plan.userns ? plan.userns->gid : 0;
    for (auto& sec : plan.secrets) {
        sec.uid = uid_base + plan.uid.value_or(0);
        sec.gid = gid_base + plan.gid;
    }
    return {};
}

Status plan_exec(LaunchPlan& plan, const AppSpec& spec, bool tty) {
    plan.flags = tty ? SB_TTY : 0;
    if (spec.namespaces.user.enabled) plan.flags |= SB_USER_NS;
    plan.log_name.clear();
    if (tty) plan.env.push_back("TERM=xterm");
    return plan_process(plan, spec);
}

}  // namespace isolated::sandbox
