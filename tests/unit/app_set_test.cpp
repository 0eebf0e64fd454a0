// What spans app files: references, cycles, host ports and addresses used twice, loading
// a directory (and the cascade of rejections), start order.
#include <catch2/catch.hpp>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

#include "isolated/app_parser.hpp"
#include "support/test_env.hpp"

using namespace isolated;

namespace {

AppSpec app(const std::string& name, const std::string& text) {
    auto parsed = parse_app_text(name, text, "apps/" + name + ".json");
    for (const auto& e : parsed.errors) INFO(e.to_string());
    REQUIRE(parsed.spec);
    return *parsed.spec;
}

// {"command": [...] on line 2, then BODY from line 3.
std::string body(const std::string& lines) { return "{\n  \"command\": [\"/bin/app\"]" + lines + "\n}\n"; }

std::string depends(const std::vector<std::string>& names) {
    std::string list;
    for (const auto& n : names) list += (list.empty() ? "\"" : ", \"") + n + "\"";
    return body(",\n  \"dependsOn\": [" + list + "]");
}

std::string port(int host, const std::string& extra = "") {
    return body(",\n  \"network\": {\"ports\": [{\"host\": " + std::to_string(host) + extra + "}]}");
}

std::map<std::string, AppSpec> set_of(std::initializer_list<std::pair<std::string, std::string>> files) {
    std::map<std::string, AppSpec> apps;
    for (const auto& [name, text] : files) apps.emplace(name, app(name, text));
    return apps;
}

std::map<std::string, std::vector<std::string>> rendered(const std::map<std::string, std::vector<Diagnostic>>& by_app) {
    std::map<std::string, std::vector<std::string>> out;
    for (const auto& [name, diags] : by_app)
        for (const auto& d : diags) out[name].push_back(d.to_string());
    return out;
}

using Rendered = std::map<std::string, std::vector<std::string>>;

}  // namespace

// ---- check_app_set ------------------------------------------------------------------

TEST_CASE("a set with no problems has no diagnostics", "[appset]") {
    auto apps = set_of(
        {{"db", port(5432)},
         {"web", depends({"db"})},
         {"sidecar", body(",\n  \"network\": {\"mode\": \"app:web\"},\n  \"namespaces\": {\"pid\": \"app:web\"}")}});
    CHECK(check_app_set(apps).empty());
    CHECK(check_app_set({}).empty());
}

TEST_CASE("dependsOn naming an unknown app", "[appset]") {
    auto apps = set_of({{"db", body("")}, {"web", body(",\n  \"dependsOn\": [\"db\",\n                \"cache\"]")}});
    CHECK(rendered(check_app_set(apps)) ==
          Rendered{{"web", {"apps/web.json:4: dependsOn[1]: \"cache\" is not a known app"}}});
}

TEST_CASE("app: references naming an unknown app", "[appset]") {
    auto apps = set_of(
        {{"web", body(",\n  \"network\": {\"mode\": \"app:db\"},\n  \"namespaces\": {\n    \"ipc\": \"app:db\",\n"
                      "    \"pid\": \"app:cache\"\n  }")}});
    CHECK(rendered(check_app_set(apps)) ==
          Rendered{{"web",
                    {"apps/web.json:3: network.mode: \"app:db\" names an unknown app",
                     "apps/web.json:5: namespaces.ipc: \"app:db\" names an unknown app",
                     "apps/web.json:6: namespaces.pid: \"app:cache\" names an unknown app"}}});
}

