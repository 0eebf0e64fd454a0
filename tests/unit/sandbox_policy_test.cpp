// The sandbox's security policy as pure functions, table by table: capabilities, users,
// the mount plan (what is masked, what is read-only, in which order), the default
// seccomp filter (run through a small classic-BPF interpreter here), the launch plan's
// byte form, the exit record and the words for an init's failure. Nothing here needs
// root or touches the host's mounts or namespaces: these rules must fail fast, on every
// machine. sandbox_plan_test.cpp covers the user namespace and the read-only directory
// rootfs; this file does not repeat them.
#include <catch2/catch.hpp>

#include <linux/filter.h>
#include <linux/seccomp.h>
#include <sched.h>
#include <seccomp.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <unistd.h>

#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <csignal>
#include <cstddef>
#include <cstring>
#include <functional>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "runtime/instance_record.hpp"
#include "runtime/instance_watch.hpp"
#include "sandbox/init_protocol.h"
#include "sandbox/launch_plan.hpp"
#include "sandbox/sandbox_plan.hpp"
#include "sandbox/security.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::sandbox;

namespace {

AppSpec base_spec() {
    AppSpec s;
    s.name = "app";
    s.command = {"/bin/true"};
    return s;
}

SandboxInputs inputs(HostProbe probe) {
    SandboxInputs in;
    in.root_stage = "/run/isolated/stage/app";
    in.etc_dir = "/run/isolated/apps/app/etc";
    in.overlay_upper = "/var/lib/isolated/app/upper";
    in.overlay_work = "/var/lib/isolated/app/work";
    in.probe = std::move(probe);
    return in;
}

// A host as Debian 12 lays it out (merged /usr), plus a few volume sources; nothing
// is looked up on the real host.
HostEntry fake_host(const std::string& path) {
    static const std::map<std::string, HostEntry> tree = {
        {"/usr", {HostEntry::directory, ""}},       {"/bin", {HostEntry::symlink, "usr/bin"}},
        {"/sbin", {HostEntry::symlink, "usr/sbin"}}, {"/lib", {HostEntry::symlink, "usr/lib"}},
        {"/lib64", {HostEntry::symlink, "usr/lib64"}}, {"/srv/data", {HostEntry::directory, ""}},
        {"/srv/app.conf", {HostEntry::file, ""}},   {"/srv/rootfs", {HostEntry::directory, ""}},
        {"/srv/not-a-dir", {HostEntry::file, ""}},
        // a rootfs that plan_sandbox also reads passwd from: absent there, so read as empty
        {"/nonexistent/isolated-policy-test/rootfs", {HostEntry::directory, ""}},
    };
    auto it = tree.find(path);
    return it == tree.end() ? HostEntry{} : it->second;
}

std::vector<MountStep> mounts_of(const AppSpec& spec, const SandboxInputs& in) {
    auto r = plan_mounts(spec, in);
    INFO((r ? std::string() : r.error().to_string()));
    REQUIRE(r);
    return *r;
}

/// Index of the first step with OP and TARGET, -1 when there is none.
int index_of(const std::vector<MountStep>& m, std::uint32_t op, const std::string& target) {
    for (std::size_t i = 0; i < m.size(); ++i)
        if (m[i].op == op && m[i].target == target) return static_cast<int>(i);
    return -1;
}

int count_target(const std::vector<MountStep>& m, const std::string& target) {
    return static_cast<int>(std::count_if(m.begin(), m.end(), [&](const MountStep& s) { return s.target == target; }));
}

}  // namespace

// ---- capabilities ------------------------------------------------------------------------

namespace {

std::set<std::string> docker14() { return {default_capabilities().begin(), default_capabilities().end()}; }
std::set<std::string> every_capability() { return {capability_names().begin(), capability_names().end()}; }
std::set<std::string> plus(std::set<std::string> s, std::initializer_list<const char*> more) {
    s.insert(more.begin(), more.end());
    return s;
}
std::set<std::string> minus(std::set<std::string> s, std::initializer_list<const char*> less) {
    for (const char* c : less) s.erase(c);
    return s;
}

struct CapRow {
    std::string what;
    std::vector<std::string> add, drop;
    std::set<std::string> expect;
};

}  // namespace

TEST_CASE("policy: the default capability set is Docker's 14", "[sandbox][policy]") {
    // isolated.app(5) lists them; moby's oci/caps/defaults.go is the source.
    CHECK(docker14() == std::set<std::string>{"CAP_CHOWN", "CAP_DAC_OVERRIDE", "CAP_FSETID", "CAP_FOWNER",
                                              "CAP_MKNOD", "CAP_NET_RAW", "CAP_SETGID", "CAP_SETUID",
                                              "CAP_SETFCAP", "CAP_SETPCAP", "CAP_NET_BIND_SERVICE",
                                              "CAP_SYS_CHROOT", "CAP_KILL", "CAP_AUDIT_WRITE"});
    CHECK(default_capabilities().size() == 14);
    auto names = capability_names_of(capability_mask(SecuritySpec{}));
    CHECK(std::set<std::string>(names.begin(), names.end()) == docker14());
}

TEST_CASE("policy: capability_mask applies drop, then add, whatever the order of the names", "[sandbox][policy]") {
    auto row = GENERATE(values<CapRow>({
        {"nothing written", {}, {}, docker14()},
        {"drop one", {}, {"CAP_NET_RAW"}, minus(docker14(), {"CAP_NET_RAW"})},
        {"drop several", {}, {"CAP_NET_RAW", "CAP_MKNOD", "CAP_SETFCAP"},
         minus(docker14(), {"CAP_NET_RAW", "CAP_MKNOD", "CAP_SETFCAP"})},
        {"drop one not in the set", {}, {"CAP_SYS_ADMIN"}, docker14()},
        {"add one", {"CAP_NET_ADMIN"}, {}, plus(docker14(), {"CAP_NET_ADMIN"})},
        {"add one already in the set", {"CAP_CHOWN"}, {}, docker14()},
        {"drop ALL", {}, {"ALL"}, {}},
        {"drop ALL among others", {}, {"CAP_KILL", "ALL", "CAP_CHOWN"}, {}},
        {"drop ALL, add one back", {"CAP_NET_BIND_SERVICE"}, {"ALL"}, {"CAP_NET_BIND_SERVICE"}},
        {"add ALL", {"ALL"}, {}, every_capability()},
        {"add ALL among others", {"CAP_BPF", "ALL"}, {}, every_capability()},
        {"drop ALL, add ALL", {"ALL"}, {"ALL"}, every_capability()},
        // Drop, then add, as isolated.app(5) says: ALL in add fills the set again.
        // (Docker's TweakCapabilities would keep CAP_NET_RAW out here.)
        {"add ALL after a drop", {"ALL"}, {"CAP_NET_RAW"}, every_capability()},
        {"drop and add different ones", {"CAP_SYS_PTRACE"}, {"CAP_NET_RAW"},
         plus(minus(docker14(), {"CAP_NET_RAW"}), {"CAP_SYS_PTRACE"})},
        // The parser rejects unknown names and normalises the rest ("net_admin" ->
        // "CAP_NET_ADMIN"); what reaches the mask and is not a capability changes nothing.
        {"unknown names are ignored", {"CAP_NOT_A_CAP", "net_admin", "", "all"}, {"CAP_ALSO_NOT", "chown"},
         docker14()},
    }));
    INFO(row.what);
    SecuritySpec sec;
    sec.cap_add = row.add;
    sec.cap_drop = row.drop;
    std::uint64_t mask = capability_mask(sec);
    auto names = capability_names_of(mask);
    CHECK(std::set<std::string>(names.begin(), names.end()) == row.expect);
    CHECK((mask >> capability_names().size()) == 0);  // no bit past CAP_LAST_CAP

    // The order inside each list does not matter.
    auto add = row.add, drop = row.drop;
    std::sort(add.begin(), add.end());
    std::sort(drop.begin(), drop.end());
    do {
        do {
            SecuritySpec p;
            p.cap_add = add;
            p.cap_drop = drop;
            CHECK(capability_mask(p) == mask);
        } while (std::next_permutation(drop.begin(), drop.end()));
    } while (std::next_permutation(add.begin(), add.end()));
}

// ---- users ---------------------------------------------------------------------------------

namespace {

// A rootfs's /etc/passwd and /etc/group, with the oddities real ones have.
const char* const kPasswd =
    "root:x:0:0:root:/root:/bin/bash\n"
    "daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n"
    "alice:x:1000:1000:Alice:/home/alice:/bin/sh\n"
    "bob:x:1001:1001::/home/bob:/bin/sh\n"
    "nohome:x:1002:1002:::/bin/sh\n"
    "broken:x:notanumber:1003::/:/bin/sh\n"
    "short:x:1004:1004\n"
    "# a comment\n"
    "\n"
    "alice:x:2000:2000:a second alice:/home/alice2:/bin/sh\n";
const char* const kGroup =
    "root:x:0:\n"
    "wheel:x:10:alice,bob\n"
    "audio:x:29:alice\n"
    "staff:x:50:bob\n"
    "alice:x:1000:\n"
    "bob:x:1001:\n"
    "badgid:x:xx:alice\n"
    "short:x:60\n";

struct UserRow {
    std::string user;
    bool ok;
    std::uint32_t uid, gid;
    std::vector<std::uint32_t> groups;  ///< in order: the primary group first
    std::string home;
    std::string error = {};             ///< a part of the message when !ok
};

}  // namespace

