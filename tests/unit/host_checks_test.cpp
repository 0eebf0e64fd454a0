// isoctl validate's host checks: what a start would fail on, found in a fixture rootfs
// tree and on the host (issue 13, item 8).
#include <catch2/catch.hpp>

#include <sys/stat.h>

#include <filesystem>
#include <string>
#include <vector>

#include "host_checks.hpp"
#include "isolated/app_parser.hpp"
#include "support/test_env.hpp"

using namespace isolated;
namespace fs = std::filesystem;

namespace {

// The warnings for an app file with BODY after a command on line 2: "FIELD: MESSAGE".
std::vector<std::string> warnings(const std::string& body) {
    auto parsed = parse_app_text("web", body, "apps/web.json");
    for (const auto& e : parsed.errors) INFO(e.to_string());
    REQUIRE(parsed.spec);
    std::vector<std::string> out;
    for (const auto& d : isoctl::host_warnings(*parsed.spec)) out.push_back(d.field + ": " + d.message);
    return out;
}

void executable(const std::string& path) {
    fs::create_directories(fs::path(path).parent_path());
    test::write_file(path, "#!/bin/sh\n");
    ::chmod(path.c_str(), 0755);
}

// A small rootfs: /usr/bin/app, /bin -> usr/bin, /bin/sh -> /usr/bin/app (absolute, must
// resolve inside the tree), a user "alice" and a group "staff".
struct Rootfs {
    test::TempDir dir{"host-checks"};
    Rootfs() {
        executable(dir / "usr/bin/app");
        test::write_file(dir / "usr/bin/data", "not a program");
        fs::create_symlink("usr/bin", dir / "bin");
        fs::create_symlink("/usr/bin/app", dir / "usr/bin/sh");
        fs::create_directories(dir / "etc");
        test::write_file(dir / "etc/passwd", "root:x:0:0::/root:/bin/sh\nalice:x:1000:1000::/home/alice:/bin/sh\n");
        test::write_file(dir / "etc/group", "root:x:0:\nstaff:x:50:\n");
    }
    std::string app(const std::string& command, const std::string& extra = "") const {
        return "{\n  \"command\": " + command + ",\n  \"rootfs\": {\"type\": \"directory\", \"path\": \"" + dir.path() +
               "\"}" + extra + "\n}";
    }
};

}  // namespace

TEST_CASE("host checks: a command is looked up in the rootfs, absolute or in PATH", "[validate]") {
    Rootfs r;
    CHECK(warnings(r.app(R"(["/usr/bin/app"])")).empty());
    CHECK(warnings(r.app(R"(["/bin/app"])")).empty());  // through the /bin symlink
    CHECK(warnings(r.app(R"(["/bin/sh", "-c", "x"])")).empty());  // an absolute link stays in the tree
    CHECK(warnings(r.app(R"(["app"])")).empty());      // default PATH
    CHECK(warnings(r.app(R"(["sh"])")).empty());
    CHECK(warnings(r.app(R"(["/usr/bin/nope"])")) ==
          std::vector<std::string>{"command[0]: \"/usr/bin/nope\" does not exist in the sandbox (the rootfs \"" +
                                   r.dir.path() + "\")"});
    CHECK(warnings(r.app(R"(["/usr/bin/data"])")) ==
          std::vector<std::string>{"command[0]: \"/usr/bin/data\" is not an executable file in the sandbox (the "
                                   "rootfs \"" + r.dir.path() + "\")"});
    CHECK(warnings(r.app(R"(["nope"])")) ==
          std::vector<std::string>{"command[0]: \"nope\" is not found in PATH "
                                   "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin in the rootfs \"" +
                                   r.dir.path() + "\""});
    // The app's own PATH is the one searched.
    CHECK(warnings(r.app(R"(["app"])", R"(, "env": {"PATH": "/opt/bin"})")).size() == 1);
    executable(r.dir / "opt/bin/tool");
    CHECK(warnings(r.app(R"(["tool"])", R"(, "env": {"PATH": "/opt/bin"})")).empty());
    // A relative path is relative to workdir.
    CHECK(warnings(r.app(R"(["./app"])", R"(, "workdir": "/usr/bin")")).empty());
}

