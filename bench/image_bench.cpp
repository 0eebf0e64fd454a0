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
//     alternating in one loop. MB/s = the archive's bytes per second, for all three.
//     Goal: at least as fast as the faster of the two.
#include <fcntl.h>
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
#include "image/store.hpp"
#include "image_users.hpp"
#include "runtime/host_runtime.hpp"

extern char** environ;
namespace fs = std::filesystem;

namespace {

using Clock = std::chrono::steady_clock;

int run_quiet(const std::vector<std::string>& argv) {
    std::vector<char*> args;
    for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
    args.push_back(nullptr);
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
    pid_t pid;
    int rc = posix_spawnp(&pid, args[0], &fa, nullptr, args.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    if (rc != 0) return -1;
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
    std::string init = fs::path(argv[0]).parent_path() / "isolated-init";
    std::string tree = "/usr/lib/python3.11";
    for (int i = 1; i < argc; ++i) {
        std::string a = argv[i];
        if (a == "--rounds" && i + 1 < argc) rounds = std::stoi(argv[++i]);
        else if (a == "--load-rounds" && i + 1 < argc) load_rounds = std::stoi(argv[++i]);
        else if (a == "--init" && i + 1 < argc) init = argv[++i];
        else if (a == "--tree" && i + 1 < argc) tree = argv[++i];
    }
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
        return ok ? std::chrono::duration<double, std::milli>(t1 - t0).count() : -1;
    };
    std::vector<double> t_img, t_dir;
    once(img), once(dirapp);  // warm-up
    for (int i = 0; i < rounds; ++i) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (double ms = once(dirapp); ms >= 0) t_dir.push_back(ms);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (double ms = once(img); ms >= 0) t_img.push_back(ms);
    }
    const double m_img = median(t_img), m_dir = median(t_dir);

    // ---- 2. load throughput ----
    std::vector<double> t_ours, t_skopeo, t_umoci;
    for (int i = 0; i < load_rounds; ++i) {
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
        fs::remove_all(round);
    }
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
    return 0;
}
