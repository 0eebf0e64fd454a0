// The app file parser: every validation error, with file, line and field; comments;
// hints; several errors at once; syntax errors; the postgres example.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "isolated/app_parser.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace std::chrono_literals;

namespace {

const std::string kFile = "apps/web.json";

std::vector<std::string> errors_of(std::string_view text, std::string_view name = "web") {
    auto parsed = parse_app_text(name, text, kFile);
    std::vector<std::string> out;
    for (const auto& d : parsed.errors) out.push_back(d.to_string());
    if (!out.empty()) CHECK_FALSE(parsed.spec);
    return out;
}

// An app with a valid command on line 2 and FRAGMENT on line 3.
std::string app_with(std::string_view fragment) {
    return "{\n  \"command\": [\"/bin/app\"],\n  " + std::string(fragment) + "\n}\n";
}

// The errors FRAGMENT causes, rendered; they are all on line 3.
std::vector<std::string> errors_with(std::string_view fragment) { return errors_of(app_with(fragment)); }

// The one error FRAGMENT causes, rendered.
std::string error_with(std::string_view fragment) {
    auto errors = errors_with(fragment);
    INFO(fragment);
    for (const auto& e : errors) INFO(e);
    REQUIRE(errors.size() == 1);
    return errors.front();
}

// "apps/web.json:3: FIELD: MESSAGE"
std::string at3(std::string_view field, std::string_view message) {
    return kFile + ":3: " + std::string(field) + ": " + std::string(message);
}

AppSpec spec_with(std::string_view fragment) {
    auto parsed = parse_app_text("web", app_with(fragment), kFile);
    for (const auto& e : parsed.errors) INFO(e.to_string());
    INFO(fragment);
    REQUIRE(parsed.errors.empty());
    REQUIRE(parsed.spec);
    return *parsed.spec;
}

}  // namespace

// ---- the postgres example -------------------------------------------------------------

TEST_CASE("the postgres example parses to exactly its values", "[parser]") {
    const char* text = R"({
  "command": ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data"],
  "user": "postgres",                      // name or uid[:gid], resolved in the app's rootfs
  "env": {"LANG": "C.UTF-8"},
  "workdir": "/",
  "hostname": "postgres",
  "rootfs": {"type": "host"},              // or {"type": "directory", "path": "/srv/rootfs/alpine"}
  "mounts": [
    {"type": "bind", "source": "/var/lib/app-data/postgres", "target": "/var/lib/postgresql/data"},
    {"type": "bind", "source": "/etc/isolated/files/pg", "target": "/etc/postgresql", "readonly": true},
    {"type": "tmpfs", "target": "/run/postgresql", "size": "16M"}
  ],
  "network": {"mode": "bridge", "ports": [{"host": 5432, "app": 5432, "protocol": "tcp"}]},
  "namespaces": {"pid": "private", "ipc": "private", "uts": "private"},
  "resources": {"cpu": "50%", "memory": "512M", "pids": 512},
  "restart": {"policy": "always"},
  "stop": {"signal": "SIGTERM", "timeout": "30s"},
  "probes": {
    "liveness":  {"exec": {"command": ["pg_isready", "-q"]}, "period": "30s"},
    "readiness": {"tcp": {"port": 5432}}
  },
  "dependsOn": []
}
)";
    auto parsed = parse_app_text("postgres", text, "conf/apps/postgres.json");
    for (const auto& e : parsed.errors) INFO(e.to_string());
    REQUIRE(parsed.errors.empty());
    REQUIRE(parsed.spec);
    const AppSpec& s = *parsed.spec;

    CHECK(s.name == "postgres");
    CHECK(s.source_file == "conf/apps/postgres.json");
    CHECK(s.command ==
          std::vector<std::string>{"/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data"});
    CHECK(s.user == "postgres");
    CHECK(s.env == std::map<std::string, std::string>{{"LANG", "C.UTF-8"}});
    CHECK(s.workdir == "/");
    CHECK(s.hostname == "postgres");
    CHECK(s.init);
    CHECK(s.rootfs == RootfsSpec{RootfsType::host, "", RootfsWritable::overlay, ""});

    REQUIRE(s.mounts.size() == 3);
    CHECK(s.mounts[0] == MountSpec{MountType::bind, "/var/lib/app-data/postgres", "/var/lib/postgresql/data", false,
                                   false, std::nullopt, std::nullopt});
    CHECK(s.mounts[1] == MountSpec{MountType::bind, "/etc/isolated/files/pg", "/etc/postgresql", true, false,
                                   std::nullopt, std::nullopt});
    CHECK(s.mounts[2] == MountSpec{MountType::tmpfs, "", "/run/postgresql", false, false, 16ull << 20, std::nullopt});

    CHECK(s.network.mode == NetworkMode::bridge);
    CHECK(s.network.address.empty());
    REQUIRE(s.network.ports.size() == 1);
    CHECK(s.network.ports[0] == PortSpec{5432, 5432, Protocol::tcp, ""});

    CHECK(s.namespaces == NamespacesSpec{});
    CHECK_FALSE(s.namespaces.user.enabled);

    CHECK(s.resources.cpu == Approx(0.5));
    CHECK(s.resources.memory == 512ull << 20);
    CHECK(s.resources.pids == 512u);
    CHECK_FALSE(s.resources.cpu_weight);
    CHECK_FALSE(s.resources.memory_high);
    CHECK_FALSE(s.resources.swap);
    CHECK_FALSE(s.resources.io_weight);

    CHECK(s.restart == RestartSpec{});
    CHECK(s.restart.policy == RestartPolicy::always);
    CHECK(s.restart.backoff.initial == 1s);
    CHECK(s.restart.backoff.max == 5min);
    CHECK(s.restart.backoff.reset_after == 10min);
    CHECK(s.restart.backoff.factor == 2.0);
    CHECK(s.restart.backoff.jitter == Approx(0.1));

    CHECK(s.stop.signal == 15);
    CHECK(s.stop.timeout == 30s);

    REQUIRE(s.probes.liveness);
    CHECK(s.probes.liveness->kind == ProbeKind::exec);
    CHECK(s.probes.liveness->command == std::vector<std::string>{"pg_isready", "-q"});
    CHECK(s.probes.liveness->period == 30s);
    CHECK(s.probes.liveness->timeout == 1s);
    CHECK(s.probes.liveness->initial_delay == 0s);
    CHECK(s.probes.liveness->success_threshold == 1u);
    CHECK(s.probes.liveness->failure_threshold == 3u);
    REQUIRE(s.probes.readiness);
    CHECK(s.probes.readiness->kind == ProbeKind::tcp);
    CHECK(s.probes.readiness->port == 5432);
    CHECK(s.probes.readiness->expect.empty());
    CHECK(s.probes.readiness->period == 10s);
    CHECK_FALSE(s.probes.startup);

    CHECK(s.depends_on.empty());
    CHECK(s.security == SecuritySpec{});
    CHECK(s.security.no_new_privileges);
    CHECK_FALSE(s.security.readonly_rootfs);
    CHECK(s.effective_hostname() == "postgres");

    // Where things were written is kept for the cross-file messages.
    CHECK(s.source_lines.line_of("command") == 2);
    CHECK(s.source_lines.line_of("mounts[2].size") == 11);
    CHECK(s.source_lines.line_of("probes.readiness.tcp.port") == 20);
    CHECK(s.source_lines.line_of("dependsOn") == 22);
}

TEST_CASE("a minimal app gets every default", "[parser]") {
    AppSpec s = spec_with(R"("init": true)");
    AppSpec expected;
    expected.name = "web";
    expected.source_file = kFile;
    expected.command = {"/bin/app"};
    CHECK(s == expected);
    CHECK(s.effective_hostname() == "web");
    CHECK(s.workdir == "/");
    CHECK(s.stop.signal == 15);
    CHECK(s.network.mode == NetworkMode::bridge);
}

TEST_CASE("null means the default, as an absent field", "[parser]") {
    AppSpec s = spec_with(R"("user": null, "hostname": null, "rootfs": null, "resources": {"cpu": null, "memory": null},
  "restart": {"maxRetries": null}, "probes": {"startup": null}, "security": {"readonlyRootfs": null})");
    CHECK(s.user.empty());
    CHECK(s.hostname.empty());
    CHECK(s.resources == ResourcesSpec{});
    CHECK(s.restart == RestartSpec{});
    CHECK(s.probes == ProbesSpec{});
    CHECK(s.security == SecuritySpec{});
    CHECK(errors_of(R"({"command": null})") ==
          std::vector<std::string>{
              "apps/web.json:1: command: required field is missing (the program to run and its arguments)"});
}

// ---- comments, positions, several errors ------------------------------------------------

TEST_CASE("comments of both kinds are allowed anywhere between tokens", "[parser]") {
    const char* text = R"(// a leading comment with "quotes", { braces } and a : colon
/* a block
   comment */ {
  "command": [ /* inline */ "/bin/app", // trailing
               "--flag"],
  /* before a key */ "env": {"A": "1" /* after a value */},
  "resources": {"pids": 5 // a number followed by a comment
  }
} // after the end
)";
    auto parsed = parse_app_text("web", text, kFile);
    REQUIRE(parsed.errors.empty());
    CHECK(parsed.spec->command == std::vector<std::string>{"/bin/app", "--flag"});
    CHECK(parsed.spec->env.at("A") == "1");
    CHECK(parsed.spec->resources.pids == 5u);
    CHECK(parsed.spec->source_lines.line_of("command[1]") == 5);
    CHECK(parsed.spec->source_lines.line_of("env.A") == 6);
    CHECK(parsed.spec->source_lines.line_of("resources.pids") == 7);
}

TEST_CASE("errors point at the line of the field, whatever the layout", "[parser]") {
    const char* text = R"({
  "command": ["/bin/app"],
  "resources": {
    "pids": 512,
    "cpu": 2000
    ,
    "memory":
      "12Q"
  },
  "mounts": [
    {"type": "tmpfs", "target": "/a"},
    {
      "type": "tmpfs",
      "target": "relative"
    }
  ],
  "command": ["/bin/other"]
})";
    CHECK(errors_of(text) ==
          std::vector<std::string>{
              "apps/web.json:5: resources.cpu: must be more than 0 and at most 1024 cores (got 2000)",
              "apps/web.json:7: resources.memory: \"12Q\" is not a size",
              "apps/web.json:14: mounts[1].target: \"relative\" is not an absolute path",
              "apps/web.json:17: command: given twice (first on line 2); JSON keeps only the last",
          });
}

