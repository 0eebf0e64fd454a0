// Issue 14, items 4 and 5: apps that run an image from the store. The fixture image is
// built here with umoci from busybox-static, with every run default an image config
// carries (Entrypoint, Cmd, Env, WorkingDir, User, StopSignal), loaded through isoctl;
// the app's own script reports what it runs with (argv, env, cwd, ids, owners).
#include <catch2/catch.hpp>

#include <signal.h>

#include <filesystem>

#include "integration/harness.hpp"

using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void require_tools() {
    require_prerequisite(is_root(), "image app tests need root");
    require_prerequisite(have_tool("umoci") && have_tool("skopeo"), "image app tests need umoci and skopeo (scripts/install-deps.sh)");
    require_prerequisite(fs::exists("/bin/busybox"), "image app tests need busybox-static (/bin/busybox)");
}

// The app: reports what it was started with, then waits; its stop signal (the image's
// SIGQUIT) is trapped and reported.
constexpr const char* kScript = R"sh(#!/bin/sh
echo "args: $*"
echo "env: GREETING=$GREETING MODE=$MODE ONLY_APP=$ONLY_APP"
echo "cwd: $(pwd)"
echo "ids: $(id -u):$(id -g)"
echo "owners: $(stat -c %u:%g /bin/busybox) $(stat -c %u:%g /data)"
trap 'echo "got QUIT"; exit 0' QUIT
trap 'echo "got TERM"; exit 0' TERM
while true; do sleep 1; done
)sh";

struct ImageFixture {
    TempDir dir{"isolated-imgapp"};
    std::string archive = dir / "app-oci.tar";
    std::string ref = "example.com/imgapp:1";

    ImageFixture() {
        const std::string layout = dir / "layout";
        const std::string image = layout + ":1";
        must({"umoci", "init", "--layout", layout});
        must({"umoci", "new", "--image", image});
        const std::string bundle = dir / "bundle";
        must({"umoci", "unpack", "--image", image, bundle});
        const std::string r = bundle + "/rootfs";
        for (const char* d : {"/bin", "/etc", "/app", "/srv/work", "/data", "/tmp"}) fs::create_directories(r + d);
        fs::permissions(r + "/tmp", fs::perms(01777));
        fs::copy_file("/bin/busybox", r + "/bin/busybox");
        fs::permissions(r + "/bin/busybox", fs::perms(0755));
        for (const char* applet : {"sh", "id", "stat", "sleep", "pwd", "cat", "echo"})
            fs::create_symlink("busybox", r + "/bin/" + applet);
        write_file(r + "/etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001:app:/srv/work:/bin/sh\n");
        write_file(r + "/etc/group", "root:x:0:\napp:x:1001:\n");
        write_file(r + "/app/run.sh", kScript);
        fs::permissions(r + "/app/run.sh", fs::perms(0755));
        REQUIRE(::chown((r + "/data").c_str(), 1000, 1001) == 0);
        must({"umoci", "repack", "--image", image, bundle});
        must({"umoci", "config", "--image", image, "--config.entrypoint", "/bin/sh", "--config.entrypoint",
              "/app/run.sh", "--config.cmd", "from-cmd", "--config.env", "GREETING=hi", "--config.env",
              "MODE=image", "--config.env", "PATH=/bin", "--config.workingdir", "/srv/work", "--config.user", "app",
              "--config.stopsignal", "SIGQUIT"});
        must({"skopeo", "copy", "--quiet", "oci:" + image, "oci-archive:" + archive + ":" + ref});
    }
};

std::string logs(Daemon& d, const std::string& app) { return d.isoctl({"logs", app}).out; }

// Waits for the app's report line starting with KEY (its latest), returns its value.
std::string report(Daemon& d, const std::string& app, const std::string& key) {
    std::string value;
    wait_until([&] {
        std::string text = logs(d, app);
        auto at = text.rfind(key + ": ");
        if (at == std::string::npos) return false;
        auto end = text.find('\n', at);
        value = text.substr(at + key.size() + 2, end == std::string::npos ? std::string::npos : end - at - key.size() - 2);
        return true;
    }, 15s);
    return value;
}

