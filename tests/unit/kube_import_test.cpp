// isoctl import kube (issue 15, item 2): rules on import_kube() directly, and the
// manifests in tests/kube/import/ (shapes projects publish) against golden app files
// and warnings. ISOLATED_UPDATE_GOLDEN=1 rewrites the golden files (review the diff).
#include <catch2/catch.hpp>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"
#include "kube/kube.hpp"

using namespace isoctl::kube;
namespace fs = std::filesystem;

namespace {

ImportResult import_text(const std::string& yaml) {
    std::vector<Manifest> ms;
    for (auto& d : parse_yaml(yaml, "t.yaml")) ms.push_back({"t.yaml", d});
    return import_kube(ms, {"/OUT"});
}

bool warned(const ImportResult& r, const std::string& app, const std::string& field) {
    for (const auto& w : r.warnings)
        if (w.app == app && w.field == field) return true;
    return false;
}

std::string slurp(const fs::path& p) {
    std::ifstream in(p);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

}  // namespace

TEST_CASE("kube import: a multi-container Pod becomes apps joined with app:, its Pod settings on each") {
    auto r = import_text(R"Y(
apiVersion: v1
kind: Pod
metadata: {name: web, labels: {app: web}}
spec:
  shareProcessNamespace: true
  hostUsers: false
  hostname: www
  terminationGracePeriodSeconds: 12
  restartPolicy: OnFailure
  containers:
    - name: app
      image: x
      command: [/bin/app]
      ports: [{containerPort: 8080, hostPort: 80}]
    - name: proxy
      image: y
      command: [/bin/proxy, "$$HOME", "$(HOME)"]
)Y");
    for (const auto& e : r.errors) INFO(e.to_string());
    REQUIRE(r.errors.empty());
    REQUIRE(r.apps.size() == 2);
    const auto& app = r.apps.at("app");
    const auto& proxy = r.apps.at("proxy");
    CHECK(app.hostname == "www");
    CHECK(app.network.ports.size() == 1);
    CHECK(app.network.ports[0].host == 80);
    CHECK(app.restart.policy == isolated::RestartPolicy::on_failure);
    CHECK(app.stop.timeout == std::chrono::seconds(12));
    CHECK(app.namespaces.user.enabled);
    CHECK(proxy.network.mode == isolated::NetworkMode::app);
    CHECK(proxy.network.app == "app");
    CHECK(proxy.namespaces.pid.app == "app");
    CHECK(proxy.namespaces.ipc.app == "app");
    CHECK(proxy.namespaces.uts.app == "app");
    CHECK(proxy.restart.policy == isolated::RestartPolicy::on_failure);
    CHECK(proxy.command == std::vector<std::string>{"/bin/proxy", "$HOME", "$(HOME)"});
    CHECK(warned(r, "proxy", "spec.containers[1].command"));  // $(HOME) is not expanded
    CHECK_FALSE(warned(r, "app", "spec.containers[0].image"));  // the image is the app's rootfs
}

TEST_CASE("kube import: Deployment, StatefulSet, Job and Pod map to restart policies, replicas and suspend") {
    auto r = import_text(R"(
apiVersion: apps/v1
kind: Deployment
metadata: {name: d}
spec: {replicas: 0, template: {spec: {containers: [{name: c, image: i, command: [/d]}]}}}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: many}
spec: {replicas: 3, template: {spec: {containers: [{name: c, image: i, command: [/m]}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: j}
spec: {backoffLimit: 2, suspend: true, template: {spec: {restartPolicy: OnFailure, containers: [{name: c, image: i, command: [/j]}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: never}
spec: {backoffLimit: 0, template: {spec: {restartPolicy: Never, containers: [{name: c, image: i, command: [/n]}]}}}
---
apiVersion: batch/v1
kind: Job
metadata: {name: dflt}
spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: i, command: [/n]}]}}}
---
apiVersion: v1
kind: Pod
metadata: {name: nocmd}
spec: {containers: [{name: c, image: nginx}]}
---
apiVersion: v1
kind: Pod
metadata: {name: noimage}
spec: {containers: [{name: c, args: [-v]}]}
)");
    CHECK_FALSE(r.apps.at("d").autostart);
    CHECK(r.apps.at("d").restart.policy == isolated::RestartPolicy::always);
    CHECK(warned(r, "many", "spec.replicas"));
    CHECK(r.apps.at("j").restart.policy == isolated::RestartPolicy::on_failure);
    CHECK(r.apps.at("j").restart.max_retries == 2u);
    CHECK_FALSE(r.apps.at("j").autostart);
    CHECK(r.apps.at("never").restart.policy == isolated::RestartPolicy::never);
    CHECK(r.apps.at("dflt").restart.max_retries == 6u);  // Kubernetes' default backoffLimit
    // no command: the image's entrypoint runs
    CHECK(r.apps.at("nocmd").command.empty());
    CHECK(r.apps.at("nocmd").rootfs.image == "nginx");
    // no image and no command: nothing would run; the app is not written
    CHECK_FALSE(r.apps.count("noimage"));
    REQUIRE(r.errors.size() == 1);
    CHECK(r.errors[0].app == "noimage");
    CHECK(r.errors[0].field == "spec.containers[0].command");
}

TEST_CASE("kube import: the image is the app's rootfs, command and args are the app's, the rest is the image's") {
    auto r = import_text(R"Y(
apiVersion: v1
kind: Pod
metadata: {name: p}
spec:
  containers:
  - {name: plain, image: "nginx:1.27"}
  - {name: withargs, image: "registry.example/tools/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", args: [--queue, "$$(jobs)"]}
  - {name: both, image: busybox, command: [/bin/sh, -c], args: [echo hi], workingDir: /srv,
     securityContext: {readOnlyRootFilesystem: true}}
)Y");
    for (const auto& e : r.errors) INFO(e.to_string());
    REQUIRE(r.errors.empty());
    const auto& plain = r.apps.at("plain");
    CHECK(plain.rootfs.type == isolated::RootfsType::image);
    CHECK(plain.rootfs.image == "nginx:1.27");  // as written: the daemon normalizes as a runtime
    CHECK(plain.command.empty());
    CHECK(plain.args.empty());
    CHECK(plain.workdir.empty());  // the image's WorkingDir
    CHECK(plain.stop.signal == 0);  // the image's StopSignal
    CHECK_FALSE(plain.security.readonly_rootfs.has_value());  // an image's root is writable, as in Kubernetes
    CHECK(r.app_files.at("plain").dump() == R"({"rootfs":{"type":"image","image":"nginx:1.27"}})");
    const auto& withargs = r.apps.at("withargs");
    CHECK(withargs.command.empty());
    CHECK(withargs.args == std::vector<std::string>{"--queue", "$(jobs)"});
    const auto& both = r.apps.at("both");
    CHECK(both.command == std::vector<std::string>{"/bin/sh", "-c"});
    CHECK(both.args == std::vector<std::string>{"echo hi"});
    CHECK(both.workdir == "/srv");
    CHECK(both.security.readonly_rootfs == true);
    CHECK(r.app_files.at("both")["args"] == ojson::array({"echo hi"}));
    // each app file reads back as its spec
    for (const auto& [name, j] : r.app_files) {
        auto parsed = isolated::parse_app_text(name, j.dump(), name + ".json");
        INFO(name << ": " << j.dump());
        REQUIRE(parsed.spec);
        CHECK(isolated::app_spec_to_json(*parsed.spec) == isolated::app_spec_to_json(r.apps.at(name)));
    }
}

TEST_CASE("kube import: Services become forwards, ConfigMaps and Secrets files, unknown fields warnings") {
    auto r = import_text(R"(
apiVersion: v1
kind: Secret
metadata: {name: s}
data: {token: aHVudGVyMg==, API_KEY: a2V5}
---
apiVersion: v1
kind: ConfigMap
metadata: {name: cm}
data: {app.conf: "x=1\n"}
binaryData: {logo.png: iVBORw==}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: api}
spec:
  template:
    metadata: {labels: {app: api}}
    spec:
      tolerations: [{key: k}]
      containers:
        - name: api
          image: i
          command: [/api]
          ports: [{name: web, containerPort: 8000}]
          envFrom: [{secretRef: {name: s}}]
          volumeMounts:
            - {name: conf, mountPath: /etc/api}
            - {name: sec, mountPath: /run/secrets}
            - {name: tmp, mountPath: /tmp, readOnly: true}
            - {name: nfs, mountPath: /mnt/nfs}
          lifecycle: {preStop: {exec: {command: [x]}}}
      volumes:
        - {name: conf, configMap: {name: cm, items: [{key: app.conf, path: conf/app.conf, mode: 0600}]}}
        - {name: sec, secret: {secretName: s, items: [{key: token, path: token, mode: 0400}]}}
        - {name: tmp, emptyDir: {medium: Memory, sizeLimit: 32Mi}}
        - {name: nfs, nfs: {server: x, path: /}}
---
apiVersion: v1
kind: Service
metadata: {name: api-svc}
spec: {type: LoadBalancer, selector: {app: api}, ports: [{port: 443, targetPort: web}]}
)");
    for (const auto& e : r.errors) INFO(e.to_string());
    REQUIRE(r.errors.empty());
    const auto& a = r.apps.at("api");
    REQUIRE(a.network.ports.size() == 1);
    CHECK(a.network.ports[0].host == 443);
    CHECK(a.network.ports[0].app == 8000);
    CHECK(warned(r, "api", "Service/api-svc metadata.name"));
    REQUIRE(a.env_files.size() == 1);
    CHECK(a.env_files[0].path == "/OUT/env/s.env");
    REQUIRE(a.secrets.size() == 1);
    CHECK(a.secrets[0].source == "/OUT/secrets/s/token");
    CHECK(a.secrets[0].mode == 0400);
    REQUIRE(a.mounts.size() == 2);
    CHECK(a.mounts[0].source == "/OUT/files/cm");
    CHECK(a.mounts[0].readonly);
    CHECK(a.mounts[1].type == isolated::MountType::tmpfs);
    CHECK(a.mounts[1].size == 32u << 20);
    CHECK(warned(r, "api", "spec.template.spec.containers[0].volumeMounts[2].readOnly"));
    CHECK(warned(r, "api", "spec.template.spec.volumes[nfs]"));
    CHECK(warned(r, "api", "spec.template.spec.tolerations"));
    CHECK(warned(r, "api", "spec.template.spec.containers[0].lifecycle"));
    std::map<std::string, std::pair<std::string, std::uint32_t>> files;
    for (const auto& f : r.files) files[f.path] = {f.content, f.mode};
    CHECK(files.at("/OUT/secrets/s/token") == std::pair<std::string, std::uint32_t>{"hunter2", 0600});
    CHECK(files.at("/OUT/env/s.env").second == 0600);
    CHECK(files.at("/OUT/env/s.env").first == "API_KEY='key'\ntoken='hunter2'\n");
    CHECK(files.at("/OUT/files/cm/conf/app.conf") == std::pair<std::string, std::uint32_t>{"x=1\n", 0600});
    // secret values never appear in warnings
    for (const auto& w : r.warnings) CHECK(w.message.find("hunter2") == std::string::npos);
}