TEST_CASE("every error of a file is reported, in line order", "[parser]") {
    const char* text = R"({
  "comand": ["/bin/app"],
  "user": "a:b:c",
  "resources": {"memory": "12Q", "pids": "512"},
  "env": {"PORT": 8080},
  "network": {"mode": "host", "ports": [{"host": 80}]},
  "restart": {"policy": "sometimes"}
})";
    CHECK(errors_of(text) ==
          std::vector<std::string>{
              "apps/web.json:1: command: required field is missing (the program to run and its arguments)",
              "apps/web.json:2: comand: unknown field (did you mean \"command\"?)",
              "apps/web.json:3: user: \"a:b:c\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)",
              "apps/web.json:4: resources.memory: \"12Q\" is not a size",
              "apps/web.json:4: resources.pids: expected an integer, got a string (\"512\") (write it without quotes)",
              "apps/web.json:5: env.PORT: expected a string, got a number (8080) (quote it: \"8080\")",
              "apps/web.json:6: network.ports: only allowed in bridge mode (mode is \"host\")",
              "apps/web.json:7: restart.policy: \"sometimes\" is not a restart policy (use \"always\", \"on-failure\", "
              "or "
              "\"never\")",
          });
}

TEST_CASE("Diagnostic renders file:line: field: message and leaves out empty parts", "[parser]") {
    CHECK(Diagnostic{"apps/web.json", 7, "resources.memory", "\"12Q\" is not a size"}.to_string() ==
          "apps/web.json:7: resources.memory: \"12Q\" is not a size");
    CHECK(Diagnostic{"apps/web.json", 0, "", "cannot read: No such file or directory"}.to_string() ==
          "apps/web.json: cannot read: No such file or directory");
    CHECK(Diagnostic{"apps/web.json", 4, "", "syntax error: x"}.to_string() == "apps/web.json:4: syntax error: x");
    CHECK(Diagnostic{"", 0, "user", "bad"}.to_string() == "user: bad");
    CHECK(Diagnostic{"", 3, "user", "bad"}.to_string() == "line 3: user: bad");
}

// ---- syntax errors ------------------------------------------------------------------

TEST_CASE("syntax errors name the line and say what is wrong in plain words", "[parser]") {
    auto one = [](std::string_view text) {
        auto e = errors_of(text);
        REQUIRE(e.size() == 1);
        return e[0];
    };
    CHECK(one("{\n  \"command\": [\"x\"],\n}\n") ==
          "apps/web.json:3: syntax error: trailing comma before '}' (JSON does not allow one)");
    CHECK(one("{\n  \"command\": [\"x\",\n  ]\n}\n") ==
          "apps/web.json:3: syntax error: trailing comma before ']' (JSON does not allow one)");
    CHECK(one("{\n  \"command\": [\"x\"]\n  \"user\": \"a\"\n}\n") ==
          "apps/web.json:3: syntax error: unexpected \"user\"; expected ',' or '}' (missing ',' at the end of the "
          "previous line?)");
    CHECK(one("{\n  \"command\": [\"x\" \"y\"]\n}") ==
          "apps/web.json:2: syntax error: unexpected \"y\"; expected ',' or ']'");
    CHECK(one("{\n  \"restart\": {\"policy\": always}\n}") ==
          "apps/web.json:2: syntax error: invalid literal 'always' (strings need double quotes; the literals are true, "
          "false "
          "and null)");
    CHECK(one("{\n  \"user\": \"abc\n}") ==
          "apps/web.json:2: syntax error: a string cannot span lines (missing closing quote?)");
    CHECK(one("{\n  \"command\": [\"x\"]\n") ==
          "apps/web.json:2: syntax error: unexpected end of file; expected ',' or '}'");
    CHECK(one("{\n  \"command\" [\"x\"]\n}") == "apps/web.json:2: syntax error: unexpected '['; expected ':'");
    CHECK(
        one("{\n\n  command: [\"x\"]\n}") ==
        "apps/web.json:3: syntax error: invalid literal 'command' (strings need double quotes; the literals are true, "
        "false and null)");
    CHECK(one("{\n  \"init\": -x\n}") ==
          "apps/web.json:2: syntax error: invalid number; expected digit after '-' in '-x'");
    CHECK(one("{\n  \"command\": ['x']\n}") ==
          "apps/web.json:2: syntax error: strings need double quotes, not single quotes");
    CHECK(one("{\n  \"command\": [\"x\")\n}") == "apps/web.json:2: syntax error: unexpected character ')'");
    CHECK(one("{\n  \"init\": tru\n}") ==
          "apps/web.json:2: syntax error: invalid literal 'tru' (strings need double quotes; the literals are true, "
          "false "
          "and null)");
    CHECK(one("{\n  /* unterminated\n}") == "apps/web.json:2: syntax error: invalid comment; missing closing '*/'");
    CHECK(one("{\"command\": [\"x\"]}\n\n\"more\"") ==
          "apps/web.json:3: syntax error: unexpected \"more\"; expected end of file");
    CHECK(one("") == "apps/web.json:1: syntax error: the file is empty (an app needs at least {\"command\": [...]})");
    CHECK(one("  \n\n") ==
          "apps/web.json:1: syntax error: the file is empty (an app needs at least {\"command\": [...]})");
    // A number makes the lexer read one character ahead, here the newline: the line is still 2.
    CHECK(one("{\n  \"init\": 1\n\n\n  \"x\": 2}") ==
          "apps/web.json:5: syntax error: unexpected \"x\"; expected ',' or '}' (missing ',' at the end of the "
          "previous line?)");
}

TEST_CASE("a UTF-8 byte order mark is skipped", "[parser]") {
    auto parsed = parse_app_text("web", "\xEF\xBB\xBF{\n  \"command\": [\"/bin/app\"],\n  \"user\": 5\n}", kFile);
    REQUIRE(parsed.errors.size() == 1);
    CHECK(parsed.errors[0].to_string() == "apps/web.json:3: user: expected a string, got a number (5)");
}

TEST_CASE("the top level must be an object", "[parser]") {
    CHECK(errors_of("[\"/bin/app\"]") ==
          std::vector<std::string>{"apps/web.json:1: expected an object ({\"command\": [...], ...}), got an array"});
}

TEST_CASE("the app name is checked", "[parser]") {
    auto e = errors_of(R"({"command": ["/bin/app"]})", "Web");
    REQUIRE(e.size() == 1);
    CHECK(e[0] ==
          "apps/web.json: \"Web\" is not a valid app name (lower-case letters, digits and \"-\", starting with a "
          "letter or digit, at most 32 characters)");
    CHECK(errors_of(R"({"command": ["/bin/app"]})", std::string(33, 'a')).size() == 1);
    CHECK(errors_of(R"({"command": ["/bin/app"]})", "-web").size() == 1);
    CHECK(errors_of(R"({"command": ["/bin/app"]})", std::string(32, 'a')).empty());
    CHECK(errors_of(R"({"command": ["/bin/app"]})", "0web-2").empty());
}

TEST_CASE("is_valid_app_name", "[parser]") {
    CHECK(is_valid_app_name("postgres"));
    CHECK(is_valid_app_name("a"));
    CHECK(is_valid_app_name("9"));
    CHECK(is_valid_app_name("web-1"));
    CHECK(is_valid_app_name(std::string(32, 'x')));
    CHECK_FALSE(is_valid_app_name(""));
    CHECK_FALSE(is_valid_app_name(std::string(33, 'x')));
    CHECK_FALSE(is_valid_app_name("-web"));
    CHECK_FALSE(is_valid_app_name("Web"));
    CHECK_FALSE(is_valid_app_name("web_1"));
    CHECK_FALSE(is_valid_app_name("web.json"));
}

// ---- unknown fields -----------------------------------------------------------------

TEST_CASE("unknown fields are errors, with a hint for near misses", "[parser]") {
    CHECK(errors_of("{\n  \"command\": [\"/bin/app\"],\n  \"comand\": []\n}") ==
          std::vector<std::string>{"apps/web.json:3: comand: unknown field (did you mean \"command\"?)"});
    CHECK(error_with(R"("Command": [])") == at3("Command", "unknown field (did you mean \"command\"?)"));
    CHECK(error_with(R"("DEPENDSON": [])") == at3("DEPENDSON", "unknown field (did you mean \"dependsOn\"?)"));
    CHECK(error_with(R"("restart": {"polcy": "always"})") ==
          at3("restart.polcy", "unknown field (did you mean \"policy\"?)"));
    CHECK(error_with(R"("xyzzy": 1)") == at3("xyzzy", "unknown field"));
    CHECK(error_with(R"("name": "web")") == at3("name", "unknown field (an app's name is its file name)"));
    CHECK(error_with(R"("image": "debian")") ==
          at3("image", "unknown field (use \"rootfs\": {\"type\": \"image\", \"image\": ...})"));
    CHECK(error_with(R"("volumes": [])") == at3("volumes", "unknown field (use \"mounts\")"));
    CHECK(error_with(R"("depends_on": [])") == at3("depends_on", "unknown field (did you mean \"dependsOn\"?)"));
    CHECK(error_with(R"("environment": {})") == at3("environment", "unknown field (did you mean \"env\"?)"));
    CHECK(error_with(R"("workingDir": "/")") == at3("workingDir", "unknown field (did you mean \"workdir\"?)"));
    CHECK(
        error_with(R"("security": {"cap_add": []})") ==
        at3("security.cap_add", "unknown field (did you mean \"capabilities\"? Write \"capabilities\": {\"add\": [...]}.)"));
    CHECK(error_with(R"("namespaces": {"net": "host"})") ==
          at3("namespaces.net", "unknown field (the network namespace is set by network.mode)"));
    CHECK(error_with(R"("namespaces": {"mount": "host"})") ==
          at3("namespaces.mount", "unknown field (every app has its own mount namespace)"));
    CHECK(error_with(R"("resources": {"limits": {}})") ==
          at3("resources.limits",
              "unknown field (limits go directly in resources: {\"cpu\": \"50%\", \"memory\": \"512M\"})"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "/a", "target": "/b", "readOnly": true}])") ==
          at3("mounts[0].readOnly", "unknown field (did you mean \"readonly\"?)"));
    CHECK(error_with(R"("network": {"ports": [{"host": 80, "hostAdress": "1.2.3.4"}]})") ==
          at3("network.ports[0].hostAdress", "unknown field (did you mean \"hostAddress\"?)"));
}

