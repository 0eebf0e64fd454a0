// isolated-unpack: the one process that parses layers and image archives (issue 19,
// item 4). The daemon's image worker runs it for each layer it applies and each
// archive it loads and waits for it, as systemd-importd runs systemd-import and
// systemd-pull: libarchive and what it pulls in (its compressors, libxml2, ICU) are
// never mapped into the daemon, and hostile bytes are decompressed and parsed in a
// short-lived process of their own, confined before it reads a byte (no_new_privs, a
// seccomp filter that refuses running programs, sockets, mounts, namespaces, other
// processes and kernel-wide calls). image/unpack_protocol.hpp has its command lines
// and what it writes back; every failure is a message there, never only an exit status.
#include <archive.h>
#include <archive_entry.h>
#include <seccomp.h>
#include <sys/prctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "image/unpack/apply.hpp"
#include "image/unpack_protocol.hpp"

namespace {

using namespace isolated;
using namespace isolated::image;
namespace proto = isolated::image::unpack_protocol;

/// Writes everything or exits: a reader that went away (the daemon gave up on this
/// archive, or died) leaves nothing to do.
void write_all(const iovec* parts, int count) {
    iovec v[3];
    int n = 0;
    for (int i = 0; i < count; ++i)
        if (parts[i].iov_len > 0) v[n++] = parts[i];
    int at = 0;
    while (at < n) {
        ssize_t w = ::writev(STDOUT_FILENO, v + at, n - at);
        if (w < 0) {
            if (errno == EINTR) continue;
            std::_Exit(1);
        }
        auto left = static_cast<std::size_t>(w);
        while (at < n && left >= v[at].iov_len) left -= v[at++].iov_len;
        if (at < n) {
            v[at].iov_base = static_cast<char*>(v[at].iov_base) + left;
            v[at].iov_len -= left;
        }
    }
}

void send(char kind, std::string_view a, std::string_view b = {}) {
    char head[proto::record_header];
    head[0] = kind;
    auto len = static_cast<std::uint32_t>(a.size() + b.size());
    std::memcpy(head + 1, &len, sizeof len);
    iovec parts[3] = {{head, sizeof head},
                      {const_cast<char*>(a.data()), a.size()},
                      {const_cast<char*>(b.data()), b.size()}};
    write_all(parts, 3);
}

std::string error_of(archive* a) {
    const char* e = archive_error_string(a);
    return e ? e : "archive error";
}

void send_error(char stage, const std::string& message) {
    // Cut to what a record may hold (a hostile archive's message quotes its names).
    std::string m = message.substr(0, proto::max_record - 1);
    send(proto::kind_error, std::string_view(&stage, 1), m);
}

void send_entry(char type, std::int64_t size, std::string_view path, std::string_view target) {
    if (path.size() + target.size() + 13 > proto::max_record) {
        send_error(proto::stage_header, "an entry's path and link target are longer than " +
                                            std::to_string(proto::max_record) + " bytes");
        std::exit(0);
    }
    std::string head(13, '\0');
    head[0] = type;
    auto s = static_cast<std::uint64_t>(size < 0 ? 0 : size);
    auto pl = static_cast<std::uint32_t>(path.size());
    std::memcpy(head.data() + 1, &s, sizeof s);
    std::memcpy(head.data() + 9, &pl, sizeof pl);
    head.append(path);
    send(proto::kind_entry, head, target);
}

/// `isoctl image load`: every entry of the archive on stdin, regular files with their
/// bytes, in order; the daemon keeps the blobs (and hashes them itself).
int members() {
    archive* a = archive_read_new();
    // Only what engines write (plain, gzip, zstd): no "all", which includes filters
    // that run external programs on the hostile bytes.
    archive_read_support_filter_gzip(a);
    archive_read_support_filter_zstd(a);
    archive_read_support_format_tar(a);
    archive_read_support_format_gnutar(a);
    if (archive_read_open_fd(a, STDIN_FILENO, 256 * 1024) != ARCHIVE_OK) {
        send_error(proto::stage_open, error_of(a));
        return 0;
    }
    static char buf[256 * 1024];
    archive_entry* e = nullptr;
    while (true) {
        int r = archive_read_next_header(a, &e);
        if (r == ARCHIVE_EOF) break;
        if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
            send_error(proto::stage_header, error_of(a));
            return 0;
        }
        const char* pn = archive_entry_pathname(e);
        std::string_view path = pn ? pn : "";
        if (const char* hl = archive_entry_hardlink(e)) {
            send_entry(proto::entry_hardlink, 0, path, hl);
            continue;
        }
        auto type = archive_entry_filetype(e);
        if (type == AE_IFLNK) {
            const char* t = archive_entry_symlink(e);
            send_entry(proto::entry_symlink, 0, path, t ? t : "");
            continue;
        }
        if (type != AE_IFREG) {
            send_entry(proto::entry_other, 0, path, {});
            continue;
        }
        send_entry(proto::entry_file, archive_entry_size(e), path, {});
        while (true) {
            la_ssize_t n = archive_read_data(a, buf, sizeof buf);
            if (n < 0) {
                send_error(proto::stage_data, error_of(a));
                return 0;
            }
            send(proto::kind_data, std::string_view(buf, static_cast<std::size_t>(n)));
            if (n == 0) break;
        }
    }
    archive_read_free(a);
    send(proto::kind_done, {});
    return 0;
}

