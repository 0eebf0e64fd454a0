// daemon/image: layers applied as the OCI image spec says, hostile archives refused
// with nothing left behind, and the store's refs, removal and prune. Archives are made
// here entry by entry (image_fixtures.hpp), so each case is exactly what it tests.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <filesystem>

#include "image/layer.hpp"
#include "image/loader.hpp"
#include "image/store.hpp"
#include "image/unpack_client.hpp"
#include "unit/image_fixtures.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::image;
using namespace isolated::test::images;
using isolated::test::TempDir;
namespace fs = std::filesystem;

namespace {

struct Rig {
    TempDir dir{"isolated-images"};
    std::string store_dir = dir / "images";
    std::string helper;  ///< "" = the built isolated-unpack
    std::unique_ptr<Store> store;
    explicit Rig(std::string unpack_helper = {}) : helper(std::move(unpack_helper)) { reopen(); }
    void reopen() {
        store.reset();
        auto s = Store::open(store_dir, nullptr, helper);
        REQUIRE(s);
        store = std::move(*s);
    }
    Result<std::vector<ImageRecord>> load(const std::string& archive, std::optional<std::string> name = std::nullopt,
                                          std::vector<std::string>* lines = nullptr) {
        std::string path = dir / "archive.tar";
        test::write_file(path, archive);
        unique_fd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
        REQUIRE(fd);
        LoadOptions o;
        if (name) o.name = *parse_reference(*name);
        return load_archive(*store, fd.get(), o, [lines](const std::string& l) {
            if (lines) lines->push_back(l);
        });
    }
    std::string root(const ImageRecord& r) const { return store->rootfs_path(r.id); }
    std::size_t count(const std::string& sub) const {
        std::size_t n = 0;
        for ([[maybe_unused]] auto& e : fs::directory_iterator(store_dir + "/" + sub)) ++n;
        return n;
    }
    /// What a refused archive must leave: no tree, nothing in tmp, no index entry.
    void check_clean() {
        CHECK(count("tmp") == 0);
        CHECK(count("rootfs") == 0);
        CHECK(store->list().empty());
        reopen();
        CHECK(store->list().empty());
    }
};

struct stat lstat_of(const std::string& p) {
    struct stat st {};
    REQUIRE(::lstat(p.c_str(), &st) == 0);
    return st;
}

bool exists(const std::string& p) {
    struct stat st {};
    return ::lstat(p.c_str(), &st) == 0;
}

/// A valid VFS_CAP_REVISION_2 value: cap_net_raw in permitted, effective set.
std::string net_raw_capability() {
    std::string v(20, '\0');
    std::uint32_t words[5] = {0x02000000u | 0x1u, 1u << 13, 0, 0, 0};
    std::memcpy(v.data(), words, sizeof words);
    return v;
}

}  // namespace