TEST_CASE("dependsOn cycles blame every member and show the cycle", "[appset]") {
    SECTION("two apps") {
        auto apps = set_of({{"a", depends({"b"})}, {"b", depends({"a"})}, {"c", depends({"a"})}});
        CHECK(rendered(check_app_set(apps)) ==
              Rendered{{"a", {"apps/a.json:3: dependsOn[0]: dependency cycle: a -> b -> a"}},
                       {"b", {"apps/b.json:3: dependsOn[0]: dependency cycle: b -> a -> b"}}});
    }
    SECTION("three apps, each shown from its own place in the cycle") {
        auto apps = set_of({{"a", depends({"x", "b"})}, {"b", depends({"c"})}, {"c", depends({"a"})}, {"x", body("")}});
        CHECK(rendered(check_app_set(apps)) ==
              Rendered{{"a", {"apps/a.json:3: dependsOn[1]: dependency cycle: a -> b -> c -> a"}},
                       {"b", {"apps/b.json:3: dependsOn[0]: dependency cycle: b -> c -> a -> b"}},
                       {"c", {"apps/c.json:3: dependsOn[0]: dependency cycle: c -> a -> b -> c"}}});
    }
    SECTION("joining another app's namespace is a dependency too") {
        auto apps = set_of({{"a", body(",\n  \"network\": {\"mode\": \"app:b\"}")}, {"b", depends({"a"})}});
        CHECK(rendered(check_app_set(apps)) ==
              Rendered{{"a", {"apps/a.json:3: network.mode: dependency cycle: a -> b -> a"}},
                       {"b", {"apps/b.json:3: dependsOn[0]: dependency cycle: b -> a -> b"}}});
    }
}

TEST_CASE("a host port used by two apps: without incumbents or file times, the first name keeps it", "[appset]") {
    SECTION("same protocol and port") {
        auto apps = set_of({{"a", port(8080)}, {"b", port(8080)}, {"c", port(8080)}});
        CHECK(
            rendered(check_app_set(apps)) ==
            Rendered{{"b", {"apps/b.json:3: network.ports[0].host: tcp port 8080 is already forwarded by app \"a\""}},
                     {"c", {"apps/c.json:3: network.ports[0].host: tcp port 8080 is already forwarded by app \"a\""}}});
    }
    SECTION("all addresses overlap one address") {
        auto apps = set_of({{"a", port(8080, ", \"hostAddress\": \"127.0.0.1\"")}, {"b", port(8080)}});
        CHECK(rendered(check_app_set(apps)) ==
              Rendered{{"b",
                        {"apps/b.json:3: network.ports[0].host: tcp port 8080 on 127.0.0.1 is already forwarded by app "
                         "\"a\""}}});
    }
    SECTION("the same address") {
        auto apps = set_of({{"a", port(53, ", \"protocol\": \"udp\", \"hostAddress\": \"10.0.0.1\"")},
                            {"b", port(53, ", \"protocol\": \"udp\", \"hostAddress\": \"10.0.0.1\"")}});
        CHECK(
            rendered(check_app_set(apps)) ==
            Rendered{
                {"b",
                 {"apps/b.json:3: network.ports[0].host: udp port 53 on 10.0.0.1 is already forwarded by app \"a\""}}});
    }
    SECTION("no clash: other protocol, other address, other port") {
        auto apps = set_of({{"a", port(8080)},
                            {"b", port(8080, ", \"protocol\": \"udp\"")},
                            {"c", port(9090, ", \"hostAddress\": \"127.0.0.1\"")},
                            {"d", port(9090, ", \"hostAddress\": \"127.0.0.2\"")},
                            {"e", port(8081, ", \"app\": 8080")}});
        CHECK(check_app_set(apps).empty());
    }
}

TEST_CASE("a pinned address used by two apps: without incumbents or file times, the first name keeps it", "[appset]") {
    auto apps = set_of({{"a", body(",\n  \"network\": {\"address\": \"10.88.0.5\"}")},
                        {"b", body(",\n  \"network\": {\n    \"address\": \"10.88.0.5\"\n  }")},
                        {"c", body(",\n  \"network\": {\"address\": \"10.88.0.6\"}")}});
    CHECK(rendered(check_app_set(apps)) ==
          Rendered{{"b", {"apps/b.json:4: network.address: 10.88.0.5 is already the address of app \"a\""}}});
}

TEST_CASE("an app may collect several cross-file diagnostics", "[appset]") {
    auto apps = set_of(
        {{"a", port(80)}, {"b", body(",\n  \"dependsOn\": [\"zz\"],\n  \"network\": {\"ports\": [{\"host\": 80}]}")}});
    CHECK(rendered(check_app_set(apps)) ==
          Rendered{{"b",
                    {"apps/b.json:3: dependsOn[0]: \"zz\" is not a known app",
                     "apps/b.json:4: network.ports[0].host: tcp port 80 is already forwarded by app \"a\""}}});
}