TEST_CASE("Docker and Kubernetes names point to ours, misspelt or not", "[parser]") {
    auto hint = [](std::string_view fragment) { return error_with(fragment); };
    // Misspelt aliases: a typo of "environment" is a typo of env.
    CHECK(hint(R"("enviroment": {})") == at3("enviroment", "unknown field (did you mean \"env\"?)"));
    CHECK(hint(R"("Environment": {})") == at3("Environment", "unknown field (did you mean \"env\"?)"));
    // Settings that live in a section here.
    for (const char* key : {"readOnly", "readonly", "readOnlyRootFilesystem", "read_only", "ReadOnly"})
        CHECK(hint(std::string("\"") + key + "\": true") ==
              at3(key, "unknown field (did you mean \"security.readonlyRootfs\"?)"));
    CHECK(hint(R"("security": {"readOnlyRootFilesystem": true})") ==
          at3("security.readOnlyRootFilesystem", "unknown field (did you mean \"readonlyRootfs\"?)"));
    CHECK(hint(R"("security": {"readOnly": true})") ==
          at3("security.readOnly", "unknown field (did you mean \"readonlyRootfs\"?)"));
    CHECK(hint(R"("restartPolicy": "always")") ==
          at3("restartPolicy", "unknown field (did you mean \"restart.policy\"?)"));
    CHECK(hint(R"("working_dir": "/")") == at3("working_dir", "unknown field (did you mean \"workdir\"?)"));
    CHECK(hint(R"("cmd": [])") ==
          at3("cmd", "unknown field (did you mean \"command\"? It holds the program and its arguments in one list.)"));
    CHECK(hint(R"("ports": [])") == at3("ports", "unknown field (did you mean \"network.ports\"?)"));
    CHECK(hint(R"("memory": "1G")") == at3("memory", "unknown field (did you mean \"resources.memory\"?)"));
    CHECK(hint(R"("livenessProbe": {})") == at3("livenessProbe", "unknown field (did you mean \"probes.liveness\"?)"));
    CHECK(hint(R"("stop_grace_period": "5s")") ==
          at3("stop_grace_period", "unknown field (did you mean \"stop.timeout\"?)"));
    CHECK(errors_with(R"("mounts": [{"type": "tmpfs", "mountPath": "/b"}])") ==
          std::vector<std::string>{at3("mounts[0].mountPath", "unknown field (did you mean \"target\"?)"),
                                   at3("mounts[0].target", "required field is missing (where it appears in the sandbox)")});
    CHECK(hint(R"("network": {"ports": [{"hostPort": 80, "host": 80}]})") ==
          at3("network.ports[0].hostPort", "unknown field (did you mean \"host\"?)"));
    CHECK(hint(R"("network": {"ports": [{"containerPort": 80, "host": 80}]})") ==
          at3("network.ports[0].containerPort", "unknown field (did you mean \"app\"?)"));
    // An alias only holds where its target is: in a mount, readOnly is the mount's own.
    CHECK(hint(R"("mounts": [{"type": "bind", "source": "/a", "target": "/b", "readOnly": true}])") ==
          at3("mounts[0].readOnly", "unknown field (did you mean \"readonly\"?)"));
}

// ---- command, user, env, workdir, hostname, init ------------------------------------

TEST_CASE("command", "[parser]") {
    CHECK(errors_of("{}") ==
          std::vector<std::string>{
              "apps/web.json:1: command: required field is missing (the program to run and its arguments)"});
    CHECK(errors_of("{\n  \"command\": \"/bin/app --flag\"\n}") ==
          std::vector<std::string>{"apps/web.json:2: command: expected an array of strings, got a string (\"/bin/app "
                                   "--flag\") (write [\"/bin/app\", \"--flag\"])"});
    CHECK(errors_of("{\n  \"command\": []\n}") ==
          std::vector<std::string>{"apps/web.json:2: command: must not be empty"});
    CHECK(errors_of("{\n  \"command\": [\"/bin/app\",\n    5]\n}") ==
          std::vector<std::string>{"apps/web.json:3: command[1]: expected a string, got a number (5)"});
    CHECK(errors_of("{\n  \"command\": [\"/bin/app\", \"\"]\n}") ==
          std::vector<std::string>{"apps/web.json:2: command[1]: must not be empty"});
    CHECK(errors_of("{\n  \"command\": {}\n}") ==
          std::vector<std::string>{"apps/web.json:2: command: expected an array of strings, got an object"});
    CHECK(spec_with(R"("init": false)").command == std::vector<std::string>{"/bin/app"});
}

TEST_CASE("a command written as one string: the hint splits it into words", "[parser]") {
    auto hint = [](std::string_view text) {
        auto errors = errors_of("{\n  \"command\": " + std::string(text) + "\n}");
        REQUIRE(errors.size() == 1);
        return errors.front();
    };
    CHECK(hint(R"("/bin/sleep 100")") ==
          "apps/web.json:2: command: expected an array of strings, got a string (\"/bin/sleep 100\") (write "
          "[\"/bin/sleep\", \"100\"])");
    CHECK(hint(R"("  /bin/app\t-v   --x ")").ends_with(R"((write ["/bin/app", "-v", "--x"]))"));
    CHECK(hint(R"("/bin/app")").ends_with(R"((write ["/bin/app"]))"));
    CHECK(hint(R"("")") == "apps/web.json:2: command: expected an array of strings, got a string (\"\")");
    // Splitting would change what a shell line means: it is run through a shell instead.
    CHECK(hint(R"("echo $HOME | tee /tmp/x")").ends_with(
        R"((write ["/bin/sh", "-c", "echo $HOME | tee /tmp/x"] to run it through a shell))"));
    CHECK(error_with(R"("probes": {"liveness": {"exec": {"command": "pg_isready -q"}}})")
              .ends_with(R"((write ["pg_isready", "-q"]))"));
    // Not a command: no shell.
    CHECK(error_with(R"("security": {"capabilities": {"add": "NET_ADMIN SYS_TIME"}})")
              .ends_with(R"((write ["NET_ADMIN", "SYS_TIME"]))"));

}

