// An image app's run spec: its app file over its image's config (issue 14, item 4),
// and the app file fields that make it (rootfs image, args, what is left to the image).
#include <catch2/catch.hpp>

#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"
#include "isolated/image_run.hpp"

using namespace isolated;

namespace {

AppSpec parse(const std::string& text) {
    auto parsed = parse_app_text("web", text, "apps/web.json");
    for (const auto& e : parsed.errors) INFO(e.to_string());
    REQUIRE(parsed.spec);
    return *parsed.spec;
}

std::vector<std::string> errors(const std::string& text) {
    std::vector<std::string> out;
    for (const auto& e : parse_app_text("web", text, "apps/web.json").errors) out.push_back(e.to_string());
    return out;
}

ImageConfigInfo postgres_like() {
    ImageConfigInfo c;
    c.entrypoint = std::vector<std::string>{"docker-entrypoint.sh"};
    c.cmd = std::vector<std::string>{"postgres"};
    c.env = {"PATH=/usr/local/bin:/usr/bin:/bin", "PGDATA=/var/lib/postgresql/data", "LANG=en_US.utf8", "junk",
             "=nameless"};
    c.working_dir = "/var/lib/postgresql";
    c.user = "postgres";
    c.stop_signal = "SIGINT";
    return c;
}

const char* kImageApp = R"({"rootfs": {"type": "image", "image": "postgres:16"}})";

}  // namespace

TEST_CASE("image apps: the app file leaves command, workdir, user and stop signal to the image", "[image_run]") {
    AppSpec s = parse(kImageApp);
    CHECK(s.rootfs.type == RootfsType::image);
    CHECK(s.rootfs.image == "postgres:16");
    CHECK(s.rootfs.writable == RootfsWritable::overlay);
    CHECK(s.command.empty());
    CHECK(s.workdir.empty());
    CHECK(s.user.empty());
    CHECK(s.stop.signal == 0);
    // The canonical form keeps them unset and reads back the same.
    auto j = app_spec_to_json(s);
    CHECK(j["command"].is_null());
    CHECK(j["workdir"].is_null());
    CHECK(j["stop"]["signal"].is_null());
    CHECK(j["rootfs"] == json({{"type", "image"}, {"image", "postgres:16"}, {"writable", "overlay"}}));
    CHECK(parse(j.dump()) == s);

    AppSpec set = parse(R"({"rootfs": {"type": "image", "image": "sha256:)" + std::string(64, 'a') +
                        R"(", "writable": "readonly"}, "command": ["/bin/sh"], "args": ["-c", "true"],
                        "workdir": "/w", "stop": {"signal": "SIGTERM"}})");
    CHECK(set.rootfs.writable == RootfsWritable::readonly);
    CHECK(set.args == std::vector<std::string>{"-c", "true"});
    CHECK(set.workdir == "/w");
    CHECK(set.stop.signal == 15);
    CHECK(parse(app_spec_to_json(set).dump()) == set);

    // Other rootfs types still need a command, and take args.
    CHECK(errors(R"({"rootfs": {"type": "directory", "path": "/srv/r"}})") ==
          std::vector<std::string>{"apps/web.json:1: command: required field is missing (the program to run and its arguments)"});
    CHECK(parse(R"({"command": ["/bin/echo"], "args": ["x"]})").args == std::vector<std::string>{"x"});
}

TEST_CASE("image apps: rootfs image fields are checked", "[image_run]") {
    CHECK(errors(R"({"rootfs": {"type": "image"}})") ==
          std::vector<std::string>{"apps/web.json:1: rootfs.image: required field is missing (an image in the store: "
                                   "\"postgres:16\", \"name@sha256:...\" or an image id \"sha256:...\")"});
    CHECK(errors(R"({"rootfs": {"type": "image", "image": "bad ref"}})") ==
          std::vector<std::string>{"apps/web.json:1: rootfs.image: \"bad ref\" is not an image reference "
                                   "(name[:tag], name@sha256:... or sha256:<id>)"});
    CHECK(errors(R"({"command": ["/x"], "rootfs": {"type": "directory", "path": "/r", "image": "a"}})") ==
          std::vector<std::string>{"apps/web.json:1: rootfs.image: only valid with \"type\": \"image\""});
    CHECK(errors(R"({"rootfs": {"type": "image", "image": "a", "path": "/r"}})") ==
          std::vector<std::string>{"apps/web.json:1: rootfs.path: only valid with \"type\": \"directory\""});
    auto hint = errors(R"({"command": ["/x"], "image": "postgres:16"})");
    REQUIRE(hint.size() == 1);
    CHECK_THAT(hint[0], Catch::Contains("\"rootfs\": {\"type\": \"image\""));
}

