// isolated-bench-image: image apps (issue 14), each figure measured interleaved with its
// reference in one loop of the same run, as medians.
//
//   isolated-bench-image [--rounds N] [--load-rounds N] [--init PATH] [--tree DIR]
//
// The image: busybox-static (/bin/true is busybox) plus a copy of --tree (default
// /usr/lib/python3.11: a real mix of small and large files), made with umoci (gzip
// layers) and written as an oci-archive by skopeo.
//
//  1. start -> exit of /bin/true as an image app (rootfs.type image: the ref resolved in
//     the store at each start, its config applied) against a directory-rootfs app over
//     the same tree (the image's own unpacked tree), both through HostRuntime::launch with
//     an overlay, alternating in one loop. Goal: ratio <= 1.05.
//  2. load throughput of the oci-archive: our loader into a fresh store (archive read,
//     blobs verified and stored, layers applied into the tree: what `isoctl image load`
//     does once the upload is on disk) against `skopeo copy oci-archive:A oci:DIR` (blobs
//     only) and `umoci unpack` of the same image from an OCI layout (the tree only),
//     alternating in one loop, with `skopeo copy oci-archive:A containers-storage:[vfs@..]`
//     (what `podman load` does: blobs stored and every layer unpacked into a tree, the
//     peer that does our work). MB/s = the archive's bytes per second, for all of them.
//     Goal: at least as fast as the faster of skopeo and umoci.
//  3. pull throughput of the same image from Debian's docker-registry on 127.0.0.1 (in a
//     network namespace this program makes for itself at start, so nothing touches the
//     machine's network; fed by `skopeo copy`): registry::pull into a fresh store (blobs
//     fetched and verified, the tree unpacked: what `isoctl image pull` does) against
//     `skopeo copy docker:// oci:DIR` (blobs only) and `skopeo copy docker://
//     containers-storage:[vfs@..]` (what `podman pull` does: blobs and unpacked layers),
//     alternating in one loop. MB/s = the image's compressed bytes (manifest, config,
//     layers) per second.
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "image/loader.hpp"
#include "image/reference.hpp"
#include "image/store.hpp"
#include "image_users.hpp"
#include "registry/pull.hpp"
#include "runtime/host_runtime.hpp"

extern char** environ;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

/// Starts argv with stdout (and, when `quiet_err`, stderr) on /dev/null; -1 if it cannot.
pid_t spawn(const std::vector<std::string>& argv, bool quiet_err = false) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    if (quiet_err) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