TEST_CASE("image layers: whiteouts, opaque dirs, hardlinks, setuid, capabilities, symlinks, devices", "[image]") {
    Rig rig;
    const bool root = test::is_root();
    Entry su = file("bin/su", "su", 04755);
    Entry ping = file("bin/ping", "ping", 0755);
    if (root) ping.xattrs["security.capability"] = net_raw_capability();
    ping.xattrs["user.note"] = "kept";
    Entry owned = file("home/u/f", "mine", 0600);
    owned.uid = 1000;
    owned.gid = 1001;
    Entry null{"dev/null", 'c', 0666};
    null.major = 1;
    null.minor = 3;
    Entry fifo{"run/fifo", 'p', 0600};
    std::vector<Entry> lower{dir("./"),       dir("etc"),     file("etc/a", "a"),  file("etc/b", "b"),
                             dir("opq"),      file("opq/old1", "1"), dir("opq/sub"), file("opq/sub/old2", "2"),
                             dir("bin"),      file("bin/busybox", "#!busybox", 0755), su, ping,
                             slink("bin/sh", "busybox"), slink("abs", "/etc/b"), dir("home/u", 0700), owned,
                             dir("dev"),      null, dir("run"), fifo,
                             dir("gone"), file("gone/x", "x")};
    std::vector<Entry> upper{file("etc/.wh.a", ""), dir("opq"), file("opq/new", "n"), file("opq/.wh..wh..opq", ""),
                             hardlink("bin/ln", "bin/busybox"), file(".wh.gone", ""),
                             // a file replaced by a directory
                             dir("etc/b"), file("etc/b/inner", "i")};
    auto loaded = rig.load(oci_archive({layer(lower, Compression::gzip), layer(upper, Compression::zstd)},
                                       {.ref_name = "example.com/t/layers:1", .compression = Compression::gzip}));
    REQUIRE(loaded);
    REQUIRE(loaded->size() == 1);
    const std::string r = rig.root(loaded->front());
    CHECK_FALSE(exists(r + "/etc/a"));
    CHECK(S_ISDIR(lstat_of(r + "/etc/b").st_mode));
    CHECK(test::read_file(r + "/etc/b/inner") == "i");
    CHECK(exists(r + "/opq/new"));
    CHECK_FALSE(exists(r + "/opq/old1"));
    CHECK_FALSE(exists(r + "/opq/sub"));
    CHECK_FALSE(exists(r + "/gone"));
    CHECK(lstat_of(r + "/bin/ln").st_ino == lstat_of(r + "/bin/busybox").st_ino);
    CHECK((lstat_of(r + "/bin/su").st_mode & 07777) == 04755);
    CHECK(fs::read_symlink(r + "/bin/sh") == "busybox");
    CHECK(fs::read_symlink(r + "/abs") == "/etc/b");  // kept as written
    CHECK(S_ISFIFO(lstat_of(r + "/run/fifo").st_mode));
    char buf[64];
    ssize_t n = ::getxattr((r + "/bin/ping").c_str(), "user.note", buf, sizeof buf);
    if (n >= 0) CHECK(std::string(buf, static_cast<std::size_t>(n)) == "kept");  // tmpfs may lack user xattrs
    if (root) {
        n = ::getxattr((r + "/bin/ping").c_str(), "security.capability", buf, sizeof buf);
        REQUIRE(n == 20);
        CHECK(std::string(buf, 20) == net_raw_capability());
        auto st = lstat_of(r + "/home/u/f");
        CHECK(st.st_uid == 1000);
        CHECK(st.st_gid == 1001);
        auto dev = lstat_of(r + "/dev/null");
        CHECK(S_ISCHR(dev.st_mode));
        CHECK(major(dev.st_rdev) == 1);
        CHECK(minor(dev.st_rdev) == 3);
    }
    CHECK(lstat_of(r + "/bin/busybox").st_mtime == 1700000000);
    CHECK(rig.count("tmp") == 0);
}

TEST_CASE("image layers: hostile archives are refused, nothing is written outside or left behind", "[image]") {
    TempDir outside("isolated-escape");
    const std::string victim = outside / "victim";
    struct Case {
        const char* name;
        std::vector<Entry> entries;
        const char* says;
    };
    std::string abs_victim = victim.substr(1);  // relative to "/" for the symlink case
    std::vector<Case> cases{
        {"path traversal", {file("../../x", "x")}, "\"..\""},
        {"deep traversal", {dir("a"), file("a/../../../" + abs_victim, "x")}, "\"..\""},
        {"absolute path", {file(victim, "x")}, "absolute path"},
        {"symlink to / then a file through it", {slink("evil", "/"), file("evil/" + abs_victim, "x")}, "outside the image"},
        {"symlink climbing out then a file through it",
         {dir("a"), slink("a/up", "../../../../../../../../.."), file("a/up/" + abs_victim, "x")}, "climbs out"},
        {"hardlink to /etc/shadow", {hardlink("shadow", "/etc/shadow")}, "absolute path"},
        {"hardlink climbing to /etc/shadow", {hardlink("shadow", "../../../../etc/shadow")}, "\"..\""},
        {"hardlink through a symlink out", {slink("e", "/etc"), hardlink("shadow", "e/shadow")}, "outside the image"},
        {"hardlink to a missing file", {hardlink("l", "nothere")}, "not in the image"},
    };
    for (const auto& c : cases) {
        SECTION(c.name) {
            Rig rig;
            auto r = rig.load(oci_archive({layer(c.entries)}, {.ref_name = "example.com/hostile:1"}));
            REQUIRE_FALSE(r);
            INFO(r.error().to_string());
            CHECK_THAT(r.error().message, Catch::Contains(c.says));
            CHECK_THAT(r.error().message, Catch::Contains("entry \""));
            CHECK_FALSE(exists(victim));
            CHECK(fs::is_empty(outside.path()));
            rig.check_clean();
        }
    }
}