TEST_CASE("incumbents keep their host ports and addresses, whatever the names", "[appset]") {
    // Issue 13, item 3: web runs with port 8080; aaa.json is added with the same port.
    auto apps = set_of({{"aaa", port(8080)}, {"web", port(8080)}});
    LoadOptions options;
    options.incumbents = {"web"};
    CHECK(rendered(check_app_set(apps, options)) ==
          Rendered{{"aaa", {"apps/aaa.json:3: network.ports[0].host: tcp port 8080 is already forwarded by app \"web\""}}});
    // Among incumbents (and among newcomers) the name decides when file times do not.
    options.incumbents = {"aaa", "web"};
    CHECK(rendered(check_app_set(apps, options)) ==
          Rendered{{"web", {"apps/web.json:3: network.ports[0].host: tcp port 8080 is already forwarded by app \"aaa\""}}});
    // Names of apps that are not in the set change nothing.
    options.incumbents = {"gone"};
    CHECK(rendered(check_app_set(apps, options)).count("web") == 1);

    auto pinned = set_of({{"aaa", body(",\n  \"network\": {\"address\": \"10.88.0.5\"}")},
                          {"web", body(",\n  \"network\": {\"address\": \"10.88.0.5\"}")}});
    options.incumbents = {"web"};
    CHECK(rendered(check_app_set(pinned, options)) ==
          Rendered{{"aaa", {"apps/aaa.json:3: network.address: 10.88.0.5 is already the address of app \"web\""}}});
}

namespace {

// Sets PATH's modification time to SECONDS ago.
void age(const std::string& path, int seconds) {
    std::filesystem::last_write_time(path, std::filesystem::file_time_type::clock::now() - std::chrono::seconds(seconds));
}

}  // namespace

TEST_CASE("between newcomers, the older file keeps a host port, an incumbent beats both", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "web.json", port(8080));
    test::write_file(dir / "aaa.json", port(8080));
    test::write_file(dir / "zzz.json", port(8080));
    age(dir / "web.json", 300);
    age(dir / "zzz.json", 200);
    age(dir / "aaa.json", 100);

    // A daemon that knows none of them (a first start): the oldest file wins.
    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.apps.count("web") == 1);
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"aaa", {dir / "aaa.json:3: network.ports[0].host: tcp port 8080 is already forwarded by app \"web\""}},
                   {"zzz", {dir / "zzz.json:3: network.ports[0].host: tcp port 8080 is already forwarded by app \"web\""}}});

    // web.json edited last; still the incumbent: it keeps the port.
    age(dir / "web.json", 10);
    LoadOptions options;
    options.incumbents = {"web"};
    loaded = load_app_dir(dir.path(), options);
    CHECK(loaded.apps.count("web") == 1);
    CHECK(loaded.rejected.count("aaa") == 1);
    CHECK(loaded.rejected.count("zzz") == 1);

    // zzz is the incumbent (say, the only one running): it keeps the port over older files.
    options.incumbents = {"zzz"};
    loaded = load_app_dir(dir.path(), options);
    CHECK(loaded.apps.count("zzz") == 1);
    CHECK(loaded.apps.size() == 1);
}

TEST_CASE("between incumbents, the file changed last to take a port is the one refused", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "aaa.json", port(9000));
    test::write_file(dir / "web.json", port(9000));  // web's file now also asks for aaa's port
    age(dir / "aaa.json", 600);
    age(dir / "web.json", 5);
    LoadOptions options;
    options.incumbents = {"aaa", "web"};
    AppDir loaded = load_app_dir(dir.path(), options);
    CHECK(loaded.apps.count("aaa") == 1);
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"web", {dir / "web.json:3: network.ports[0].host: tcp port 9000 is already forwarded by app \"aaa\""}}});
}

