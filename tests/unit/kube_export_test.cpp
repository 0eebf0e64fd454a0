// isoctl export kube (issue 15): one test per mapping rule, on kube::export_kube()
// directly with a fake host (users, config files, secret values).
#include <catch2/catch.hpp>

#include "isolated/app_parser.hpp"
#include "kube/kube.hpp"
#include "kube_fake_host.hpp"

using namespace isoctl::kube;

namespace {

std::map<std::string, isolated::AppSpec> apps_of(const std::map<std::string, std::string>& files) {
    std::map<std::string, isolated::AppSpec> apps;
    for (const auto& [name, text] : files) {
        auto parsed = isolated::parse_app_text(name, text, name + ".json");
        INFO(text);
        for (const auto& e : parsed.errors) INFO(e.to_string());
        REQUIRE(parsed.spec);
        apps.emplace(name, *parsed.spec);
    }
    REQUIRE(isolated::check_app_set(apps).empty());
    return apps;
}

ExportOptions images_for(const std::map<std::string, isolated::AppSpec>& apps) {
    ExportOptions o;
    for (const auto& [n, _] : apps) o.images[n] = "registry.example/" + n + ":1";
    return o;
}

const ojson* find_doc(const ExportResult& r, const std::string& kind, const std::string& name) {
    for (const auto& d : r.documents)
        if (d["kind"] == kind && d["metadata"]["name"] == name) return &d;
    return nullptr;
}

const ojson& pod_spec(const ojson& workload) { return workload["spec"]["template"]["spec"]; }

bool warned(const ExportResult& r, const std::string& app, const std::string& field) {
    for (const auto& w : r.warnings)
        if (w.app == app && w.field == field) return true;
    return false;
}

ExportResult run(const std::map<std::string, std::string>& files, ExportOptions o = {}, FakeHost* host = nullptr) {
    auto apps = apps_of(files);
    auto opt = images_for(apps);
    for (const auto& [k, v] : o.images) opt.images[k] = v;
    opt.host_ports = o.host_ports;
    opt.host_paths = o.host_paths;
    opt.include_secret_values = o.include_secret_values;
    opt.service_type = o.service_type;
    opt.pvc_size = o.pvc_size;
    opt.storage_class = o.storage_class;
    FakeHost fallback;
    return export_kube(apps, opt, host ? *host : fallback);
}

}  // namespace

TEST_CASE("kube export: apps joined by app: are one Pod, shareProcessNamespace for a joined pid namespace") {
    auto r = run({{"web", R"({"command": ["/bin/web"], "network": {"ports": [{"host": 8080, "app": 80}]}})"},
                  {"sidecar", R"({"command": ["/bin/side"], "network": {"mode": "app:web"},
                                  "namespaces": {"pid": "app:web", "ipc": "app:web", "uts": "app:web"}})"},
                  {"alone", R"({"command": ["/bin/alone"]})"}});
    REQUIRE(r.errors.empty());
    const ojson* web = find_doc(r, "Deployment", "web");
    REQUIRE(web);
    CHECK(find_doc(r, "Deployment", "sidecar") == nullptr);
    REQUIRE(find_doc(r, "Deployment", "alone"));
    const ojson& spec = pod_spec(*web);
    REQUIRE(spec["containers"].size() == 2);
    CHECK(spec["containers"][0]["name"] == "web");
    CHECK(spec["containers"][1]["name"] == "sidecar");
    CHECK(spec["shareProcessNamespace"] == true);
    CHECK(spec["hostname"] == "web");
    CHECK_FALSE(warned(r, "sidecar", "namespaces.ipc"));

    // a member whose IPC and UTS stay private loses that: said so
    auto r2 = run({{"web", R"({"command": ["/bin/web"]})"},
                   {"sidecar", R"({"command": ["/bin/side"], "network": {"mode": "app:web"}})"}});
    CHECK(warned(r2, "sidecar", "namespaces.ipc"));
    CHECK(warned(r2, "sidecar", "namespaces.uts"));
    CHECK_FALSE(pod_spec(*find_doc(r2, "Deployment", "web")).contains("shareProcessNamespace"));
}