int run_quiet(const std::vector<std::string>& argv, bool quiet_err = false) {
    pid_t pid = spawn(argv, quiet_err);
    if (pid < 0) return -1;
    int st;
    waitpid(pid, &st, 0);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

void must(const std::vector<std::string>& argv) {
    if (run_quiet(argv) != 0) {
        std::cerr << "failed: " << argv[0] << " " << (argv.size() > 1 ? argv[1] : "") << "\n";
        std::exit(1);
    }
}

double median(std::vector<double> v) {
    if (v.empty()) return 0;
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

double ms_since(Clock::time_point t0) { return std::chrono::duration<double, std::milli>(Clock::now() - t0).count(); }

}  // namespace

int main(int argc, char** argv) {
    int rounds = 60, load_rounds = 5;
    std::string only;
    std::string init = fs::path(argv[0]).parent_path() / "isolated-init";
    std::string tree = "/usr/lib/python3.11";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (a == "--load-rounds" && i + 1 < argc) load_rounds = std::stoi(argv[++i]);
        else if (a == "--init" && i + 1 < argc) init = argv[++i];
        else if (a == "--tree" && i + 1 < argc) tree = argv[++i];
        else if (a == "--only" && i + 1 < argc) only = argv[++i];  // start|load|pull: one part, to profile it
    }
    // A network namespace of our own, for the registry on 127.0.0.1 (and everything the
    // bench starts): nothing here touches the machine's network.
    if (::unshare(CLONE_NEWNET) != 0) {
        std::perror("unshare(CLONE_NEWNET)");
        return 1;
    }
    must({"ip", "link", "set", "lo", "up"});
    char tmpl[] = "/var/tmp/isolated-bench-image.XXXXXX";
    const std::string dir = mkdtemp(tmpl);
    for (auto d : {"/run", "/log", "/state", "/fixture"}) fs::create_directories(dir + d);

    // The image.
    const std::string layout = dir + "/fixture/layout", image = layout + ":bench", bundle = dir + "/fixture/bundle";
    const std::string archive = dir + "/fixture/bench-oci.tar";
    must({"umoci", "init", "--layout", layout});
    must({"umoci", "new", "--image", image});
    must({"umoci", "unpack", "--image", image, bundle});
    const std::string r = bundle + "/rootfs";
    fs::create_directories(r + "/bin");
    fs::create_directories(r + "/payload");
    fs::copy_file("/bin/busybox", r + "/bin/busybox");
    fs::permissions(r + "/bin/busybox", fs::perms(0755));
    fs::create_symlink("busybox", r + "/bin/true");
    must({"cp", "-a", tree, r + "/payload/"});
    must({"umoci", "repack", "--image", image, bundle});
    must({"umoci", "config", "--image", image, "--config.cmd", "/bin/true"});
    must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + archive + ":bench.example/image:1"});
    const double archive_mb = static_cast<double>(fs::file_size(archive)) / 1e6;

    // ---- 1. start -> exit: image app vs directory rootfs over the same tree ----
    auto store = isolated::image::Store::open(dir + "/state/images");
    if (!store) {
        std::cerr << "store: " << store.error().to_string() << "\n";
        return 1;
    }
    {
        isolated::unique_fd fd(::open(archive.c_str(), O_RDONLY | O_CLOEXEC));
        auto loaded = isolated::image::load_archive(**store, fd.get(), {});
        if (!loaded || loaded->empty()) {
            std::cerr << "load: " << (loaded ? "no image" : loaded.error().to_string()) << "\n";
            return 1;
        }
    }
    auto rec = (*store)->resolve("bench.example/image:1");
    if (!rec) return 1;
    isolated::ImageUsers users(**store);
    boost::asio::io_context io;
    isolated::runtime::HostRuntimeOptions opt;
    opt.init_path = init;
    opt.run_dir = dir + "/run";
    opt.log_dir = dir + "/log";
    opt.state_dir = dir + "/state";
    opt.images = &users;
    isolated::runtime::HostRuntime rt(io, opt);

    isolated::AppSpec img;
    img.name = "benchimg";
    img.rootfs.type = isolated::RootfsType::image;
    img.rootfs.image = "bench.example/image:1";
    img.workdir.clear();
    img.stop.signal = 0;
    img.network.mode = isolated::NetworkMode::none;
    isolated::AppSpec dirapp;
    dirapp.name = "benchdir";
    dirapp.command = {"/bin/true"};
    dirapp.rootfs.type = isolated::RootfsType::directory;
    dirapp.rootfs.path = (*store)->rootfs_path(rec->id);
    dirapp.network.mode = isolated::NetworkMode::none;

    auto once = [&](const isolated::AppSpec& app) -> double {
        bool ok = false;
        auto t0 = Clock::now();
        Clock::time_point t1;
        isolated::supervisor::InstanceCallbacks cb;
        cb.on_exit = [&](const isolated::ExitInfo& e) {
            t1 = Clock::now();
            ok = e.code == 0;
            if (!ok) std::cerr << app.name << ": " << e.message << "\n";
            io.stop();
        };
        auto inst = rt.launch(app, {}, std::move(cb));
        if (!inst) {
            std::cerr << "launch " << app.name << ": " << inst.error().to_string() << "\n";
            return -1;
        }
        io.restart();
        io.run();
        rt.release_sandbox(app.name);  // a new sandbox at every start measured (issue 19)
        return ok ? std::chrono::duration<double, std::milli>(t1 - t0).count() : -1;
    };
    std::vector<double> t_img, t_dir;
    if (!only.empty() && only != "start") rounds = 0;
    else once(img), once(dirapp);  // warm-up
    for (int i = 0; i < rounds; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (double ms = once(dirapp); ms >= 0) t_dir.push_back(ms);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (double ms = once(img); ms >= 0) t_img.push_back(ms);
    }
    const double m_img = median(t_img), m_dir = median(t_dir);

    // ---- 2. load throughput ----
    std::vector<double> t_ours, t_skopeo, t_umoci, t_cstore;
    // Timed from start to durable, like the others; its temp roots removed after.
    auto cstore = [&](const std::string& src, const std::string& round, std::vector<double>& out) {
        const std::string spec = "containers-storage:[vfs@" + round + "/cs-root+" + round + "/cs-run]bench.example/image:1";
        ::sync();
        auto t0 = Clock::now();
        if (run_quiet({"skopeo", "copy", "--quiet", "--src-tls-verify=false", src, spec}) == 0) {
            ::sync();
            out.push_back(ms_since(t0));
        } else {
            std::cerr << "skopeo copy " << src << " containers-storage: failed\n";
        }
    };
    for (int i = 0; i < (only.empty() || only == "load" ? load_rounds : 0); ++i) {
        const std::string round = dir + "/round" + std::to_string(i);
        fs::create_directories(round);
        {
            auto fresh = isolated::image::Store::open(round + "/images");
            if (!fresh) return 1;
            isolated::unique_fd fd(::open(archive.c_str(), O_RDONLY | O_CLOEXEC));
            ::sync();
            auto t0 = Clock::now();
            auto loaded = isolated::image::load_archive(**fresh, fd.get(), {});
            ::sync();  // all three measured to durable: the store fsyncs its blobs and tree
            if (loaded) t_ours.push_back(ms_since(t0));
            else std::cerr << "load: " << loaded.error().to_string() << "\n";
        }
        {
            ::sync();
            auto t0 = Clock::now();
            if (run_quiet({"skopeo", "copy", "--quiet", "oci-archive:" + archive, "oci:" + round + "/skopeo:bench"}) == 0) {
                ::sync();
                t_skopeo.push_back(ms_since(t0));
            }
        }
        {
            ::sync();
            auto t0 = Clock::now();
            if (run_quiet({"umoci", "unpack", "--image", image, round + "/umoci"}) == 0) {
                ::sync();
                t_umoci.push_back(ms_since(t0));
            }
        }
        cstore("oci-archive:" + archive, round, t_cstore);
    }
    // Every round's output stays until the end (about 0.25 GB a round): on ext4 without a
    // journal, each inode allocation within seconds of a mass delete skips the freed
    // inodes one by one (find_inode_bit -> recently_deleted), which slowed whichever
    // tool ran next after a removal by up to 4x.

    // ---- 3. pull throughput, from a registry on 127.0.0.1 ----
    const std::string regdir = dir + "/registry";
    fs::create_directories(regdir + "/storage");
    {
        FILE* f = std::fopen((regdir + "/config.yml").c_str(), "w");
        std::fprintf(f, "version: 0.1\nlog:\n  level: error\nstorage:\n  filesystem:\n    rootdirectory: %s/storage\n"
                        "http:\n  addr: 127.0.0.1:5000\n", regdir.c_str());
        std::fclose(f);
    }
    const pid_t registry = spawn({"docker-registry", "serve", regdir + "/config.yml"}, true);
    bool up = false;
    for (int i = 0; i < 100 && registry > 0 && !up; ++i) {
        up = run_quiet({"curl", "-sf", "-o", "/dev/null", "http://127.0.0.1:5000/v2/"}, true) == 0;
        if (!up) std::this_thread::sleep_for(std::chrono::milliseconds(100));
    }
    const std::string remote = "127.0.0.1:5000/bench/image:1";
    std::vector<double> p_ours, p_skopeo, p_cstore;
    double image_mb = 0;
    if (up && run_quiet({"skopeo", "copy", "--quiet", "--dest-tls-verify=false", "oci:" + image, "docker://" + remote}) == 0) {
        auto ref = isolated::image::parse_reference(remote);
        isolated::registry::PullOptions popt;
        popt.auth_file = dir + "/no-auth.json";
        popt.insecure = {"127.0.0.1:5000"};
        for (int i = 0; i < (only.empty() || only == "pull" ? load_rounds : 0) && ref; ++i) {
            const std::string round = dir + "/pull" + std::to_string(i);
            fs::create_directories(round);
            {
                auto fresh = isolated::image::Store::open(round + "/images");
                if (!fresh) return 1;
                ::sync();
                auto t0 = Clock::now();
                auto pulled = isolated::registry::pull(**fresh, *ref, popt);
                ::sync();
                if (pulled) {
                    p_ours.push_back(ms_since(t0));
                    image_mb = static_cast<double>(pulled->size) / 1e6;
                } else {
                    std::cerr << "pull: " << pulled.error().message << "\n";
                }
            }
            {
                ::sync();
                auto t0 = Clock::now();
                if (run_quiet({"skopeo", "copy", "--quiet", "--src-tls-verify=false", "docker://" + remote,
                               "oci:" + round + "/skopeo:bench"}) == 0) {
                    ::sync();
                    p_skopeo.push_back(ms_since(t0));
                }
            }
            cstore("docker://" + remote, round, p_cstore);
        }
    } else {
        std::cerr << "registry: not up, or skopeo could not push to it: pull not measured\n";
    }
    if (registry > 0) {
        ::kill(registry, SIGTERM);
        ::waitpid(registry, nullptr, 0);
    }
    rt.shutdown_cleanup();
    fs::remove_all(dir);

    std::printf("Image: busybox-static + %s, %.1f MB as an oci-archive (gzip layers).\n\n", tree.c_str(), archive_mb);
    std::printf("| start -> exit of `true` | runs | median | ratio |\n|---|---:|---:|---:|\n");
    std::printf("| directory rootfs (the image's tree, overlay) | %zu | %.2f ms | 1.00x |\n", t_dir.size(), m_dir);
    std::printf("| image app (ref resolved in the store, config applied, same tree) | %zu | %.2f ms | %.3fx |\n",
                t_img.size(), m_img, m_dir > 0 ? m_img / m_dir : 0);
    std::printf("\n| load of the same archive | runs | median | MB/s (archive bytes) |\n|---|---:|---:|---:|\n");
    auto row = [&](const char* name, const std::vector<double>& v) {
        double m = median(v);
        std::printf("| %s | %zu | %.0f ms | %.1f |\n", name, v.size(), m, m > 0 ? archive_mb / (m / 1000) : 0);
    };
    row("isolated: load_archive into a fresh store (verify + store blobs + unpack the tree)", t_ours);
    row("`skopeo copy oci-archive: oci:` (blobs only)", t_skopeo);
    row("`umoci unpack` from the OCI layout (tree only)", t_umoci);
    row("`skopeo copy oci-archive: containers-storage:[vfs@...]` (= `podman load`: blobs + unpacked layers)", t_cstore);
    std::printf("\n| pull of the same image from docker-registry on 127.0.0.1 (%.1f MB compressed) | runs | median | MB/s |\n"
                "|---|---:|---:|---:|\n", image_mb);
    auto prow = [&](const char* name, const std::vector<double>& v) {
        double m = median(v);
        std::printf("| %s | %zu | %.0f ms | %.1f |\n", name, v.size(), m, m > 0 ? image_mb / (m / 1000) : 0);
    };
    prow("isolated: registry::pull into a fresh store (fetch + verify + store blobs + unpack the tree)", p_ours);
    prow("`skopeo copy docker:// oci:` (blobs only)", p_skopeo);
    prow("`skopeo copy docker:// containers-storage:[vfs@...]` (= `podman pull`: blobs + unpacked layers)", p_cstore);
    return 0;
}