TEST_CASE("image archives: bad digests, truncated layers and missing blobs are refused", "[image]") {
    Rig rig;
    Layer good = layer({dir("bin"), file("bin/x", std::string(100000, 'x'))}, Compression::gzip);

    SECTION("a layer whose content does not match its diff_id") {
        std::vector<Digest> wrong{sha256_of("something else")};
        auto r = rig.load(oci_archive({good}, {.ref_name = "example.com/a:1", .compression = Compression::gzip}, &wrong));
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("does not match the config's diff_id"));
        rig.check_clean();
    }
    SECTION("a truncated gzip layer") {
        Layer cut = good;
        cut.blob.resize(cut.blob.size() / 2);
        auto r = rig.load(oci_archive({cut}, {.ref_name = "example.com/a:1", .compression = Compression::gzip}));
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("layer 1/1"));
        rig.check_clean();
    }
    SECTION("a manifest pointing at a missing blob") {
        auto r = rig.load(oci_archive({good}, {.ref_name = "example.com/a:1", .drop_first_layer_blob = true}));
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("which is not in the archive"));
        rig.check_clean();
    }
    SECTION("a blob whose content is not its name") {
        std::string archive = oci_archive({good}, {.ref_name = "example.com/a:1"});
        // Flip one byte of the layer's content inside the tar.
        auto at = archive.find(std::string(1000, 'x'));
        if (at == std::string::npos) {
            // gzip'd: corrupt a byte in the middle of the blob instead.
            auto name = "blobs/sha256/" + sha256_of(good.blob).hex;
            auto pos = archive.find(name);
            REQUIRE(pos != std::string::npos);
            archive[pos + 512 + 100] ^= 0x55;
        } else {
            archive[at + 10] = 'y';
        }
        auto r = rig.load(archive);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("corrupt or tampered"));
        rig.check_clean();
    }
    SECTION("not an image archive") {
        auto r = rig.load(tar({file("hello.txt", "hi")}));
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("not an image archive"));
        auto r2 = rig.load("this is not a tar at all, not even close, just words");
        REQUIRE_FALSE(r2);
        CHECK_THAT(r2.error().message, Catch::Contains("not an image archive"));
        rig.check_clean();
    }
}

TEST_CASE("image unpack helper: one that cannot run, dies or says nothing is an error naming it, nothing left",
          "[image]") {
    const std::string real = find_unpack_helper();
    REQUIRE(::access(real.c_str(), X_OK) == 0);
    Layer good = layer({dir("bin"), file("bin/x", "x")}, Compression::gzip);
    const std::string archive = oci_archive({good}, {.ref_name = "example.com/a:1", .compression = Compression::gzip});
    TempDir scripts("isolated-unpack-fake");
    // A helper that reads archives (the real one) but fails at layers, in `how`.
    auto fake = [&](const std::string& name, const std::string& how) {
        std::string path = scripts / name;
        test::write_file(path, "#!/bin/sh\nif [ \"$1\" = layer ]; then " + how + "; fi\nexec " + real + " \"$@\"\n");
        REQUIRE(::chmod(path.c_str(), 0755) == 0);
        return path;
    };

    SECTION("missing") {
        Rig rig("/nonexistent/isolated-unpack");
        auto r = rig.load(archive);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().to_string(),
                   Catch::Contains("cannot run the unpack helper \"/nonexistent/isolated-unpack\"") &&
                       Catch::Contains("ENOENT"));
        rig.check_clean();
    }
    SECTION("exits without a word") {
        Rig rig("/bin/false");
        auto r = rig.load(archive);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == "the archive: the unpack helper \"/bin/false\" exited with status 1");
        rig.check_clean();
    }
    SECTION("killed while applying a layer") {
        Rig rig(fake("killed", "kill -9 $$"));
        auto r = rig.load(archive);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::StartsWith("layer 1/1 sha256:" + sha256_of(good.blob).hex + ": ") &&
                                          Catch::EndsWith("was killed by signal 9 (Killed)"));
        rig.check_clean();
    }
    SECTION("a layer's answer that is not one") {
        Rig rig(fake("garbage", "echo hello; exit 0"));
        auto r = rig.load(archive);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::EndsWith("gave no result"));
        rig.check_clean();
    }
    SECTION("the real one loads it") {
        Rig rig(real);
        REQUIRE(rig.load(archive));
    }
}

