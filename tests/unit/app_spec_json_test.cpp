// The canonical app-file JSON of a spec, and the round trip through the parser.
#include <catch2/catch.hpp>

#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"

using namespace isolated;
using namespace std::chrono_literals;

namespace {

AppSpec reparse(const AppSpec& spec) {
    std::string text = app_spec_to_json(spec).dump(2);
    auto parsed = parse_app_text(spec.name, text, spec.source_file);
    for (const auto& e : parsed.errors) INFO(e.to_string());
    INFO(text);
    REQUIRE(parsed.spec);
    return *parsed.spec;
}

AppSpec minimal() {
    AppSpec s;
    s.name = "web";
    s.source_file = "apps/web.json";
    s.command = {"/bin/web"};
    return s;
}

AppSpec rich() {
    AppSpec s = minimal();
    s.command = {"/usr/sbin/nginx", "-g", "daemon off;"};
    s.user = "www-data:www-data";
    s.env = {{"LANG", "C.UTF-8"}, {"QUOTE", "a \"b\" \\ c"}, {"EMPTY", ""}};
    s.workdir = "/srv/www";
    s.hostname = "www.example.org";
    s.init = false;
    s.autostart = false;
    s.rootfs = {RootfsType::directory, "/srv/rootfs/debian", RootfsWritable::readonly, ""};
    s.mounts = {
        {MountType::bind, "/var/lib/web", "/data", false, true, std::nullopt, std::nullopt},
        {MountType::bind, "/etc/web", "/etc/web", true, false, std::nullopt, std::nullopt},
        {MountType::tmpfs, "", "/run/web", false, false, 16ull << 20, 01777},
        {MountType::tmpfs, "", "/tmp", false, false, 1000, 0700},
        {MountType::tmpfs, "", "/scratch", false, false, std::nullopt, std::nullopt},
    };
    s.network.mode = NetworkMode::bridge;
    s.network.address = "10.88.0.9";
    s.network.ports = {{8080, 80, Protocol::tcp, ""}, {5353, 53, Protocol::udp, "127.0.0.1"}};
    s.namespaces.pid = {NamespaceKind::host, ""};
    s.namespaces.ipc = {NamespaceKind::app, "db"};
    s.namespaces.uts = {NamespaceKind::private_, ""};
    s.namespaces.user = {true, 100000, 200000, 1000};
    s.resources = {0.125, 200, 1ull << 30, 768ull << 20, 0, 512, 50};
    s.restart.policy = RestartPolicy::on_failure;
    s.restart.backoff = {250ms, 90s, 1.5, 1h, 0.25};
    s.restart.max_retries = 7;
    s.stop = {3, 1500ms};
    s.env_files = {{"/etc/web.env", false}, {"/etc/web.local.env", true}};
    s.secrets = {{"/etc/isolated/secrets/tls.key", "tls.key", 0440}};
    s.logs = {1u << 20, 3u};
    s.hooks.on_failure = HookSpec{{"/usr/local/bin/page", "--to", "ops"}, 10s, "1000:1000"};
    s.hooks.on_oom = HookSpec{{"/bin/true"}, 30s, "nobody"};

    ProbeSpec http;
    http.kind = ProbeKind::http;
    http.port = 80;
    http.path = "/healthz?x=1";
    http.scheme = "https";
    http.headers = {{"Host", "example.org"}, {"User-Agent", ""}};
    http.initial_delay = 5s;
    http.period = 500ms;
    http.timeout = 2s;
    http.success_threshold = 1;
    http.failure_threshold = 10;
    s.probes.startup = http;
    ProbeSpec tcp;
    tcp.kind = ProbeKind::tcp;
    tcp.port = 21;
    tcp.expect = "220";
    tcp.success_threshold = 2;
    s.probes.readiness = tcp;
    ProbeSpec exec;
    exec.kind = ProbeKind::exec;
    exec.command = {"pg_isready", "-q"};
    s.probes.liveness = exec;

    s.depends_on = {"db", "cache"};
    s.security.cap_add = {"CAP_NET_ADMIN", "CAP_SYS_TIME"};
    s.security.cap_drop = {"ALL"};
    s.security.seccomp = SeccompMode::path;
    s.security.seccomp_path = "/etc/isolated/seccomp.json";
    s.security.no_new_privileges = false;
    s.security.readonly_rootfs = false;
    return s;
}

}  // namespace