TEST_CASE("a pinned address must be one the daemon's subnet can give an app", "[appset]") {
    auto pinned = [](const std::string& address) {
        return app("web", body(",\n  \"network\": {\"address\": \"" + address + "\"}"));
    };
    LoadOptions options;
    options.subnet = "10.100.0.0/24";
    auto errors = [&](const std::string& address) {
        std::vector<std::string> out;
        for (const auto& d : check_app_options(pinned(address), options)) out.push_back(d.to_string());
        return out;
    };
    CHECK(errors("10.100.0.2").empty());
    CHECK(errors("10.100.0.254").empty());
    CHECK(errors("10.88.0.5") ==
          std::vector<std::string>{
              "apps/web.json:3: network.address: 10.88.0.5 is outside the subnet 10.100.0.0/24 of the bridge (setting subnet)"});
    CHECK(errors("10.100.0.0") ==
          std::vector<std::string>{"apps/web.json:3: network.address: 10.100.0.0 is the network address of 10.100.0.0/24"});
    CHECK(errors("10.100.0.1") ==
          std::vector<std::string>{
              "apps/web.json:3: network.address: 10.100.0.1 is the bridge's own address (the gateway of 10.100.0.0/24)"});
    CHECK(errors("10.100.0.255") ==
          std::vector<std::string>{
              "apps/web.json:3: network.address: 10.100.0.255 is the broadcast address of 10.100.0.0/24"});
    options.subnet = "10.100.0.0/30";  // .2 is the only address an app can have
    CHECK(errors("10.100.0.2").empty());
    CHECK(errors("10.100.0.3").size() == 1);
    // No subnet (or not a CIDR): nothing to check against.
    for (std::string none : {"", "nonsense", "10.100.0.7/24"}) {
        options.subnet = none;
        CHECK(errors("192.168.1.1").empty());
    }
    // No pinned address: nothing to check.
    options.subnet = "10.100.0.0/24";
    CHECK(check_app_options(app("web", port(80)), options).empty());
}

TEST_CASE("load_app_dir and parse_app_file reject a pinned address outside the subnet", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "web.json", body(",\n  \"network\": {\"address\": \"10.88.0.5\"}"));
    test::write_file(dir / "api.json", depends({"web"}));
    LoadOptions options;
    options.subnet = "10.100.0.0/24";
    AppDir loaded = load_app_dir(dir.path(), options);
    CHECK(loaded.apps.empty());
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"web",
                    {dir / "web.json:3: network.address: 10.88.0.5 is outside the subnet 10.100.0.0/24 of the bridge "
                           "(setting subnet)"}},
                   {"api", {dir / "api.json:3: dependsOn[0]: depends on \"web\", which was rejected"}}});
    auto one = parse_app_file(dir / "web.json", options);
    CHECK_FALSE(one.spec);
    REQUIRE(one.errors.size() == 1);
    CHECK(one.errors[0].field == "network.address");
    CHECK(parse_app_file(dir / "web.json").spec);  // without a subnet, the file alone is fine
    CHECK(load_app_dir(dir.path()).apps.size() == 2);
}

// ---- load_app_dir -------------------------------------------------------------------

TEST_CASE("load_app_dir reads every *.json and ignores the rest", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "web.json", "{\"command\": [\"/bin/web\"]}");
    test::write_file(dir / "db.json", "// the database\n{\"command\": [\"/bin/db\"]}");
    test::write_file(dir / "README", "not an app");
    test::write_file(dir / "web.json~", "{");          // editor backup
    test::write_file(dir / ".#web.json", "{");         // emacs lock
    test::write_file(dir / ".hidden.json", "{");       // hidden
    test::write_file(dir / "web.json.swp", "{");       // vim swap
    test::write_file(dir / "web.json.dpkg-old", "{");  // package leftovers
    std::filesystem::create_directory(dir / "sub");
    test::write_file(dir / "sub/inner.json", "{");  // not recursive

    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.rejected.empty());
    REQUIRE(loaded.apps.size() == 2);
    CHECK(loaded.apps.at("web").command == std::vector<std::string>{"/bin/web"});
    CHECK(loaded.apps.at("db").source_file == dir / "db.json");
    CHECK(loaded.apps.at("db").source_lines.line_of("command") == 2);
}