TEST_CASE("user", "[parser]") {
    for (auto ok : {"postgres", "1000", "1000:1000", "www-data:www-data", "postgres:1000", "_apt", "machine$"}) {
        INFO(ok);
        CHECK(spec_with(std::string(R"("user": ")") + ok + "\"").user == ok);
    }
    CHECK(error_with(R"("user": "a:b:c")") ==
          at3("user", "\"a:b:c\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
    CHECK(error_with(R"("user": "1abc")") ==
          at3("user", "\"1abc\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
    CHECK(error_with(R"("user": "a b")") ==
          at3("user", "\"a b\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
    CHECK(error_with(R"("user": "1000:")") ==
          at3("user", "\"1000:\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
    CHECK(error_with(R"("user": "4294967295")") ==
          at3("user", "\"4294967295\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
    CHECK(error_with(R"("user": "")") == at3("user", "must not be empty (leave it out to run as root)"));
    CHECK(error_with(R"("user": 1000)") == at3("user", "expected a string, got a number (1000)"));
}

TEST_CASE("env", "[parser]") {
    auto s = spec_with(R"("env": {"LANG": "C.UTF-8", "_X1": "", "lower": "a=b"})");
    CHECK(s.env == std::map<std::string, std::string>{{"LANG", "C.UTF-8"}, {"_X1", ""}, {"lower", "a=b"}});
    CHECK(error_with(R"("env": {"PORT": 8080})") ==
          at3("env.PORT", "expected a string, got a number (8080) (quote it: \"8080\")"));
    CHECK(error_with(R"("env": {"DEBUG": true})") ==
          at3("env.DEBUG", "expected a string, got a boolean (true) (quote it: \"true\")"));
    CHECK(error_with(R"("env": {"X": null})") == at3("env.X", "expected a string, got null"));
    CHECK(error_with(R"("env": {"X": ["a"]})") == at3("env.X", "expected a string, got an array"));
    CHECK(error_with(R"("env": {"1A": "x"})") ==
          at3("env.1A", "\"1A\" is not a valid variable name (letters, digits and \"_\", not starting with a digit)"));
    CHECK(
        error_with(R"("env": {"A-B": "x"})") ==
        at3("env.A-B", "\"A-B\" is not a valid variable name (letters, digits and \"_\", not starting with a digit)"));
    CHECK(error_with(R"("env": ["A=1"])") ==
          at3("env", "expected an object, got an array (write {\"NAME\": \"value\"})"));
}

TEST_CASE("workdir", "[parser]") {
    CHECK(spec_with(R"("workdir": "/srv/app")").workdir == "/srv/app");
    CHECK(error_with(R"("workdir": "srv")") == at3("workdir", "\"srv\" is not an absolute path"));
    CHECK(error_with(R"("workdir": "")") == at3("workdir", "\"\" is not an absolute path"));
    CHECK(error_with(R"("workdir": "/srv/../etc")") ==
          at3("workdir", "\"/srv/../etc\" must not contain \"..\" components"));
    CHECK(error_with(R"("workdir": 1)") == at3("workdir", "expected a string, got a number (1)"));
}

TEST_CASE("hostname", "[parser]") {
    CHECK(spec_with(R"("hostname": "db-1.internal")").hostname == "db-1.internal");
    CHECK(spec_with(R"("hostname": ")" + std::string(64, 'a').substr(0, 63) + "\"").hostname.size() == 63);
    const std::string rule = " is not a valid hostname (letters, digits, \"-\" and \".\", at most 64 characters)";
    CHECK(error_with(R"("hostname": "a_b")") == at3("hostname", "\"a_b\"" + rule));
    CHECK(error_with(R"("hostname": "-ab")") == at3("hostname", "\"-ab\"" + rule));
    CHECK(error_with(R"("hostname": "a..b")") == at3("hostname", "\"a..b\"" + rule));
    CHECK(error_with(R"("hostname": "")") == at3("hostname", "\"\"" + rule));
    std::string long_name = std::string(40, 'a') + "." + std::string(24, 'b');  // 65 characters
    CHECK(error_with("\"hostname\": \"" + long_name + "\"") == at3("hostname", "\"" + long_name + "\"" + rule));
    CHECK(error_with(R"("hostname": "web", "namespaces": {"uts": "host"})") ==
          at3("hostname", "cannot be set when namespaces.uts is \"host\""));
    CHECK(error_with(R"("hostname": "web", "namespaces": {"uts": "app:db"})") ==
          at3("hostname", "cannot be set when namespaces.uts is \"app:db\" (the hostname is db's)"));
}

TEST_CASE("init", "[parser]") {
    CHECK_FALSE(spec_with(R"("init": false)").init);
    CHECK(error_with(R"("init": "true")") ==
          at3("init", "expected true or false, got a string (\"true\") (write it without quotes)"));
    CHECK(error_with(R"("init": 1)") == at3("init", "expected true or false, got a number (1)"));
}

TEST_CASE("autostart", "[parser]") {
    CHECK(spec_with(R"("init": true)").autostart);  // the default: started with the daemon and on reload
    CHECK_FALSE(spec_with(R"("autostart": false)").autostart);
    CHECK(spec_with(R"("autostart": null)").autostart);
    CHECK(error_with(R"("autostart": "false")") ==
          at3("autostart", "expected true or false, got a string (\"false\") (write it without quotes)"));
    CHECK(error_with(R"("autoStart": false)") == at3("autoStart", "unknown field (did you mean \"autostart\"?)"));
}

// ---- rootfs -------------------------------------------------------------------------

TEST_CASE("rootfs", "[parser]") {
    CHECK(spec_with(R"("rootfs": {"type": "host"})").rootfs == RootfsSpec{});
    CHECK(spec_with(R"("rootfs": {"type": "directory", "path": "/srv/rootfs/alpine"})").rootfs ==
          RootfsSpec{RootfsType::directory, "/srv/rootfs/alpine", RootfsWritable::overlay, ""});
    CHECK(spec_with(R"("rootfs": {"type": "directory", "path": "/srv/r", "writable": "readonly"})").rootfs ==
          RootfsSpec{RootfsType::directory, "/srv/r", RootfsWritable::readonly, ""});

    CHECK(error_with(R"("rootfs": "host")") ==
          at3("rootfs",
              "expected an object, got a string (\"host\") (write {\"type\": \"host\"}, {\"type\": "
              "\"directory\", \"path\": ...} or {\"type\": \"image\", \"image\": ...})"));
    CHECK(error_with(R"("rootfs": {})") == at3("rootfs.type", "required field is missing (\"host\", \"directory\" or \"image\")"));
    CHECK(error_with(R"("rootfs": {"type": "directroy", "path": "/x"})") ==
          at3("rootfs.type",
              "\"directroy\" is not a rootfs type (use \"host\", \"directory\", or \"image\"; did you mean "
              "\"directory\"?)"));
    CHECK(error_with(R"("rootfs": {"type": "image"})") ==
          at3("rootfs.image", "required field is missing (an image in the store: \"postgres:16\", "
                              "\"name@sha256:...\" or an image id \"sha256:...\")"));
    CHECK(error_with(R"("rootfs": {"type": "directory"})") ==
          at3("rootfs.path", "required field is missing (the rootfs directory on the host)"));
    CHECK(error_with(R"("rootfs": {"type": "host", "path": "/srv/r"})") ==
          at3("rootfs.path", "only valid with \"type\": \"directory\""));
    CHECK(error_with(R"("rootfs": {"type": "host", "writable": "overlay"})") ==
          at3("rootfs.writable", "only valid with \"type\": \"directory\" or \"image\""));
    CHECK(error_with(R"("rootfs": {"type": "directory", "path": "srv/r"})") ==
          at3("rootfs.path", "\"srv/r\" is not an absolute path"));
    CHECK(error_with(R"("rootfs": {"type": "directory", "path": "/srv/r", "writable": "rw"})") ==
          at3("rootfs.writable", "\"rw\" is not a rootfs mode (use \"overlay\" or \"readonly\")"));
    CHECK(error_with(R"("rootfs": {"type": "host", "size": 1})") == at3("rootfs.size", "unknown field"));
}

// ---- mounts -------------------------------------------------------------------------

TEST_CASE("mounts: valid forms", "[parser]") {
    auto s = spec_with(R"("mounts": [
    {"type": "bind", "source": "/data", "target": "/var/data", "readonly": true, "create": true},
    {"type": "tmpfs", "target": "/tmp", "size": 1048576, "mode": "1777"},
    {"type": "tmpfs", "target": "/run/x", "mode": 493},
    {"type": "tmpfs", "target": "/run/y", "mode": "0700"}])");
    REQUIRE(s.mounts.size() == 4);
    CHECK(s.mounts[0] == MountSpec{MountType::bind, "/data", "/var/data", true, true, std::nullopt, std::nullopt});
    CHECK(s.mounts[1] == MountSpec{MountType::tmpfs, "", "/tmp", false, false, 1u << 20, 01777u});
    CHECK(s.mounts[2].mode == 0755u);
    CHECK(s.mounts[3].mode == 0700u);
}

TEST_CASE("mounts: every error", "[parser]") {
    CHECK(error_with(R"("mounts": {})") == at3("mounts", "expected an array of mounts, got an object"));
    CHECK(error_with(R"("mounts": [1])") ==
          at3("mounts[0]",
              "expected an object, got a number (1) (write {\"type\": \"bind\", \"source\": ..., \"target\": ...})"));
    CHECK(error_with(R"("mounts": [{"source": "/a", "target": "/b"}])") ==
          at3("mounts[0].type", "required field is missing (\"bind\" or \"tmpfs\")"));
    CHECK(error_with(R"("mounts": [{"type": "volume", "target": "/b"}])") ==
          at3("mounts[0].type", "\"volume\" is not a mount type (use \"bind\" or \"tmpfs\")"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs"}])") ==
          at3("mounts[0].target", "required field is missing (where it appears in the sandbox)"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "target": "/b"}])") ==
          at3("mounts[0].source", "required field is missing (the host path to bind)"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "a", "target": "/b"}])") ==
          at3("mounts[0].source", "\"a\" is not an absolute path"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "/a/../b", "target": "/b"}])") ==
          at3("mounts[0].source", "\"/a/../b\" must not contain \"..\" components"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "b"}])") ==
          at3("mounts[0].target", "\"b\" is not an absolute path"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/"}])") ==
          at3("mounts[0].target", "cannot be \"/\" (the sandbox's root is set by rootfs)"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a/../etc"}])") ==
          at3("mounts[0].target", "\"/a/../etc\" must not contain \".\" or \"..\" components"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a/./b"}])") ==
          at3("mounts[0].target", "\"/a/./b\" must not contain \".\" or \"..\" components"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a//b"}])") ==
          at3("mounts[0].target", "\"/a//b\" is not normalized (write \"/a/b\")"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a/"}])") ==
          at3("mounts[0].target", "\"/a/\" is not normalized (write \"/a\")"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "source": "/x"}])") ==
          at3("mounts[0].source", "only valid for bind mounts"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "readonly": true}])") ==
          at3("mounts[0].readonly", "only valid for bind mounts"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "create": true}])") ==
          at3("mounts[0].create", "only valid for bind mounts"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "/x", "target": "/a", "size": "1M"}])") ==
          at3("mounts[0].size", "only valid for tmpfs mounts"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "/x", "target": "/a", "mode": "0755"}])") ==
          at3("mounts[0].mode", "only valid for tmpfs mounts"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "/x", "target": "/a", "readonly": "yes"}])") ==
          at3("mounts[0].readonly", "expected true or false, got a string (\"yes\")"));
    CHECK(error_with(R"("mounts": [{"type": "bind", "source": "/x", "target": "/a", "create": 1}])") ==
          at3("mounts[0].create", "expected true or false, got a number (1)"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "size": 0}])") ==
          at3("mounts[0].size",
              "must be more than 0 (the kernel reads 0 as \"no limit\"; leave it out for the default)"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "size": "16Q"}])") ==
          at3("mounts[0].size", "\"16Q\" is not a size"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "size": -1}])") ==
          at3("mounts[0].size", "expected a size (bytes, or a string such as \"512M\"), got a number (-1)"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "mode": "999"}])") ==
          at3("mounts[0].mode", "\"999\" is not an octal mode such as \"1777\" or \"0755\""));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "mode": "17777"}])") ==
          at3("mounts[0].mode", "\"17777\" is not an octal mode such as \"1777\" or \"0755\""));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "mode": 5000}])") ==
          at3("mounts[0].mode",
              "5000 is not a mode (JSON numbers are decimal: write modes as octal strings such as \"1777\")"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/a", "mode": true}])") ==
          at3("mounts[0].mode", "expected an octal string such as \"1777\", got a boolean (true)"));
    CHECK(error_with(
              R"("mounts": [{"type": "tmpfs", "target": "/a"}, {"type": "bind", "source": "/x", "target": "/a"}])") ==
          at3("mounts[1].target", "\"/a\" is also the target of mounts[0]"));
}

// ---- network ------------------------------------------------------------------------

TEST_CASE("network: valid forms", "[parser]") {
    auto s = spec_with(R"("network": {"mode": "bridge", "address": "10.88.0.5", "ports": [
    {"host": 8080, "app": 80},
    {"host": 8080, "protocol": "udp"},
    {"host": 53, "app": 5353, "protocol": "udp", "hostAddress": "127.0.0.1"},
    {"host": 443, "hostAddress": "0.0.0.0"}]})");
    CHECK(s.network.mode == NetworkMode::bridge);
    CHECK(s.network.address == "10.88.0.5");
    REQUIRE(s.network.ports.size() == 4);
    CHECK(s.network.ports[0] == PortSpec{8080, 80, Protocol::tcp, ""});
    CHECK(s.network.ports[1] == PortSpec{8080, 8080, Protocol::udp, ""});  // app defaults to the host port
    CHECK(s.network.ports[2] == PortSpec{53, 5353, Protocol::udp, "127.0.0.1"});
    CHECK(s.network.ports[3] == PortSpec{443, 443, Protocol::tcp, ""});  // 0.0.0.0 is every address
    CHECK(spec_with(R"("network": {"mode": "host"})").network.mode == NetworkMode::host);
    CHECK(spec_with(R"("network": {"mode": "none"})").network.mode == NetworkMode::none);
    auto joined = spec_with(R"("network": {"mode": "app:db"})").network;
    CHECK(joined.mode == NetworkMode::app);
    CHECK(joined.app == "db");
    // The same port on two different addresses is fine.
    CHECK(
        spec_with(
            R"("network": {"ports": [{"host": 80, "hostAddress": "127.0.0.1"},
                           {"host": 80, "hostAddress": "127.0.0.2"}]})")
            .network.ports.size() == 2);
}

