// Issue 14, items 1, 3 and 5: images loaded through the daemon's API (isoctl image
// load) in every format an engine writes, unpacked into the store, and compared with
// what umoci -- the reference OCI unpacker -- makes of the same image. The fixture is
// built here from busybox-static with umoci (layers, whiteout, setuid, capability,
// hardlink, symlink, owners) and converted with skopeo (oci-archive, docker-archive,
// an OCI layout directory with zstd layers).
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void require_tools() {
    require_prerequisite(is_root(), "image tests need root (owners, devices, capabilities)");
    require_prerequisite(have_tool("umoci") && have_tool("skopeo"), "image tests need umoci and skopeo (scripts/install-deps.sh)");
    require_prerequisite(fs::exists("/bin/busybox"), "image tests need busybox-static (/bin/busybox)");
}

/// A valid VFS_CAP_REVISION_2 value: cap_net_raw permitted and effective.
std::string net_raw_capability() {
    std::string v(20, '\0');
    std::uint32_t words[5] = {0x02000000u | 0x1u, 1u << 13, 0, 0, 0};
    std::memcpy(v.data(), words, sizeof words);
    return v;
}

/// One path's attributes, as the comparison sees them (mtimes left out: umoci and we
/// both keep them, but directory mtimes change with every entry written).
struct Node {
    unsigned mode = 0;
    unsigned uid = 0, gid = 0;
    long long size = -1;  ///< regular files only
    std::string link;
    std::map<std::string, std::string> xattrs;
    bool operator==(const Node&) const = default;
};

std::string describe(const Node& n) {
    std::ostringstream o;
    o << "mode " << std::oct << n.mode << std::dec << " owner " << n.uid << ":" << n.gid << " size " << n.size
      << " link \"" << n.link << "\" xattrs";
    for (const auto& [k, v] : n.xattrs) o << " " << k << "(" << v.size() << ")";
    return o.str();
}

std::map<std::string, Node> snapshot(const std::string& root) {
    std::map<std::string, Node> out;
    for (auto it = fs::recursive_directory_iterator(root); it != fs::recursive_directory_iterator(); ++it) {
        std::string p = it->path().string();
        struct stat st {};
        REQUIRE(::lstat(p.c_str(), &st) == 0);
        Node n;
        n.mode = st.st_mode;
        n.uid = st.st_uid;
        n.gid = st.st_gid;
        if (S_ISREG(st.st_mode)) n.size = st.st_size;
        if (S_ISLNK(st.st_mode)) n.link = fs::read_symlink(p).string();
        char names[4096];
        ssize_t len = ::llistxattr(p.c_str(), names, sizeof names);
        for (ssize_t i = 0; i < len;) {
            std::string name(names + i);
            i += static_cast<ssize_t>(name.size()) + 1;
            char value[4096];
            ssize_t vl = ::lgetxattr(p.c_str(), name.c_str(), value, sizeof value);
            if (vl >= 0) n.xattrs[name] = std::string(value, static_cast<std::size_t>(vl));
        }
        out[p.substr(root.size())] = n;
    }
    return out;
}

/// Every path of `want` in `got` with the same attributes, and nothing more.
void compare_trees(const std::string& got_root, const std::string& want_root) {
    auto got = snapshot(got_root);
    auto want = snapshot(want_root);
    REQUIRE(want.size() > 5);
    for (const auto& [path, n] : want) {
        INFO("path " << path);
        auto it = got.find(path);
        REQUIRE(it != got.end());
        INFO("ours:  " << describe(it->second) << "\numoci: " << describe(n));
        CHECK(it->second == n);
    }
    for (const auto& [path, n] : got) {
        INFO("path " << path << " is in our tree only");
        CHECK(want.count(path) == 1);
    }
}

struct Fixture {
    TempDir dir{"isolated-img-fixture"};
    std::string layout = dir / "layout";
    std::string tag = "fixture";
    std::string oci_archive = dir / "fixture-oci.tar";
    std::string oci_unnamed = dir / "unnamed-oci.tar";
    std::string docker_archive = dir / "fixture-docker.tar";
    std::string zstd_layout = dir / "zstd-layout";
    std::string reference = dir / "reference";  ///< umoci raw unpack