TEST_CASE("kube export: restart always is a Deployment (Recreate with writable volumes), on-failure and never a Job") {
    auto r = run({{"svc", R"({"command": ["/bin/svc"], "mounts": [{"type": "bind", "source": "/data/svc", "target": "/data"}]})"},
                  {"once", R"({"command": ["/bin/once"], "restart": {"policy": "on-failure", "maxRetries": 4}})"},
                  {"never", R"({"command": ["/bin/never"], "restart": {"policy": "never"}, "autostart": false})"},
                  {"forever", R"({"command": ["/bin/f"], "restart": {"policy": "on-failure"}})"},
                  {"plain", R"({"command": ["/bin/plain"], "autostart": false})"}});
    const ojson* svc = find_doc(r, "Deployment", "svc");
    REQUIRE(svc);
    CHECK((*svc)["spec"]["replicas"] == 1);
    CHECK((*svc)["spec"]["strategy"]["type"] == "Recreate");
    CHECK_FALSE((*find_doc(r, "Deployment", "plain"))["spec"].contains("strategy"));
    CHECK((*find_doc(r, "Deployment", "plain"))["spec"]["replicas"] == 0);  // autostart false
    const ojson* once = find_doc(r, "Job", "once");
    REQUIRE(once);
    CHECK((*once)["spec"]["backoffLimit"] == 4);
    CHECK(pod_spec(*once)["restartPolicy"] == "OnFailure");
    const ojson* never = find_doc(r, "Job", "never");
    REQUIRE(never);
    CHECK((*never)["spec"]["backoffLimit"] == 0);
    CHECK((*never)["spec"]["suspend"] == true);
    CHECK(pod_spec(*never)["restartPolicy"] == "Never");
    CHECK((*find_doc(r, "Job", "forever"))["spec"]["backoffLimit"] == 2147483647);

    auto r2 = run({{"a", R"({"command": ["/bin/a"], "restart": {"maxRetries": 3, "backoff": {"initial": "2s"}}})"}});
    CHECK(warned(r2, "a", "restart.maxRetries"));
    CHECK(warned(r2, "a", "restart.backoff"));
}

TEST_CASE("kube export: probes keep their kind and timing, rounded up to seconds with a warning") {
    auto r = run({{"p", R"({"command": ["/bin/p"], "probes": {
        "liveness": {"http": {"port": 80, "path": "/healthz", "scheme": "https", "headers": [{"name": "X-A", "value": "1"}]},
                     "period": "1500ms", "timeout": "250ms", "failureThreshold": 5, "initialDelay": "3s"},
        "readiness": {"tcp": {"port": 21, "expect": "220"}, "successThreshold": 2},
        "startup": {"exec": {"command": ["pg_isready"]}, "period": "2s"}}})"}});
    const ojson& c = pod_spec(*find_doc(r, "Deployment", "p"))["containers"][0];
    const ojson& l = c["livenessProbe"];
    CHECK(l["httpGet"]["path"] == "/healthz");
    CHECK(l["httpGet"]["port"] == 80);
    CHECK(l["httpGet"]["scheme"] == "HTTPS");
    CHECK(l["httpGet"]["httpHeaders"][0]["name"] == "X-A");
    CHECK(l["periodSeconds"] == 2);
    CHECK(l["timeoutSeconds"] == 1);
    CHECK(l["initialDelaySeconds"] == 3);
    CHECK(l["failureThreshold"] == 5);
    CHECK(warned(r, "p", "probes.liveness.period"));
    CHECK(warned(r, "p", "probes.liveness.timeout"));
    CHECK_FALSE(warned(r, "p", "probes.liveness.initialDelay"));
    CHECK(c["readinessProbe"]["tcpSocket"]["port"] == 21);
    CHECK(c["readinessProbe"]["successThreshold"] == 2);
    CHECK(warned(r, "p", "probes.readiness.tcp.expect"));
    CHECK(c["startupProbe"]["exec"]["command"][0] == "pg_isready");
    CHECK(c["startupProbe"]["periodSeconds"] == 2);
}