TEST_CASE("policy: resolve_user reads the rootfs's passwd and group", "[sandbox][policy]") {
    auto row = GENERATE(values<UserRow>({
        // root: no lookup at all
        {"", true, 0, 0, {}, "/root"},
        {"root", true, 0, 0, {}, "/root"},
        {"0", true, 0, 0, {}, "/root"},
        {"0:0", true, 0, 0, {0}, "/root"},
        {"root:staff", true, 0, 50, {50}, "/root"},
        // a name: uid, gid, home from passwd; supplementary groups from group's member lists
        {"alice", true, 1000, 1000, {1000, 10, 29}, "/home/alice"},
        {"bob", true, 1001, 1001, {1001, 10, 50}, "/home/bob"},
        {"daemon", true, 1, 1, {1}, "/usr/sbin"},
        {"nohome", true, 1002, 1002, {1002}, "/"},
        // a uid with an entry is that entry; the first of two entries with a name wins
        {"1000", true, 1000, 1000, {1000, 10, 29}, "/home/alice"},
        {"2000", true, 2000, 2000, {2000, 10, 29}, "/home/alice2"},
        // NAME:GROUP and UID:GID: the group replaces the primary one
        {"alice:staff", true, 1000, 50, {50, 10, 29}, "/home/alice"},
        {"alice:50", true, 1000, 50, {50, 10, 29}, "/home/alice"},
        {"bob:wheel", true, 1001, 10, {10, 50}, "/home/bob"},  // already a member: not twice
        {"alice:4242", true, 1000, 4242, {4242, 10, 29}, "/home/alice"},  // a gid needs no entry
        // a numeric uid without an entry runs as that uid (Docker's rule), its gid the same
        // number unless given, HOME "/"
        {"4242", true, 4242, 4242, {4242}, "/"},
        {"4242:4343", true, 4242, 4343, {4343}, "/"},
        {"4242:staff", true, 4242, 50, {50}, "/"},
        // errors name what is missing and where
        {"nobody", false, 0, 0, {}, "", "user \"nobody\" is not in the rootfs's /etc/passwd"},
        {"alice:nogroup", false, 0, 0, {}, "", "group \"nogroup\" is not in the rootfs's /etc/group"},
        {"4242:nogroup", false, 0, 0, {}, "", "group \"nogroup\""},
        {"broken", false, 0, 0, {}, "", "user \"broken\""},  // its uid is not a number
        {"short", false, 0, 0, {}, "", "user \"short\""},    // too few fields
        {"badgid:alice", false, 0, 0, {}, "", "user \"badgid\""},
        {":50", false, 0, 0, {}, "", "user \"\""},
        {"-1", false, 0, 0, {}, "", "user \"-1\""},
        {"4294967296", false, 0, 0, {}, "", "user \"4294967296\""},  // past uint32: a name, unknown
    }));
    INFO("user \"" << row.user << "\"");
    auto c = resolve_user(row.user, kPasswd, kGroup);
    if (!row.ok) {
        REQUIRE_FALSE(c);
        CHECK_THAT(c.error().to_string(), Catch::Contains(row.error));
        return;
    }
    INFO((c ? std::string() : c.error().to_string()));
    REQUIRE(c);
    CHECK(c->uid == row.uid);
    CHECK(c->gid == row.gid);
    CHECK(c->groups == row.groups);
    CHECK(c->home == row.home);
}

TEST_CASE("policy: resolve_user with an empty rootfs: root and numeric ids only", "[sandbox][policy]") {
    CHECK(resolve_user("", "", "")->uid == 0);
    auto n = resolve_user("123:456", "", "");
    REQUIRE(n);
    CHECK(n->uid == 123);
    CHECK(n->gid == 456);
    CHECK(n->groups == std::vector<std::uint32_t>{456});
    CHECK_FALSE(resolve_user("www-data", "", ""));
    CHECK_FALSE(resolve_user("123:www-data", "", ""));
}

TEST_CASE("policy: resolve_user refuses id 4294967295 from the rootfs, which setresuid reads as unchanged",
          "[sandbox][policy]") {
    const std::string passwd = "app:x:4294967295:4294967295::/:/bin/sh\nweb:x:1000:4294967295::/:/bin/sh\n"
                               "ok:x:1001:1001::/:/bin/sh\n";
    const std::string group = "nogroup:x:4294967295:ok\nok:x:1001:\n";
    for (const char* user : {"app", "web", "ok", "1001:nogroup"}) {
        INFO(user);
        auto r = resolve_user(user, passwd, group);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("4294967295") && Catch::Contains("unchanged"));
    }
    CHECK(resolve_user("1001:1001", passwd, "ok:x:1001:\n"));
}

// ---- the mount plan ------------------------------------------------------------------------

TEST_CASE("policy: Docker's masked and read-only paths", "[sandbox][policy]") {
    // moby's oci/defaults.go: the same lists, in the same order.
    CHECK(masked_paths() == std::vector<std::string>{
                                "/proc/asound", "/proc/acpi", "/proc/kcore", "/proc/keys", "/proc/latency_stats",
                                "/proc/timer_list", "/proc/timer_stats", "/proc/sched_debug", "/proc/scsi",
                                "/proc/interrupts", "/sys/firmware", "/sys/devices/virtual/powercap"});
    CHECK(readonly_paths() ==
          std::vector<std::string>{"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"});
}

TEST_CASE("policy: masks and read-only paths come last, after every volume, for every rootfs", "[sandbox][policy]") {
    auto rootfs = GENERATE(values<int>({0, 1, 2}));
    AppSpec spec = base_spec();
    if (rootfs > 0) {
        spec.rootfs.type = RootfsType::directory;
        spec.rootfs.path = "/srv/rootfs";
        spec.rootfs.writable = rootfs == 1 ? RootfsWritable::overlay : RootfsWritable::readonly;
    }
    INFO("rootfs " << rootfs);
    MountSpec tmp;
    tmp.type = MountType::tmpfs;
    tmp.target = "/scratch";
    MountSpec vol;
    vol.source = "/srv/data";
    vol.target = "/data";
    spec.mounts = {tmp, vol};
    auto m = mounts_of(spec, inputs(fake_host));

    const auto& masked = masked_paths();
    const auto& ro = readonly_paths();
    REQUIRE(m.size() > masked.size() + ro.size());
    // The tail of the plan: every masked path, then every read-only path, in order; so no
    // step of the plan (a volume included) is mounted over them afterwards.
    std::size_t tail = m.size() - masked.size() - ro.size();
    for (std::size_t i = 0; i < masked.size(); ++i) {
        CHECK(m[tail + i].op == MOP_MASK);
        CHECK(m[tail + i].target == masked[i]);
        CHECK(m[tail + i].flags == 0);
    }
    for (std::size_t i = 0; i < ro.size(); ++i) {
        CHECK(m[tail + masked.size() + i].op == MOP_READONLY);
        CHECK(m[tail + masked.size() + i].target == ro[i]);
    }
    // They sit on the sandbox's own /proc and /sys, made earlier.
    CHECK(index_of(m, MOP_FS, "/proc") >= 0);
    CHECK(index_of(m, MOP_FS, "/sys") >= 0);
    CHECK(index_of(m, MOP_FS, "/proc") < static_cast<int>(tail));
    CHECK(index_of(m, MOP_BIND, "/data") < static_cast<int>(tail));
    CHECK(index_of(m, MOP_FS, "/scratch") < static_cast<int>(tail));
    // The first step is the root, and only the first.
    CHECK(m.front().op == MOP_ROOT);
    CHECK(std::count_if(m.begin(), m.end(), [](const MountStep& s) { return s.op == MOP_ROOT; }) == 1);
}

namespace {

struct FsRow {
    std::string target, fstype, data;
    std::uint64_t attr;
};

struct NodeRow {
    std::string target;
    std::uint32_t major, minor;
};

}  // namespace