    Fixture() {
        const std::string image = layout + ":" + tag;
        must({"umoci", "init", "--layout", layout});
        must({"umoci", "new", "--image", image});
        // Layer 1: busybox and the files a layer applier must get right.
        std::string b1 = dir / "b1";
        must({"umoci", "unpack", "--image", image, b1});
        std::string r = b1 + "/rootfs";
        fs::create_directories(r + "/bin");
        fs::create_directories(r + "/usr/bin");
        fs::create_directories(r + "/etc");
        fs::create_directories(r + "/var/data");
        fs::copy_file("/bin/busybox", r + "/bin/busybox");
        fs::permissions(r + "/bin/busybox", fs::perms(0755));
        fs::create_symlink("busybox", r + "/bin/sh");
        fs::create_symlink("/bin/busybox", r + "/usr/bin/env");
        fs::create_hard_link(r + "/bin/busybox", r + "/bin/ls");
        write_file(r + "/usr/bin/su", "not really su\n");
        REQUIRE(::chmod((r + "/usr/bin/su").c_str(), 04755) == 0);
        write_file(r + "/usr/bin/ping", "not really ping\n");
        REQUIRE(::chmod((r + "/usr/bin/ping").c_str(), 0755) == 0);
        std::string cap = net_raw_capability();
        REQUIRE(::setxattr((r + "/usr/bin/ping").c_str(), "security.capability", cap.data(), cap.size(), 0) == 0);
        write_file(r + "/etc/hello", "hello\n");
        REQUIRE(::chown((r + "/etc/hello").c_str(), 1000, 1001) == 0);
        write_file(r + "/etc/gone", "deleted by layer 2\n");
        fs::create_directories(r + "/etc/olddir/sub");
        write_file(r + "/etc/olddir/sub/f", "deleted with its dir\n");
        write_file(r + "/var/data/db", "data\n");
        REQUIRE(::chown((r + "/var/data").c_str(), 33, 33) == 0);
        REQUIRE(::chmod((r + "/var/data").c_str(), 0750) == 0);
        must({"umoci", "repack", "--image", image, b1});
        // Layer 2: whiteouts (a file and a directory) and a new file.
        std::string b2 = dir / "b2";
        must({"umoci", "unpack", "--image", image, b2});
        fs::remove(b2 + "/rootfs/etc/gone");
        fs::remove_all(b2 + "/rootfs/etc/olddir");
        write_file(b2 + "/rootfs/etc/layer2", "second layer\n");
        must({"umoci", "repack", "--image", image, b2});
        must({"umoci", "config", "--image", image, "--config.cmd", "/bin/sh", "--config.env", "GREETING=hi",
              "--config.workingdir", "/srv", "--config.user", "1000:1001"});
        must({"umoci", "raw", "unpack", "--image", image, reference});
        // The same image in the other formats.
        must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + oci_archive + ":example.com/fixture:oci"});
        must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + oci_unnamed});
        must({"skopeo", "copy", "--quiet", "oci:" + image, "docker-archive:" + docker_archive + ":example.com/fixture:docker"});
        must({"skopeo", "copy", "--quiet", "--dest-compress-format", "zstd", "oci:" + image,
              "oci:" + zstd_layout + ":example.com/fixture:zstd"});
    }
};

std::size_t entries(const std::string& dir) {
    std::size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::directory_iterator(dir)) ++n;
    return n;
}

}  // namespace