TEST_CASE("kube export: ports are containerPorts and a Service named after the app, of the type asked for") {
    const std::map<std::string, std::string> files = {
        {"web", R"({"command": ["/bin/web"], "network": {"ports": [{"host": 8080, "app": 80},
                    {"host": 30053, "app": 53, "protocol": "udp", "hostAddress": "127.0.0.1"}]}})"}};
    auto r = run(files);
    const ojson* svc = find_doc(r, "Service", "web");
    REQUIRE(svc);
    CHECK((*svc)["spec"]["type"] == "ClusterIP");
    CHECK((*svc)["spec"]["selector"]["app.kubernetes.io/name"] == "web");
    CHECK((*svc)["spec"]["ports"][0]["port"] == 80);
    CHECK((*svc)["spec"]["ports"][1]["protocol"] == "UDP");
    const ojson& c = pod_spec(*find_doc(r, "Deployment", "web"))["containers"][0];
    CHECK(c["ports"][0]["containerPort"] == 80);
    CHECK_FALSE(c["ports"][0].contains("hostPort"));
    CHECK(warned(r, "web", "network.ports[0].host"));
    CHECK(warned(r, "web", "network.ports[1].hostAddress"));

    ExportOptions np;
    np.service_type = "NodePort";
    auto r2 = run(files, np);
    const ojson& s2 = (*find_doc(r2, "Service", "web"))["spec"];
    CHECK(s2["type"] == "NodePort");
    CHECK_FALSE(s2["ports"][0].contains("nodePort"));  // 8080 is outside 30000-32767
    CHECK(s2["ports"][1]["nodePort"] == 30053);
    CHECK(warned(r2, "web", "network.ports[0].host"));
    CHECK_FALSE(warned(r2, "web", "network.ports[1].host"));

    ExportOptions hp;
    hp.host_ports = true;
    auto r3 = run(files, hp);
    const ojson& c3 = pod_spec(*find_doc(r3, "Deployment", "web"))["containers"][0];
    CHECK(c3["ports"][0]["hostPort"] == 8080);
    CHECK(c3["ports"][1]["hostIP"] == "127.0.0.1");
    CHECK(r3.warnings.empty());
}

TEST_CASE("kube export: cpu and memory are limits with equal requests, the rest of resources is warned") {
    auto r = run({{"r", R"({"command": ["/bin/r"], "resources": {"cpu": "50%", "memory": "128M", "pids": 64,
                    "cpuWeight": 200, "memoryHigh": "100M", "swap": "1G", "ioWeight": 50}})"},
                  {"odd", R"({"command": ["/bin/o"], "resources": {"cpu": 0.0125, "memory": 2000000}})"}});
    const ojson& res = pod_spec(*find_doc(r, "Deployment", "r"))["containers"][0]["resources"];
    CHECK(res["limits"]["cpu"] == "500m");
    CHECK(res["limits"]["memory"] == "128Mi");
    CHECK(res["requests"] == res["limits"]);
    for (const char* f : {"resources.pids", "resources.cpuWeight", "resources.memoryHigh", "resources.swap", "resources.ioWeight"})
        CHECK(warned(r, "r", f));
    const ojson& odd = pod_spec(*find_doc(r, "Deployment", "odd"))["containers"][0]["resources"];
    CHECK(odd["limits"]["cpu"] == "13m");
    CHECK(odd["limits"]["memory"] == "2000000");
    CHECK(warned(r, "odd", "resources.cpu"));
}