TEST_CASE("policy: /proc, /sys and /dev are the same for every rootfs (runc's defaults)", "[sandbox][policy]") {
    auto rootfs = GENERATE(values<int>({0, 1, 2}));
    AppSpec spec = base_spec();
    if (rootfs > 0) {
        spec.rootfs.type = RootfsType::directory;
        spec.rootfs.path = "/srv/rootfs";
        spec.rootfs.writable = rootfs == 1 ? RootfsWritable::overlay : RootfsWritable::readonly;
    }
    INFO("rootfs " << rootfs);
    auto m = mounts_of(spec, inputs(fake_host));

    const std::uint64_t nosuid = MOUNT_ATTR_NOSUID, nodev = MOUNT_ATTR_NODEV, noexec = MOUNT_ATTR_NOEXEC;
    const FsRow filesystems[] = {
        {"/proc", "proc", "", nosuid | nodev | noexec},
        {"/sys", "sysfs", "", MOUNT_ATTR_RDONLY | nosuid | nodev | noexec},
        {"/dev", "tmpfs", "mode=0755,size=65536k", nosuid | MOUNT_ATTR_STRICTATIME},
        {"/dev/pts", "devpts", "newinstance,ptmxmode=0666,mode=0620,gid=5", nosuid | noexec},
        {"/dev/shm", "tmpfs", "mode=1777,size=65536k", nosuid | nodev | noexec},
        {"/dev/mqueue", "mqueue", "", nosuid | nodev | noexec},  // a private ipc namespace (the default)
    };
    for (const auto& f : filesystems) {
        INFO(f.target);
        int i = index_of(m, MOP_FS, f.target);
        REQUIRE(i >= 0);
        CHECK(m[i].fstype == f.fstype);
        CHECK(m[i].data == f.data);
        CHECK(m[i].attr == f.attr);
        CHECK(m[i].flags == MF_MKDIR);
        CHECK(count_target(m, f.target) == 1);
        if (f.target.rfind("/dev/", 0) == 0) CHECK(index_of(m, MOP_FS, "/dev") < i);
    }
    // Exactly these device nodes, world read-write, on the private /dev.
    const NodeRow nodes[] = {{"/dev/null", 1, 3},   {"/dev/zero", 1, 5},    {"/dev/full", 1, 7},
                             {"/dev/random", 1, 8}, {"/dev/urandom", 1, 9}, {"/dev/tty", 5, 0}};
    for (const auto& n : nodes) {
        INFO(n.target);
        int i = index_of(m, MOP_MKNOD, n.target);
        REQUIRE(i >= 0);
        CHECK(m[i].major == n.major);
        CHECK(m[i].minor == n.minor);
        CHECK(m[i].mode == 0666);
        CHECK(i > index_of(m, MOP_FS, "/dev"));
    }
    CHECK(std::count_if(m.begin(), m.end(), [](const MountStep& s) { return s.op == MOP_MKNOD; }) == 6);
    const std::pair<const char*, const char*> links[] = {{"/dev/ptmx", "pts/ptmx"},
                                                         {"/dev/fd", "/proc/self/fd"},
                                                         {"/dev/stdin", "/proc/self/fd/0"},
                                                         {"/dev/stdout", "/proc/self/fd/1"},
                                                         {"/dev/stderr", "/proc/self/fd/2"}};
    for (const auto& [target, text] : links) {
        INFO(target);
        int i = index_of(m, MOP_SYMLINK, target);
        REQUIRE(i >= 0);
        CHECK(m[i].source == text);
    }
    // The names files the daemon writes, read-only, made where the rootfs lacks them.
    for (const char* f : {"hosts", "hostname", "resolv.conf"}) {
        int i = index_of(m, MOP_BIND, std::string("/etc/") + f);
        REQUIRE(i >= 0);
        CHECK(m[i].source == std::string("/run/isolated/apps/app/etc/") + f);
        CHECK(m[i].flags == (MF_READONLY | MF_MKFILE));
    }

    // The host's ipc namespace: no mqueue of its own.
    spec.namespaces.ipc.kind = NamespaceKind::host;
    CHECK(index_of(mounts_of(spec, inputs(fake_host)), MOP_FS, "/dev/mqueue") == -1);
}

TEST_CASE("policy: the host rootfs is the host's system trees, read-only, without its secrets", "[sandbox][policy]") {
    auto m = mounts_of(base_spec(), inputs(fake_host));
    const auto& root = m.front();
    CHECK(root.op == MOP_ROOT);
    CHECK(root.target == "/");
    CHECK(root.fstype == "tmpfs");
    CHECK(root.data == "mode=0755,size=1m");
    CHECK(root.attr == (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));

    // Directories are bound read-only, symlinks copied as symlinks, missing ones skipped.
    const std::uint32_t ro_tree = MF_READONLY | MF_RECURSIVE | MF_MKDIR;
    for (const char* d : {"/usr", "/etc"}) {
        int i = index_of(m, MOP_BIND, d);
        REQUIRE(i >= 0);
        CHECK(m[i].source == d);
        CHECK(m[i].flags == ro_tree);
    }
    for (const auto& [link, text] : std::map<std::string, std::string>{
             {"/bin", "usr/bin"}, {"/sbin", "usr/sbin"}, {"/lib", "usr/lib"}, {"/lib64", "usr/lib64"}}) {
        int i = index_of(m, MOP_SYMLINK, link);
        REQUIRE(i >= 0);
        CHECK(m[i].source == text);
        CHECK(count_target(m, link) == 1);
    }
    CHECK(count_target(m, "/lib32") == 0);
    CHECK(count_target(m, "/libx32") == 0);
    // Nothing of the host is writable (no volumes here).
    for (const auto& s : m) {
        INFO(s.target);
        if (s.op == MOP_BIND) CHECK((s.flags & MF_READONLY));
    }

    // The host's secrets under /etc are masked, after /etc is bound.
    int etc = index_of(m, MOP_BIND, "/etc");
    for (const char* secret : {"/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-", "/etc/sudoers",
                               "/etc/sudoers.d", "/etc/ssl/private", "/etc/security/opasswd",
                               "/etc/ssh/ssh_host_rsa_key", "/etc/ssh/ssh_host_ecdsa_key",
                               "/etc/ssh/ssh_host_ed25519_key", "/etc/ssh/ssh_host_dsa_key",
                               "/etc/isolated"}) {
        INFO(secret);
        int i = index_of(m, MOP_MASK, secret);
        CHECK(i > etc);
    }

    // Private, empty /tmp, /run and /var with their usual skeleton.
    const std::uint64_t nosuid_nodev = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    for (const auto& [target, data] :
         std::map<std::string, std::string>{{"/tmp", "mode=1777"}, {"/run", "mode=0755"}, {"/var", "mode=0755"}}) {
        INFO(target);
        int i = index_of(m, MOP_FS, target);
        REQUIRE(i >= 0);
        CHECK(m[i].fstype == "tmpfs");
        CHECK(m[i].data == data);  // no size: the kernel's default (half of RAM), counted in the app's memory
        CHECK(m[i].attr == nosuid_nodev);
    }
    const std::pair<const char*, std::uint32_t> dirs[] = {
        {"/root", 0700},      {"/home", 0755},     {"/mnt", 0755},      {"/opt", 0755},
        {"/srv", 0755},       {"/run/lock", 01777}, {"/var/tmp", 01777}, {"/var/lib", 0755},
        {"/var/log", 0755},   {"/var/cache", 0755}};
    for (const auto& [dir, mode] : dirs) {
        INFO(dir);
        int i = index_of(m, MOP_MKDIR, dir);
        REQUIRE(i >= 0);
        CHECK(m[i].mode == mode);
    }
    CHECK(index_of(m, MOP_MKDIR, "/run/lock") > index_of(m, MOP_FS, "/run"));
    CHECK(index_of(m, MOP_MKDIR, "/var/tmp") > index_of(m, MOP_FS, "/var"));
    CHECK(m[index_of(m, MOP_SYMLINK, "/var/run")].source == "/run");
    CHECK(m[index_of(m, MOP_SYMLINK, "/var/lock")].source == "/run/lock");
}

TEST_CASE("policy: isolated's configuration is masked in a host rootfs wherever the host's trees show it",
          "[sandbox][policy]") {
    auto in = inputs(fake_host);
    in.config_dir = "/etc/isolated-prod";
    auto m = mounts_of(base_spec(), in);
    CHECK(index_of(m, MOP_MASK, "/etc/isolated-prod") > index_of(m, MOP_BIND, "/etc"));
    CHECK(index_of(m, MOP_MASK, "/etc/isolated") == -1);
    // Elsewhere (/opt is an empty directory of the sandbox's own) there is nothing to mask.
    in.config_dir = "/opt/isolated";
    m = mounts_of(base_spec(), in);
    CHECK(count_target(m, "/opt/isolated") == 0);
    CHECK(index_of(m, MOP_BIND, "/opt") == -1);
    // Under /usr (bound read-only from the host) it would be readable: it is masked.
    in.config_dir = "/usr/local/etc/isolated";
    m = mounts_of(base_spec(), in);
    CHECK(index_of(m, MOP_MASK, "/usr/local/etc/isolated") > index_of(m, MOP_BIND, "/usr"));
    // A prefix that is not a parent directory does not count.
    in.config_dir = "/usrx/isolated";
    m = mounts_of(base_spec(), in);
    CHECK(count_target(m, "/usrx/isolated") == 0);
}

TEST_CASE("policy: a directory rootfs binds nothing of the host's but the names files", "[sandbox][policy]") {
    AppSpec spec = base_spec();
    spec.rootfs.type = RootfsType::directory;
    spec.rootfs.path = "/srv/rootfs";
    auto m = mounts_of(spec, inputs(fake_host));
    const auto& root = m.front();
    CHECK(root.op == MOP_ROOT);
    CHECK(root.fstype == "overlay");
    CHECK(root.source.empty());  // without a user namespace, the lower layer is in the options
    CHECK(root.data == "lowerdir=/srv/rootfs,upperdir=/var/lib/isolated/app/upper,workdir=/var/lib/isolated/app/work");
    CHECK(root.flags == 0);
    for (const auto& s : m) {
        INFO(s.target);
        if (s.op == MOP_BIND) CHECK(s.source.rfind("/run/isolated/apps/app/etc/", 0) == 0);
        CHECK(s.target != "/usr");
    }
    // A writable overlay keeps the image's own /tmp and /run.
    CHECK(index_of(m, MOP_FS, "/tmp") == -1);
    CHECK(index_of(m, MOP_FS, "/run") == -1);

    // A read-only one gets writable ones (podman --read-only), skipped where they cannot be made.
    spec.rootfs.writable = RootfsWritable::readonly;
    m = mounts_of(spec, inputs(fake_host));
    for (const char* d : {"/tmp", "/run"}) {
        int i = index_of(m, MOP_FS, d);
        REQUIRE(i >= 0);
        CHECK(m[i].flags == (MF_MKDIR | MF_OPTIONAL));
        CHECK(m[i].attr == (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV));
    }
}