TEST_CASE("images: every archive format loads through isoctl and unpacks as umoci does", "[images]") {
    require_tools();
    Fixture fx;
    // The zstd copy really has zstd layers.
    auto idx = json::parse(read_file(fx.zstd_layout + "/index.json"));
    std::string mdigest = idx["manifests"][0]["digest"].get<std::string>().substr(7);
    auto manifest = json::parse(read_file(fx.zstd_layout + "/blobs/sha256/" + mdigest));
    REQUIRE(manifest["layers"].size() == 2);
    CHECK_THAT(manifest["layers"][0]["mediaType"].get<std::string>(), Catch::Contains("zstd"));

    // The oracle itself keeps what the comparison is about.
    char cap[64];
    CHECK(::lgetxattr((fx.reference + "/usr/bin/ping").c_str(), "security.capability", cap, sizeof cap) == 20);
    struct stat su {};
    REQUIRE(::lstat((fx.reference + "/usr/bin/su").c_str(), &su) == 0);
    CHECK((su.st_mode & 07777) == 04755);
    CHECK_FALSE(fs::exists(fx.reference + "/etc/gone"));
    CHECK_FALSE(fs::exists(fx.reference + "/etc/olddir"));

    Daemon d;
    d.start();
    const std::string store = d.state_dir() + "/images";
    struct Format {
        const char* name;
        std::string source;
        std::vector<std::string> extra;
        std::string ref;  ///< the name it gets
    };
    std::vector<Format> formats{
        {"oci-archive", fx.oci_archive, {}, "example.com/fixture:oci"},
        {"docker-archive", fx.docker_archive, {}, "example.com/fixture:docker"},
        {"OCI layout directory with zstd layers", fx.zstd_layout, {}, "example.com/fixture:zstd"},
        {"oci-archive on stdin, named by --name", fx.oci_unnamed, {"--name", "local/fixture:stdin"},
         "docker.io/local/fixture:stdin"},
    };
    for (const auto& f : formats) {
        INFO("format: " << f.name);
        std::vector<std::string> args{"image", "load", f.source};
        bool stdin_source = std::string(f.name).find("stdin") != std::string::npos;
        if (stdin_source) args[2] = "-";
        args.insert(args.end(), f.extra.begin(), f.extra.end());
        RunResult r;
        if (stdin_source) {
            r = run({"sh", "-c", build_dir() + "/isoctl --socket " + d.socket() + " image load - --name local/fixture:stdin < " +
                                     f.source},
                    120s);
        } else {
            r = d.isoctl(args, 120s);
        }
        INFO(r.out << r.err);
        REQUIRE(r.code == 0);
        CHECK_THAT(r.err, Catch::Contains("layer 2/2"));
        auto listed = d.get_json("/v1/images");
        REQUIRE(listed["images"].size() == 1);
        auto image = listed["images"][0];
        CHECK(image["refs"] == json::array({f.ref}));
        const std::string id = image["id"].get<std::string>().substr(7);
        compare_trees(store + "/rootfs/" + id, fx.reference);

        auto inspect = d.isoctl({"image", "inspect", f.ref});
        REQUIRE(inspect.code == 0);
        auto info = json::parse(inspect.out);
        CHECK(info["config"]["cmd"] == json::array({"/bin/sh"}));
        CHECK(info["config"]["workingDir"] == "/srv");
        CHECK(info["config"]["user"] == "1000:1001");
        bool greeting = false;
        for (const auto& e : info["config"]["env"]) greeting = greeting || e == "GREETING=hi";
        CHECK(greeting);
        auto metrics = d.isoctl({"image", "ls"});
        CHECK_THAT(metrics.out, Catch::Contains(id.substr(0, 12)));

        // Removing the last ref removes the image, its tree and its blobs.
        auto rm = d.isoctl({"image", "rm", f.ref});
        INFO(rm.out << rm.err);
        REQUIRE(rm.code == 0);
        CHECK_THAT(rm.out, Catch::Contains("Deleted: sha256:" + id));
        CHECK(entries(store + "/rootfs") == 0);
        CHECK(entries(store + "/blobs/sha256") == 0);
        CHECK(entries(store + "/tmp") == 0);
    }
}