TEST_CASE("kube export: user, capabilities, seccomp, no_new_privs, read-only root and user namespace in securityContext") {
    FakeHost host;
    host.users["postgres"] = {107, 113};
    host.groups["ssl-cert"] = 110;
    auto r = run({{"a", R"({"command": ["/bin/a"], "user": "postgres",
                    "security": {"capabilities": {"add": ["NET_ADMIN"], "drop": ["ALL"]}, "seccomp": "unconfined",
                                 "noNewPrivileges": false, "readonlyRootfs": false},
                    "namespaces": {"user": {"uid": 100000}}})"},
                  {"b", R"({"command": ["/bin/b"], "user": "1000:ssl-cert", "security": {"seccomp": "/etc/seccomp/b.json"}})"},
                  {"c", R"({"command": ["/bin/c"], "user": "nobody-here"})"}},
                 {}, &host);
    const ojson& a = pod_spec(*find_doc(r, "Deployment", "a"));
    const ojson& sa = a["containers"][0]["securityContext"];
    CHECK(sa["runAsUser"] == 107);
    CHECK(sa["runAsGroup"] == 113);
    CHECK(sa["capabilities"]["add"][0] == "NET_ADMIN");
    CHECK(sa["capabilities"]["drop"][0] == "ALL");
    CHECK(sa["seccompProfile"]["type"] == "Unconfined");
    CHECK(sa["allowPrivilegeEscalation"] == true);
    CHECK(sa["readOnlyRootFilesystem"] == false);
    CHECK(a["hostUsers"] == false);
    CHECK_FALSE(warned(r, "a", "namespaces.user"));  // the mapping import gives back
    const ojson& sb = pod_spec(*find_doc(r, "Deployment", "b"))["containers"][0]["securityContext"];
    CHECK(sb["runAsUser"] == 1000);
    CHECK(sb["runAsGroup"] == 110);
    CHECK(sb["seccompProfile"]["type"] == "Localhost");
    CHECK(sb["seccompProfile"]["localhostProfile"] == "b.json");
    CHECK(sb["allowPrivilegeEscalation"] == false);
    CHECK(sb["readOnlyRootFilesystem"] == true);
    CHECK(warned(r, "b", "security.seccomp"));
    CHECK(warned(r, "c", "user"));
    CHECK_FALSE(pod_spec(*find_doc(r, "Deployment", "c"))["containers"][0]["securityContext"].contains("runAsUser"));
}

TEST_CASE("kube export: volumes become PVCs, hostPath, ConfigMaps from the files, emptyDir in memory") {
    FakeHost host;
    host.trees["/etc/isolated/files/web"] = {false, {{"web.conf", "listen 80;\n", false}, {"html/index.html", "<h1>hi</h1>", false},
                                                    {"start.sh", "#!/bin/sh\n", true}, {"logo.bin", std::string("\x89PNG\0\xff", 6), false}}, {}};
    host.trees["/etc/isolated/files/pam"] = {true, {{"pam", "auth required pam_permit.so\n", false}}, {}};
    const std::map<std::string, std::string> files = {
        {"web", R"({"command": ["/bin/web"], "mounts": [
            {"type": "bind", "source": "/etc/isolated/files/web", "target": "/etc/web", "readonly": true},
            {"type": "bind", "source": "/etc/isolated/files/pam", "target": "/etc/pam.d/web", "readonly": true},
            {"type": "bind", "source": "/var/lib/web", "target": "/var/lib/web", "create": true},
            {"type": "tmpfs", "target": "/cache", "size": "64M"}]})"}};
    ExportOptions o;
    o.pvc_size = "5Gi";
    o.storage_class = "fast";
    auto r = run(files, o, &host);
    const ojson* cm = find_doc(r, "ConfigMap", "web-etc-web");
    REQUIRE(cm);
    CHECK((*cm)["data"]["web.conf"] == "listen 80;\n");
    CHECK((*cm)["data"]["html_index.html"] == "<h1>hi</h1>");
    CHECK((*cm)["binaryData"]["logo.bin"] == base64_encode(std::string("\x89PNG\0\xff", 6)));
    const ojson* pvc = find_doc(r, "PersistentVolumeClaim", "web-var-lib-web");
    REQUIRE(pvc);
    CHECK((*pvc)["spec"]["resources"]["requests"]["storage"] == "5Gi");
    CHECK((*pvc)["spec"]["storageClassName"] == "fast");
    const ojson& spec = pod_spec(*find_doc(r, "Deployment", "web"));
    const ojson& mounts = spec["containers"][0]["volumeMounts"];
    CHECK(mounts[0]["readOnly"] == true);
    CHECK(mounts[1]["subPath"] == "pam");
    const ojson& vols = spec["volumes"];
    CHECK(vols[0]["configMap"]["items"][1]["path"] == "html/index.html");
    CHECK(vols[0]["configMap"]["items"][2]["mode"] == 0755);
    CHECK(vols[2]["persistentVolumeClaim"]["claimName"] == "web-var-lib-web");
    CHECK(vols[3]["emptyDir"]["medium"] == "Memory");
    CHECK(vols[3]["emptyDir"]["sizeLimit"] == "64Mi");
    CHECK(warned(r, "web", "mounts[2].source"));
    CHECK_FALSE(warned(r, "web", "mounts[0].source"));

    ExportOptions hp;
    hp.host_paths = true;
    auto r2 = run(files, hp, &host);
    const ojson& v2 = pod_spec(*find_doc(r2, "Deployment", "web"))["volumes"];
    CHECK(v2[0]["hostPath"]["path"] == "/etc/isolated/files/web");
    CHECK(v2[2]["hostPath"]["type"] == "DirectoryOrCreate");
    CHECK(find_doc(r2, "ConfigMap", "web-etc-web") == nullptr);
    CHECK(r2.warnings.empty());
}

