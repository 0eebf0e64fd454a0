// The sandbox planner's policy for user namespaces (daemon/sandbox/sandbox_plan.cpp):
// what is idmapped, low ports, ids outside the mapping, the exec plan's flag; and the
// launch plan's log limits (an app's logs over the daemon's, pruning old rotations).
#include <fcntl.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <algorithm>
#include <filesystem>
#include <fstream>

#include "isolated/app_parser.hpp"
#include "sandbox/init_protocol.h"
#include "sandbox/launch_plan.hpp"
#include "sandbox/sandbox_plan.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::sandbox;

namespace {

AppSpec spec_of(const std::string& json) {
    auto p = parse_app_text("app", json, "apps/app.json");
    INFO(json);
    REQUIRE(p.spec);
    return *p.spec;
}

SandboxInputs inputs() {
    SandboxInputs in;
    in.root_stage = "/run/isolated/stage/app";
    in.etc_dir = "/run/isolated/apps/app/etc";
    in.overlay_upper = "/var/lib/isolated/app/upper";
    in.overlay_work = "/var/lib/isolated/app/work";
    return in;
}

}  // namespace

TEST_CASE("sandbox plan: namespaces.user maps the app, idmaps host trees, opens low ports", "[sandbox][userns]") {
    auto spec = spec_of(R"({"command": ["/bin/true"], "namespaces": {"user": {"uid": 200000, "count": 65536}},
                            "mounts": [{"type": "bind", "source": "/srv", "target": "/data"},
                                       {"type": "tmpfs", "target": "/scratch"}]})");
    LaunchPlan plan;
    REQUIRE(plan_sandbox(plan, spec, inputs()));
    REQUIRE(plan.userns);
    CHECK(plan.userns->uid == 200000);
    CHECK(plan.userns->gid == 200000);
    CHECK(plan.userns->count == 65536);
    CHECK((plan.flags & SB_UNPRIV_PORTS));
    int binds = 0;
    for (const auto& m : plan.mounts) {
        INFO(m.op << " " << m.source << " -> " << m.target);
        if (m.op == MOP_BIND) {
            ++binds;
            CHECK((m.flags & MF_IDMAP));
        } else {
            // tmpfs and the root tmpfs are made by the init as the mapped root, not idmapped
            CHECK_FALSE((m.flags & MF_IDMAP));
        }
    }
    CHECK(binds >= 3);  // /usr, /etc, the volume at least

    LaunchPlan exec;
    exec.argv = {"/bin/sh"};
    REQUIRE(plan_exec(exec, spec, false));
    CHECK((exec.flags & SB_USER_NS));
}

TEST_CASE("sandbox plan: without namespaces.user nothing is idmapped and ports stay as they are", "[sandbox][userns]") {
    auto spec = spec_of(R"({"command": ["/bin/true"]})");
    LaunchPlan plan;
    REQUIRE(plan_sandbox(plan, spec, inputs()));
    CHECK_FALSE(plan.userns);
    CHECK_FALSE((plan.flags & SB_UNPRIV_PORTS));
    for (const auto& m : plan.mounts) CHECK_FALSE((m.flags & MF_IDMAP));
    LaunchPlan exec;
    REQUIRE(plan_exec(exec, spec, false));
    CHECK_FALSE((exec.flags & SB_USER_NS));
}

TEST_CASE("sandbox plan: host network keeps its sysctl, ids outside the mapping are errors, overlays get an idmapped lower",
          "[sandbox][userns]") {
    {
        auto spec = spec_of(R"({"command": ["/bin/true"], "network": {"mode": "host"},
                                "namespaces": {"user": {"uid": 200000}}})");
        LaunchPlan plan;
        REQUIRE(plan_sandbox(plan, spec, inputs()));
        CHECK_FALSE((plan.flags & SB_UNPRIV_PORTS));  // never the host's own netns
    }
    {
        auto spec = spec_of(R"({"command": ["/bin/true"], "user": "nobody",
                                "namespaces": {"user": {"uid": 300000, "count": 1000}}})");
        LaunchPlan plan;
        auto r = plan_sandbox(plan, spec, inputs());
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().to_string(), Catch::Contains("uid 65534") && Catch::Contains("outside the user namespace"));
    }
    {
        // An overlay rootfs: the lower layer moves to the step's source, idmapped.
        auto spec = spec_of(R"({"command": ["/bin/true"], "rootfs": {"type": "directory", "path": "/srv"},
                                "namespaces": {"user": {"uid": 200000}}})");
        LaunchPlan plan;
        REQUIRE(plan_sandbox(plan, spec, inputs()));
        REQUIRE(!plan.mounts.empty());
        const auto& root = plan.mounts.front();
        CHECK(root.op == MOP_ROOT);
        CHECK(root.fstype == "overlay");
        CHECK(root.source == "/srv");
        CHECK(root.data == "upperdir=/var/lib/isolated/app/upper,workdir=/var/lib/isolated/app/work");
        CHECK((root.flags & MF_IDMAP));
    }
}