// Started by the test once the image is loaded (autostart false).
std::string image_app(const std::string& ref, const std::string& extra = "") {
    return R"({"rootfs": {"type": "image", "image": ")" + ref + R"("}, "network": {"mode": "none"},
               "autostart": false, "stop": {"timeout": "5s"})" + extra + "}";
}

}  // namespace

TEST_CASE("images: an image app runs with its image's defaults, restarts, is adopted, and holds its image",
          "[integration][images]") {
    require_tools();
    ImageFixture fx;
    Daemon d;
    d.write_app("img", image_app(fx.ref, R"(, "env": {"MODE": "app", "ONLY_APP": "yes"})"));
    d.write_app("img-args", image_app(fx.ref, R"(, "args": ["a1", "a2"])"));
    d.write_app("img-cmd", image_app(fx.ref, R"(, "command": ["/bin/sh", "/app/run.sh", "own"], "user": "0:0")"));
    d.write_app("img-userns", image_app(fx.ref, R"(, "namespaces": {"user": {"uid": 200000, "count": 65536}})"));
    d.write_app("img-missing", image_app("example.com/nosuch:1", R"(, "restart": {"policy": "never"})"));
    d.start();
    auto load = d.isoctl({"image", "load", fx.archive}, 120s);
    INFO(load.out << load.err);
    REQUIRE(load.code == 0);
    const std::string id = d.get_json("/v1/images")["images"][0]["id"].get<std::string>();
    const std::string manifest = d.get_json("/v1/images")["images"][0]["manifest"].get<std::string>();
    for (const char* app : {"img", "img-args", "img-cmd", "img-userns"}) {
        auto started = d.isoctl({"start", app});
        INFO(app << ": " << started.out << started.err << d.app(app).dump());
        REQUIRE(started.code == 0);
        d.wait_state(app, "ready", 30s);
    }
    d.isoctl({"start", "img-missing"});

    SECTION("the image's Entrypoint, Cmd, Env, WorkingDir, User and StopSignal, the app file over them") {
        CHECK(report(d, "img", "args") == "from-cmd");
        CHECK(report(d, "img", "env") == "GREETING=hi MODE=app ONLY_APP=yes");
        CHECK(report(d, "img", "cwd") == "/srv/work");
        CHECK(report(d, "img", "ids") == "1000:1001");  // "app" from the image's /etc/passwd
        CHECK(report(d, "img-args", "args") == "a1 a2");  // args replace Cmd only
        CHECK(report(d, "img-cmd", "args") == "own");     // a command replaces both
        CHECK(report(d, "img-cmd", "ids") == "0:0");
        // Status shows the image and its digests.
        auto st = d.app("img");
        REQUIRE(st["image"].is_object());
        CHECK(st["image"]["ref"] == "example.com/imgapp:1");
        CHECK(st["image"]["id"] == id);
        CHECK(st["image"]["manifest"] == manifest);
        auto shown = d.isoctl({"status", "img"});
        CHECK_THAT(shown.out, Catch::Contains("Image:") && Catch::Contains(id));
        // exec enters the image's tree as the image's user.
        auto ex = d.isoctl({"exec", "-T", "img", "--", "/bin/busybox", "id", "-u"});
        INFO(ex.out << ex.err);
        CHECK(ex.code == 0);
        CHECK(ex.out == "1000\n");
        // The image's stop signal.
        REQUIRE(d.isoctl({"stop", "img"}).code == 0);
        d.wait_state("img", "stopped", 15s);
        CHECK_THAT(logs(d, "img"), Catch::Contains("got QUIT"));
        CHECK_THAT(d.isoctl({"logs", "img"}).out, !Catch::Contains("got TERM"));
    }

    SECTION("with namespaces.user its files are root's inside, the image's owners kept") {
        CHECK(report(d, "img-userns", "owners") == "0:0 1000:1001");
        CHECK(report(d, "img-userns", "ids") == "1000:1001");
        CHECK(report(d, "img", "owners") == "0:0 1000:1001");
    }

    SECTION("a crash restarts it on the same image; a restarted daemon adopts it") {
        pid_t pid = d.app("img")["pid"].get<pid_t>();
        REQUIRE(::kill(pid, SIGKILL) == 0);
        REQUIRE(wait_until([&] {
            auto st = d.app("img");
            return st["restarts"] == 1 && st["state"] == "ready" && st["pid"].is_number() && st["pid"] != pid;
        }, 30s));
        CHECK(d.app("img")["image"]["id"] == id);
        pid = d.app("img")["pid"].get<pid_t>();
        d.kill9();
        d.start();
        d.wait_state("img", "ready");
        auto st = d.app("img");
        CHECK(st["pid"] == pid);
        CHECK(st["image"]["id"] == id);
        // Adopted, it still holds its image and can be entered.
        auto ex = d.isoctl({"exec", "-T", "img", "--", "/bin/busybox", "id", "-u"});
        CHECK(ex.out == "1000\n");
        auto busy = d.http("DELETE", "/v1/images/" + id);
        CHECK(busy.code == 409);
        CHECK_THAT(busy.out, Catch::Contains("is used by app \\\"img\\\""));
    }

    SECTION("a missing image fails the start, and validate says so") {
        d.wait_state("img-missing", "failed");
        auto st = d.app("img-missing");
        const std::string want = "image \"example.com/nosuch:1\" is not in the store: isoctl image pull example.com/nosuch:1";
        REQUIRE(st["lastExit"].is_object());
        CHECK(st["lastExit"]["message"] == want);
        const std::string conf = d.dir() + "/validate.conf";
        write_file(conf, "state-dir = " + d.state_dir() + "\n");
        auto v = d.isoctl({"validate", "--config", conf, d.apps_dir() + "/img-missing.json"});
        CHECK_THAT(v.err, Catch::Contains("rootfs.image: " + want));
        auto ok = d.isoctl({"validate", "--config", conf, d.apps_dir() + "/img.json"});
        CHECK(ok.err.empty());
        CHECK(ok.code == 0);
        // Without a readable store only the syntax is checked.
        write_file(conf, "state-dir = " + d.dir() + "/nowhere\n");
        auto blind = d.isoctl({"validate", "--config", conf, d.apps_dir() + "/img-missing.json"});
        CHECK(blind.code == 0);
        CHECK(blind.err.empty());
    }

    SECTION("rm of an image an app runs is refused naming the app; once stopped it goes") {
        auto busy = d.isoctl({"image", "rm", fx.ref});
        CHECK(busy.code != 0);
        CHECK_THAT(busy.err, Catch::Contains("is used by app \"img"));
        auto http = d.http("DELETE", "/v1/images/" + fx.ref);
        CHECK(http.code == 409);
        CHECK_THAT(http.out, Catch::Contains("conflict"));
        CHECK(d.isoctl({"image", "prune"}).code == 0);
        CHECK(d.get_json("/v1/images")["images"].size() == 1);
        for (const char* app : {"img", "img-args", "img-cmd", "img-userns"}) REQUIRE(d.isoctl({"stop", app}).code == 0);
        for (const char* app : {"img", "img-args", "img-cmd", "img-userns"}) d.wait_state(app, "stopped");
        auto rm = d.isoctl({"image", "rm", fx.ref});
        INFO(rm.out << rm.err);
        CHECK(rm.code == 0);
        CHECK(d.get_json("/v1/images")["images"].empty());
        // Now the start fails, naming what to do.
        d.isoctl({"start", "img"});
        REQUIRE(wait_until([&] { return d.app("img").dump().find("is not in the store") != std::string::npos; }, 15s));
    }
}