TEST_CASE("the canonical JSON of a minimal spec has every field with its default", "[parser]") {
    json j = app_spec_to_json(minimal());
    json expected = json::parse(R"({
      "command": ["/bin/web"],
      "args": [],
      "user": null,
      "env": {},
      "envFile": [],
      "secrets": [],
      "workdir": "/",
      "hostname": null,
      "init": true,
      "autostart": true,
      "rootfs": {"type": "host"},
      "mounts": [],
      "network": {"mode": "bridge", "address": null, "ports": []},
      "namespaces": {"pid": "private", "ipc": "private", "uts": "private", "user": "none"},
      "resources": {"cpu": null, "cpuWeight": null, "memory": null, "memoryHigh": null, "swap": null, "pids": null,
                    "ioWeight": null},
      "restart": {"policy": "always",
                  "backoff": {"initial": "1s", "max": "5m", "factor": 2.0, "resetAfter": "10m", "jitter": 0.1},
                  "maxRetries": null},
      "stop": {"signal": "SIGTERM", "timeout": "30s"},
      "probes": {"liveness": null, "readiness": null, "startup": null},
      "dependsOn": [],
      "security": {"capabilities": {"add": [], "drop": []}, "seccomp": "default", "noNewPrivileges": true,
                   "readonlyRootfs": null},
      "logs": {"maxSize": null, "maxFiles": null},
      "hooks": {"onFailure": null, "onUnhealthy": null, "onOOM": null}
    })");
    CHECK(j == expected);
    CHECK(reparse(minimal()) == minimal());
}

TEST_CASE("the canonical JSON uses the app-file syntax", "[parser]") {
    json j = app_spec_to_json(rich());
    CHECK(j["user"] == "www-data:www-data");
    CHECK(j["rootfs"] == json{{"type", "directory"}, {"path", "/srv/rootfs/debian"}, {"writable", "readonly"}});
    CHECK(
        j["mounts"][0] ==
        json{{"type", "bind"}, {"source", "/var/lib/web"}, {"target", "/data"}, {"readonly", false}, {"create", true}});
    CHECK(j["mounts"][2] == json{{"type", "tmpfs"}, {"target", "/run/web"}, {"size", 16ull << 20}, {"mode", "1777"}});
    CHECK(j["mounts"][3]["mode"] == "0700");
    CHECK(j["mounts"][4]["size"].is_null());
    CHECK(j["network"]["address"] == "10.88.0.9");
    CHECK(j["network"]["ports"][0] == json{{"host", 8080}, {"app", 80}, {"protocol", "tcp"}, {"hostAddress", nullptr}});
    CHECK(j["network"]["ports"][1]["hostAddress"] == "127.0.0.1");
    CHECK(j["namespaces"] == json{{"pid", "host"},
                                  {"ipc", "app:db"},
                                  {"uts", "private"},
                                  {"user", {{"uid", 100000}, {"gid", 200000}, {"count", 1000}}}});
    CHECK(j["resources"]["cpu"] == 0.125);
    CHECK(j["resources"]["memory"] == 1ull << 30);
    CHECK(j["resources"]["swap"] == 0);
    CHECK(j["restart"]["backoff"] ==
          json{{"initial", "250ms"}, {"max", "90s"}, {"factor", 1.5}, {"resetAfter", "1h"}, {"jitter", 0.25}});
    CHECK(j["restart"]["maxRetries"] == 7);
    CHECK(j["stop"] == json{{"signal", "SIGQUIT"}, {"timeout", "1500ms"}});
    CHECK(j["probes"]["startup"]["http"] ==
          json{{"port", 80},
               {"path", "/healthz?x=1"},
               {"scheme", "https"},
               {"headers", {{{"name", "Host"}, {"value", "example.org"}}, {{"name", "User-Agent"}, {"value", ""}}}}});
    CHECK(j["probes"]["startup"]["period"] == "500ms");
    CHECK(j["probes"]["readiness"]["tcp"] == json{{"port", 21}, {"expect", "220"}});
    CHECK(j["probes"]["liveness"]["exec"] == json{{"command", {"pg_isready", "-q"}}});
    CHECK(j["probes"]["liveness"]["initialDelay"] == "0s");
    CHECK(j["security"] == json{{"capabilities", {{"add", {"CAP_NET_ADMIN", "CAP_SYS_TIME"}}, {"drop", {"ALL"}}}},
                                {"seccomp", "/etc/isolated/seccomp.json"},
                                {"noNewPrivileges", false},
                                {"readonlyRootfs", false}});
    CHECK_FALSE(j.contains("name"));  // the name is the file's
}