TEST_CASE("kube import: the real-world manifests give the golden app files and warnings") {
    const fs::path root = fs::path(ISOLATED_SOURCE_DIR) / "tests/kube/import";
    const bool update = std::getenv("ISOLATED_UPDATE_GOLDEN") != nullptr;
    int cases = 0;
    for (const auto& entry : fs::directory_iterator(root)) {
        if (!entry.is_directory()) continue;
        ++cases;
        const fs::path dir = entry.path();
        INFO("case " << dir.filename().string());
        std::vector<Manifest> ms;
        for (const auto& f : fs::directory_iterator(dir))
            if (f.path().extension() == ".yaml")
                for (auto& d : parse_yaml(slurp(f.path()), f.path().filename().string()))
                    ms.push_back({f.path().filename().string(), d});
        auto r = import_kube(ms, {"/OUT"});
        std::string warnings;
        for (const auto& e : r.errors) warnings += "error: " + e.to_string() + "\n";
        for (const auto& w : r.warnings) warnings += "warning: " + w.to_string() + "\n";
        for (const auto& f : r.files) {
            char mode[8];
            std::snprintf(mode, sizeof mode, "%04o", f.mode);
            warnings += "file: " + f.path + " " + mode + " " + std::to_string(f.content.size()) + " bytes\n";
        }
        if (update) {
            fs::remove_all(dir / "expected");
            fs::create_directories(dir / "expected");
            for (const auto& [name, j] : r.app_files) std::ofstream(dir / "expected" / (name + ".json")) << j.dump(2) << "\n";
            std::ofstream(dir / "expected" / "warnings.txt") << warnings;
        }
        CHECK(slurp(dir / "expected" / "warnings.txt") == warnings);
        std::set<std::string> expected_apps;
        for (const auto& f : fs::directory_iterator(dir / "expected"))
            if (f.path().extension() == ".json") expected_apps.insert(f.path().stem().string());
        std::set<std::string> got_apps;
        for (const auto& [name, j] : r.app_files) {
            got_apps.insert(name);
            CHECK(slurp(dir / "expected" / (name + ".json")) == j.dump(2) + "\n");
            // what isoctl validate reads
            auto parsed = isolated::parse_app_text(name, j.dump(), name + ".json");
            CHECK(parsed.errors.empty());
        }
        CHECK(got_apps == expected_apps);
    }
    CHECK(cases == 3);
}

TEST_CASE("kube import: hostile YAML is refused with the file named, not expanded: aliases without end, deep nesting, non-string keys") {
    // "Billion laughs": nine levels of ten aliases each name 10^9 values in a few lines.
    std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
    for (int i = 1; i <= 8; ++i) {
        bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
        for (int k = 0; k < 10; ++k) bomb += (k ? ", *a" : "*a") + std::to_string(i - 1);
        bomb += "]\n";
    }
    bomb += "kind: ConfigMap\nmetadata: {name: bomb, x: *a8}\n";
    CHECK_THROWS_WITH(parse_yaml(bomb, "bomb.yaml"), Catch::Contains("bomb.yaml") && Catch::Contains("aliases"));
    CHECK_THROWS_WITH(parse_yaml(std::string(100, '[') + std::string(100, ']'), "deep.yaml"),
                      Catch::Contains("deep.yaml") && Catch::Contains("nested too deeply"));
    CHECK_THROWS_WITH(parse_yaml("? [a, b]\n: c\n", "keys.yaml"), Catch::Contains("keys.yaml"));
}
