/* sandbox_probe: run as an app inside a sandbox, it reports what it sees as
 * "key=value" lines on stdout, then waits for a signal. Static (musl) so it runs in any
 * rootfs. Modes:
 *   report            the sandbox's view (pids, mounts, credentials, hardening)
 *   orphans N         makes N orphans that exit, then reports the zombies left
 *   persist FILE      appends a line to FILE and reports how many lines it has
 *   marker FILE       reports whether FILE existed, then creates it
 *   exit CODE         exits at once with CODE
 *   serve PORT [CODE] an HTTP/1.0 server on PORT answering CODE (default 200) with
 *                     "hello from HOSTNAME"; with CODE "flip:FILE" it answers 500
 *                     while FILE exists
 *   fetch HOST PORT   GET / from HOST:PORT (names from /etc/hosts), prints the body
 *   alloc MB          touches MB megabytes of memory, one at a time
 * Every mode prints "done=1" last. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <sched.h>
#include <unistd.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

static void kv(const char *k, const char *v) { printf("%s=%s\n", k, v); }
static void kvi(const char *k, long v) { printf("%s=%ld\n", k, v); }
static const char *errname(int e) {
    switch (e) {
        case 0: return "ok";
        case EPERM: return "EPERM";
        case EACCES: return "EACCES";
        case EROFS: return "EROFS";
        case ENOENT: return "ENOENT";
        case EBADF: return "EBADF";
        case ETXTBSY: return "ETXTBSY";
        case ENOSYS: return "ENOSYS";
        case EINVAL: return "EINVAL";
        default: return "other";
    }
}

static void status_field(const char *name) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, name, strlen(name)) == 0 && line[strlen(name)] == ':') {
            char *v = line + strlen(name) + 1;
            while (*v == ' ' || *v == '\t') v++;
            v[strcspn(v, "\n")] = 0;
            kv(name, v);
        }
    }
    if (f) fclose(f);
}

static long read_bytes(const char *path, int *err) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        *err = errno;
        return -1;
    }
    char buf[4096];
    long total = 0;
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) total += n;
    *err = n < 0 ? errno : 0;
    close(fd);
    return total;
}

static void report(void) {
    kvi("pid", getpid());
    kvi("ppid", getppid());
    char comm[64] = "";
    FILE *f = fopen("/proc/1/comm", "r");
    if (f) {
        if (fgets(comm, sizeof comm, f)) comm[strcspn(comm, "\n")] = 0;
        fclose(f);
    }
    kv("pid1_comm", comm);
    int procs = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d)))
        if (e->d_name[0] >= '0' && e->d_name[0] <= '9') procs++;
    if (d) closedir(d);
    kvi("procs", procs);
    char host[256] = "";
    gethostname(host, sizeof host);
    kv("hostname", host);
    kvi("uid", getuid());
    kvi("gid", getgid());
    int err;
    long n = read_bytes("/etc/shadow", &err);
    kvi("shadow_bytes", n);
    n = read_bytes("/proc/kcore", &err);
    kvi("kcore_bytes", n);
    n = read_bytes("/proc/timer_list", &err);
    kvi("timer_list_bytes", n);
    n = read_bytes("/etc/passwd", &err);
    kvi("passwd_bytes", n);
    errno = 0;
    kv("mount", errname(mount("none", "/tmp", "tmpfs", 0, NULL) < 0 ? errno : 0));
    kv("finit_module", errname(syscall(SYS_finit_module, -1, "", 0) < 0 ? errno : 0));
    /* Needs no capability: only the seccomp filter refuses it (Docker's profile does). */
    kv("add_key", errname(syscall(SYS_add_key, "user", "isolated-probe", "x", 1, -2 /* process keyring */) < 0
                              ? errno : 0));
    int fd = open("/proc/sys/kernel/hostname", O_WRONLY);
    kv("proc_sys_write", errname(fd < 0 ? errno : 0));
    if (fd >= 0) close(fd);
    fd = open("/proc/sysrq-trigger", O_WRONLY);
    kv("sysrq_write", errname(fd < 0 ? errno : 0));
    if (fd >= 0) close(fd);
    kv("unshare_mnt", errname(unshare(CLONE_NEWNS) < 0 ? errno : 0));
    fd = open("/created-by-app", O_WRONLY | O_CREAT, 0644);
    kv("root_write", errname(fd < 0 ? errno : 0));
    if (fd >= 0) close(fd);
    fd = open("/tmp/created-by-app", O_WRONLY | O_CREAT, 0644);
    kv("tmp_write", errname(fd < 0 ? errno : 0));
    if (fd >= 0) close(fd);
    fd = open("/proc/1/exe", O_WRONLY);
    kv("init_exe_write", errname(fd < 0 ? errno : 0));
    if (fd >= 0) close(fd);
    fd = open("/dev/null", O_WRONLY);
    kv("dev_null_write", errname(fd < 0 ? errno : 0));
    if (fd >= 0) close(fd);
    struct stat st;
    kv("dev_ptmx", errname(stat("/dev/ptmx", &st) < 0 ? errno : 0));
    kv("etc_isolated", errname(stat("/etc/isolated/isolated.conf", &st) < 0 ? errno : 0));
    char fds[256] = "";
    d = opendir("/proc/self/fd");
    int dfd = d ? dirfd(d) : -1;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.' || atoi(e->d_name) == dfd) continue;
        strncat(fds, e->d_name, sizeof fds - strlen(fds) - 2);
        strcat(fds, ",");
    }
    if (d) closedir(d);
    kv("fds", fds);
    char cwd[256] = "";
    if (getcwd(cwd, sizeof cwd)) kv("cwd", cwd);
    char link[128];
    const char *nss[] = {"pid", "net", "ipc", "uts", "mnt"};
    for (int i = 0; i < 5; i++) {
        char path[64], key[16];
        snprintf(path, sizeof path, "/proc/self/ns/%s", nss[i]);
        ssize_t l = readlink(path, link, sizeof link - 1);
        link[l > 0 ? l : 0] = 0;
        snprintf(key, sizeof key, "ns_%s", nss[i]);
        kv(key, link);
    }
    status_field("CapEff");
    status_field("CapPrm");
    status_field("CapBnd");
    status_field("NoNewPrivs");
    status_field("Seccomp");
    status_field("NSpid");
    const char *home = getenv("HOME");
    kv("home", home ? home : "");
    /* The user namespace: its map (whitespace collapsed), the owner of a host file. */
    char map[256] = "";
    FILE *mf = fopen("/proc/self/uid_map", "r");
    if (mf) {
        size_t n = fread(map, 1, sizeof map - 1, mf);
        fclose(mf);
        map[n] = 0;
        char *w = map;
        int space = 1;
        for (char *r = map; *r; r++) {
            if (*r == ' ' || *r == '\t' || *r == '\n') {
                if (!space) *w++ = ' ';
                space = 1;
            } else {
                *w++ = *r;
                space = 0;
            }
        }
        if (w > map && w[-1] == ' ') w--;
        *w = 0;
    }
    kv("uid_map", map);
    char owner[32] = "-1";
    if (stat("/etc/passwd", &st) == 0) snprintf(owner, sizeof owner, "%u", (unsigned)st.st_uid);
    kv("passwd_owner", owner);
}

