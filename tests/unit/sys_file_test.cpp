// daemon/sys/file: the daemon's one set of file and directory helpers, on a temp dir.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>

#include "support/test_env.hpp"
#include "sys/file.hpp"

using namespace isolated;
using isolated::test::TempDir;
namespace fs = std::filesystem;

namespace {

mode_t mode_of(const std::string& path) {
    struct stat st {};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_mode & 07777;
}

/// Names in `dir`, sorted.
std::vector<std::string> entries(const std::string& dir) {
    std::vector<std::string> out;
    for (auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
    std::sort(out.begin(), out.end());
    return out;
}

}  // namespace

TEST_CASE("sys files: what replace_file_at writes, read_file reads back", "[sys]") {
    TempDir dir("isolated-sys");
    const std::string path = dir / "a.txt";
    REQUIRE(sys::replace_file_at(AT_FDCWD, path, "one\ntwo\n"));
    CHECK(*sys::read_file(path) == "one\ntwo\n");
    CHECK(mode_of(path) == 0644);
    // Replaced whole, shorter content included; no temp file left.
    REQUIRE(sys::replace_file_at(AT_FDCWD, path, "3"));
    CHECK(*sys::read_file(path) == "3");
    CHECK(entries(dir.path()) == std::vector<std::string>{"a.txt"});

    // Relative to a directory fd.
    auto d = sys::open_dir(dir.path());
    REQUIRE(d);
    REQUIRE(sys::replace_file_at(d->get(), "b", std::string(100000, 'x')));
    CHECK(sys::read_file_at(d->get(), "b")->size() == 100000);

    // The empty file.
    REQUIRE(sys::replace_file_durably(dir / "empty", ""));
    CHECK(sys::read_file(dir / "empty")->empty());
}

TEST_CASE("sys files: a missing file is an error naming it, with ENOENT", "[sys]") {
    TempDir dir("isolated-sys");
    auto r = sys::read_file(dir / "none");
    REQUIRE_FALSE(r);
    CHECK(r.error().errno_value == ENOENT);
    CHECK(r.error().message == "open \"" + dir / "none" + "\"");
    // A directory opens but does not read.
    auto d = sys::read_file(dir.path());
    REQUIRE_FALSE(d);
    CHECK(d.error().errno_value == EISDIR);
    CHECK(d.error().message == "read \"" + dir.path() + "\"");

    auto o = sys::open_dir(dir / "none");
    REQUIRE_FALSE(o);
    CHECK(o.error().errno_value == ENOENT);
}

TEST_CASE("sys files: read_file_at does not follow a symlink", "[sys]") {
    TempDir dir("isolated-sys");
    test::write_file(dir / "real", "secret");
    fs::create_symlink(dir / "real", dir / "link");
    auto d = sys::open_dir(dir.path());
    REQUIRE(d);
    CHECK(*sys::read_file_at(d->get(), "real") == "secret");
    auto r = sys::read_file_at(d->get(), "link");
    REQUIRE_FALSE(r);
    CHECK(r.error().errno_value == ELOOP);
    CHECK(r.error().message == "open \"link\"");
}

TEST_CASE("sys files: read_all stops at its cap", "[sys]") {
    TempDir dir("isolated-sys");
    test::write_file(dir / "big", std::string((1 << 20) + 1, 'x'));
    int fd = ::open((dir / "big").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    auto r = sys::read_all(fd, 1 << 20);
    ::close(fd);
    REQUIRE_FALSE(r);
    CHECK(r.error().to_string() == "larger than 1 MiB");
    fd = ::open((dir / "big").c_str(), O_RDONLY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(sys::read_all(fd, (1 << 20) + 1)->size() == (1 << 20) + 1);
    ::close(fd);
}

TEST_CASE("sys files: a failed replace leaves the old file and no temp file", "[sys]") {
    TempDir dir("isolated-sys");
    // The rename fails: a non-empty directory holds the name.
    fs::create_directories(dir / "taken/inside");
    auto r = sys::replace_file_at(AT_FDCWD, dir / "taken", "new");
    REQUIRE_FALSE(r);
    CHECK(r.error().message == "rename \"" + dir / "taken.tmp" + "\"");
    auto durable = sys::replace_file_durably(dir / "taken", "new");
    REQUIRE_FALSE(durable);
    CHECK(durable.error().message == "rename \"" + dir / "taken.tmp" + "\" to \"" + dir / "taken" + "\"");
    CHECK(entries(dir.path()) == std::vector<std::string>{"taken"});

    // The temp file cannot be created: nothing is made, the error names it.
    auto missing = sys::replace_file_durably(dir / "no/such", "x");
    REQUIRE_FALSE(missing);
    CHECK(missing.error().errno_value == ENOENT);
    CHECK(missing.error().message == "create \"" + dir / "no/such.tmp" + "\"");

    // A symlink planted at the temp name is not followed.
    test::write_file(dir / "target", "keep");
    fs::create_symlink(dir / "target", dir / "f.tmp");
    REQUIRE_FALSE(sys::replace_file_at(AT_FDCWD, dir / "f", "evil"));
    CHECK(test::read_file(dir / "target") == "keep");
}

TEST_CASE("sys files: update_file rewrites only a changed file", "[sys]") {
    TempDir dir("isolated-sys");
    const std::string path = dir / "hosts";
    REQUIRE(sys::update_file(path, "a\n"));
    struct stat before {};
    REQUIRE(::stat(path.c_str(), &before) == 0);
    // The same content: the same inode (not replaced).
    REQUIRE(sys::update_file(path, "a\n"));
    struct stat same {};
    REQUIRE(::stat(path.c_str(), &same) == 0);
    CHECK(same.st_ino == before.st_ino);
    // A prefix of what is there is a change.
    REQUIRE(sys::update_file(path, "a"));
    CHECK(test::read_file(path) == "a");
    struct stat after {};
    REQUIRE(::stat(path.c_str(), &after) == 0);
    CHECK(after.st_ino != before.st_ino);
}

TEST_CASE("sys files: write_existing never creates a file", "[sys]") {
    TempDir dir("isolated-sys");
    auto r = sys::write_existing(dir / "cpu.max", "max");
    REQUIRE_FALSE(r);
    CHECK(r.error().errno_value == ENOENT);
    CHECK(r.error().message == "open \"" + dir / "cpu.max" + "\"");
    CHECK_FALSE(sys::exists(dir / "cpu.max"));

    test::write_file(dir / "value", "a longer old value");
    REQUIRE(sys::write_existing(dir / "value", "1"));
    CHECK(test::read_file(dir / "value") == "1");
}

TEST_CASE("sys files: make_dir and make_dirs", "[sys]") {
    TempDir dir("isolated-sys");
    bool created = false;
    REQUIRE(sys::make_dir(dir / "a", 0755, &created));
    CHECK(created);
    // Already there: success, not created.
    REQUIRE(sys::make_dir(dir / "a", 0755, &created));
    CHECK_FALSE(created);
    // A file in the way is EEXIST.
    test::write_file(dir / "file", "");
    auto f = sys::make_dir(dir / "file", 0755, &created);
    REQUIRE_FALSE(f);
    CHECK(f.error().errno_value == EEXIST);
    CHECK(f.error().message == "mkdir \"" + dir / "file" + "\"");

    // Nested: every missing parent, the last with exactly its mode.
    REQUIRE(sys::make_dirs(dir / "x/y//z/", 0700));
    CHECK(sys::is_dir(dir / "x/y/z"));
    CHECK(mode_of(dir / "x/y/z") == 0700);
    // Existing: success, its mode left alone.
    ::chmod((dir / "x/y/z").c_str(), 0750);
    REQUIRE(sys::make_dirs(dir / "x/y/z", 0700));
    CHECK(mode_of(dir / "x/y/z") == 0750);
    // A file on the way is named.
    auto through = sys::make_dirs(dir / "file/sub", 0755);
    REQUIRE_FALSE(through);
    CHECK(through.error().message == "mkdir \"" + dir / "file" + "\"");

    auto subs = sys::subdirs(dir.path());
    REQUIRE(subs);
    std::sort(subs->begin(), subs->end());
    CHECK(*subs == std::vector<std::string>{"a", "x"});
    CHECK(sys::subdirs(dir / "none")->empty());
}