TEST_CASE("parse_app_text of the canonical JSON gives back the same spec", "[parser]") {
    SECTION("a rich spec") {
        AppSpec s = rich();
        CHECK(reparse(s) == s);
    }
    SECTION("network modes") {
        for (auto mode : {NetworkMode::host, NetworkMode::none, NetworkMode::app}) {
            AppSpec s = minimal();
            s.network.mode = mode;
            if (mode == NetworkMode::app) s.network.app = "db";
            CHECK(reparse(s) == s);
        }
        AppSpec s = minimal();
        s.network.mode = NetworkMode::app;
        s.network.app = "db";
        CHECK(app_spec_to_json(s)["network"] == json{{"mode", "app:db"}});
    }
    SECTION("seccomp modes, a tcp probe without banner, a real-time stop signal") {
        AppSpec s = minimal();
        s.security.seccomp = SeccompMode::unconfined;
        s.security.readonly_rootfs = true;
        ProbeSpec tcp;
        tcp.kind = ProbeKind::tcp;
        tcp.port = 5432;
        s.probes.readiness = tcp;
        s.stop.signal = 40;  // SIGRTMIN+6 has no name parse_signal knows: written as a number
        CHECK(app_spec_to_json(s)["stop"]["signal"] == 40);
        CHECK(reparse(s) == s);
    }
    SECTION("cpu fractions survive as numbers") {
        for (double cpu : {0.5, 1.0 / 3.0, 1.5, 1024.0, 0.001}) {
            AppSpec s = minimal();
            s.resources.cpu = cpu;
            CHECK(reparse(s) == s);
        }
    }
    SECTION("a postgres example with most sections") {
        auto parsed = parse_app_text("postgres", R"({
          "command": ["/usr/lib/postgresql/15/bin/postgres", "-D", "/var/lib/postgresql/data"],
          "user": "postgres", "env": {"LANG": "C.UTF-8"}, "workdir": "/", "hostname": "postgres",
          "rootfs": {"type": "host"},
          "mounts": [{"type": "bind", "source": "/var/lib/app-data/postgres", "target": "/var/lib/postgresql/data"},
                     {"type": "tmpfs", "target": "/run/postgresql", "size": "16M"}],
          "network": {"mode": "bridge", "ports": [{"host": 5432, "app": 5432, "protocol": "tcp"}]},
          "resources": {"cpu": "50%", "memory": "512M", "pids": 512},
          "probes": {"liveness": {"exec": {"command": ["pg_isready", "-q"]}, "period": "30s"},
                     "readiness": {"tcp": {"port": 5432}}}})",
                                     "conf/apps/postgres.json");
        REQUIRE(parsed.spec);
        CHECK(reparse(*parsed.spec) == *parsed.spec);
    }
}

TEST_CASE("enums have to_string and from_string", "[parser]") {
    CHECK(to_string(RootfsType::directory) == "directory");
    CHECK(to_string(RootfsWritable::overlay) == "overlay");
    CHECK(to_string(MountType::tmpfs) == "tmpfs");
    CHECK(to_string(NetworkMode::none) == "none");
    CHECK(to_string(NetworkMode::app) == "app");
    CHECK(to_string(Protocol::udp) == "udp");
    CHECK(to_string(NamespaceKind::private_) == "private");
    CHECK(to_string(RestartPolicy::on_failure) == "on-failure");
    CHECK(to_string(ProbeKind::exec) == "exec");
    CHECK(to_string(SeccompMode::default_) == "default");
    CHECK(rootfs_type_from_string("host") == RootfsType::host);
    CHECK(rootfs_writable_from_string("readonly") == RootfsWritable::readonly);
    CHECK(mount_type_from_string("bind") == MountType::bind);
    CHECK(protocol_from_string("tcp") == Protocol::tcp);
    CHECK(restart_policy_from_string("never") == RestartPolicy::never);
    CHECK(probe_kind_from_string("http") == ProbeKind::http);
    CHECK_FALSE(restart_policy_from_string("on_failure"));
    CHECK_FALSE(mount_type_from_string("Bind"));
}

TEST_CASE("capabilities are normalised to the CAP_ form", "[parser]") {
    CHECK(normalize_capability("net_admin") == "CAP_NET_ADMIN");
    CHECK(normalize_capability("CAP_NET_ADMIN") == "CAP_NET_ADMIN");
    CHECK(normalize_capability("cap_chown") == "CAP_CHOWN");
    CHECK(normalize_capability("All") == "ALL");
    CHECK(normalize_capability("checkpoint_restore") == "CAP_CHECKPOINT_RESTORE");
    CHECK_FALSE(normalize_capability("CAP_"));
    CHECK_FALSE(normalize_capability("SYS_WIZARD"));
    CHECK_FALSE(normalize_capability(""));
    CHECK(capability_names().front() == "CAP_CHOWN");
    CHECK(capability_names()[21] == "CAP_SYS_ADMIN");
    CHECK(capability_names().back() == "CAP_CHECKPOINT_RESTORE");
}