static int zombies(void) {
    int z = 0;
    DIR *d = opendir("/proc");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] < '0' || e->d_name[0] > '9') continue;
        char path[300], buf[512];
        snprintf(path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen(path, "r");
        if (!f) continue;
        if (fgets(buf, sizeof buf, f)) {
            char *p = strrchr(buf, ')');
            if (p && p[2] == 'Z') z++;
        }
        fclose(f);
    }
    if (d) closedir(d);
    return z;
}

static int serve(int port, const char *code) {
    int s = socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((unsigned short)port);
    if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 64) < 0) {
        kv("serve", errname(errno));
        return 1;
    }
    kv("listening", "1");
    kv("done", "1");
    char host[128] = "";
    gethostname(host, sizeof host);
    for (;;) {
        int c = accept(s, NULL, NULL);
        if (c < 0) continue;
        char req[2048];
        (void)read(c, req, sizeof req);
        const char *status = "200 OK";
        struct stat st;
        if (code && !strncmp(code, "flip:", 5)) {
            if (stat(code + 5, &st) == 0) status = "500 Internal Server Error";
        } else if (code && !strcmp(code, "500")) {
            status = "500 Internal Server Error";
        }
        char resp[512];
        int n = snprintf(resp, sizeof resp, "HTTP/1.0 %s\r\nContent-Type: text/plain\r\n\r\nhello from %s\n", status,
                         host);
        (void)write(c, resp, (size_t)n);
        close(c);
    }
}