TEST_CASE("network: every error", "[parser]") {
    CHECK(error_with(R"("network": "host")") ==
          at3("network", "expected an object, got a string (\"host\") (write {\"mode\": \"host\"})"));
    CHECK(error_with(R"("network": [])") == at3("network", "expected an object, got an array"));
    CHECK(error_with(R"("network": {"mode": "brige"})") ==
          at3("network.mode",
              "\"brige\" is not a network mode (use \"bridge\", \"host\", \"none\", or \"app:NAME\"; did you mean "
              "\"bridge\"?)"));
    CHECK(error_with(R"("network": {"mode": 1})") == at3("network.mode", "expected a string, got a number (1)"));
    CHECK(error_with(R"("network": {"mode": "app:Db"})") ==
          at3("network.mode", "\"app:Db\" does not name an app (\"Db\" is not a valid app name)"));
    CHECK(error_with(R"("network": {"mode": "app:"})") ==
          at3("network.mode", "\"app:\" does not name an app (\"\" is not a valid app name)"));
    CHECK(error_with(R"("network": {"mode": "app:web"})") ==
          at3("network.mode", "an app cannot join its own network namespace"));
    CHECK(error_with(R"("network": {"mode": "host", "ports": [{"host": 80}]})") ==
          at3("network.ports", "only allowed in bridge mode (mode is \"host\")"));
    CHECK(error_with(R"("network": {"mode": "none", "address": "10.0.0.2"})") ==
          at3("network.address", "only allowed in bridge mode (mode is \"none\")"));
    CHECK(error_with(R"("network": {"mode": "app:db", "ports": []})") ==
          at3("network.ports", "only allowed in bridge mode (mode is \"app:db\")"));
    CHECK(error_with(R"("network": {"address": "10.0.0.256"})") ==
          at3("network.address", "\"10.0.0.256\" is not an IPv4 address"));
    CHECK(error_with(R"("network": {"address": "fd00::1"})") ==
          at3("network.address", "\"fd00::1\" is not an IPv4 address"));
    CHECK(error_with(R"("network": {"address": "127.0.0.1"})") ==
          at3("network.address", "\"127.0.0.1\" cannot be an app's address"));
    CHECK(error_with(R"("network": {"address": "0.0.0.0"})") ==
          at3("network.address", "\"0.0.0.0\" cannot be an app's address"));
    CHECK(error_with(R"("network": {"address": "224.0.0.1"})") ==
          at3("network.address", "\"224.0.0.1\" cannot be an app's address"));
    CHECK(error_with(R"("network": {"ports": {"host": 80}})") ==
          at3("network.ports", "expected an array of ports, got an object"));
    CHECK(error_with(R"("network": {"ports": [80]})") ==
          at3("network.ports[0]", "expected an object, got a number (80) (write {\"host\": 8080, \"app\": 80})"));
    CHECK(error_with(R"("network": {"ports": [{"app": 80}]})") ==
          at3("network.ports[0].host", "required field is missing (the port on the host)"));
    CHECK(error_with(R"("network": {"ports": [{"host": 0}]})") ==
          at3("network.ports[0].host", "must be between 1 and 65535 (got 0)"));
    CHECK(error_with(R"("network": {"ports": [{"host": 65536}]})") ==
          at3("network.ports[0].host", "must be between 1 and 65535 (got 65536)"));
    CHECK(error_with(R"("network": {"ports": [{"host": "80"}]})") ==
          at3("network.ports[0].host", "expected an integer, got a string (\"80\") (write it without quotes)"));
    CHECK(error_with(R"("network": {"ports": [{"host": 80, "app": 70000}]})") ==
          at3("network.ports[0].app", "must be between 1 and 65535 (got 70000)"));
    CHECK(error_with(R"("network": {"ports": [{"host": 80, "protocol": "sctp"}]})") ==
          at3("network.ports[0].protocol", "\"sctp\" is not a protocol (use \"tcp\" or \"udp\")"));
    CHECK(
        error_with(R"("network": {"ports": [{"host": 80, "protocol": "ucp"}]})") ==
        at3("network.ports[0].protocol", "\"ucp\" is not a protocol (use \"tcp\" or \"udp\"; did you mean \"tcp\"?)"));
    CHECK(error_with(R"("network": {"ports": [{"host": 80, "hostAddress": "localhost"}]})") ==
          at3("network.ports[0].hostAddress", "\"localhost\" is not an IPv4 address"));
    CHECK(error_with(R"("network": {"ports": [{"host": 80}, {"host": 80, "app": 81}]})") ==
          at3("network.ports[1].host", "tcp port 80 is already forwarded by network.ports[0]"));
    CHECK(error_with(R"("network": {"ports": [{"host": 80}, {"host": 80, "hostAddress": "127.0.0.1"}]})") ==
          at3("network.ports[1].host", "tcp port 80 is already forwarded by network.ports[0]"));
    CHECK(error_with(R"("network": {"ports": [{"host": 53, "protocol": "udp", "hostAddress": "10.0.0.1"},
                                              {"host": 53, "protocol": "udp", "hostAddress": "10.0.0.1"}]})") ==
          kFile + ":4: network.ports[1].host: udp port 53 is already forwarded by network.ports[0]");
}

// ---- namespaces ---------------------------------------------------------------------

TEST_CASE("namespaces: valid forms", "[parser]") {
    auto s = spec_with(R"("namespaces": {"pid": "host", "ipc": "app:db", "uts": "private", "user": {"uid": 100000}})");
    CHECK(s.namespaces.pid == NamespaceMode{NamespaceKind::host, ""});
    CHECK(s.namespaces.ipc == NamespaceMode{NamespaceKind::app, "db"});
    CHECK(s.namespaces.uts == NamespaceMode{NamespaceKind::private_, ""});
    CHECK(s.namespaces.user == UserNamespaceSpec{true, 100000, 100000, 65536});
    CHECK(spec_with(R"("namespaces": {"user": {"uid": 100000, "gid": 200000, "count": 1000}})").namespaces.user ==
          UserNamespaceSpec{true, 100000, 200000, 1000});
    CHECK(spec_with(R"("namespaces": {"user": "none"})").namespaces.user == UserNamespaceSpec{});
    // The last id that fits: 4294967296 - 65536.
    CHECK(spec_with(R"("namespaces": {"user": {"uid": 4294901760}})").namespaces.user.uid == 4294901760u);
}

TEST_CASE("namespaces: every error", "[parser]") {
    CHECK(error_with(R"("namespaces": "host")") == at3("namespaces", "expected an object, got a string (\"host\")"));
    CHECK(error_with(R"("namespaces": {"pid": "shared"})") ==
          at3("namespaces.pid", "\"shared\" is not a namespace mode (use \"private\", \"host\", or \"app:NAME\")"));
    CHECK(error_with(R"("namespaces": {"pid": "hots"})") ==
          at3("namespaces.pid",
              "\"hots\" is not a namespace mode (use \"private\", \"host\", or \"app:NAME\"; did you mean \"host\"?)"));
    CHECK(error_with(R"("namespaces": {"ipc": true})") ==
          at3("namespaces.ipc", "expected a string, got a boolean (true)"));
    CHECK(error_with(R"("namespaces": {"ipc": "app:web"})") ==
          at3("namespaces.ipc", "an app cannot join its own ipc namespace"));
    CHECK(error_with(R"("namespaces": {"uts": "app:X_1"})") ==
          at3("namespaces.uts", "\"app:X_1\" does not name an app (\"X_1\" is not a valid app name)"));
    CHECK(error_with(R"("namespaces": {"user": "yes"})") ==
          at3("namespaces.user",
              "\"yes\" is not a user namespace (use \"none\" or {\"uid\": 100000, \"count\": 65536})"));
    CHECK(error_with(R"("namespaces": {"user": 100000})") ==
          at3("namespaces.user",
              "expected \"none\" or a mapping such as {\"uid\": 100000, \"count\": 65536}, got a number (100000)"));
    CHECK(error_with(R"("namespaces": {"user": {"count": 10}})") ==
          at3("namespaces.user.uid", "required field is missing (the first host uid of the mapping)"));
    CHECK(error_with(R"("namespaces": {"user": {"uid": 0}})") ==
          at3("namespaces.user.uid", "must be more than 0 (uid 0 would make the sandbox's root the host's root)"));
    CHECK(error_with(R"("namespaces": {"user": {"uid": 1000, "gid": 0}})") ==
          at3("namespaces.user.gid", "must be more than 0 (gid 0 would make the sandbox's root the host's root)"));
    CHECK(error_with(R"("namespaces": {"user": {"uid": -5}})") ==
          at3("namespaces.user.uid", "must be between 1 and 4294967294 (got -5)"));
    CHECK(error_with(R"("namespaces": {"user": {"uid": 1000, "count": 0}})") ==
          at3("namespaces.user.count", "must be at least 1 (got 0)"));
    CHECK(error_with(R"("namespaces": {"user": {"uid": 4294967000}})") ==
          at3("namespaces.user.uid", "uid 4294967000 + count 65536 goes past the last id, 4294967295"));
    CHECK(error_with(R"("namespaces": {"user": {"uid": 1000, "gid": 4294967000}})") ==
          at3("namespaces.user.gid", "gid 4294967000 + count 65536 goes past the last id, 4294967295"));
    CHECK(errors_with(R"("namespaces": {"user": {"uid": 4294967000, "gid": 1000, "count": 1000}})") ==
          std::vector<std::string>{
              at3("namespaces.user.count", "uid 4294967000 + count 1000 goes past the last id, 4294967295")});
    CHECK(error_with(R"("namespaces": {"user": {"uid": 1000, "map": 1}})") ==
          at3("namespaces.user.map", "unknown field"));
}

// ---- resources ----------------------------------------------------------------------

TEST_CASE("resources: valid forms", "[parser]") {
    auto s = spec_with(R"("resources": {"cpu": 1.5, "cpuWeight": 200, "memory": "1G", "memoryHigh": "768M",
    "swap": 0, "pids": 100, "ioWeight": 10000})");
    CHECK(s.resources.cpu == Approx(1.5));
    CHECK(s.resources.cpu_weight == 200u);
    CHECK(s.resources.memory == 1ull << 30);
    CHECK(s.resources.memory_high == 768ull << 20);
    CHECK(s.resources.swap == 0u);
    CHECK(s.resources.pids == 100u);
    CHECK(s.resources.io_weight == 10000u);
    CHECK(spec_with(R"("resources": {"cpu": "50%"})").resources.cpu == Approx(0.5));
    CHECK(spec_with(R"("resources": {"cpu": "250%"})").resources.cpu == Approx(2.5));
    CHECK(spec_with(R"("resources": {"cpu": "500m"})").resources.cpu == Approx(0.5));  // Kubernetes millicores
    CHECK(spec_with(R"("resources": {"cpu": "1.5"})").resources.cpu == Approx(1.5));   // Docker's --cpus
    CHECK(spec_with(R"("resources": {"cpu": 1024})").resources.cpu == Approx(1024));
    CHECK(spec_with(R"("resources": {"memory": 1048576})").resources.memory == 1u << 20);
    CHECK(spec_with(R"("resources": {"memory": "512Mi"})").resources.memory == 512ull << 20);
    CHECK(spec_with(R"("resources": {"pids": 512.0})").resources.pids == 512u);  // an integral number is an integer
}