TEST_CASE("kube export: env is env, envFile and secrets are Secrets with values only with --include-secret-values") {
    FakeHost host;
    host.files["/etc/web.env"] = "TOKEN=s3cr3t-token\n";
    host.files["/etc/isolated/secrets/pw"] = "hunter2-pw";
    const std::map<std::string, std::string> files = {
        {"web", R"J({"command": ["/bin/web"], "env": {"B": "2", "A": "$(x)"}, "envFile": ["/etc/web.env", "-/etc/opt.env"],
                    "secrets": [{"source": "/etc/isolated/secrets/pw", "name": "pw", "mode": "0440"}]})J"}};
    auto r = run(files, {}, &host);
    std::string yaml = to_yaml(r.documents);
    CHECK(yaml.find("s3cr3t") == std::string::npos);
    CHECK(yaml.find(base64_encode("s3cr3t-token")) == std::string::npos);
    CHECK(yaml.find(base64_encode("hunter2-pw")) == std::string::npos);
    CHECK(warned(r, "web", "envFile[0]"));
    CHECK(warned(r, "web", "secrets[0]"));
    for (const auto& w : r.warnings) CHECK(w.message.find("hunter2") == std::string::npos);
    const ojson& c = pod_spec(*find_doc(r, "Deployment", "web"))["containers"][0];
    CHECK(c["env"][0] == ojson({{"name", "A"}, {"value", "$$(x)"}}));  // Kubernetes would expand $(x)
    CHECK(c["env"][2] == ojson({{"name", "CREDENTIALS_DIRECTORY"}, {"value", "/run/secrets"}}));
    CHECK(c["envFrom"][0]["secretRef"]["name"] == "web-env");
    CHECK(c["envFrom"][1]["secretRef"]["optional"] == true);
    CHECK(c["volumeMounts"][0]["mountPath"] == "/run/secrets");
    const ojson& vol = pod_spec(*find_doc(r, "Deployment", "web"))["volumes"][0];
    CHECK(vol["secret"]["items"][0] == ojson({{"key", "pw"}, {"path", "pw"}, {"mode", 0440}}));
    REQUIRE(find_doc(r, "Secret", "web-secrets"));
    CHECK_FALSE(find_doc(r, "Secret", "web-secrets")->contains("data"));

    ExportOptions with;
    with.include_secret_values = true;
    auto r2 = run(files, with, &host);
    CHECK((*find_doc(r2, "Secret", "web-env"))["data"]["TOKEN"] == base64_encode("s3cr3t-token"));
    CHECK((*find_doc(r2, "Secret", "web-secrets"))["data"]["pw"] == base64_encode("hunter2-pw"));
    CHECK(warned(r2, "web", "envFile[1]"));  // cannot be read: said, without a value
    CHECK_FALSE(warned(r2, "web", "envFile[0]"));
}