/// One layer onto the tree at fd 3, from the blob on stdin.
int layer(const std::string& what, const std::string& diff_id_text, bool privileged) {
    std::optional<Digest> diff_id;
    if (diff_id_text != "-") {
        auto d = parse_digest(diff_id_text);
        if (!d) {
            std::string out = "error 0\n" + what + ": " + d.error().message;
            iovec part{out.data(), out.size()};
            write_all(&part, 1);
            return 0;
        }
        diff_id = *d;
    }
    ApplyOptions options;
    options.privileged = privileged;
    auto r = unpack::apply_layer(3, STDIN_FILENO, what, diff_id, options);
    std::string out = r ? "ok " + r->diff_id.hex + " " + std::to_string(r->entries) + " " +
                              std::to_string(r->uncompressed_bytes) + "\n"
                        : "error " + std::to_string(r.error().errno_value) + "\n" + r.error().message;
    iovec part{out.data(), out.size()};
    write_all(&part, 1);
    return 0;
}

/// What a parser of hostile bytes never needs, refused (EPERM) before the first byte is
/// read: running a program, sockets, mounts and namespaces, other processes, file
/// handles (open_by_handle_at reaches outside any root), and the kernel's own state.
/// An allow-list would be tighter, but it would have to follow every syscall of glibc,
/// libarchive and its compressors; the things to keep out are these.
const char* const refused[] = {
    "execve", "execveat", "fork", "vfork", "socket", "socketpair", "mount", "umount2", "pivot_root", "chroot",
    "setns", "unshare", "open_tree", "move_mount", "fsopen", "fsconfig", "fsmount", "fspick", "mount_setattr",
    "ptrace", "process_vm_readv", "process_vm_writev", "kill", "pidfd_open", "pidfd_send_signal", "pidfd_getfd",
    "open_by_handle_at", "name_to_handle_at", "bpf", "perf_event_open", "userfaultfd", "keyctl", "add_key",
    "request_key", "io_uring_setup", "io_uring_enter", "io_uring_register", "fanotify_init", "init_module",
    "finit_module", "delete_module", "kexec_load", "kexec_file_load", "reboot", "swapon", "swapoff", "acct",
    "settimeofday", "clock_settime", "clock_adjtime", "adjtimex", "sethostname", "setdomainname", "syslog",
    "quotactl", "iopl", "ioperm",
};

/// no_new_privs and the seccomp filter. Empty when confined, else why not.
std::string confine() {
    if (::prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) return std::string("no_new_privs: ") + std::strerror(errno);
    scmp_filter_ctx ctx = seccomp_init(SCMP_ACT_ALLOW);
    if (!ctx) return "seccomp_init failed";
    for (const char* name : refused) {
        int nr = seccomp_syscall_resolve_name(name);
        if (nr == __NR_SCMP_ERROR) continue;  // not on this architecture
        if (int rc = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0); rc != 0) {
            seccomp_release(ctx);
            return std::string("seccomp rule for ") + name + ": " + std::strerror(-rc);
        }
    }
    int rc = seccomp_load(ctx);
    seccomp_release(ctx);
    if (rc != 0) return std::string("loading the seccomp filter: ") + std::strerror(-rc);
    return {};
}

int usage() {
    std::fputs("isolated-unpack is run by the isolated daemon, not by hand:\n"
               "  isolated-unpack layer <parent pid> <what> <diff_id|-> <privileged 1|0>\n"
               "  isolated-unpack members <parent pid>\n",
               stderr);
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    if (argc < 3) return usage();
    std::string mode = argv[1];
    char* end = nullptr;
    long parent = std::strtol(argv[2], &end, 10);
    if (!end || *end || parent <= 0) return usage();
    // Gone with the daemon's thread that waits for it; and not at all if the daemon
    // went between the spawn and here.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != static_cast<pid_t>(parent)) return 1;
    if (mode == "layer" && argc == 6) {
        if (auto why = confine(); !why.empty()) {
            std::string out = "error 0\n" + std::string(argv[3]) + ": the unpack helper cannot confine itself: " + why;
            iovec part{out.data(), out.size()};
            write_all(&part, 1);
            return 0;
        }
        return layer(argv[3], argv[4], std::string_view(argv[5]) == "1");
    }
    if (mode == "members" && argc == 3) {
        if (auto why = confine(); !why.empty()) {
            send_error(proto::stage_open, "the unpack helper cannot confine itself: " + why);
            return 0;
        }
        return members();
    }
    return usage();
}