TEST_CASE("resources: every error", "[parser]") {
    CHECK(error_with(R"("resources": [])") == at3("resources", "expected an object, got an array"));
    CHECK(error_with(R"("resources": {"cpu": "fast"})") ==
          at3("resources.cpu",
              "\"fast\" is not a CPU amount (use \"50%\" of one core or a number of cores such as 1.5)"));
    CHECK(
        error_with(R"("resources": {"cpu": "0%"})") ==
        at3("resources.cpu", "\"0%\" is not a CPU amount (use \"50%\" of one core or a number of cores such as 1.5)"));
    CHECK(error_with(R"("resources": {"cpu": true})") ==
          at3("resources.cpu", "expected a number of cores or a percentage such as \"50%\", got a boolean (true)"));
    CHECK(error_with(R"("resources": {"cpu": 0})") ==
          at3("resources.cpu", "must be more than 0 and at most 1024 cores (got 0)"));
    CHECK(error_with(R"("resources": {"cpu": -1})") ==
          at3("resources.cpu", "must be more than 0 and at most 1024 cores (got -1)"));
    CHECK(error_with(R"("resources": {"cpu": 1024.5})") ==
          at3("resources.cpu", "must be more than 0 and at most 1024 cores (got 1024.5)"));
    CHECK(error_with(R"("resources": {"cpu": "200000%"})") ==
          at3("resources.cpu", "must be more than 0 and at most 1024 cores (got \"200000%\")"));
    CHECK(error_with(R"("resources": {"cpuWeight": 0})") ==
          at3("resources.cpuWeight", "must be between 1 and 10000 (got 0)"));
    CHECK(error_with(R"("resources": {"cpuWeight": 10001})") ==
          at3("resources.cpuWeight", "must be between 1 and 10000 (got 10001)"));
    CHECK(error_with(R"("resources": {"memory": "12Q"})") == at3("resources.memory", "\"12Q\" is not a size"));
    CHECK(error_with(R"("resources": {"memory": true})") ==
          at3("resources.memory", "expected a size (bytes, or a string such as \"512M\"), got a boolean (true)"));
    const std::string too_small =
        "must be at least 1M: the kernel needs some room for the app's own pages, and less is almost always a typo";
    CHECK(error_with(R"("resources": {"memory": "512"})") ==
          at3("resources.memory", too_small + " (plain numbers are bytes: did you mean \"512M\"?)"));
    CHECK(error_with(R"("resources": {"memory": 64})") ==
          at3("resources.memory", too_small + " (plain numbers are bytes: did you mean \"64M\"?)"));
    CHECK(error_with(R"("resources": {"memory": "512K"})") == at3("resources.memory", too_small));
    CHECK(error_with(R"("resources": {"memoryHigh": "100K"})") == at3("resources.memoryHigh", too_small));
    CHECK(error_with(R"("resources": {"memory": "1G", "memoryHigh": "2G"})") ==
          at3("resources.memoryHigh", "must not be more than resources.memory (2G > 1G)"));
    CHECK(error_with(R"("resources": {"swap": "lots"})") == at3("resources.swap", "\"lots\" is not a size"));
    CHECK(error_with(R"("resources": {"pids": 0})") == at3("resources.pids", "must be between 1 and 4194304 (got 0)"));
    CHECK(error_with(R"("resources": {"pids": 5000000})") ==
          at3("resources.pids", "must be between 1 and 4194304 (got 5000000)"));
    CHECK(error_with(R"("resources": {"pids": "512"})") ==
          at3("resources.pids", "expected an integer, got a string (\"512\") (write it without quotes)"));
    CHECK(error_with(R"("resources": {"pids": 1.5})") ==
          at3("resources.pids", "expected an integer, got a number (1.5)"));
    CHECK(error_with(R"("resources": {"ioWeight": 0})") ==
          at3("resources.ioWeight", "must be between 1 and 10000 (got 0)"));
}

// ---- restart, stop ------------------------------------------------------------------

TEST_CASE("restart: valid forms", "[parser]") {
    auto s = spec_with(R"("restart": {"policy": "on-failure", "maxRetries": 0,
    "backoff": {"initial": "500ms", "max": "1m", "factor": 1.5, "resetAfter": "0s", "jitter": 0}})");
    CHECK(s.restart.policy == RestartPolicy::on_failure);
    CHECK(s.restart.max_retries == 0u);
    CHECK(s.restart.backoff == BackoffSpec{500ms, 1min, 1.5, 0s, 0.0});
    CHECK(spec_with(R"("restart": {"policy": "never"})").restart.policy == RestartPolicy::never);
    CHECK(spec_with(R"("restart": {"backoff": {"initial": "5m"}})").restart.backoff.initial ==
          5min);  // = the default max
}

TEST_CASE("restart: every error", "[parser]") {
    CHECK(error_with(R"("restart": "always")") ==
          at3("restart", "expected an object, got a string (\"always\") (write {\"policy\": \"always\"})"));
    CHECK(error_with(R"("restart": {"policy": "on_failure"})") ==
          at3("restart.policy",
              "\"on_failure\" is not a restart policy (use \"always\", \"on-failure\", or \"never\"; did you mean "
              "\"on-failure\"?)"));
    CHECK(error_with(R"("restart": {"maxRetries": -1})") == at3("restart.maxRetries", "must be at least 0 (got -1)"));
    CHECK(error_with(R"("restart": {"maxRetries": "3"})") ==
          at3("restart.maxRetries", "expected an integer, got a string (\"3\") (write it without quotes)"));
    CHECK(error_with(R"("restart": {"backoff": "1s"})") ==
          at3("restart.backoff", "expected an object, got a string (\"1s\")"));
    CHECK(error_with(R"("restart": {"backoff": {"initial": "0s"}})") ==
          at3("restart.backoff.initial", "must be more than 0s"));
    CHECK(error_with(R"("restart": {"backoff": {"initial": "10m"}})") ==
          at3("restart.backoff.initial", "10m is longer than restart.backoff.max (5m, the default)"));
    CHECK(error_with(R"("restart": {"backoff": {"initial": "2s", "max": "1s"}})") ==
          at3("restart.backoff.initial", "2s is longer than restart.backoff.max (1s)"));
    CHECK(error_with(R"("restart": {"backoff": {"max": 5}})") ==
          at3("restart.backoff.max",
              "expected a duration such as \"10s\", \"500ms\" or \"5m\", got a number (5) (did you mean \"5s\"?)"));
    CHECK(error_with(R"("restart": {"backoff": {"factor": 0.5}})") ==
          at3("restart.backoff.factor", "must be at least 1 (got 0.5)"));
    CHECK(error_with(R"("restart": {"backoff": {"factor": "2"}})") ==
          at3("restart.backoff.factor", "expected a number, got a string (\"2\") (write it without quotes)"));
    CHECK(error_with(R"("restart": {"backoff": {"factor": "double"}})") ==
          at3("restart.backoff.factor", "expected a number, got a string (\"double\")"));
    CHECK(error_with(R"("restart": {"backoff": {"resetAfter": "10"}})") ==
          at3("restart.backoff.resetAfter", "\"10\" is not a duration (add a unit: \"10s\")"));
    CHECK(error_with(R"("restart": {"backoff": {"resetAfter": "ten minutes"}})") ==
          at3("restart.backoff.resetAfter",
              "\"ten minutes\" is not a duration (use a number and a unit: \"500ms\", \"10s\", \"5m\", \"1h\")"));
    CHECK(error_with(R"("restart": {"backoff": {"jitter": 1.5}})") ==
          at3("restart.backoff.jitter", "must be between 0 and 1 (a fraction: 0.1 is ±10 %; got 1.5)"));
    CHECK(error_with(R"("restart": {"backoff": {"jitter": -0.1}})") ==
          at3("restart.backoff.jitter", "must be between 0 and 1 (a fraction: 0.1 is ±10 %; got -0.1)"));
}

TEST_CASE("stop", "[parser]") {
    CHECK(spec_with(R"("stop": {"signal": "SIGQUIT"})").stop.signal == 3);
    CHECK(spec_with(R"("stop": {"signal": "INT"})").stop.signal == 2);
    CHECK(spec_with(R"("stop": {"signal": "SIGKILL", "timeout": "0s"})").stop == StopSpec{9, 0s});
    CHECK(spec_with(R"("stop": {"signal": 10})").stop.signal == 10);
    CHECK(spec_with(R"("stop": {"signal": "34"})").stop.signal == 34);
    CHECK(spec_with(R"("stop": {"timeout": "1m30s"})").stop.timeout == 90s);

    CHECK(error_with(R"("stop": "SIGTERM")") == at3("stop", "expected an object, got a string (\"SIGTERM\")"));
    CHECK(error_with(R"("stop": {"signal": "sigterm"})") ==
          at3("stop.signal", "\"sigterm\" is not a signal (did you mean \"SIGTERM\"?)"));
    CHECK(error_with(R"("stop": {"signal": "SIGFOO"})") ==
          at3("stop.signal", "\"SIGFOO\" is not a signal (use a name such as \"SIGTERM\" or \"TERM\", or a number)"));
    CHECK(error_with(R"("stop": {"signal": 0})") == at3("stop.signal", "must be between 1 and 64 (got 0)"));
    CHECK(error_with(R"("stop": {"signal": 65})") == at3("stop.signal", "must be between 1 and 64 (got 65)"));
    CHECK(error_with(R"("stop": {"signal": true})") ==
          at3("stop.signal", "expected a signal such as \"SIGTERM\", got a boolean (true)"));
    CHECK(error_with(R"("stop": {"timeout": 30})") ==
          at3("stop.timeout",
              "expected a duration such as \"10s\", \"500ms\" or \"5m\", got a number (30) (did you mean \"30s\"?)"));
    CHECK(error_with(R"("stop": {"timeout": "1.5s"})") ==
          at3("stop.timeout",
              "\"1.5s\" is not a duration (use a number and a unit: \"500ms\", \"10s\", \"5m\", \"1h\")"));
    CHECK(
        error_with(R"("stop": {"timeout": "-1s"})") ==
        at3("stop.timeout", "\"-1s\" is not a duration (use a number and a unit: \"500ms\", \"10s\", \"5m\", \"1h\")"));
}

// ---- probes -------------------------------------------------------------------------

TEST_CASE("probes: valid forms and Kubernetes defaults", "[parser]") {
    auto s = spec_with(R"("probes": {
    "startup": {"http": {"port": 8080, "path": "/healthz?full=1", "scheme": "https",
                         "headers": [{"name": "Host", "value": "example.org"}, {"name": "User-Agent", "value": ""}]},
                "initialDelay": "5s", "period": "100ms", "timeout": "2s", "failureThreshold": 30},
    "readiness": {"tcp": {"port": 21, "expect": "220"}, "successThreshold": 2},
    "liveness": {"exec": {"command": ["pg_isready", "-q"]}}})");
    REQUIRE(s.probes.startup);
    const ProbeSpec& st = *s.probes.startup;
    CHECK(st.kind == ProbeKind::http);
    CHECK(st.port == 8080);
    CHECK(st.path == "/healthz?full=1");
    CHECK(st.scheme == "https");
    CHECK(st.headers == std::vector<HttpHeader>{{"Host", "example.org"}, {"User-Agent", ""}});
    CHECK(st.initial_delay == 5s);
    CHECK(st.period == 100ms);
    CHECK(st.timeout == 2s);
    CHECK(st.success_threshold == 1u);
    CHECK(st.failure_threshold == 30u);
    REQUIRE(s.probes.readiness);
    CHECK(s.probes.readiness->kind == ProbeKind::tcp);
    CHECK(s.probes.readiness->port == 21);
    CHECK(s.probes.readiness->expect == "220");
    CHECK(s.probes.readiness->success_threshold == 2u);
    REQUIRE(s.probes.liveness);
    CHECK(s.probes.liveness->kind == ProbeKind::exec);
    CHECK(s.probes.liveness->command == std::vector<std::string>{"pg_isready", "-q"});

    auto http = spec_with(R"("probes": {"liveness": {"http": {"port": 80}}})").probes.liveness;
    REQUIRE(http);
    CHECK(http->path == "/");
    CHECK(http->scheme == "http");
    CHECK(http->headers.empty());
    CHECK(http->initial_delay == 0s);
    CHECK(http->period == 10s);
    CHECK(http->timeout == 1s);
    CHECK(http->success_threshold == 1u);
    CHECK(http->failure_threshold == 3u);
}