TEST_CASE("policy: a rootfs that cannot be an overlay is refused", "[sandbox][policy]") {
    struct Row {
        std::string what, path, upper, error;
    };
    auto row = GENERATE(values<Row>({
        {"not a directory", "/srv/not-a-dir", "/var/lib/isolated/app/upper", "is not a directory"},
        {"missing", "/srv/missing", "/var/lib/isolated/app/upper", "is not a directory"},
        {"a comma in the rootfs", "/srv/a,b", "/var/lib/isolated/app/upper", "must not contain"},
        {"a colon in the upper dir", "/srv/rootfs", "/var/lib/isolated/a:b/upper", "must not contain"},
    }));
    INFO(row.what);
    AppSpec spec = base_spec();
    spec.rootfs.type = RootfsType::directory;
    spec.rootfs.path = row.path;
    auto in = inputs([&](const std::string& p) {
        return p == row.path && row.what.rfind("a comma", 0) == 0 ? HostEntry{HostEntry::directory, ""} : fake_host(p);
    });
    in.overlay_upper = row.upper;
    auto r = plan_mounts(spec, in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().to_string(), Catch::Contains(row.error));
}

namespace {

struct TmpfsRow {
    std::optional<std::uint32_t> mode;
    std::optional<std::uint64_t> size;
    bool readonly;
    std::string data;
    std::uint64_t attr;
};

}  // namespace

TEST_CASE("policy: a tmpfs volume's mode, size and read-only flag", "[sandbox][policy]") {
    const std::uint64_t base = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    auto row = GENERATE_COPY(values<TmpfsRow>({
        {std::nullopt, std::nullopt, false, "mode=1777", base},  // /tmp's mode; the kernel's size
        {0700, std::nullopt, false, "mode=700", base},
        {0, std::nullopt, false, "mode=0", base},
        {std::nullopt, 64u << 20, false, "mode=1777,size=67108864", base},
        {0755, 1u << 20, true, "mode=755,size=1048576", base | MOUNT_ATTR_RDONLY},
    }));
    INFO(row.data);
    AppSpec spec = base_spec();
    MountSpec t;
    t.type = MountType::tmpfs;
    t.target = "/scratch";
    t.mode = row.mode;
    t.size = row.size;
    t.readonly = row.readonly;
    spec.mounts = {t};
    auto m = mounts_of(spec, inputs(fake_host));
    int i = index_of(m, MOP_FS, "/scratch");
    REQUIRE(i >= 0);
    CHECK(m[i].fstype == "tmpfs");
    CHECK(m[i].data == row.data);
    CHECK(m[i].attr == row.attr);
    CHECK(m[i].flags == MF_MKDIR);
}

TEST_CASE("policy: a bind volume's flags follow its source and readonly", "[sandbox][policy]") {
    struct Row {
        std::string source;
        bool readonly;
        std::uint32_t flags;
    };
    auto row = GENERATE(values<Row>({
        {"/srv/data", false, MF_RECURSIVE | MF_MKDIR},
        {"/srv/data", true, MF_RECURSIVE | MF_MKDIR | MF_READONLY},
        {"/srv/app.conf", false, MF_RECURSIVE | MF_MKFILE},
        {"/srv/app.conf", true, MF_RECURSIVE | MF_MKFILE | MF_READONLY},
    }));
    INFO(row.source << (row.readonly ? " ro" : " rw"));
    AppSpec spec = base_spec();
    MountSpec v;
    v.source = row.source;
    v.target = "/mnt/v";
    v.readonly = row.readonly;
    spec.mounts = {v};
    auto m = mounts_of(spec, inputs(fake_host));
    int i = index_of(m, MOP_BIND, "/mnt/v");
    REQUIRE(i >= 0);
    CHECK(m[i].source == row.source);
    CHECK(m[i].flags == row.flags);
}

TEST_CASE("policy: a bind volume's source must exist, a symlinked one is followed on the host", "[sandbox][policy]") {
    test::TempDir dir("isolated-policy");
    ::mkdir((dir / "realdir").c_str(), 0755);
    test::write_file(dir / "realfile", "x");
    REQUIRE(::symlink((dir / "realdir").c_str(), (dir / "to-dir").c_str()) == 0);
    REQUIRE(::symlink((dir / "realfile").c_str(), (dir / "to-file").c_str()) == 0);
    REQUIRE(::symlink((dir / "nothing").c_str(), (dir / "dangling").c_str()) == 0);
    auto plan_with = [&](const std::string& source) {
        AppSpec spec = base_spec();
        MountSpec v;
        v.source = source;
        v.target = "/mnt/v";
        spec.mounts = {v};
        return plan_mounts(spec, inputs(probe_host));
    };
    auto to_dir = plan_with(dir / "to-dir");
    REQUIRE(to_dir);
    CHECK((*to_dir)[index_of(*to_dir, MOP_BIND, "/mnt/v")].flags == (MF_RECURSIVE | MF_MKDIR));
    auto to_file = plan_with(dir / "to-file");
    REQUIRE(to_file);
    CHECK((*to_file)[index_of(*to_file, MOP_BIND, "/mnt/v")].flags == (MF_RECURSIVE | MF_MKFILE));

    auto dangling = plan_with(dir / "dangling");
    REQUIRE_FALSE(dangling);
    CHECK_THAT(dangling.error().to_string(), Catch::Contains("dangling symlink"));
    auto missing = plan_with(dir / "missing");
    REQUIRE_FALSE(missing);
    CHECK_THAT(missing.error().to_string(),
               Catch::Contains(dir / "missing") && Catch::Contains("\"create\": true"));
}

TEST_CASE("policy: volumes are mounted after the defaults they cover, in the order written", "[sandbox][policy]") {
    AppSpec spec = base_spec();
    MountSpec tmp;
    tmp.type = MountType::tmpfs;
    tmp.target = "/tmp";
    MountSpec resolv;
    resolv.source = "/srv/app.conf";
    resolv.target = "/etc/resolv.conf";
    MountSpec outer;
    outer.source = "/srv/data";
    outer.target = "/data";
    MountSpec inner;
    inner.type = MountType::tmpfs;
    inner.target = "/data/cache";
    spec.mounts = {outer, inner, tmp, resolv};
    auto m = mounts_of(spec, inputs(fake_host));

    auto nth = [&](std::uint32_t op, const std::string& target, int n) {
        for (std::size_t i = 0; i < m.size(); ++i)
            if (m[i].op == op && m[i].target == target && n-- == 0) return static_cast<int>(i);
        return -1;
    };
    // The app's /tmp replaces the default one (the later mount is the one seen).
    REQUIRE(nth(MOP_FS, "/tmp", 1) >= 0);
    CHECK(nth(MOP_FS, "/tmp", 0) < nth(MOP_FS, "/tmp", 1));
    CHECK(m[nth(MOP_FS, "/tmp", 1)].data == "mode=1777");
    // A volume over a names file wins over the daemon's.
    REQUIRE(nth(MOP_BIND, "/etc/resolv.conf", 1) >= 0);
    CHECK(m[nth(MOP_BIND, "/etc/resolv.conf", 1)].source == "/srv/app.conf");
    // In the order written: a volume inside another after it.
    CHECK(index_of(m, MOP_BIND, "/data") < index_of(m, MOP_FS, "/data/cache"));
    // After the kernel filesystems too.
    CHECK(index_of(m, MOP_FS, "/dev/shm") < index_of(m, MOP_BIND, "/data"));
}

namespace {

struct FlagsRow {
    std::string what;
    std::function<void(AppSpec&)> edit;
    std::uint32_t set, clear;
};

}  // namespace

TEST_CASE("policy: plan_sandbox's flags: read-only root, loopback, no_new_privs, init", "[sandbox][policy]") {
    auto directory = [](AppSpec& s) {
        s.rootfs.type = RootfsType::directory;
        s.rootfs.path = "/nonexistent/isolated-policy-test/rootfs";
    };
    auto row = GENERATE_COPY(values<FlagsRow>({
        {"host rootfs: read-only by default", [](AppSpec&) {}, SB_READONLY_ROOT, 0},
        {"host rootfs, readonlyRootfs false", [](AppSpec& s) { s.security.readonly_rootfs = false; }, 0,
         SB_READONLY_ROOT},
        {"directory rootfs: writable by default", directory, 0, SB_READONLY_ROOT},
        {"directory rootfs, readonlyRootfs true",
         [=](AppSpec& s) {
             directory(s);
             s.security.readonly_rootfs = true;
         },
         SB_READONLY_ROOT, 0},
        {"bridge network: its loopback is brought up", [](AppSpec&) {}, SB_LOOPBACK, 0},
        {"no network: loopback only", [](AppSpec& s) { s.network.mode = NetworkMode::none; }, SB_LOOPBACK, 0},
        {"host network: left alone", [](AppSpec& s) { s.network.mode = NetworkMode::host; }, 0, SB_LOOPBACK},
        {"no_new_privs by default", [](AppSpec&) {}, SB_NO_NEW_PRIVS, 0},
        {"noNewPrivileges false", [](AppSpec& s) { s.security.no_new_privileges = false; }, 0, SB_NO_NEW_PRIVS},
        {"init false", [](AppSpec& s) { s.init = false; }, SB_NO_INIT, 0},
    }));
    INFO(row.what);
    AppSpec spec = base_spec();
    row.edit(spec);
    LaunchPlan plan;
    auto st = plan_sandbox(plan, spec, inputs(fake_host));
    INFO((st ? std::string() : st.error().to_string()));
    REQUIRE(st);
    // Always: a mount namespace, the cgroup namespace, the configured capabilities.
    CHECK((plan.flags & (SB_MOUNT_NS | SB_CGROUP_NS | SB_HAS_CAPS)) == (SB_MOUNT_NS | SB_CGROUP_NS | SB_HAS_CAPS));
    CHECK((plan.flags & row.set) == row.set);
    CHECK((plan.flags & row.clear) == 0);
}