TEST_CASE("kube export: what does not carry over is a warning naming app and field, and host apps need an image") {
    auto r = run({{"x", R"({"command": ["/bin/x"], "dependsOn": ["y"], "stop": {"signal": "SIGQUIT", "timeout": "2500ms"},
                    "init": false, "logs": {"maxFiles": 3}, "hooks": {"onFailure": {"command": ["/bin/true"]}},
                    "network": {"address": "10.100.0.9"}, "hostname": "x.example"})"},
                  {"y", R"({"command": ["/bin/y"], "network": {"mode": "none"}})"}});
    for (const char* f : {"dependsOn", "stop.signal", "stop.timeout", "init", "logs", "hooks.onFailure", "network.address", "hostname"})
        CHECK(warned(r, "x", f));
    CHECK(warned(r, "y", "network.mode"));
    CHECK(pod_spec(*find_doc(r, "Deployment", "x"))["terminationGracePeriodSeconds"] == 3);
    CHECK(pod_spec(*find_doc(r, "Deployment", "x"))["hostname"] == "x");
    for (const auto& w : r.warnings) CHECK(w.to_string().rfind(w.app + ": " + w.field + ": ", 0) == 0);

    auto apps = apps_of({{"h", R"({"command": ["/bin/h"]})"}});
    FakeHost host;
    auto no_image = export_kube(apps, {}, host);
    REQUIRE(no_image.errors.size() == 1);
    CHECK(no_image.errors[0].field == "rootfs");
    CHECK(no_image.errors[0].message.find("--image h=REF") != std::string::npos);
    CHECK(no_image.documents.empty());
}

TEST_CASE("kube export: an image app runs its own image, fully qualified, with its command and args, the rest the image's") {
    auto apps = apps_of({{"web", R"({"rootfs": {"type": "image", "image": "nginx:1.27"}, "stop": {"timeout": "30s"}})"},
                         {"job", R"J({"rootfs": {"type": "image", "image": "localhost/tools/job", "writable": "readonly"},
                                      "args": ["--queue", "$(q)"], "restart": {"policy": "never"}})J"},
                         {"sh", R"({"rootfs": {"type": "image", "image": "registry.example:5000/sh@sha256:)" +
                                    std::string(64, 'a') + R"("}, "command": ["/bin/sh", "-c"], "args": ["echo hi"], "workdir": "/srv"})"},
                         {"host", R"({"command": ["/bin/h"]})"}});
    FakeHost host;
    ExportOptions opt;
    opt.images["host"] = "registry.example/h:2";
    auto r = export_kube(apps, opt, host);
    for (const auto& e : r.errors) INFO(e.to_string());
    REQUIRE(r.errors.empty());
    const ojson& web = pod_spec(*find_doc(r, "Deployment", "web"))["containers"][0];
    CHECK(web["image"] == "docker.io/library/nginx:1.27");
    // the image's Entrypoint, Cmd, WorkingDir: nothing written
    CHECK_FALSE(web.contains("command"));
    CHECK_FALSE(web.contains("args"));
    CHECK_FALSE(web.contains("workingDir"));
    CHECK(web["securityContext"]["readOnlyRootFilesystem"] == false);  // an image's root is writable
    CHECK_FALSE(warned(r, "web", "stop.signal"));  // the image's StopSignal: the runtimes honour it too
    const ojson& job = pod_spec(*find_doc(r, "Job", "job"))["containers"][0];
    CHECK(job["image"] == "localhost/tools/job:latest");
    CHECK_FALSE(job.contains("command"));
    CHECK(job["args"] == ojson::array({"--queue", "$$(q)"}));  // args replace the image's Cmd
    CHECK(job["securityContext"]["readOnlyRootFilesystem"] == true);
    const ojson& sh = pod_spec(*find_doc(r, "Deployment", "sh"))["containers"][0];
    CHECK(sh["image"] == "registry.example:5000/sh@sha256:" + std::string(64, 'a'));
    CHECK(sh["command"] == ojson::array({"/bin/sh", "-c"}));
    CHECK(sh["args"] == ojson::array({"echo hi"}));
    CHECK(sh["workingDir"] == "/srv");
    // --image still wins, written as given; a host app's command is still all there is
    const ojson& h = pod_spec(*find_doc(r, "Deployment", "host"))["containers"][0];
    CHECK(h["image"] == "registry.example/h:2");
    CHECK(h["command"] == ojson::array({"/bin/h"}));
    CHECK(h["workingDir"] == "/");
    opt.images["web"] = "mirror.example/nginx:1.27";
    auto over = export_kube(apps, opt, host);
    CHECK(pod_spec(*find_doc(over, "Deployment", "web"))["containers"][0]["image"] == "mirror.example/nginx:1.27");
}