TEST_CASE("probes: every error", "[parser]") {
    CHECK(error_with(R"("probes": [])") == at3("probes", "expected an object, got an array"));
    CHECK(error_with(R"("probes": {"liveliness": {"tcp": {"port": 1}}})") ==
          at3("probes.liveliness", "unknown field (did you mean \"liveness\"?)"));
    CHECK(error_with(R"("probes": {"readiness": 5})") ==
          at3("probes.readiness", "expected an object, got a number (5) (write {\"tcp\": {\"port\": 80}})"));
    CHECK(error_with(R"("probes": {"readiness": {"period": "5s"}})") ==
          at3("probes.readiness", "needs one of \"http\", \"tcp\" or \"exec\""));
    CHECK(error_with(R"("probes": {"readiness": {"http": {"port": 80}, "tcp": {"port": 80}}})") ==
          at3("probes.readiness", "has \"http\" and \"tcp\"; give exactly one"));
    CHECK(error_with(
              R"("probes": {"readiness": {"http": {"port": 80}, "tcp": {"port": 80}, "exec": {"command": ["x"]}}})") ==
          at3("probes.readiness", "has \"http\", \"tcp\", and \"exec\"; give exactly one"));
    CHECK(errors_with(R"("probes": {"liveness": {"grpc": {"port": 80}}})") ==
          std::vector<std::string>{at3("probes.liveness.grpc", "unknown field (not supported: use http, tcp or exec)"),
                                   at3("probes.liveness", "needs one of \"http\", \"tcp\" or \"exec\"")});
    CHECK(errors_with(R"("probes": {"liveness": {"httpGet": {"port": 80}, "periodSeconds": 10}})") ==
          std::vector<std::string>{at3("probes.liveness.httpGet", "unknown field (did you mean \"http\"?)"),
                                   at3("probes.liveness.periodSeconds",
                                       "unknown field (did you mean \"period\"? It takes a duration such as \"10s\".)"),
                                   at3("probes.liveness", "needs one of \"http\", \"tcp\" or \"exec\"")});
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 80}, "initialDelaySeconds": 5}})") ==
          at3("probes.liveness.initialDelaySeconds",
              "unknown field (did you mean \"initialDelay\"? It takes a duration such as \"5s\".)"));
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 80}, "timeoutSeconds": 5}})") ==
          at3("probes.liveness.timeoutSeconds",
              "unknown field (did you mean \"timeout\"? It takes a duration such as \"1s\".)"));
    CHECK(error_with(R"("probes": {"liveness": {"tcpSocket": {"port": 80}, "tcp": {"port": 80}}})") ==
          at3("probes.liveness.tcpSocket", "unknown field (did you mean \"tcp\"?)"));

    // http
    CHECK(error_with(R"("probes": {"liveness": {"http": "/healthz"}})") ==
          at3("probes.liveness.http",
              "expected an object, got a string (\"/healthz\") (write {\"port\": 80, \"path\": \"/healthz\"})"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"path": "/"}}})") ==
          at3("probes.liveness.http.port", "required field is missing (the app's port to probe)"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 0}}})") ==
          at3("probes.liveness.http.port", "must be between 1 and 65535 (got 0)"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": "http"}}})") ==
          at3("probes.liveness.http.port", "expected an integer, got a string (\"http\")"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "path": "healthz"}}})") ==
          at3("probes.liveness.http.path", "\"healthz\" must start with \"/\""));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "path": "/a b"}}})") ==
          at3("probes.liveness.http.path", "\"/a b\" must not contain spaces or line breaks (escape them as %20)"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "scheme": "ftp"}}})") ==
          at3("probes.liveness.http.scheme", "\"ftp\" is not a scheme (use \"http\" or \"https\")"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "shceme": "https"}}})") ==
          at3("probes.liveness.http.shceme", "unknown field (did you mean \"scheme\"?)"));
    // "host" is two edits from "port", too many for a word of four letters.
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "host": "x"}}})") ==
          at3("probes.liveness.http.host", "unknown field"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "headers": {"Host": "x"}}}})") ==
          at3("probes.liveness.http.headers",
              "expected a list such as [{\"name\": \"Host\", \"value\": \"example.org\"}], got an object"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "headers": ["Host: x"]}}})") ==
          at3("probes.liveness.http.headers[0]",
              "expected an object, got a string (\"Host: x\") (write {\"name\": ..., \"value\": ...})"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "headers": [{"value": "x"}]}}})") ==
          at3("probes.liveness.http.headers[0].name", "required field is missing"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "headers": [{"name": "X Y", "value": "x"}]}}})") ==
          at3("probes.liveness.http.headers[0].name", "\"X Y\" is not a valid header name"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "headers": [{"name": "X"}]}}})") ==
          at3("probes.liveness.http.headers[0].value", "required field is missing (\"\" removes a default header)"));
    CHECK(error_with(R"("probes": {"liveness": {"http": {"port": 80, "headers": [{"name": "X", "value": 5}]}}})") ==
          at3("probes.liveness.http.headers[0].value", "expected a string, got a number (5)"));
    CHECK(error_with(
              R"("probes": {"liveness": {"http": {"port": 80, "headers": [{"name": "X", "value": "a\r\nB: c"}]}}})") ==
          at3("probes.liveness.http.headers[0].value", "must not contain line breaks"));
    CHECK(error_with(
              R"("probes": {"liveness": {"http": {"port": 80, "headers": [{"name": "X", "value": "y", "v": 1}]}}})") ==
          at3("probes.liveness.http.headers[0].v", "unknown field"));

    // tcp, exec
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {}}})") ==
          at3("probes.liveness.tcp.port", "required field is missing (the app's port to probe)"));
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 21, "expect": 220}}})") ==
          at3("probes.liveness.tcp.expect", "expected a string, got a number (220)"));
    CHECK(error_with(R"("probes": {"liveness": {"tcp": 21}})") ==
          at3("probes.liveness.tcp", "expected an object, got a number (21) (write {\"port\": 21})"));
    CHECK(error_with(R"("probes": {"liveness": {"exec": {}}})") ==
          at3("probes.liveness.exec.command", "required field is missing (the program to run in the sandbox)"));
    CHECK(error_with(R"("probes": {"liveness": {"exec": {"command": []}}})") ==
          at3("probes.liveness.exec.command", "must not be empty"));
    CHECK(error_with(R"("probes": {"liveness": {"exec": {"command": "pg_isready"}}})") ==
          at3("probes.liveness.exec.command",
              "expected an array of strings, got a string (\"pg_isready\") (write [\"pg_isready\"])"));
    CHECK(error_with(R"("probes": {"liveness": {"exec": ["pg_isready"]}})") ==
          at3("probes.liveness.exec", "expected an object, got an array (write {\"command\": [\"/bin/check\"]})"));

    // timing
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 1}, "initialDelay": "x"}})") ==
          at3("probes.liveness.initialDelay",
              "\"x\" is not a duration (use a number and a unit: \"500ms\", \"10s\", \"5m\", \"1h\")"));
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 1}, "period": "50ms"}})") ==
          at3("probes.liveness.period", "must be at least 100ms (got 50ms)"));
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 1}, "timeout": "0s"}})") ==
          at3("probes.liveness.timeout", "must be at least 100ms (got 0s)"));
    CHECK(error_with(R"("probes": {"liveness": {"tcp": {"port": 1}, "successThreshold": 2}})") ==
          at3("probes.liveness.successThreshold", "must be 1 for liveness probes (as in Kubernetes; got 2)"));
    CHECK(error_with(R"("probes": {"startup": {"tcp": {"port": 1}, "successThreshold": 3}})") ==
          at3("probes.startup.successThreshold", "must be 1 for startup probes (as in Kubernetes; got 3)"));
    CHECK(error_with(R"("probes": {"readiness": {"tcp": {"port": 1}, "successThreshold": 0}})") ==
          at3("probes.readiness.successThreshold", "must be at least 1 (got 0)"));
    CHECK(error_with(R"("probes": {"readiness": {"tcp": {"port": 1}, "failureThreshold": 0}})") ==
          at3("probes.readiness.failureThreshold", "must be at least 1 (got 0)"));
    CHECK(error_with(R"("probes": {"readiness": {"tcp": {"port": 1}, "failureThreshold": 5000000000}})") ==
          at3("probes.readiness.failureThreshold", "must be at most 4294967295 (got 5000000000)"));
}

// ---- dependsOn, security ------------------------------------------------------------

TEST_CASE("dependsOn", "[parser]") {
    CHECK(spec_with(R"("dependsOn": ["db", "cache"])").depends_on == std::vector<std::string>{"db", "cache"});
    CHECK(error_with(R"("dependsOn": "db")") ==
          at3("dependsOn", "expected an array of app names, got a string (\"db\") (write [\"db\"])"));
    CHECK(error_with(R"("dependsOn": ["Db"])") == at3("dependsOn[0]", "\"Db\" is not a valid app name"));
    CHECK(error_with(R"("dependsOn": [5])") == at3("dependsOn[0]", "expected a string, got a number (5)"));
    CHECK(error_with(R"("dependsOn": ["web"])") == at3("dependsOn[0]", "an app cannot depend on itself"));
    CHECK(error_with(R"("dependsOn": ["db", "db"])") ==
          at3("dependsOn[1]", "\"db\" is already listed at dependsOn[0]"));
}

TEST_CASE("security: valid forms and normalised capabilities", "[parser]") {
    auto s = spec_with(R"("security": {"capabilities": {"add": ["net_admin", "CAP_SYS_TIME", "Net_Raw", "NET_ADMIN"],
    "drop": ["all"]}, "seccomp": "unconfined", "noNewPrivileges": false, "readonlyRootfs": false})");
    CHECK(s.security.cap_add == std::vector<std::string>{"CAP_NET_ADMIN", "CAP_SYS_TIME", "CAP_NET_RAW"});
    CHECK(s.security.cap_drop == std::vector<std::string>{"ALL"});
    CHECK(s.security.seccomp == SeccompMode::unconfined);
    CHECK_FALSE(s.security.no_new_privileges);
    CHECK(s.security.readonly_rootfs == false);
    auto p = spec_with(R"("security": {"seccomp": "/etc/isolated/seccomp/web.json"})").security;
    CHECK(p.seccomp == SeccompMode::path);
    CHECK(p.seccomp_path == "/etc/isolated/seccomp/web.json");
    CHECK(spec_with(R"("security": {"seccomp": "default"})").security.seccomp == SeccompMode::default_);
    CHECK(spec_with(R"("security": {"capabilities": {"add": ["CHECKPOINT_RESTORE", "bpf", "perfmon"]}})")
              .security.cap_add.size() == 3);
    CHECK(capability_names().size() == 41);
}