static void fetch(const char *host, const char *port) {
    struct addrinfo hints, *res;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        kv("fetch", "resolve");
        return;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(s, res->ai_addr, res->ai_addrlen) < 0) {
        kv("fetch", errname(errno));
        return;
    }
    const char *req = "GET / HTTP/1.0\r\n\r\n";
    (void)write(s, req, strlen(req));
    char buf[1024];
    ssize_t n, total = 0;
    while ((n = read(s, buf + total, sizeof buf - 1 - (size_t)total)) > 0) total += n;
    buf[total] = 0;
    char *body = strstr(buf, "\r\n\r\n");
    if (body) {
        body += 4;
        body[strcspn(body, "\n")] = 0;
        kv("fetched", body);
    }
    close(s);
}

int main(int argc, char **argv) {
    setvbuf(stdout, NULL, _IOLBF, 0);
    const char *mode = argc > 1 ? argv[1] : "report";
    if (!strcmp(mode, "report")) {
        report();
    } else if (!strcmp(mode, "orphans") && argc > 2) {
        int n = atoi(argv[2]);
        for (int i = 0; i < n; i++) {
            pid_t p = fork();
            if (p == 0) {
                if (fork() == 0) {
                    usleep(100000);
                    _exit(0);
                }
                _exit(0);
            }
            if (p > 0) waitpid(p, NULL, 0);
        }
        usleep(1000000);
        kvi("zombies", zombies());
    } else if (!strcmp(mode, "persist") && argc > 2) {
        FILE *f = fopen(argv[2], "a");
        if (f) {
            fputs("x\n", f);
            fclose(f);
        }
        int lines = 0;
        f = fopen(argv[2], "r");
        char buf[64];
        while (f && fgets(buf, sizeof buf, f)) lines++;
        if (f) fclose(f);
        kvi("lines", lines);
    } else if (!strcmp(mode, "marker") && argc > 2) {
        struct stat st;
        kvi("existed", stat(argv[2], &st) == 0);
        int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
        kv("create", errname(fd < 0 ? errno : 0));
        if (fd >= 0) close(fd);
    } else if (!strcmp(mode, "exit") && argc > 2) {
        return atoi(argv[2]);
    } else if (!strcmp(mode, "serve") && argc > 2) {
        return serve(atoi(argv[2]), argc > 3 ? argv[3] : NULL);
    } else if (!strcmp(mode, "fetch") && argc > 3) {
        fetch(argv[2], argv[3]);
    } else if (!strcmp(mode, "alloc") && argc > 2) {
        long mb = atol(argv[2]);
        for (long i = 0; i < mb; i++) {
            char *p = malloc(1 << 20);
            if (!p) break;
            memset(p, 1, 1 << 20);
        }
        kv("allocated", argv[2]);
    }
    kv("done", "1");
    for (;;) pause();
}