TEST_CASE("sandbox plan: a read-only directory rootfs is an overlay with a tmpfs upper for its missing mount points",
          "[sandbox][rootfs]") {
    // The tree is planned, not opened: a fake host where /srv/x is a directory.
    auto tree_inputs = [] {
        auto in = inputs();
        in.probe = [](const std::string& p) {
            HostEntry e;
            if (p == "/srv/x") e.kind = HostEntry::directory;
            return e;
        };
        return in;
    };
    for (bool userns : {false, true}) {
        INFO("namespaces.user: " << userns);
        std::string json = R"({"command": ["/bin/true"], "rootfs": {"type": "directory", "path": "/srv/x", "writable": "readonly"},
                               "mounts": [{"type": "tmpfs", "target": "/scratch"}])";
        json += userns ? R"(, "namespaces": {"user": {"uid": 200000}}})" : "}";
        auto spec = spec_of(json);
        LaunchPlan plan;
        auto r = plan_sandbox(plan, spec, tree_inputs());
        INFO((r ? std::string() : r.error().to_string()));
        REQUIRE(r);
        REQUIRE(!plan.mounts.empty());
        const auto& root = plan.mounts.front();
        CHECK(root.op == MOP_ROOT);
        CHECK(root.fstype == "overlay");
        CHECK(root.source == "/srv/x");
        CHECK(root.data.empty());  // no upper or work dir on the host: the init's tmpfs holds them
        CHECK((root.flags & MF_TMPFS_UPPER));
        CHECK((root.flags & MF_READONLY));  // read-only once built
        CHECK(bool(root.flags & MF_IDMAP) == userns);
        // Every mount point is made where the tree lacks it (the kernel filesystems, the
        // names files, volumes); /tmp and /run too.
        bool tmp = false, run = false;
        for (const auto& m : plan.mounts) {
            INFO(m.op << " " << m.target);
            if (m.op == MOP_FS && (m.target == "/tmp" || m.target == "/run")) {
                (m.target == "/tmp" ? tmp : run) = true;
                CHECK((m.flags & MF_MKDIR));
            }
            if (m.target == "/proc" || m.target == "/sys" || m.target == "/dev" || m.target == "/scratch")
                CHECK((m.flags & MF_MKDIR));
            if (m.target == "/etc/hosts" || m.target == "/etc/hostname" || m.target == "/etc/resolv.conf")
                CHECK((m.flags & MF_MKFILE));
        }
        CHECK(tmp);
        CHECK(run);
    }
    // The layers are named by paths on the stage, which overlayfs's options cannot escape.
    auto spec = spec_of(R"({"command": ["/bin/true"], "rootfs": {"type": "directory", "path": "/srv/x", "writable": "readonly"}})");
    auto in = tree_inputs();
    in.root_stage = "/run/iso,lated/stage";
    LaunchPlan plan;
    auto r = plan_sandbox(plan, spec, in);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().to_string(), Catch::Contains("must not contain"));
}

// ---- log limits (issue 16, item 5) -------------------------------------------------------

TEST_CASE("an app's logs limits override the daemon's field by field", "[sandbox][logs]") {
    AppSpec spec;
    spec.name = "web";
    spec.command = {"/bin/true"};
    LogSettings daemon{64u << 10, 3, ""};
    auto plain = make_launch_plan(spec, "i1", daemon);
    CHECK(plain.log.max_size == 64u << 10);
    CHECK(plain.log.max_files == 3u);

    spec.logs.max_files = 7;
    auto files = make_launch_plan(spec, "i1", daemon);
    CHECK(files.log.max_size == 64u << 10);
    CHECK(files.log.max_files == 7u);

    spec.logs.max_size = 1u << 20;
    auto both = make_launch_plan(spec, "i1", daemon);
    CHECK(both.log.max_size == 1u << 20);
    CHECK(both.log.max_files == 7u);
}

TEST_CASE("prune_rotated_logs removes the rotations beyond the limit and nothing else", "[sandbox][logs]") {
    isolated::test::TempDir dir;
    auto touch = [&](const std::string& name) { std::ofstream(dir.path() + "/" + name) << "x\n"; };
    for (const char* n : {"web.log", "web.log.1", "web.log.2", "web.log.3", "web.log.4", "webx.log.3", "web.log.x"})
        touch(n);
    AppSpec spec;
    spec.name = "web";
    spec.command = {"/bin/true"};
    spec.logs.max_files = 2;
    auto plan = make_launch_plan(spec, "i1", LogSettings{});
    int fd = ::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    REQUIRE(fd >= 0);
    prune_rotated_logs(fd, plan);
    ::close(fd);
    std::vector<std::string> left;
    for (auto& e : std::filesystem::directory_iterator(dir.path())) left.push_back(e.path().filename().string());
    std::sort(left.begin(), left.end());
    CHECK(left == std::vector<std::string>{"web.log", "web.log.1", "web.log.x", "webx.log.3"});

    // With journald there are no files of the app's to prune.
    touch("web.log.5");
    plan.log.journal_socket = "/run/systemd/journal/socket";
    fd = ::open(dir.path().c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    prune_rotated_logs(fd, plan);
    ::close(fd);
    CHECK(std::filesystem::exists(dir.path() + "/web.log.5"));
}