TEST_CASE("load_app_dir rejects bad files and keeps the good ones", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "web.json", "{\"command\": [\"/bin/web\"]}");
    test::write_file(dir / "broken.json", "{\n  \"command\": [\"/bin/x\"],\n}");
    test::write_file(dir / "Bad_Name.json", "{\"command\": [\"/bin/x\"]}");
    test::write_file(dir / "invalid.json", "{\"command\": [\"/bin/x\"], \"resources\": {\"memory\": \"12Q\"}}");
    std::filesystem::create_directory(dir / "dir.json");

    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.apps.size() == 1);
    CHECK(loaded.apps.count("web") == 1);
    CHECK(
        rendered(loaded.rejected) ==
        Rendered{{"broken", {dir / "broken.json:3: syntax error: trailing comma before '}' (JSON does not allow one)"}},
                 {"Bad_Name.json",
                  {dir / "Bad_Name.json: \"Bad_Name\" is not a valid app name (lower-case letters, digits and \"-\", "
                         "starting with a letter or digit, at most 32 characters)"}},
                 {"dir", {dir / "dir.json: cannot read: is a directory"}},
                 {"invalid", {dir / "invalid.json:1: resources.memory: \"12Q\" is not a size"}}});
}

TEST_CASE("a missing apps directory is one diagnostic under the key \"\"", "[appset]") {
    test::TempDir dir;
    AppDir loaded = load_app_dir(dir / "nope");
    CHECK(loaded.apps.empty());
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"", {dir / "nope: cannot read the apps directory: No such file or directory"}}});
    CHECK(load_app_dir(dir.path()).rejected.empty());  // an empty directory is fine
}

TEST_CASE("load_app_dir labels files as dir/name.json", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "web.json", "{}");
    auto loaded = load_app_dir(dir.path() + "/");
    REQUIRE(loaded.rejected.count("web") == 1);
    CHECK(loaded.rejected.at("web").front().file == dir / "web.json");
}

TEST_CASE("rejections cascade along dependsOn, naming the rejected dependency", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "db.json", "{\n  \"command\": [\"/bin/db\"],\n  \"resources\": {\"memory\": \"12Q\"}\n}");
    test::write_file(dir / "api.json", "{\n  \"command\": [\"/bin/api\"],\n  \"dependsOn\": [\"db\"]\n}");
    test::write_file(dir / "web.json", "{\n  \"command\": [\"/bin/web\"],\n  \"dependsOn\": [\n    \"api\"\n  ]\n}");
    test::write_file(dir / "side.json",
                     "{\n  \"command\": [\"/bin/side\"],\n  \"network\": {\"mode\": \"app:web\"}\n}");
    test::write_file(dir / "other.json", "{\"command\": [\"/bin/other\"]}");

    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.apps.size() == 1);
    CHECK(loaded.apps.count("other") == 1);
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"db", {dir / "db.json:3: resources.memory: \"12Q\" is not a size"}},
                   {"api", {dir / "api.json:3: dependsOn[0]: depends on \"db\", which was rejected"}},
                   {"web", {dir / "web.json:4: dependsOn[0]: depends on \"api\", which was rejected"}},
                   {"side", {dir / "side.json:3: network.mode: \"app:web\" names \"web\", which was rejected"}}});
}

TEST_CASE("cycle members are rejected, and so is what depends on them", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "a.json", depends({"b"}));
    test::write_file(dir / "b.json", depends({"a"}));
    test::write_file(dir / "c.json", depends({"a"}));
    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.apps.empty());
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"a", {dir / "a.json:3: dependsOn[0]: dependency cycle: a -> b -> a"}},
                   {"b", {dir / "b.json:3: dependsOn[0]: dependency cycle: b -> a -> b"}},
                   {"c", {dir / "c.json:3: dependsOn[0]: depends on \"a\", which was rejected"}}});
}

TEST_CASE("a port clash with an app rejected for its own references rejects nobody else", "[appset]") {
    test::TempDir dir;
    // a wants port 80 but depends on nothing that exists; b wants the same port.
    test::write_file(dir / "a.json",
                     body(",\n  \"dependsOn\": [\"ghost\"],\n  \"network\": {\"ports\": [{\"host\": 80}]}"));
    test::write_file(dir / "b.json", port(80));
    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.apps.count("b") == 1);
    CHECK(rendered(loaded.rejected) == Rendered{{"a", {dir / "a.json:3: dependsOn[0]: \"ghost\" is not a known app"}}});
}