TEST_CASE("image unpack helper: it parses with no_new_privs and a seccomp filter, and only for its parent",
          "[image]") {
    const std::string real = find_unpack_helper();
    int in[2];
    REQUIRE(::pipe2(in, O_CLOEXEC) == 0);
    unique_fd in_rd(in[0]), in_wr(in[1]);
    // It blocks reading the archive from a pipe we hold open: its confinement is in place.
    auto helper = UnpackHelper::spawn(real, {"members", std::to_string(::getpid())}, in_rd.get());
    REQUIRE(helper);
    in_rd.reset();
    const std::string status_file = "/proc/" + std::to_string(helper->pid()) + "/status";
    std::string status;
    for (int i = 0; i < 1000 && status.find("Seccomp:\t2\n") == std::string::npos; ++i) {
        if (i) ::usleep(10000);
        status = test::read_file(status_file);
    }
    CHECK_THAT(status, Catch::Contains("Name:\tisolated-unpack\n"));
    CHECK_THAT(status, Catch::Contains("Seccomp:\t2\n"));
    CHECK_THAT(status, Catch::Contains("NoNewPrivs:\t1\n"));
    // Not an archive, and the end of it: an error record, then a clean exit.
    REQUIRE(::write(in_wr.get(), "junk", 4) == 4);
    in_wr.reset();
    char kind = 0;
    std::string payload;
    auto got = helper->read_record(kind, payload);
    REQUIRE(got);
    REQUIRE(*got);
    CHECK(kind == 'X');
    CHECK(helper->wait());

    // Started for a parent that is not its parent (gone, and the pid reused): it does
    // nothing.
    unique_fd devnull(::open("/dev/null", O_RDONLY | O_CLOEXEC));
    auto orphan = UnpackHelper::spawn(real, {"members", "1"}, devnull.get());
    REQUIRE(orphan);
    auto none = orphan->read_record(kind, payload);
    REQUIRE(none);
    CHECK_FALSE(*none);
    auto ended = orphan->wait();
    REQUIRE_FALSE(ended);
    CHECK_THAT(ended.error().message, Catch::EndsWith("exited with status 1"));
}