TEST_CASE("policy: plan_sandbox's process hardening: caps, seccomp, rlimits, umask", "[sandbox][policy]") {
    AppSpec spec = base_spec();
    spec.security.cap_drop = {"CAP_NET_RAW"};
    LaunchPlan plan;
    REQUIRE(plan_sandbox(plan, spec, inputs(fake_host)));
    REQUIRE(plan.caps);
    CHECK(*plan.caps == capability_mask(spec.security));
    CHECK(plan.seccomp_bpf == *default_seccomp_bpf(*plan.caps));
    CHECK(plan.umask == 022u);
    REQUIRE(plan.rlimits.size() == 1);
    CHECK(plan.rlimits[0].resource == RLIMIT_NOFILE);
    CHECK(plan.rlimits[0].cur <= 1024);  // select() stays safe
    CHECK(plan.rlimits[0].max <= 524288);
    CHECK(plan.rlimits[0].cur <= plan.rlimits[0].max);
    CHECK(plan.uid == 0u);

    spec.security.seccomp = SeccompMode::unconfined;
    LaunchPlan open;
    REQUIRE(plan_sandbox(open, spec, inputs(fake_host)));
    CHECK(open.seccomp_bpf.empty());
    CHECK(open.caps == plan.caps);  // unconfined is about seccomp only
}

// ---- the default seccomp filter ------------------------------------------------------------