TEST_CASE("a port clash rejects the later app, which can cascade", "[appset]") {
    test::TempDir dir;
    test::write_file(dir / "a.json", port(80));
    test::write_file(dir / "b.json", port(80));
    test::write_file(dir / "c.json", depends({"b"}));
    AppDir loaded = load_app_dir(dir.path());
    CHECK(loaded.apps.size() == 1);
    CHECK(loaded.apps.count("a") == 1);
    CHECK(rendered(loaded.rejected) ==
          Rendered{{"b", {dir / "b.json:3: network.ports[0].host: tcp port 80 is already forwarded by app \"a\""}},
                   {"c", {dir / "c.json:3: dependsOn[0]: depends on \"b\", which was rejected"}}});
}

// ---- start_order --------------------------------------------------------------------

TEST_CASE("start_order puts dependencies first, ties by name", "[appset]") {
    auto apps = set_of({{"web", depends({"api", "cache"})},
                        {"api", depends({"db"})},
                        {"db", body("")},
                        {"cache", body("")},
                        {"zeta", body("")},
                        {"alpha", body("")}});
    CHECK(start_order(apps) == std::vector<std::string>{"alpha", "cache", "db", "api", "web", "zeta"});
}

TEST_CASE("start_order follows app: namespace and network references", "[appset]") {
    auto apps = set_of({{"a-sidecar", body(",\n  \"network\": {\"mode\": \"app:z-main\"}")},
                        {"b-debug", body(",\n  \"namespaces\": {\"pid\": \"app:a-sidecar\"}")},
                        {"z-main", body("")}});
    CHECK(start_order(apps) == std::vector<std::string>{"z-main", "a-sidecar", "b-debug"});
}

TEST_CASE("start_order places apps caught in or behind a cycle last, by name", "[appset]") {
    auto apps = set_of(
        {{"a", depends({"b"})}, {"b", depends({"a"})}, {"c", depends({"a"})}, {"d", body("")}, {"e", depends({"d"})}});
    CHECK(start_order(apps) == std::vector<std::string>{"d", "e", "a", "b", "c"});
}

TEST_CASE("start_order ignores references to apps that are not in the set", "[appset]") {
    auto apps = set_of({{"web", depends({"gone"})}, {"api", body("")}});
    CHECK(start_order(apps) == std::vector<std::string>{"api", "web"});
    CHECK(start_order({}).empty());
}

// ---- AppSpec --------------------------------------------------------------------------

TEST_CASE("same_definition ignores where a spec was read from", "[appset]") {
    AppSpec a = app("web", "{\"command\": [\"/bin/web\"]}");
    auto reparsed = parse_app_text("web", "{\n\n  \"command\": [\n\"/bin/web\"]}", "elsewhere/web.json");
    REQUIRE(reparsed.spec);
    AppSpec b = *reparsed.spec;
    CHECK(a.source_lines.line_of("command") != b.source_lines.line_of("command"));
    CHECK(a.same_definition(b));
    CHECK_FALSE(a == b);  // source_file differs
    b.source_file = a.source_file;
    CHECK(a == b);  // the lines do not count
    b.command.push_back("--flag");
    CHECK_FALSE(a.same_definition(b));
}

TEST_CASE("autostart is part of the spec but not of the running app's definition", "[appset]") {
    AppSpec a = app("web", "{\"command\": [\"/bin/web\"]}");
    AppSpec b = app("web", "{\"command\": [\"/bin/web\"], \"autostart\": false}");
    CHECK(a.autostart);
    CHECK_FALSE(b.autostart);
    CHECK_FALSE(a == b);             // the registry keeps the new value
    CHECK(a.same_definition(b));     // but a running app is not restarted for it
    b.command.push_back("--flag");
    CHECK_FALSE(a.same_definition(b));
}

TEST_CASE("SourceLines falls back to the enclosing field", "[appset]") {
    SourceLines lines;
    lines.by_field = {{"", 1}, {"network", 4}, {"network.ports[0]", 5}};
    CHECK(lines.line_of("network.ports[0].host") == 5);
    CHECK(lines.line_of("network.ports[1].host") == 4);
    CHECK(lines.line_of("network") == 4);
    CHECK(lines.line_of("restart.policy") == 1);
    CHECK(SourceLines{}.line_of("x.y") == 0);
}