TEST_CASE("image store: refs, ids, shared blobs, removal, prune and the in-use hook", "[image]") {
    Rig rig;
    Layer base = layer({dir("bin"), file("bin/busybox", "bb", 0755)});
    Layer app = layer({dir("srv"), file("srv/app", "app")}, Compression::zstd);
    auto one = rig.load(oci_archive({base}, {.ref_name = "busybox:1"}));
    REQUIRE(one);
    REQUIRE(one->front().refs == std::vector<std::string>{"docker.io/library/busybox:1"});
    // A tag only: named by --name's repository.
    std::vector<std::string> lines;
    auto two = rig.load(oci_archive({base, app}, {.ref_name = "v2"}), "example.com/app:latest", &lines);
    REQUIRE(two);
    CHECK(two->front().refs ==
          std::vector<std::string>{"example.com/app:latest", "example.com/app:v2"});
    CHECK(std::any_of(lines.begin(), lines.end(), [](const std::string& l) { return l.find("layer 2/2") != std::string::npos; }));
    // No name at all: reachable by its id only.
    auto three = rig.load(oci_archive({app}, {.cmd = {"/x"}}));
    REQUIRE(three);
    CHECK(three->front().refs.empty());
    CHECK(rig.store->list().size() == 3);
    // The base layer is stored once.
    CHECK(rig.count("blobs/sha256") == 3 /*configs*/ + 3 /*manifests*/ + 2 /*layers*/);

    auto byname = rig.store->resolve("busybox:1");
    REQUIRE(byname);
    CHECK(byname->id == one->front().id);
    CHECK(rig.store->resolve(one->front().id.str())->id == one->front().id);
    CHECK(rig.store->resolve("docker.io/library/busybox@" + one->front().manifest.str())->id == one->front().id);
    CHECK(rig.store->resolve("busybox:2").error().errno_value == ENOENT);
    CHECK(rig.store->resolve("Busybox").error().errno_value == EINVAL);
    auto cfg = rig.store->config(*rig.store->resolve("example.com/app:v2"));
    REQUIRE(cfg);
    CHECK(*cfg->cmd == std::vector<std::string>{"/bin/sh"});
    CHECK(cfg->working_dir == "/srv");
    CHECK(cfg->user == "1000:1000");
    CHECK(cfg->stop_signal == "SIGINT");
    CHECK(cfg->env == std::vector<std::string>{"PATH=/bin", "GREETING=hi"});
    CHECK(test::read_file(rig.store->rootfs_path(two->front().id) + "/srv/app") == "app");
    auto usage = rig.store->usage();
    CHECK(usage.images == 3);
    CHECK(usage.bytes > 0);

    // The index survives a restart.
    rig.reopen();
    CHECK(rig.store->list().size() == 3);

    // Removing one of two refs keeps the image; the last ref takes it, its tree and the
    // blobs no one else uses.
    auto rm = rig.store->remove("example.com/app:v2");
    REQUIRE(rm);
    CHECK(rm->deleted.empty());
    rig.store->set_in_use([&](const Store::Removal& r) -> std::optional<std::string> {
        if (r.whole && r.image.id == two->front().id) return std::string("web");
        return std::nullopt;
    });
    auto busy = rig.store->remove("example.com/app:latest");
    REQUIRE_FALSE(busy);
    CHECK(busy.error().errno_value == EBUSY);
    CHECK_THAT(busy.error().message, Catch::Contains("app \"web\""));
    rig.store->set_in_use(nullptr);
    rm = rig.store->remove("example.com/app:latest");
    REQUIRE(rm);
    REQUIRE(rm->deleted.size() == 1);
    CHECK_FALSE(exists(rig.store->rootfs_path(two->front().id)));
    CHECK(rig.store->has_blob(base.diff_id));  // busybox:1 still uses it
    CHECK(rig.store->has_blob(sha256_of(app.blob)));  // so does the unnamed image
    CHECK(rig.store->remove("example.com/app:latest").error().errno_value == ENOENT);

    // Prune: the image without a name goes, with the blobs only it used.
    auto pruned = rig.store->prune();
    REQUIRE(pruned);
    CHECK(pruned->images == std::vector<Digest>{three->front().id});
    CHECK_FALSE(rig.store->has_blob(sha256_of(app.blob)));
    CHECK(rig.store->list().size() == 1);
    CHECK(rig.count("rootfs") == 1);
    rm = rig.store->remove(one->front().id.str());
    REQUIRE(rm);
    CHECK(rig.count("rootfs") == 0);
    CHECK(rig.count("blobs/sha256") == 0);
}

TEST_CASE("image store: leftovers in tmp go and a damaged index is set aside when it opens", "[image]") {
    Rig rig;
    REQUIRE(rig.load(oci_archive({layer({file("a", "a")})}, {.ref_name = "x.io/a:1"})));
    fs::create_directories(rig.store_dir + "/tmp/rootfs-half/etc");
    test::write_file(rig.store_dir + "/tmp/blob-abc", "partial");
    rig.reopen();
    CHECK(rig.count("tmp") == 0);
    CHECK(rig.store->list().size() == 1);
    test::write_file(rig.store_dir + "/index.json", "{\"images\": [ {\"id\": 3");
    std::vector<std::string> warnings;
    rig.store.reset();
    auto s = Store::open(rig.store_dir, &warnings);
    REQUIRE(s);
    CHECK((*s)->list().empty());
    CHECK(exists(rig.store_dir + "/index.json.bad"));
    REQUIRE_FALSE(warnings.empty());
    CHECK_THAT(warnings.back(), Catch::Contains("damaged"));
}