TEST_CASE("image apps: the image's config gives the defaults, the app file wins", "[image_run]") {
    const ImageConfigInfo c = postgres_like();

    SECTION("nothing set: Entrypoint + Cmd, the image's env, workdir, user and stop signal") {
        auto run = image_run_spec(parse(kImageApp), c, "/var/lib/isolated/images/rootfs/ab");
        REQUIRE(run);
        CHECK(run->command == std::vector<std::string>{"docker-entrypoint.sh", "postgres"});
        CHECK(run->env == std::map<std::string, std::string>{{"PATH", "/usr/local/bin:/usr/bin:/bin"},
                                                              {"PGDATA", "/var/lib/postgresql/data"},
                                                              {"LANG", "en_US.utf8"}});
        CHECK(run->workdir == "/var/lib/postgresql");
        CHECK(run->user == "postgres");
        CHECK(run->stop.signal == 2);
        // Then it runs exactly as a directory rootfs over the image's tree.
        CHECK(run->rootfs.type == RootfsType::directory);
        CHECK(run->rootfs.path == "/var/lib/isolated/images/rootfs/ab");
        CHECK(run->rootfs.writable == RootfsWritable::overlay);
        CHECK(run->args.empty());
    }
    SECTION("args replace Cmd only") {
        auto run = image_run_spec(parse(R"({"rootfs": {"type": "image", "image": "postgres:16"},
                                             "args": ["postgres", "-c", "fsync=off"]})"),
                                  c, "/r");
        REQUIRE(run);
        CHECK(run->command == std::vector<std::string>{"docker-entrypoint.sh", "postgres", "-c", "fsync=off"});
    }
    SECTION("a command replaces Entrypoint and Cmd; args follow it") {
        auto run = image_run_spec(parse(R"({"rootfs": {"type": "image", "image": "postgres:16"},
                                             "command": ["/bin/sh"], "args": ["-c", "true"]})"),
                                  c, "/r");
        REQUIRE(run);
        CHECK(run->command == std::vector<std::string>{"/bin/sh", "-c", "true"});
    }
    SECTION("the app file's env, workdir, user and stop signal win") {
        auto run = image_run_spec(parse(R"({"rootfs": {"type": "image", "image": "postgres:16"},
                                             "env": {"LANG": "C", "EXTRA": "1"}, "workdir": "/srv",
                                             "user": "1000:1000", "stop": {"signal": "SIGTERM"}})"),
                                  c, "/r");
        REQUIRE(run);
        CHECK(run->env.at("LANG") == "C");
        CHECK(run->env.at("EXTRA") == "1");
        CHECK(run->env.at("PGDATA") == "/var/lib/postgresql/data");
        CHECK(run->workdir == "/srv");
        CHECK(run->user == "1000:1000");
        CHECK(run->stop.signal == 15);
    }
    SECTION("an image without defaults: root, /, SIGTERM; a relative WorkingDir is from /") {
        ImageConfigInfo bare;
        bare.cmd = std::vector<std::string>{"/bin/sh"};
        auto run = image_run_spec(parse(kImageApp), bare, "/r");
        REQUIRE(run);
        CHECK(run->command == std::vector<std::string>{"/bin/sh"});
        CHECK(run->user.empty());
        CHECK(run->workdir == "/");
        CHECK(run->stop.signal == 15);
        bare.working_dir = "app";
        CHECK(image_run_spec(parse(kImageApp), bare, "/r")->workdir == "/app");
    }
    SECTION("what cannot run is refused, naming the image") {
        ImageConfigInfo none;
        auto r = image_run_spec(parse(kImageApp), none, "/r");
        REQUIRE_FALSE(r);
        CHECK(r.error().message ==
              "image \"postgres:16\" has neither Entrypoint nor Cmd: set \"command\" in the app file");
        ImageConfigInfo bad = c;
        bad.stop_signal = "SIGFOO";
        r = image_run_spec(parse(kImageApp), bad, "/r");
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::StartsWith("image \"postgres:16\": its StopSignal: "));
        bad = c;
        bad.user = "root\nx";
        REQUIRE_FALSE(image_run_spec(parse(kImageApp), bad, "/r"));
        bad = c;
        bad.cmd = std::vector<std::string>{std::string("a\0b", 3)};
        REQUIRE_FALSE(image_run_spec(parse(kImageApp), bad, "/r"));
    }
    SECTION("any other rootfs: command + args, nothing else changed") {
        auto run = image_run_spec(parse(R"({"command": ["/bin/echo"], "args": ["a", "b"]})"), c, "/r");
        REQUIRE(run);
        CHECK(run->command == std::vector<std::string>{"/bin/echo", "a", "b"});
        CHECK(run->rootfs.type == RootfsType::host);
        CHECK(run->env.empty());
        CHECK(run->user.empty());
        CHECK(run->stop.signal == 15);
    }
}