TEST_CASE("kube export: --pin writes name@digest of the manifest in the image store, and needs the store") {
    const std::string manifest = "sha256:" + std::string(64, 'b');
    const std::string id = "sha256:" + std::string(64, 'c');
    auto apps = apps_of({{"web", R"({"rootfs": {"type": "image", "image": "nginx:1.27"}})"},
                         {"byid", R"({"rootfs": {"type": "image", "image": ")" + id + R"("}})"}});
    FakeHost host;
    host.images["nginx:1.27"] = {id, manifest, {"docker.io/library/nginx:1.27"}};
    host.images[id] = {id, manifest, {"docker.io/library/nginx:1.27", "localhost/web:1"}};
    ExportOptions opt;
    opt.pin = true;
    auto r = export_kube(apps, opt, host);
    for (const auto& e : r.errors) INFO(e.to_string());
    REQUIRE(r.errors.empty());
    CHECK(pod_spec(*find_doc(r, "Deployment", "web"))["containers"][0]["image"] == "docker.io/library/nginx@" + manifest);
    // an image id: the store's first name for it
    CHECK(pod_spec(*find_doc(r, "Deployment", "byid"))["containers"][0]["image"] == "docker.io/library/nginx@" + manifest);
    opt.pin = false;
    auto unpinned = export_kube(apps, opt, host);
    REQUIRE(unpinned.errors.empty());
    CHECK(pod_spec(*find_doc(unpinned, "Deployment", "byid"))["containers"][0]["image"] == "docker.io/library/nginx:1.27");

    // without a readable store: an error naming why, nothing written
    opt.pin = true;
    host.no_store = "cannot read /var/lib/isolated/images/index.json: Permission denied";
    auto no_store = export_kube(apps, opt, host);
    REQUIRE(no_store.errors.size() == 2);
    CHECK(no_store.errors[0].field == "rootfs.image");
    CHECK(no_store.errors[0].message.find("--pin") != std::string::npos);
    CHECK(no_store.errors[0].message.find("Permission denied") != std::string::npos);
    CHECK(no_store.documents.empty());
    // ... and an image that is not in it
    host.no_store.clear();
    host.images.erase("nginx:1.27");
    auto missing = export_kube(apps, opt, host);
    REQUIRE(missing.errors.size() == 1);
    CHECK(missing.errors[0].app == "web");
    CHECK(missing.errors[0].message.find("not in the store") != std::string::npos);
    // an id without a name in the store cannot be pulled by a cluster
    host.images[id].refs.clear();
    opt.pin = false;
    auto unnamed = export_kube(apps, opt, host);
    REQUIRE(unnamed.errors.size() == 1);
    CHECK(unnamed.errors[0].app == "byid");
    CHECK(unnamed.errors[0].message.find("--image byid=REF") != std::string::npos);
}

TEST_CASE("kube export: YAML quotes strings that would read as numbers or booleans, and reads back the same") {
    std::vector<ojson> docs = {{{"a", "8080"}, {"b", "true"}, {"c", ""}, {"d", "0644"}, {"e", "yes"}, {"f", 8080},
                                {"g", "multi\nline\n"}, {"h", "plain text"}, {"i", nullptr}, {"j", 1.5}, {"k", ojson::array()}}};
    std::string y = to_yaml(docs);
    CHECK(y.find("a: \"8080\"") != std::string::npos);
    CHECK(y.find("f: 8080") != std::string::npos);
    auto back = parse_yaml(y, "t");
    REQUIRE(back.size() == 1);
    CHECK(back[0] == docs[0]);
    CHECK_THROWS_WITH(parse_yaml("a: [1, 2\nb: c", "bad.yaml"), Catch::Contains("bad.yaml:"));
    CHECK(base64_decode(base64_encode("any\0bytes\xff")) == std::string("any\0bytes\xff"));
}