TEST_CASE("security: every error", "[parser]") {
    CHECK(error_with(R"("security": [])") == at3("security", "expected an object, got an array"));
    CHECK(error_with(R"("security": {"capabilities": ["NET_ADMIN"]})") ==
          at3("security.capabilities",
              "expected an object, got an array (write {\"add\": [\"NET_ADMIN\"], \"drop\": [\"ALL\"]})"));
    CHECK(error_with(R"("security": {"capabilities": {"add": "NET_ADMIN"}})") ==
          at3("security.capabilities.add",
              "expected an array of strings, got a string (\"NET_ADMIN\") (write [\"NET_ADMIN\"])"));
    CHECK(error_with(R"("security": {"capabilities": {"add": ["NET_ADMN"]}})") ==
          at3("security.capabilities.add[0]",
              "\"NET_ADMN\" is not a Linux capability (did you mean \"CAP_NET_ADMIN\"?)"));
    CHECK(
        error_with(R"("security": {"capabilities": {"drop": ["SYS_WIZARD"]}})") ==
        at3("security.capabilities.drop[0]",
            "\"SYS_WIZARD\" is not a Linux capability (names such as \"NET_ADMIN\" or \"CAP_NET_ADMIN\", or \"ALL\")"));
    CHECK(error_with(R"("security": {"capabilities": {"add": ["SYS_ADMIN"], "drop": ["cap_sys_admin"]}})") ==
          at3("security.capabilities", "CAP_SYS_ADMIN is both added and dropped"));
    CHECK(error_with(R"("security": {"capabilities": {"ambient": []}})") ==
          at3("security.capabilities.ambient", "unknown field"));
    CHECK(
        error_with(R"("security": {"seccomp": "strict"})") ==
        at3("security.seccomp",
            "\"strict\" is not a seccomp profile (use \"default\", \"unconfined\" or an absolute path to a profile)"));
    CHECK(error_with(R"("security": {"seccomp": "/etc/x/../y.json"})") ==
          at3("security.seccomp", "\"/etc/x/../y.json\" must not contain \"..\" components"));
    CHECK(error_with(R"("security": {"noNewPrivileges": 1})") ==
          at3("security.noNewPrivileges", "expected true or false, got a number (1)"));
    CHECK(error_with(R"("security": {"readonlyRootfs": "no"})") ==
          at3("security.readonlyRootfs", "expected true or false, got a string (\"no\")"));
}

// ---- files --------------------------------------------------------------------------

TEST_CASE("parse_app_file takes the name from the file and reports unreadable files", "[parser]") {
    test::TempDir dir;
    test::write_file(dir / "db.json", "{\"command\": [\"/bin/db\"]}");
    auto ok = parse_app_file(dir / "db.json");
    REQUIRE(ok.spec);
    CHECK(ok.spec->name == "db");
    CHECK(ok.spec->source_file == dir / "db.json");

    auto missing = parse_app_file(dir / "nope.json");
    REQUIRE(missing.errors.size() == 1);
    CHECK(missing.errors[0].to_string() == dir / "nope.json: cannot read: No such file or directory");

    std::filesystem::create_directory(dir / "d.json");
    auto directory = parse_app_file(dir / "d.json");
    REQUIRE(directory.errors.size() == 1);
    CHECK(directory.errors[0].to_string() == dir / "d.json: cannot read: is a directory");

    test::write_file(dir / "Bad_Name.json", "{\"command\": [\"/bin/db\"], \"x\": 1}");
    auto bad = parse_app_file(dir / "Bad_Name.json");
    REQUIRE(bad.errors.size() == 2);  // the name and the content are both checked
    CHECK(bad.errors[0].message.starts_with("\"Bad_Name\" is not a valid app name"));
    CHECK(bad.errors[1].to_string() == dir / "Bad_Name.json:1: x: unknown field");
}

TEST_CASE("a long string value is cut in messages", "[parser]") {
    std::string long_user(100, 'u');
    auto e = error_with("\"user\": \"" + long_user + "!\"");
    CHECK(e == at3("user", "\"" + std::string(80, 'u') + "...\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
}

// ---- envFile, secrets, logs, hooks --------------------------------------------------

TEST_CASE("envFile", "[parser][secrets]") {
    CHECK(spec_with(R"("envFile": "/etc/isolated/web.env")").env_files ==
          std::vector<EnvFileSpec>{{"/etc/isolated/web.env", false}});
    CHECK(spec_with(R"("envFile": ["/etc/a.env", "-/etc/b.env"])").env_files ==
          std::vector<EnvFileSpec>{{"/etc/a.env", false}, {"/etc/b.env", true}});
    CHECK(spec_with(R"("envFile": [])").env_files.empty());

    CHECK(error_with(R"("envFile": "web.env")") == at3("envFile", "\"web.env\" is not an absolute path"));
    CHECK(error_with(R"("envFile": ["-web.env"])") == at3("envFile[0]", "\"web.env\" is not an absolute path"));
    CHECK(error_with(R"("envFile": {"path": "/x"})") ==
          at3("envFile", "expected a path or an array of paths, got an object"));
    CHECK(error_with(R"("envFile": [1])") == at3("envFile[0]", "expected a string, got a number (1)"));
}

TEST_CASE("secrets", "[parser][secrets]") {
    auto s = spec_with(R"("secrets": [{"source": "/etc/isolated/secrets/pg-password"},
                                      {"source": "/etc/isolated/secrets/x", "name": "api.key", "mode": "0440"}])");
    CHECK(s.secrets == std::vector<SecretSpec>{{"/etc/isolated/secrets/pg-password", "pg-password", 0400},
                                               {"/etc/isolated/secrets/x", "api.key", 0440}});

    CHECK(error_with(R"("secrets": {"source": "/x"})") ==
          at3("secrets",
              "expected an array of secrets ([{\"source\": \"/etc/isolated/secrets/NAME\"}]), got an object"));
    CHECK(error_with(R"("secrets": [{"name": "x"}])") ==
          at3("secrets[0].source", "required field is missing (the host file that holds the secret)"));
    CHECK(error_with(R"("secrets": [{"source": "x"}])") ==
          at3("secrets[0].source", "\"x\" is not an absolute path"));
    CHECK(error_with(R"("secrets": [{"source": "/x", "name": "../etc/passwd"}])") ==
          at3("secrets[0].name",
              "\"../etc/passwd\" is not a file name (letters, digits, \".\", \"_\" and \"-\"; not \".\" or \"..\")"));
    CHECK(error_with(R"("secrets": [{"source": "/x", "name": ".."}])").find("is not a file name") !=
          std::string::npos);
    CHECK(error_with(R"("secrets": [{"source": "/x", "mode": "4755"}])") ==
          at3("secrets[0].mode", "must not have setuid, setgid or sticky bits"));
    CHECK(error_with(R"("secrets": [{"source": "/x", "mode": "rw"}])") ==
          at3("secrets[0].mode", "\"rw\" is not an octal mode such as \"1777\" or \"0755\""));
    CHECK(error_with(R"("secrets": [{"source": "/a/x"}, {"source": "/b/x"}])") ==
          at3("secrets[1].name", "\"x\" is also the name of secrets[0]"));
    CHECK(error_with(R"("secrets": [{"source": "/x", "owner": "root"}])").find("secrets[0].owner: unknown field") !=
          std::string::npos);
    CHECK(error_with(R"("env": {"CREDENTIALS_DIRECTORY": "/x"}, "secrets": [{"source": "/x"}])") ==
          at3("env.CREDENTIALS_DIRECTORY", "is set by isolated to /run/secrets when the app has secrets"));
    CHECK(error_with(R"("mounts": [{"type": "tmpfs", "target": "/run"}], "secrets": [{"source": "/x"}])") ==
          at3("mounts[0].target", "\"/run\" would hide /run/secrets, where the app's secrets are"));
    // Without secrets, /run/secrets is the app's own.
    CHECK(spec_with(R"("mounts": [{"type": "tmpfs", "target": "/run/secrets"}])").mounts.size() == 1);
}

TEST_CASE("logs", "[parser]") {
    auto l = spec_with(R"("logs": {"maxSize": "10M", "maxFiles": 5})").logs;
    CHECK(l.max_size == 10u << 20);
    CHECK(l.max_files == 5u);
    CHECK(spec_with(R"("logs": {})").logs == LogLimitsSpec{});
    CHECK(error_with(R"("logs": {"maxSize": "1K"})") == at3("logs.maxSize", "must be at least 4K (got \"1K\")"));
    CHECK(error_with(R"("logs": {"maxFiles": 0})") == at3("logs.maxFiles", "must be between 1 and 1000 (got 0)"));
    CHECK(error_with(R"("logs": {"maxSize": "ten"})") == at3("logs.maxSize", "\"ten\" is not a size"));
    CHECK(error_with(R"("logs": {"max": 1})").find("logs.max: unknown field") != std::string::npos);
}

TEST_CASE("hooks", "[parser]") {
    auto h = spec_with(R"("hooks": {"onFailure": {"command": ["/usr/local/bin/page", "ops"]},
                                    "onOOM": {"command": ["/bin/true"], "timeout": "5s", "user": "1000:1000"}})")
                 .hooks;
    REQUIRE(h.on_failure);
    CHECK(h.on_failure->command == std::vector<std::string>{"/usr/local/bin/page", "ops"});
    CHECK(h.on_failure->timeout == 30s);
    CHECK(h.on_failure->user == "nobody");
    CHECK_FALSE(h.on_unhealthy);
    REQUIRE(h.on_oom);
    CHECK(h.on_oom->timeout == 5s);
    CHECK(h.on_oom->user == "1000:1000");

    CHECK(error_with(R"("hooks": {"onFailure": {}})") ==
          at3("hooks.onFailure.command", "required field is missing (the host program to run)"));
    CHECK(error_with(R"("hooks": {"onFailure": {"command": ["mail"]}})") ==
          at3("hooks.onFailure.command[0]", "\"mail\" is not an absolute path (hooks run without a search path)"));
    CHECK(error_with(R"("hooks": {"onFailure": {"command": ["/bin/true"], "timeout": "0s"}})") ==
          at3("hooks.onFailure.timeout", "must be more than 0"));
    CHECK(error_with(R"("hooks": {"onFailure": {"command": ["/bin/true"], "user": "a b"}})") ==
          at3("hooks.onFailure.user", "\"a b\" is not a user (use NAME, UID, UID:GID or NAME:GROUP)"));
    CHECK(error_with(R"("hooks": {"onCrash": {"command": ["/bin/true"]}})").find("hooks.onCrash: unknown field") !=
          std::string::npos);
}

TEST_CASE("logs and hooks are not part of the definition: changing them does not restart the app", "[parser]") {
    auto a = spec_with(R"("logs": {"maxFiles": 2})");
    auto b = spec_with(R"("hooks": {"onFailure": {"command": ["/bin/true"]}})");
    CHECK(a.same_definition(b));
    CHECK_FALSE(a.same_definition(spec_with(R"("envFile": "/etc/x.env")")));
    CHECK_FALSE(a.same_definition(spec_with(R"("secrets": [{"source": "/x"}])")));
}