TEST_CASE("images: ls, inspect, rm, prune and metrics through the API, bad archives refused", "[images]") {
    require_tools();
    Fixture fx;
    Daemon d;
    d.start();
    const std::string store = d.state_dir() + "/images";

    // Not an image: refused with the reason, nothing left.
    std::string junk = fx.dir / "junk.tar";
    must({"tar", "-C", fx.dir.path(), "-cf", junk, "b1/config.json"});
    auto bad = d.isoctl({"image", "load", junk});
    CHECK(bad.code == 1);
    CHECK_THAT(bad.err, Catch::Contains("not an image archive"));
    CHECK(entries(store + "/tmp") == 0);
    CHECK(entries(store + "/rootfs") == 0);

    // A malformed --name is refused before anything is stored.
    auto badname = d.isoctl({"image", "load", fx.oci_archive, "--name", "Bad/Name"});
    CHECK(badname.code == 1);
    CHECK_THAT(badname.err, Catch::Contains("lowercase"));

    REQUIRE(d.isoctl({"image", "load", fx.oci_archive}).code == 0);
    auto unnamed = d.isoctl({"image", "load", fx.oci_unnamed});
    REQUIRE(unnamed.code == 0);
    CHECK_THAT(unnamed.out, Catch::Contains("Loaded image"));
    // Same config, so the same image: the second load found its tree unpacked already.
    auto listed = d.get_json("/v1/images");
    REQUIRE(listed["images"].size() == 1);
    CHECK_THAT(unnamed.err, Catch::Contains("already unpacked"));

    // The archives and layers were parsed by isolated-unpack (issue 19, item 4), never
    // in the daemon: libarchive is not mapped there, and no helper is left running.
    CHECK(read_file("/proc/" + std::to_string(d.pid()) + "/maps").find("libarchive") == std::string::npos);
    for (const auto& task : std::filesystem::directory_iterator("/proc/" + std::to_string(d.pid()) + "/task")) {
        std::istringstream children(read_file(task.path().string() + "/children"));
        std::string child, comm;
        while (children >> child) {
            std::ifstream f("/proc/" + child + "/comm");
            std::getline(f, comm);
            CHECK(comm != "isolated-unpack");
        }
    }

    auto ls = d.isoctl({"image", "ls"});
    CHECK_THAT(ls.out, Catch::Contains("REPOSITORY"));
    CHECK_THAT(ls.out, Catch::Contains("example.com/fixture"));
    auto missing = d.isoctl({"image", "inspect", "nosuch:1"});
    CHECK(missing.code == 1);
    CHECK_THAT(missing.err, Catch::Contains("not in the store"));

    auto m = run({"curl", "-sS", "--unix-socket", d.ro_socket(), "http://x/v1/metrics"});
    CHECK_THAT(m.out, Catch::Contains("isolated_images 1\n"));
    CHECK_THAT(m.out, Catch::Contains("isolated_image_store_bytes "));
    // The read-only socket lists but does not change the store.
    auto ro_list = run({"curl", "-sS", "--unix-socket", d.ro_socket(), "http://x/v1/images"});
    CHECK_THAT(ro_list.out, Catch::Contains("example.com/fixture:oci"));
    auto ro_rm = run({"curl", "-sS", "-X", "DELETE", "--unix-socket", d.ro_socket(),
                      "http://x/v1/images/example.com/fixture:oci"});
    CHECK_THAT(ro_rm.out, Catch::Contains("forbidden"));
    auto ro_load = run({"curl", "-sS", "--unix-socket", d.ro_socket(), "-H", "Content-Type: application/x-tar",
                        "--data-binary", "@" + fx.oci_archive, "http://x/v1/images/load"});
    CHECK_THAT(ro_load.out, Catch::Contains("forbidden"));

    // Untag: the image has no name left but stays; prune removes it and its blobs.
    auto id = d.get_json("/v1/images")["images"][0]["id"].get<std::string>();
    auto rm = d.isoctl({"image", "rm", "example.com/fixture:oci"});
    REQUIRE(rm.code == 0);
    CHECK_THAT(rm.out, Catch::Contains("Deleted: " + id));
    CHECK(entries(store + "/rootfs") == 0);
    // Load again without a name: an image with no refs, which prune removes.
    REQUIRE(d.isoctl({"image", "load", fx.oci_unnamed}).code == 0);
    CHECK(d.get_json("/v1/images")["images"][0]["refs"].empty());
    auto byid = d.isoctl({"image", "inspect", id});
    CHECK(byid.code == 0);
    auto prune = d.isoctl({"image", "prune"});
    INFO(prune.out << prune.err);
    REQUIRE(prune.code == 0);
    CHECK_THAT(prune.out, Catch::Contains("Deleted: " + id));
    CHECK(d.get_json("/v1/images")["images"].empty());
    CHECK(entries(store + "/rootfs") == 0);
    CHECK(entries(store + "/blobs/sha256") == 0);
    CHECK(entries(store + "/tmp") == 0);
}