TEST_CASE("host checks: bind mounts and tmpfs over the command's path", "[validate]") {
    Rootfs r;
    test::TempDir tools("host-checks-tools");
    executable(tools / "probe");
    std::string bind = R"(, "mounts": [{"type": "bind", "source": ")" + tools.path() + R"(", "target": "/opt/tools"}])";
    CHECK(warnings(r.app(R"(["/opt/tools/probe"])", bind)).empty());
    CHECK(warnings(r.app(R"(["/opt/tools/other"])", bind)).size() == 1);
    // A tmpfs is empty when the app is executed.
    CHECK(warnings(r.app(R"(["/scratch/x"])", R"(, "mounts": [{"type": "tmpfs", "target": "/scratch"}])")) ==
          std::vector<std::string>{"command[0]: \"/scratch/x\" does not exist in the sandbox (the rootfs \"" +
                                   r.dir.path() + "\"); it is on the tmpfs at /scratch"});
    // What the kernel's file systems hold is not checked.
    CHECK(warnings(r.app(R"(["/proc/self/exe"])")).empty());

    // rootfs host: the host's /usr, /bin, /sbin, /lib* and /etc only.
    CHECK(warnings(R"({"command": ["/bin/sh"]})").empty());
    CHECK(warnings(R"({"command": ["sh"]})").empty());
    auto outside = warnings(R"({"command": [")" + tools / "probe" + R"("]})");
    REQUIRE(outside.size() == 1);
    CHECK_THAT(outside[0], Catch::Contains("does not exist in the sandbox (rootfs host); rootfs host shows the host's"));
    CHECK(warnings(R"({"command": ["/opt/t/probe"], "mounts": [{"type": "bind", "source": ")" + tools.path() +
                   R"(", "target": "/opt/t"}]})")
              .empty());
}

TEST_CASE("host checks: bind sources, rootfs, user and seccomp profile", "[validate]") {
    Rootfs r;
    test::TempDir host("host-checks-src");
    std::string missing = host / "missing";
    CHECK(warnings(R"({"command": ["/bin/sh"], "mounts": [{"type": "bind", "source": ")" + missing +
                   R"(", "target": "/data"}]})") ==
          std::vector<std::string>{"mounts[0].source: \"" + missing +
                                   "\" does not exist (create it, or add \"create\": true)"});
    CHECK(warnings(R"({"command": ["/bin/sh"], "mounts": [{"type": "bind", "source": ")" + missing +
                   R"(", "target": "/data", "create": true}]})")
              .empty());

    CHECK(warnings(R"({"command": ["/bin/app"], "user": "alice:staff", "rootfs": {"type": "directory", "path": ")" +
                   missing + R"("}})") ==
          std::vector<std::string>{"rootfs.path: \"" + missing + "\" is not a directory on this host"});

    CHECK(warnings(r.app(R"(["/bin/app"])", R"(, "user": "alice:staff")")).empty());
    CHECK(warnings(r.app(R"(["/bin/app"])", R"(, "user": "1234:5678")")).empty());  // ids need no entry
    CHECK(warnings(r.app(R"(["/bin/app"])", R"(, "user": "bob:wheel")")) ==
          std::vector<std::string>{"user: user \"bob\" is not in /etc/passwd of the rootfs \"" + r.dir.path() + "\"",
                                   "user: group \"wheel\" is not in /etc/group of the rootfs \"" + r.dir.path() + "\""});
    // rootfs host: the host's /etc/passwd, which always has root.
    CHECK(warnings(R"({"command": ["/bin/sh"], "user": "root"})").empty());
    CHECK(warnings(R"({"command": ["/bin/sh"], "user": "no-such-user-here"})").size() == 1);

    CHECK(warnings(R"({"command": ["/bin/sh"], "security": {"seccomp": ")" + missing + R"("}})") ==
          std::vector<std::string>{"security.seccomp: the profile \"" + missing +
                                   "\" cannot be read: No such file or directory"});
}

TEST_CASE("warnings carry the file and line of their field", "[validate]") {
    auto parsed = parse_app_text("web", "{\n  \"command\": [\"/bin/sh\"],\n  \"user\": \"no-such-user-here\"\n}",
                                 "apps/web.json");
    REQUIRE(parsed.spec);
    auto w = isoctl::host_warnings(*parsed.spec);
    REQUIRE(w.size() == 1);
    CHECK(w[0].to_string() == "apps/web.json:3: user: user \"no-such-user-here\" is not in /etc/passwd of rootfs host");
}

TEST_CASE("the subnet of the daemon's settings file", "[validate]") {
    CHECK(isoctl::subnet_of_config("") == "10.100.0.0/24");
    CHECK(isoctl::subnet_of_config("# subnet = 10.1.0.0/16\n") == "10.100.0.0/24");
    CHECK(isoctl::subnet_of_config("bridge = x\n  subnet=10.1.0.0/16   # mine\n") == "10.1.0.0/16");
}