namespace {

std::vector<sock_filter> program_of(const std::string& bpf) {
    std::vector<sock_filter> prog(bpf.size() / sizeof(sock_filter));
    std::memcpy(prog.data(), bpf.data(), prog.size() * sizeof(sock_filter));
    return prog;
}

/// Runs a classic BPF program as the kernel's seccomp does (the instructions its checker
/// admits: loads from seccomp_data, the scratch memory, ALU, forward jumps, returns).
/// nullopt: an instruction seccomp would not load, or a path without a return.
std::optional<std::uint32_t> run_bpf(const std::vector<sock_filter>& prog, const seccomp_data& data) {
    std::uint32_t a = 0, x = 0, mem[BPF_MEMWORDS] = {};
    unsigned char bytes[sizeof data];
    std::memcpy(bytes, &data, sizeof data);
    for (std::size_t pc = 0; pc < prog.size(); ++pc) {
        const sock_filter& i = prog[pc];
        switch (BPF_CLASS(i.code)) {
            case BPF_LD:
            case BPF_LDX: {
                std::uint32_t v = 0;
                switch (BPF_MODE(i.code)) {
                    case BPF_IMM: v = i.k; break;
                    case BPF_MEM:
                        if (i.k >= BPF_MEMWORDS) return std::nullopt;
                        v = mem[i.k];
                        break;
                    case BPF_LEN: v = sizeof data; break;
                    case BPF_ABS:
                        if (BPF_CLASS(i.code) != BPF_LD || BPF_SIZE(i.code) != BPF_W || i.k % 4 != 0 ||
                            i.k + 4 > sizeof data)
                            return std::nullopt;
                        std::memcpy(&v, bytes + i.k, 4);
                        break;
                    default: return std::nullopt;
                }
                (BPF_CLASS(i.code) == BPF_LD ? a : x) = v;
                break;
            }
            case BPF_ST:
            case BPF_STX:
                if (i.k >= BPF_MEMWORDS) return std::nullopt;
                mem[i.k] = BPF_CLASS(i.code) == BPF_ST ? a : x;
                break;
            case BPF_ALU: {
                std::uint32_t v = BPF_SRC(i.code) == BPF_X ? x : i.k;
                switch (BPF_OP(i.code)) {
                    case BPF_ADD: a += v; break;
                    case BPF_SUB: a -= v; break;
                    case BPF_MUL: a *= v; break;
                    case BPF_DIV:
                        if (v == 0) return std::nullopt;
                        a /= v;
                        break;
                    case BPF_MOD:
                        if (v == 0) return std::nullopt;
                        a %= v;
                        break;
                    case BPF_OR: a |= v; break;
                    case BPF_AND: a &= v; break;
                    case BPF_XOR: a ^= v; break;
                    case BPF_LSH: a = v < 32 ? a << v : 0; break;
                    case BPF_RSH: a = v < 32 ? a >> v : 0; break;
                    case BPF_NEG: a = 0u - a; break;
                    default: return std::nullopt;
                }
                break;
            }
            case BPF_JMP: {
                if (BPF_OP(i.code) == BPF_JA) {
                    pc += i.k;
                    break;
                }
                std::uint32_t v = BPF_SRC(i.code) == BPF_X ? x : i.k;
                bool taken = false;
                switch (BPF_OP(i.code)) {
                    case BPF_JEQ: taken = a == v; break;
                    case BPF_JGT: taken = a > v; break;
                    case BPF_JGE: taken = a >= v; break;
                    case BPF_JSET: taken = (a & v) != 0; break;
                    default: return std::nullopt;
                }
                pc += taken ? i.jt : i.jf;
                break;
            }
            case BPF_RET:
                if (BPF_RVAL(i.code) == BPF_K) return i.k;
                if (BPF_RVAL(i.code) == BPF_A) return a;
                return std::nullopt;
            case BPF_MISC:
                if (BPF_MISCOP(i.code) == BPF_TAX) x = a;
                else a = x;
                break;
        }
    }
    return std::nullopt;  // ran off the end
}

std::uint64_t caps_with(std::vector<std::string> add, std::vector<std::string> drop = {}) {
    SecuritySpec s;
    s.cap_add = std::move(add);
    s.cap_drop = std::move(drop);
    return capability_mask(s);
}

constexpr std::uint32_t kAllow = SECCOMP_RET_ALLOW;
constexpr std::uint32_t kEperm = SECCOMP_RET_ERRNO | EPERM;
constexpr std::uint32_t kEnosys = SECCOMP_RET_ERRNO | ENOSYS;

std::string verdict_name(std::uint32_t v) {
    if (v == kAllow) return "allow";
    if ((v & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_ERRNO) return "errno " + errno_name(int(v & SECCOMP_RET_DATA));
    if ((v & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_THREAD) return "kill thread";
    if ((v & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS) return "kill process";
    return "action " + std::to_string(v);
}

/// The filter's verdict on syscall NAME (native numbering) with first argument ARG0.
std::uint32_t verdict(const std::vector<sock_filter>& prog, const char* name, std::uint64_t arg0 = 0) {
    seccomp_data d{};
    d.nr = seccomp_syscall_resolve_name(name);
    d.arch = seccomp_arch_native();
    d.args[0] = arg0;
    auto v = run_bpf(prog, d);
    INFO(name);
    REQUIRE(v);
    return *v;
}

struct SyscallRow {
    std::string caps;  ///< "" = Docker's 14, "+CAP_X" added, "-CAP_X" dropped
    const char* syscall;
    std::uint64_t arg0;
    std::uint32_t expect;
};

}  // namespace

TEST_CASE("policy: the default seccomp filter is a well-formed program that checks the architecture first",
          "[sandbox][policy]") {
    auto caps = GENERATE(values<std::uint64_t>({caps_with({}), caps_with({}, {"ALL"}), caps_with({"ALL"}),
                                                caps_with({"CAP_SYS_ADMIN"})}));
    INFO("capability mask " << caps);
    auto bpf = default_seccomp_bpf(caps);
    INFO((bpf ? std::string() : bpf.error().to_string()));
    REQUIRE(bpf);
    REQUIRE(!bpf->empty());
    REQUIRE(bpf->size() % sizeof(sock_filter) == 0);
    auto prog = program_of(*bpf);
    CHECK(prog.size() <= BPF_MAXINSNS);  // the kernel's limit for one filter
    // First the architecture: a foreign one's numbers mean other syscalls.
    CHECK(prog[0].code == (BPF_LD | BPF_W | BPF_ABS));
    CHECK(prog[0].k == offsetof(seccomp_data, arch));
    CHECK(BPF_CLASS(prog.back().code) == BPF_RET);
    // Every jump lands inside the program.
    for (std::size_t pc = 0; pc < prog.size(); ++pc) {
        const auto& i = prog[pc];
        if (BPF_CLASS(i.code) != BPF_JMP) continue;
        INFO("instruction " << pc);
        if (BPF_OP(i.code) == BPF_JA) {
            CHECK(pc + 1 + i.k < prog.size());
        } else {
            CHECK(pc + 1 + i.jt < prog.size());
            CHECK(pc + 1 + i.jf < prog.size());
        }
    }
    // Built once per mask: the same bytes again.
    CHECK(*default_seccomp_bpf(caps) == *bpf);
}

TEST_CASE("policy: the default seccomp filter allows Docker's list and refuses the rest", "[sandbox][policy]") {
    const std::uint64_t plain_clone = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD | CLONE_SYSVSEM |
                                      CLONE_SETTLS | CLONE_PARENT_SETTID | CLONE_CHILD_CLEARTID;  // a thread
    auto row = GENERATE_COPY(values<SyscallRow>({
        // what every program needs
        {"", "read", 0, kAllow},
        {"", "write", 0, kAllow},
        {"", "openat", 0, kAllow},
        {"", "execve", 0, kAllow},
        {"", "futex", 0, kAllow},
        {"", "exit_group", 0, kAllow},
        {"", "rt_sigreturn", 0, kAllow},
        {"", "ptrace", 0, kAllow},  // Docker allows it (kernels >= 4.8 check it well)
        // processes and threads, but no new namespaces
        {"", "clone", plain_clone, kAllow},
        {"", "clone", SIGCHLD, kAllow},  // fork
        {"", "clone", CLONE_NEWUSER | SIGCHLD, kEperm},
        {"", "clone", CLONE_NEWNS | SIGCHLD, kEperm},
        {"", "clone", CLONE_NEWPID | SIGCHLD, kEperm},
        {"", "clone", CLONE_NEWNET | SIGCHLD, kEperm},
        {"", "clone", CLONE_NEWUTS | SIGCHLD, kEperm},
        {"", "clone", CLONE_NEWIPC | SIGCHLD, kEperm},
        {"", "clone", CLONE_NEWCGROUP | SIGCHLD, kEperm},
        {"", "clone", plain_clone | CLONE_NEWUSER, kEperm},
        {"", "clone3", 0, kEnosys},  // its flags are in memory: libc falls back to clone
        {"", "unshare", CLONE_NEWUSER, kEperm},
        {"", "setns", 0, kEperm},
        // the kernel's and the host's business
        {"", "mount", 0, kEperm},
        {"", "umount2", 0, kEperm},
        {"", "pivot_root", 0, kEperm},
        {"", "open_tree", 0, kEperm},
        {"", "move_mount", 0, kEperm},
        {"", "fsopen", 0, kEperm},
        {"", "init_module", 0, kEperm},
        {"", "finit_module", 0, kEperm},
        {"", "delete_module", 0, kEperm},
        {"", "kexec_load", 0, kEperm},
        {"", "reboot", 0, kEperm},
        {"", "swapon", 0, kEperm},
        {"", "bpf", 0, kEperm},
        {"", "perf_event_open", 0, kEperm},
        {"", "keyctl", 0, kEperm},
        {"", "add_key", 0, kEperm},
        {"", "request_key", 0, kEperm},
        {"", "open_by_handle_at", 0, kEperm},
        {"", "settimeofday", 0, kEperm},
        {"", "clock_settime", 0, kEperm},
        {"", "acct", 0, kEperm},
        {"", "sethostname", 0, kEperm},
        {"", "syslog", 0, kEperm},
        {"", "kcmp", 0, kEperm},
        {"", "process_vm_readv", 0, kEperm},
        {"", "userfaultfd", 0, kEperm},
        {"", "mbind", 0, kEperm},
        // personality: only the harmless personas (Docker's list)
        {"", "personality", 0x0, kAllow},
        {"", "personality", 0x8, kAllow},
        {"", "personality", 0xffffffff, kAllow},  // a query
        {"", "personality", 0x0040000, kEperm},   // ADDR_NO_RANDOMIZE
        // a kept capability allows what it is for
        {"", "chroot", 0, kAllow},  // CAP_SYS_CHROOT is among Docker's 14
        {"-CAP_SYS_CHROOT", "chroot", 0, kEperm},
        {"+CAP_SYS_ADMIN", "mount", 0, kAllow},
        {"+CAP_SYS_ADMIN", "unshare", CLONE_NEWUSER, kAllow},
        {"+CAP_SYS_ADMIN", "setns", 0, kAllow},
        {"+CAP_SYS_ADMIN", "clone", CLONE_NEWUSER | SIGCHLD, kAllow},
        {"+CAP_SYS_ADMIN", "clone3", 0, kAllow},
        {"+CAP_SYS_ADMIN", "kexec_load", 0, kEperm},
        {"+CAP_SYS_PTRACE", "kcmp", 0, kAllow},
        {"+CAP_SYS_PTRACE", "process_vm_readv", 0, kAllow},
        {"+CAP_SYS_TIME", "settimeofday", 0, kAllow},
        {"+CAP_SYS_TIME", "clock_settime", 0, kAllow},
        {"+CAP_SYS_MODULE", "finit_module", 0, kAllow},
        {"+CAP_SYS_BOOT", "reboot", 0, kAllow},
        {"+CAP_SYS_BOOT", "kexec_load", 0, kEperm},
        {"+CAP_SYS_NICE", "mbind", 0, kAllow},
        {"+CAP_SYS_PACCT", "acct", 0, kAllow},
        {"+CAP_BPF", "bpf", 0, kAllow},
        {"+CAP_PERFMON", "perf_event_open", 0, kAllow},
        {"+CAP_DAC_READ_SEARCH", "open_by_handle_at", 0, kAllow},
        {"+CAP_SYSLOG", "syslog", 0, kAllow},
        // never, whatever is kept
        {"+ALL", "keyctl", 0, kEperm},
        {"+ALL", "swapon", 0, kEperm},
        {"+ALL", "kexec_load", 0, kEperm},
        {"+ALL", "userfaultfd", 0, kEperm},
    }));
    std::uint64_t caps = row.caps.empty() ? caps_with({})
                         : row.caps[0] == '+' ? caps_with({row.caps.substr(1)})
                                              : caps_with({}, {row.caps.substr(1)});
    INFO(row.syscall << "(" << row.arg0 << ") with " << (row.caps.empty() ? "Docker's 14" : row.caps));
    if (seccomp_syscall_resolve_name(row.syscall) == __NR_SCMP_ERROR) {
        SUCCEED("not a syscall of this architecture");
        return;
    }
    auto prog = program_of(*default_seccomp_bpf(caps));
    auto v = verdict(prog, row.syscall, row.arg0);
    CHECK(verdict_name(v) == verdict_name(row.expect));
}

TEST_CASE("policy: the default seccomp filter refuses foreign architectures and numbers it does not know",
          "[sandbox][policy]") {
    auto prog = program_of(*default_seccomp_bpf(caps_with({})));
    auto is_kill = [](std::uint32_t v) {
        return (v & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_THREAD ||
               (v & SECCOMP_RET_ACTION_FULL) == SECCOMP_RET_KILL_PROCESS;
    };
    // Another architecture's calling convention (32-bit syscalls on a 64-bit kernel).
    std::uint32_t native = seccomp_arch_native();
    seccomp_data d{};
    d.arch = native == AUDIT_ARCH_X86_64 ? AUDIT_ARCH_I386 : AUDIT_ARCH_X86_64;
    for (int nr : {0, 1, 3, 4, 11, 120}) {
        d.nr = nr;
        auto v = run_bpf(prog, d);
        REQUIRE(v);
        INFO("foreign nr " << nr << ": " << verdict_name(*v));
        CHECK(is_kill(*v));
    }
#if defined(__x86_64__)
    // x32 numbers (bit 30) on x86_64 are the same table by another door: not allowed.
    d.arch = AUDIT_ARCH_X86_64;
    for (const char* name : {"read", "write", "openat", "mount"}) {
        d.nr = seccomp_syscall_resolve_name(name) | 0x40000000;
        auto v = run_bpf(prog, d);
        REQUIRE(v);
        INFO("x32 " << name << ": " << verdict_name(*v));
        CHECK(*v != kAllow);
    }
#endif
    // A number no table has yet: the default action.
    d.arch = native;
    d.nr = 1000;
    CHECK(verdict_name(*run_bpf(prog, d)) == verdict_name(kEperm));
}

// ---- the launch plan's bytes ---------------------------------------------------------------

namespace {

struct Record {
    std::uint32_t tag;
    std::string value;
};

/// init_protocol.h's records, read as the init reads them; every byte accounted for.
std::vector<Record> decode(const std::string& blob) {
    std::vector<Record> out;
    std::size_t off = 0;
    while (off < blob.size()) {
        REQUIRE(off + 8 <= blob.size());
        std::uint32_t tag, len;
        std::memcpy(&tag, blob.data() + off, 4);
        std::memcpy(&len, blob.data() + off + 4, 4);
        REQUIRE(len <= blob.size() - off - 8);
        out.push_back({tag, blob.substr(off + 8, len)});
        off += 8 + len;
    }
    return out;
}

template <typename T>
T scalar(const Record& r) {
    REQUIRE(r.value.size() == sizeof(T));
    T v;
    std::memcpy(&v, r.value.data(), sizeof v);
    return v;
}

MountStep mount_of(const Record& r) {
    REQUIRE(r.value.size() >= sizeof(plan_mount));
    plan_mount pm;
    std::memcpy(&pm, r.value.data(), sizeof pm);
    CHECK(pm.pad == 0);
    MountStep s;
    s.op = pm.op;
    s.flags = pm.flags;
    s.attr = pm.attr;
    s.mode = pm.mode;
    s.major = pm.major;
    s.minor = pm.minor;
    // Exactly four NUL-terminated strings follow.
    std::string rest = r.value.substr(sizeof pm);
    REQUIRE(std::count(rest.begin(), rest.end(), '\0') == 4);
    REQUIRE(rest.back() == '\0');
    std::string* fields[] = {&s.source, &s.target, &s.fstype, &s.data};
    std::size_t at = 0;
    for (auto* f : fields) {
        std::size_t nul = rest.find('\0', at);
        *f = rest.substr(at, nul - at);
        at = nul + 1;
    }
    return s;
}

std::vector<std::uint32_t> tags_of(const std::vector<Record>& rs) {
    std::vector<std::uint32_t> t;
    for (const auto& r : rs) t.push_back(r.tag);
    return t;
}

}  // namespace

TEST_CASE("policy: LaunchPlan::encode writes every record, in order, and they read back", "[sandbox][policy]") {
    LaunchPlan p;
    p.app_name = "web";
    p.instance = "i-42";
    p.argv = {"/bin/sh", "-c", ""};  // an empty argument is kept
    p.env = {"A=1", "PATH=/bin"};
    p.workdir = "/srv";
    p.log_name = "web.log";
    p.log.max_size = 12345;
    p.log.max_files = 7;
    p.flags = SB_MOUNT_NS | SB_LOOPBACK | SB_READONLY_ROOT;
    p.cgroup_procs = {"/sys/fs/cgroup/a/cgroup.procs", "/sys/fs/cgroup/b/cgroup.procs"};
    p.hostname = "web";
    p.root_stage = "/run/isolated/stage/web";
    MountStep root;
    root.op = MOP_ROOT;
    root.target = "/";
    root.fstype = "tmpfs";
    root.data = "mode=0755,size=1m";
    root.attr = MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV;
    MountStep node;
    node.op = MOP_MKNOD;
    node.target = "/dev/null";
    node.mode = 0666;
    node.major = 1;
    node.minor = 3;
    MountStep bind;
    bind.op = MOP_BIND;
    bind.source = "/srv/data";
    bind.target = "/data";
    bind.flags = MF_RECURSIVE | MF_READONLY | MF_IDMAP;
    p.mounts = {root, node, bind};
    p.uid = 1000;
    p.gid = 1001;
    p.groups = {1001, 10};
    p.caps = 0x1234'5678'9abcULL;
    p.seccomp_bpf = std::string("\x20\0\0\0\x04\0\0\0", 8);  // NULs inside are kept
    p.rlimits = {{RLIMIT_NOFILE, 1024, 524288}, {RLIMIT_NPROC, 10, 20}};
    p.umask = 022;
    p.userns = LaunchPlan::UserNs{200000, 300000, 65536};

    auto rs = decode(p.encode());
    CHECK(tags_of(rs) == std::vector<std::uint32_t>{
                             PLAN_APP_NAME, PLAN_INSTANCE, PLAN_ARG, PLAN_ARG, PLAN_ARG, PLAN_ENV, PLAN_ENV,
                             PLAN_WORKDIR, PLAN_LOG_NAME, PLAN_LOG_MAX_SIZE, PLAN_LOG_MAX_FILES, PLAN_FLAGS,
                             PLAN_CGROUP_PROCS, PLAN_CGROUP_PROCS, PLAN_HOSTNAME, PLAN_ROOT_STAGE, PLAN_MOUNT,
                             PLAN_MOUNT, PLAN_MOUNT, PLAN_UID, PLAN_GID, PLAN_GROUPS, PLAN_CAPS, PLAN_SECCOMP,
                             PLAN_RLIMIT, PLAN_RLIMIT, PLAN_UMASK, PLAN_USERNS});
    REQUIRE(rs.size() == 28);
    CHECK(rs[0].value == "web");
    CHECK(rs[1].value == "i-42");
    CHECK(rs[2].value == "/bin/sh");
    CHECK(rs[3].value == "-c");
    CHECK(rs[4].value.empty());
    CHECK(rs[5].value == "A=1");
    CHECK(rs[6].value == "PATH=/bin");
    CHECK(rs[7].value == "/srv");
    CHECK(rs[8].value == "web.log");
    CHECK(scalar<std::uint64_t>(rs[9]) == 12345);
    CHECK(scalar<std::uint32_t>(rs[10]) == 7);
    CHECK(scalar<std::uint32_t>(rs[11]) == p.flags);
    CHECK(rs[12].value == p.cgroup_procs[0]);
    CHECK(rs[13].value == p.cgroup_procs[1]);
    CHECK(rs[14].value == "web");
    CHECK(rs[15].value == p.root_stage);
    CHECK(mount_of(rs[16]) == root);
    CHECK(mount_of(rs[17]) == node);
    CHECK(mount_of(rs[18]) == bind);
    CHECK(scalar<std::uint32_t>(rs[19]) == 1000);
    CHECK(scalar<std::uint32_t>(rs[20]) == 1001);
    REQUIRE(rs[21].value.size() == 8);
    std::uint32_t groups[2];
    std::memcpy(groups, rs[21].value.data(), 8);
    CHECK(groups[0] == 1001);
    CHECK(groups[1] == 10);
    CHECK(scalar<std::uint64_t>(rs[22]) == *p.caps);
    CHECK(rs[23].value == p.seccomp_bpf);
    for (int i = 0; i < 2; ++i) {
        const auto& v = rs[24 + i].value;
        REQUIRE(v.size() == 24);  // uint32 resource, uint32 pad, uint64 cur, uint64 max
        std::uint32_t resource, pad;
        std::uint64_t cur, max;
        std::memcpy(&resource, v.data(), 4);
        std::memcpy(&pad, v.data() + 4, 4);
        std::memcpy(&cur, v.data() + 8, 8);
        std::memcpy(&max, v.data() + 16, 8);
        CHECK(resource == p.rlimits[i].resource);
        CHECK(pad == 0);
        CHECK(cur == p.rlimits[i].cur);
        CHECK(max == p.rlimits[i].max);
    }
    CHECK(scalar<std::uint32_t>(rs[26]) == 022);
    REQUIRE(rs[27].value.size() == 12);
    std::uint32_t userns[3];
    std::memcpy(userns, rs[27].value.data(), 12);
    CHECK(userns[0] == 200000);
    CHECK(userns[1] == 300000);
    CHECK(userns[2] == 65536);
}

TEST_CASE("policy: LaunchPlan::encode leaves out what is not set", "[sandbox][policy]") {
    struct Row {
        std::string what;
        std::function<void(LaunchPlan&)> edit;
        std::vector<std::uint32_t> tags;
    };
    const std::vector<std::uint32_t> head = {PLAN_APP_NAME, PLAN_INSTANCE, PLAN_ARG, PLAN_WORKDIR};
    auto with = [&](std::vector<std::uint32_t> tail) {
        auto t = head;
        t.insert(t.end(), tail.begin(), tail.end());
        return t;
    };
    auto row = GENERATE_COPY(values<Row>({
        {"nothing but argv: output discarded, no credentials, no hardening", [](LaunchPlan&) {}, with({PLAN_FLAGS})},
        {"a log file", [](LaunchPlan& p) { p.log_name = "a.log"; },
         with({PLAN_LOG_NAME, PLAN_LOG_MAX_SIZE, PLAN_LOG_MAX_FILES, PLAN_FLAGS})},
        {"journald instead of the file",
         [](LaunchPlan& p) {
             p.log_name = "a.log";
             p.log.journal_socket = "/run/systemd/journal/socket";
         },
         with({PLAN_JOURNAL, PLAN_FLAGS})},
        {"a journal socket but output discarded", [](LaunchPlan& p) { p.log.journal_socket = "/run/j"; },
         with({PLAN_FLAGS})},
        {"a uid brings its gid and groups, even none", [](LaunchPlan& p) { p.uid = 0; },
         with({PLAN_FLAGS, PLAN_UID, PLAN_GID, PLAN_GROUPS})},
        {"an empty capability set is still a set", [](LaunchPlan& p) { p.caps = 0; }, with({PLAN_FLAGS, PLAN_CAPS})},
        {"umask 0 is still a umask", [](LaunchPlan& p) { p.umask = 0; }, with({PLAN_FLAGS, PLAN_UMASK})},
    }));
    INFO(row.what);
    LaunchPlan p;
    p.argv = {"/x"};
    row.edit(p);
    auto rs = decode(p.encode());
    CHECK(tags_of(rs) == row.tags);
    for (const auto& r : rs)
        if (r.tag == PLAN_GROUPS) CHECK(r.value.empty());
    for (const auto& r : rs)
        if (r.tag == PLAN_CAPS) CHECK(scalar<std::uint64_t>(r) == 0);
    CHECK(rs[3].value == "/");  // the default workdir
}

// ---- the exit record -----------------------------------------------------------------------

namespace {

struct ExitRow {
    std::string what, text;
    bool ok;
    int code = 0, signal = 0;
    std::int64_t at_ns = 0;
    std::string message = {};
};

}  // namespace

TEST_CASE("policy: parse_exit_record takes this instance's well-formed records only", "[sandbox][policy]") {
    auto row = GENERATE(values<ExitRow>({
        {"as the init writes it", "instance=mine\ncode=0\nsignal=0\nat=1700000000.000000001\nmessage=\n", true, 0, 0,
         1700000000'000000001LL},
        {"killed by a signal", "instance=mine\ncode=137\nsignal=9\nat=1700000000.500000000\nmessage=\n", true, 137, 9,
         1700000000'500000000LL},
        {"a message with '=' and quotes",
         "instance=mine\ncode=126\nsignal=0\nat=5.000000000\nmessage=exec \"/bin/x\": a=b\n", true, 126, 0,
         5'000000000LL, "exec \"/bin/x\": a=b"},
        {"in any order", "message=\ncode=1\nsignal=0\ninstance=mine\n", true, 1, 0, 0},
        {"unknown keys and lines are ignored", "instance=mine\nhello\nfuture=1\ncode=2\nmessage=\n", true, 2, 0, 0},
        {"instance and code without the rest (cut short)", "instance=mine\ncode=3\n", false},
        {"truncated inside the code", "instance=mine\ncode=13", false},
        {"truncated inside the message", "instance=mine\ncode=0\nsignal=0\nat=5.0\nmessage=exec fai", false},
        {"empty", "", false},
        {"garbage", "garbage\n\x01\x02", false},
        {"another instance's", "instance=theirs\ncode=0\nsignal=0\n", false},
        {"an instance that starts like this one", "instance=mine2\ncode=0\n", false},
        {"an instance this one starts like", "instance=min\ncode=0\n", false},
        {"two instances, one of them another", "instance=mine\ninstance=theirs\ncode=0\n", false},
        {"written with CRLF (not the init's)", "instance=mine\r\ncode=0\r\n", false},
        {"no instance", "code=0\nsignal=0\n", false},
        {"no code", "instance=mine\nsignal=9\n", false},
        {"truncated in a key", "instance=mine\ncod", false},
        {"truncated after a key", "instance=mine\ncode=", false},
        {"truncated in the instance", "instance=mi", false},
        {"truncated signal", "instance=mine\ncode=0\nsignal=", false},
        {"truncated time", "instance=mine\ncode=0\nat=1700000000.", false},
        {"a code that is not a number", "instance=mine\ncode=x\n", false},
        {"a code out of range", "instance=mine\ncode=99999999999\n", false},
        {"a signal that is not a number", "instance=mine\ncode=0\nsignal=KILL\n", false},
    }));
    INFO(row.what);
    auto e = runtime::parse_exit_record(row.text, "mine");
    if (!row.ok) {
        CHECK_FALSE(e);
        return;
    }
    REQUIRE(e);
    CHECK(e->code == row.code);
    CHECK(e->signal == row.signal);
    CHECK(std::chrono::duration_cast<std::chrono::nanoseconds>(e->at.time_since_epoch()).count() == row.at_ns);
    CHECK(e->message == row.message);
    CHECK_FALSE(e->oom_killed);  // the record cannot say it: the cgroup does
}

// ---- the words for an init's failure -------------------------------------------------------

namespace {

struct StepRow {
    int step, err;
    std::string detail, expect;
};

}  // namespace

TEST_CASE("policy: describe_init_failure names the step, with the init's detail and the errno", "[sandbox][policy]") {
    // The details are the ones the init sends (init.c, sandbox.c, spawn.cpp).
    auto row = GENERATE(values<StepRow>({
        {STEP_EXEC_INIT, ENOENT, "/usr/libexec/isolated/isolated-init",
         "exec of the sandbox init \"/usr/libexec/isolated/isolated-init\": ENOENT"},
        {STEP_READ_PLAN, EINVAL, "read plan", "the init could not read its launch plan: EINVAL"},
        {STEP_SIGNALS, EMFILE, "signalfd", "the init could not set up signals: EMFILE"},
        {STEP_OPEN_LOG, EACCES, "web.log", "open log file \"web.log\": EACCES"},
        {STEP_PIPES, EMFILE, "pipe", "output pipes: EMFILE"},
        {STEP_FORK, EAGAIN, "log writer", "fork of the log writer: EAGAIN"},
        {STEP_FORK, EAGAIN, "", "fork of the app: EAGAIN"},
        {STEP_CHDIR, ENOENT, "/srv/app", "workdir \"/srv/app\": ENOENT"},
        {STEP_EXEC, EACCES, "/bin/x", "exec \"/bin/x\": EACCES"},
        {STEP_GO, ECANCELED, "", "the sandbox was abandoned before it was built: ECANCELED"},
        {STEP_MOUNT, EPERM, "make / read-only", "make / read-only: EPERM"},
        {STEP_PIVOT, EINVAL, "pivot_root", "pivot_root: EINVAL"},
        {STEP_HOSTNAME, EINVAL, "web", "sethostname \"web\": EINVAL"},
        {STEP_LOOPBACK, EPERM, "bring lo up", "bring lo up: EPERM"},
        {STEP_CREDENTIALS, EPERM, "set user and groups", "set user and groups: EPERM"},
        {STEP_CAPS, EPERM, "capset", "capset: EPERM"},
        {STEP_SECCOMP, EINVAL, "load the seccomp filter", "load the seccomp filter: EINVAL"},
        {STEP_NO_NEW_PRIVS, EINVAL, "no_new_privs", "no_new_privs: EINVAL"},
        {STEP_RLIMIT, EPERM, "setrlimit", "setrlimit: EPERM"},
        {STEP_JOIN, ESRCH, "", "join the namespaces of another app: ESRCH"},
        {STEP_USERNS, EPERM, "create the user namespace", "create the user namespace: EPERM"},
        {STEP_SECRETS, ENOSPC, "write secret \"db\" in /run/secrets", "write secret \"db\" in /run/secrets: ENOSPC"},
        // steps that once borrowed a neighbour's code (init_protocol.h) and its words
        {STEP_CGROUP_NS, EINVAL, "unshare the cgroup namespace", "unshare the cgroup namespace: EINVAL"},
        {STEP_SYSCTL, EROFS, "net.ipv4.ip_unprivileged_port_start=0",
         "sysctl net.ipv4.ip_unprivileged_port_start=0: EROFS"},
        {STEP_PTY, ENOENT, "open a pty in the sandbox", "open a pty in the sandbox: ENOENT"},
        {STEP_PTY, EIO, "/dev/pts/3", "/dev/pts/3: EIO"},
        {STEP_PTY, EIO, "", "open a pty in the sandbox: EIO"},
        {STEP_CGROUP, EBUSY, "cgroup.procs", "enter the app's cgroup (cgroup.procs): EBUSY"},
        {STEP_JOURNAL, ENOENT, "/run/systemd/journal/socket",
         "connect to journald's socket \"/run/systemd/journal/socket\": ENOENT"},
        // the command was not found: no errno to show
        {STEP_RESOLVE, ENOENT, "myapp", "command \"myapp\" not found on PATH"},
        // codes no init sends: the number, and the errno
        {STEP_NONE, EPERM, "x", "sandbox setup step 0: EPERM"},
        {-1, EPERM, "x", "sandbox setup step -1: EPERM"},
        {999, EIO, "x", "sandbox setup step 999: EIO"},
        {INT_MIN, EIO, "", "sandbox setup step " + std::to_string(INT_MIN) + ": EIO"},
    }));
    auto msg = runtime::describe_init_failure(row.step, row.err, row.detail);
    INFO("step " << row.step << ": " << msg);
    CHECK(msg.rfind(row.expect, 0) == 0);  // then " (strerror text)" after an errno
    if (row.step == STEP_RESOLVE) CHECK(msg == row.expect);
    // Without an errno, no errno name.
    CHECK(runtime::describe_init_failure(row.step, 0, row.detail).find(": E") == std::string::npos);
}

TEST_CASE("policy: the init's step codes keep their numbers", "[sandbox][policy]") {
    // An adopted app's init may be older or newer than the daemon that reads its
    // report: a code, once given, keeps its number; new steps take new numbers.
    int codes[] = {STEP_NONE,        STEP_EXEC_INIT, STEP_READ_PLAN,   STEP_SIGNALS,    STEP_OPEN_LOG, STEP_PIPES,
                   STEP_FORK,        STEP_CHDIR,     STEP_EXEC,        STEP_RESOLVE,    STEP_GO,       STEP_MOUNT,
                   STEP_PIVOT,       STEP_HOSTNAME,  STEP_LOOPBACK,    STEP_CREDENTIALS, STEP_CAPS,    STEP_SECCOMP,
                   STEP_NO_NEW_PRIVS, STEP_RLIMIT,   STEP_JOIN,        STEP_USERNS,     STEP_SECRETS,  STEP_CGROUP_NS,
                   STEP_SYSCTL,      STEP_PTY,       STEP_CGROUP,      STEP_JOURNAL};
    for (int i = 0; i < static_cast<int>(std::size(codes)); ++i) CHECK(codes[i] == i);
    CHECK(sizeof(init_report) == 256);  // kind, step, err, pid, detail[240]: read whole by the daemon
}

TEST_CASE("policy: describe_init_failure has words for every step init_protocol.h defines", "[sandbox][policy]") {
    // Read from the header itself, so that a step added there without a message fails here.
    std::string header = test::read_file(std::string(ISOLATED_SOURCE_DIR) + "/daemon/sandbox/init_protocol.h");
    auto begin = header.find("enum init_step {");
    REQUIRE(begin != std::string::npos);
    auto end = header.find("};", begin);
    REQUIRE(end != std::string::npos);
    std::string block = header.substr(begin, end - begin);
    std::regex entry(R"(STEP_([A-Z_]+)\s*=\s*(\d+))");
    int steps = 0;
    for (auto it = std::sregex_iterator(block.begin(), block.end(), entry); it != std::sregex_iterator(); ++it) {
        std::string name = (*it)[1];
        int number = std::stoi((*it)[2]);
        if (name == "NONE") continue;
        ++steps;
        auto msg = runtime::describe_init_failure(number, EPERM, "what-the-init-said");
        INFO("STEP_" << name << " = " << number << ": " << msg);
        CHECK(msg.find("sandbox setup step") == std::string::npos);
        CHECK_FALSE(msg.empty());
    }
    CHECK(steps >= 27);  // the pattern still matches the header
}
