// The control API's dispatcher, socket-free: every route, every error it decides,
// the read-only rules, actions that settle later, and streamed responses.
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <memory>
#include <optional>
#include <stdexcept>

#include "api/dispatcher.hpp"
#include "api/status_cache.hpp"
#include "api/target.hpp"
#include "fakes/fake_backend.hpp"
#include "isolated/api_json.hpp"
#include "isolated/redact.hpp"

using namespace isolated;
using namespace isolated::api;
using isolated::test::FakeBackend;

namespace {

struct Call {
    std::string method = "GET";
    std::string target;
    std::string body;
    bool read_only = false;
    bool privileged = true;
};

struct Fixture {
    FakeBackend backend;
    std::vector<std::string> log;
    Dispatcher dispatcher{backend, DispatcherOptions{64 * 1024, 1024, [this](std::string_view l) {
                                                         log.emplace_back(l);
                                                     }}};

    /// Sent as If-None-Match with every request while set.
    std::string if_none_match;

    /// The response if it came before dispatch() returned; a later one lands in `*slot`.
    std::optional<Response> call(const Call& c, std::shared_ptr<std::optional<Response>> slot = nullptr,
                                 int* answers = nullptr) {
        if (!slot) slot = std::make_shared<std::optional<Response>>();
        Request req;
        req.method = c.method;
        req.target = c.target;
        req.body = c.body;
        req.peer = PeerCredentials{4242, c.privileged ? 0u : 1000u, 1000, {}};
        req.read_only = c.read_only;
        req.peer_is_privileged = c.privileged;
        req.if_none_match = if_none_match;
        dispatcher.dispatch(req, [slot, answers](Response r) {
            *slot = std::move(r);
            if (answers) ++*answers;
        });
        return *slot;
    }
    Response get(const std::string& target, bool read_only = false, bool privileged = true) {
        auto r = call({"GET", target, "", read_only, privileged});
        REQUIRE(r);
        return *r;
    }
    Response post(const std::string& target, const std::string& body = "", bool read_only = false) {
        auto r = call({"POST", target, body, read_only, true});
        REQUIRE(r);
        return *r;
    }
};

json body_of(const Response& r) { return json::parse(r.body); }

std::string error_code_of(const Response& r) { return body_of(r).at("error").at("code").get<std::string>(); }

std::string header(const Response& r, const std::string& name) {
    for (const auto& [n, v] : r.headers)
        if (n == name) return v;
    return "";
}

}  // namespace

TEST_CASE("health and version", "[api]") {
    Fixture f;
    auto health = f.get("/v1/health");
    CHECK(health.status == 200);
    CHECK(health.content_type == "application/json");
    CHECK(body_of(health) == json{{"status", "ok"}});
    CHECK(health.body.back() == '\n');

    auto version = f.get("/v1/version");
    CHECK(version.status == 200);
    auto j = body_of(version);
    CHECK(j["version"] == "0.1.0-test");
    CHECK(j["apiVersion"] == "v1");
    CHECK(j["cgroupDriver"] == "none");
}

TEST_CASE("GET /v1/apps lists every app's status", "[api]") {
    Fixture f;
    auto r = f.get("/v1/apps");
    REQUIRE(r.status == 200);
    auto j = body_of(r);
    REQUIRE(j["apps"].size() == 2);
    CHECK(j["apps"][0]["name"] == "web");
    CHECK(j["apps"][0]["state"] == "ready");
    CHECK(j["apps"][0]["ready"] == true);
    CHECK(j["apps"][0]["pid"] == 100);
    CHECK(j["apps"][0]["initPid"] == 99);
    CHECK(j["apps"][1]["name"] == "db");
    CHECK(j["apps"][1]["pid"].is_null());

    f.backend.apps.clear();
    CHECK(body_of(f.get("/v1/apps")) == json{{"apps", json::array()}});
}

TEST_CASE("GET /v1/apps/{name} answers the detail or 404", "[api]") {
    Fixture f;
    AppEvent e;
    e.app = "web";
    e.type = "state";
    e.state = "ready";
    f.backend.publish(e);

    auto r = f.get("/v1/apps/web");
    REQUIRE(r.status == 200);
    auto j = body_of(r);
    CHECK(j["name"] == "web");
    CHECK(j["state"] == "ready");
    CHECK(j.contains("spec"));
    REQUIRE(j["events"].size() == 1);
    CHECK(j["events"][0]["state"] == "ready");

    auto missing = f.get("/v1/apps/nope");
    CHECK(missing.status == 404);
    CHECK(error_code_of(missing) == "not_found");
    CHECK(body_of(missing)["error"]["message"].get<std::string>().find("nope") != std::string::npos);
}

TEST_CASE("start, stop and restart answer the status after the action", "[api]") {
    Fixture f;
    auto r = f.post("/v1/apps/db/start");
    CHECK(r.status == 200);
    CHECK(body_of(r)["state"] == "ready");
    REQUIRE(f.backend.action_calls.size() == 1);
    CHECK(f.backend.action_calls[0].app == "db");
    CHECK(f.backend.action_calls[0].action == AppAction::start);
    CHECK_FALSE(f.backend.action_calls[0].timeout);

    r = f.post("/v1/apps/db/stop", R"({"timeout": "10s"})");
    CHECK(r.status == 200);
    CHECK(body_of(r)["state"] == "stopped");
    CHECK(f.backend.action_calls[1].action == AppAction::stop);
    CHECK(f.backend.action_calls[1].timeout == Duration(10'000));

    r = f.post("/v1/apps/web/restart", R"({"timeout":"500ms"})");
    CHECK(r.status == 200);
    CHECK(f.backend.action_calls[2].action == AppAction::restart);
    CHECK(f.backend.action_calls[2].timeout == Duration(500));

    SECTION("an empty body, whitespace or {} mean no timeout") {
        for (const char* body : {"", "  \r\n", "{}"}) {
            auto before = f.backend.action_calls.size();
            CHECK(f.post("/v1/apps/web/stop", body).status == 200);
            REQUIRE(f.backend.action_calls.size() == before + 1);
            CHECK_FALSE(f.backend.action_calls.back().timeout);
        }
    }
    SECTION("mutating calls are logged with the peer") {
        REQUIRE(f.log.size() == 3);
        CHECK(f.log[0].find("start db") != std::string::npos);
        CHECK(f.log[0].find("pid 4242") != std::string::npos);
    }
}

TEST_CASE("bad action bodies are 400 and reach no app", "[api]") {
    Fixture f;
    for (const char* body : {"not json", "[1, 2]", "\"10s\"", R"({"timeout": 5})", R"({"timeout": "5x"})",
                             R"({"timeout": "-1s"})", R"({"force": true})", R"({"timeout": "1s", "signal": "KILL"})",
                             "{\"timeout\": \"1s\""}) {
        CAPTURE(body);
        auto r = f.post("/v1/apps/web/stop", body);
        CHECK(r.status == 400);
        CHECK(error_code_of(r) == "bad_request");
    }
    CHECK(f.backend.action_calls.empty());
    CHECK(body_of(f.post("/v1/apps/web/stop", R"({"force": true})"))["error"]["message"]
              .get<std::string>()
              .find("force") != std::string::npos);
}

TEST_CASE("actions on an unknown app are 404", "[api]") {
    Fixture f;
    for (const char* action : {"start", "stop", "restart"}) {
        auto r = f.post(std::string("/v1/apps/nope/") + action);
        CHECK(r.status == 404);
        CHECK(error_code_of(r) == "not_found");
    }
    CHECK(f.backend.action_calls.empty());
}

TEST_CASE("an action answers when it settles, or at once with wait=0", "[api]") {
    Fixture f;
    f.backend.settle_at_once = false;

    SECTION("wait (default): no answer until Done") {
        auto slot = std::make_shared<std::optional<Response>>();
        int answers = 0;
        CHECK_FALSE(f.call({"POST", "/v1/apps/db/start", ""}, slot, &answers));
        REQUIRE(f.backend.action_calls.size() == 1);
        f.backend.settle(0);
        REQUIRE(*slot);
        CHECK((*slot)->status == 200);
        CHECK(body_of(**slot)["state"] == "ready");
        CHECK(answers == 1);
    }
    SECTION("an action that fails answers the backend's error") {
        auto slot = std::make_shared<std::optional<Response>>();
        CHECK_FALSE(f.call({"POST", "/v1/apps/db/start", ""}, slot));
        f.backend.settle(0, ApiError{409, api_error::conflict, "db went to backoff"});
        REQUIRE(*slot);
        CHECK((*slot)->status == 409);
        CHECK(error_code_of(**slot) == "conflict");
        CHECK(body_of(**slot)["error"]["message"] == "db went to backoff");
    }
    SECTION("wait=0: 202 with the status right away; the later Done is harmless") {
        auto r = f.post("/v1/apps/db/start?wait=0");
        CHECK(r.status == 202);
        CHECK(body_of(r)["state"] == "stopped");
        REQUIRE(f.backend.action_calls.size() == 1);
        f.backend.settle(0);
        CHECK(f.backend.find("db")->state == AppState::ready);
        CHECK(f.post("/v1/apps/db/stop?wait=false").status == 202);
    }
    SECTION("wait=0: a refusal that comes before app_action returns is the answer") {
        f.backend.settle_at_once = true;
        f.backend.action_error = ApiError{409, api_error::conflict, "dependsOn not ready"};
        auto r = f.post("/v1/apps/db/start?wait=0");
        CHECK(r.status == 409);
    }
    SECTION("an app removed while the action ran") {
        auto slot = std::make_shared<std::optional<Response>>();
        CHECK_FALSE(f.call({"POST", "/v1/apps/db/stop", ""}, slot));
        f.backend.apps.pop_back();
        f.backend.settle(0);
        REQUIRE(*slot);
        CHECK((*slot)->status == 404);
    }
    SECTION("wait takes booleans only") {
        CHECK(f.post("/v1/apps/db/start?wait=maybe").status == 400);
        CHECK(f.backend.action_calls.empty());
    }
}

TEST_CASE("a wrong method on a known route is 405 with Allow", "[api]") {
    Fixture f;
    struct Case {
        const char* method;
        const char* target;
        const char* allow;
    };
    for (auto c : {Case{"GET", "/v1/apps/web/start", "POST"}, Case{"PUT", "/v1/apps/web/stop", "POST"},
                   Case{"POST", "/v1/apps", "GET"}, Case{"DELETE", "/v1/apps/web", "GET"},
                   Case{"GET", "/v1/reload", "POST"}, Case{"POST", "/v1/events", "GET"},
                   Case{"HEAD", "/v1/health", "GET"}, Case{"POST", "/v1/apps/web/logs", "GET"}}) {
        CAPTURE(c.method, c.target);
        auto r = f.call({c.method, c.target, ""});
        REQUIRE(r);
        CHECK(r->status == 405);
        CHECK(error_code_of(*r) == "method_not_allowed");
        CHECK(header(*r, "Allow") == c.allow);
    }
    CHECK(f.backend.action_calls.empty());
    CHECK(f.backend.reload_calls == 0);
}

TEST_CASE("unknown routes are 404", "[api]") {
    Fixture f;
    for (const char* target : {"/", "/v1", "/v2/apps", "/v1/nope", "/v1/apps/", "/v1/apps/web/bogus",
                               "/v1/apps/web/logs/x", "/v1/apps//start", "/v1//apps", "/V1/apps"}) {
        CAPTURE(target);
        auto r = f.get(target);
        CHECK(r.status == 404);
        CHECK(error_code_of(r) == "not_found");
    }
    CHECK(f.post("/v1/apps/web/kill").status == 404);
}

TEST_CASE("the read-only socket answers GET and refuses mutations", "[api]") {
    Fixture f;
    CHECK(f.get("/v1/apps", /* read_only= */ true, /* privileged= */ false).status == 200);
    CHECK(f.get("/v1/apps/web", true, false).status == 200);
    CHECK(f.get("/v1/events", true, false).status == 200);
    CHECK(f.get("/v1/metrics", true, false).status == 200);

    for (const char* target : {"/v1/apps/web/start", "/v1/apps/web/stop", "/v1/apps/web/restart", "/v1/reload",
                               "/v1/apps/nope/stop"}) {
        CAPTURE(target);
        for (bool privileged : {false, true}) {
            auto r = f.call({"POST", target, "not even json", /* read_only= */ true, privileged});
            REQUIRE(r);
            CHECK(r->status == 403);
            CHECK(error_code_of(*r) == "forbidden");
        }
    }
    CHECK(f.backend.action_calls.empty());
    CHECK(f.backend.reload_calls == 0);
}

TEST_CASE("logs on the read-only socket need a privileged peer", "[api]") {
    Fixture f;
    f.backend.write_log("web", "password=hunter2");
    auto refused = f.get("/v1/apps/web/logs", /* read_only= */ true, /* privileged= */ false);
    CHECK(refused.status == 403);
    CHECK(error_code_of(refused) == "forbidden");
    CHECK(refused.body.find("hunter2") == std::string::npos);
    CHECK(f.get("/v1/apps/web/logs?follow=1", true, false).status == 403);
    CHECK(f.backend.log_followers() == 0);

    auto allowed = f.get("/v1/apps/web/logs", /* read_only= */ true, /* privileged= */ true);
    CHECK(allowed.status == 200);
    CHECK(allowed.body == "password=hunter2\n");
}

// ---- what the read-only socket shows (issue 16, item 1) -----------------------------------

namespace {

/// A definition with a secret in every place one can hide.
AppSpec secret_spec() {
    AppSpec s;
    s.name = "db";
    s.command = {"/usr/bin/postgres", "-c", "password_encryption=argsecret-1"};
    s.env = {{"POSTGRES_PASSWORD", "envsecret-2"}, {"PGPORT", "5432"}, {"SHORT", "ab"}};
    ProbeSpec live;
    live.kind = ProbeKind::exec;
    live.command = {"/usr/bin/pg_isready", "--password=probesecret-3"};
    s.probes.liveness = live;
    ProbeSpec ready;
    ready.kind = ProbeKind::http;
    ready.port = 8080;
    ready.path = "/health?token=querysecret-4";
    ready.headers = {HttpHeader{"Authorization", "Bearer headersecret-5"}};
    s.probes.readiness = ready;
    return s;
}

const std::vector<std::string> secrets = {"argsecret-1", "envsecret-2", "probesecret-3", "querysecret-4",
                                          "headersecret-5", "5432"};

void check_no_secret(const std::string& body) {
    for (const auto& secret : secrets) {
        CAPTURE(secret, body);
        CHECK(body.find(secret) == std::string::npos);
    }
}

/// The fake's "db" with secret_spec() and, in its status and events, texts that
/// quote the secrets.
void leak_everywhere(FakeBackend& b) {
    b.specs["db"] = secret_spec();
    AppStatus& db = b.apps[1];
    db.state = AppState::unhealthy;
    db.message = "started; readiness probe failing: GET http://10.88.0.3:8080/health?token=querysecret-4: timed out";
    ExitInfo exit;
    exit.code = 1;
    exit.message = "exec \"/usr/bin/postgres -c password_encryption=argsecret-1\"";
    db.last_exit = exit;
    db.health.liveness = ProbeStatus{ProbeResult::failure, 0, 3, "command exited with code 2: envsecret-2 is wrong", {}, {}, 0, 0};
    AppEvent e;
    e.app = "db";
    e.type = "probe";
    e.message = "liveness probe failed: command exited with code 2: password probesecret-3; restarting the app";
    b.publish(e);
    e.type = "exit";
    e.message = "exited with code 1 (Bearer headersecret-5)";
    e.exit = exit;
    b.publish(e);
}

}  // namespace

TEST_CASE("read-only socket: an unprivileged peer never gets a secret value", "[api][secrets]") {
    Fixture f;
    leak_everywhere(f.backend);

    SECTION("GET /v1/apps/{name}: names stay, values are null, texts are scrubbed") {
        auto r = f.get("/v1/apps/db", /* read_only= */ true, /* privileged= */ false);
        REQUIRE(r.status == 200);
        check_no_secret(r.body);
        auto j = body_of(r);
        CHECK(j["redacted"] == true);
        const auto& spec = j["spec"];
        CHECK(spec["env"] == json{{"POSTGRES_PASSWORD", nullptr}, {"PGPORT", nullptr}, {"SHORT", nullptr}});
        CHECK(spec["command"] == json{"/usr/bin/postgres", nullptr, nullptr});
        CHECK(spec["probes"]["liveness"]["exec"]["command"] == json{"/usr/bin/pg_isready", nullptr});
        CHECK(spec["probes"]["readiness"]["http"]["headers"] == json{{{"name", "Authorization"}, {"value", nullptr}}});
        CHECK(spec["probes"]["readiness"]["http"]["path"] == "/health?[redacted]");
        CHECK(spec["probes"]["readiness"]["http"]["port"] == 8080);
        // Everything else of the spec as the control socket has it.
        auto full = body_of(f.get("/v1/apps/db"));
        for (const char* key : {"user", "workdir", "mounts", "network", "resources", "restart", "security"})
            CHECK(spec[key] == full["spec"][key]);
        // Free text: the secret gone, the rest of the sentence kept; probe output hidden.
        CHECK(j["message"] ==
              "started; readiness probe failing: GET http://10.88.0.3:8080/health?[redacted]: timed out");
        CHECK(j["lastExit"]["message"] == "exec \"/usr/bin/postgres -c [redacted]\"");
        CHECK(j["health"]["liveness"]["message"] == "command exited with code 2: [output hidden]");
        REQUIRE(j["events"].size() == 2);
        CHECK(j["events"][0]["message"] == "liveness probe failed: command exited with code 2: [output hidden]");
        CHECK(j["events"][1]["message"] == "exited with code 1 ([redacted])");
    }
    SECTION("GET /v1/apps") {
        auto r = f.get("/v1/apps", true, false);
        REQUIRE(r.status == 200);
        check_no_secret(r.body);
        CHECK(body_of(r)["apps"][1]["health"]["liveness"]["consecutiveFailures"] == 3);
    }
    SECTION("GET /v1/events, stored and followed") {
        auto r = f.get("/v1/events", true, false);
        REQUIRE(r.status == 200);
        CHECK(r.body.find("[output hidden]") != std::string::npos);
        check_no_secret(r.body);

        auto follow = f.get("/v1/events?follow=1&app=db", true, false);
        REQUIRE(follow.stream);
        check_no_secret(follow.stream->take());
        AppEvent e;
        e.app = "db";
        e.type = "state";
        e.message = "waiting: envsecret-2";
        f.backend.publish(e);
        auto more = follow.stream->take();
        CHECK(more.find("waiting: [redacted]") != std::string::npos);
        check_no_secret(more);

        // A reload brings a new secret: the follower learns it.
        auto changed = secret_spec();
        changed.env["POSTGRES_PASSWORD"] = "newsecret-6";
        f.backend.specs["db"] = changed;
        AppEvent reload;
        reload.type = "reload";
        reload.message = "0 added, 1 changed";
        f.backend.publish(reload);
        e.message = "now newsecret-6, was envsecret-2";
        f.backend.publish(e);
        more = follow.stream->take();
        CHECK(more.find("now [redacted], was [redacted]") != std::string::npos);
    }
    SECTION("error messages are scrubbed too") {
        auto r = f.get("/v1/apps/envsecret-2", true, false);
        CHECK(r.status == 404);
        check_no_secret(r.body);
        r = f.get("/v1/events?app=envsecret-2", true, false);
        CHECK(r.status == 404);
        check_no_secret(r.body);
    }
    SECTION("values read at a start (envFile, secrets) are scrubbed too, also for a follower") {
        f.backend.learned.learn("db", {"filesecret-7", "secretcontent-8"});
        AppEvent e;
        e.app = "db";
        e.type = "probe";
        e.message = "readiness probe failed: banner \"filesecret-7 secretcontent-8\" does not start with \"OK\"";
        f.backend.publish(e);
        auto r = f.get("/v1/events", true, false);
        CHECK(r.body.find("banner \\\"[redacted] [redacted]\\\"") != std::string::npos);
        CHECK(r.body.find("filesecret-7") == std::string::npos);
        CHECK(f.get("/v1/events", true, true).body.find("filesecret-7") != std::string::npos);

        auto follow = f.get("/v1/events?follow=1", true, false);
        REQUIRE(follow.stream);
        follow.stream->take();
        // A restart read a changed file: no reload, yet the follower learns the value.
        f.backend.learned.learn("db", {"filesecret-9"});
        e.message = "banner \"filesecret-9\"";
        f.backend.publish(e);
        auto more = follow.stream->take();
        CHECK(more.find("[redacted]") != std::string::npos);
        CHECK(more.find("filesecret-9") == std::string::npos);
    }
    SECTION("metrics have no spec values in their labels") {
        auto r = f.get("/v1/metrics", true, false);
        CHECK(r.status == 200);
        check_no_secret(r.body);
    }
}

TEST_CASE("read-only socket: privileged peers and the control socket get the full spec", "[api][secrets]") {
    Fixture f;
    leak_everywhere(f.backend);
    for (bool read_only : {false, true}) {
        CAPTURE(read_only);
        auto r = f.get("/v1/apps/db", read_only, /* privileged= */ true);
        REQUIRE(r.status == 200);
        auto j = body_of(r);
        CHECK_FALSE(j.contains("redacted"));
        CHECK(j["spec"] == app_spec_to_json(secret_spec()));
        CHECK(j["events"][0]["message"].get<std::string>().find("probesecret-3") != std::string::npos);
        CHECK(f.get("/v1/events", read_only, true).body.find("headersecret-5") != std::string::npos);
        CHECK(f.get("/v1/apps", read_only, true).body.find("envsecret-2") != std::string::npos);
    }
}

TEST_CASE("read-only socket: file errors are counted, not quoted", "[api][secrets]") {
    Fixture f;
    AppStatus& db = f.backend.apps[1];
    db.state = AppState::failed;
    db.file_errors = {"/etc/isolated/apps/db.json:3: env.PASSWORD: expected a string, got 123456 (quote it: \"123456\")",
                      "/etc/isolated/apps/db.json:4: user: \"x\" is not a user"};
    db.message = "app file rejected: " + db.file_errors[0];
    auto j = body_of(f.get("/v1/apps/db", true, false));
    CHECK(j["fileErrors"] ==
          json{"the app file was rejected (2 errors); the details need root or group isolated"});
    CHECK(j["message"] == "app file rejected");
    CHECK(body_of(f.get("/v1/apps/db", true, true))["fileErrors"].size() == 2);
}

TEST_CASE("redaction: the secret values of a spec, and scrubbing", "[api][secrets]") {
    auto values = secret_values(secret_spec());
    std::sort(values.begin(), values.end());
    CHECK(values == std::vector<std::string>{"--password=probesecret-3", "-c", "5432", "Bearer headersecret-5", "ab",
                                             "envsecret-2", "password_encryption=argsecret-1", "token=querysecret-4"});
    Redactor r;
    r.add(secret_spec());
    // "ab" and "-c" are too short to look for in a text.
    CHECK(r.scrub("ab -c 5432 envsecret-2") == "ab -c [redacted] [redacted]");
    // A secret that contains another is replaced whole.
    r.add_value("envsecret-2-long");
    CHECK(r.scrub("x envsecret-2-long y") == "x [redacted] y");
    CHECK(r.scrub("command timed out after 1s: out") == "command timed out after 1s: [output hidden]");
    CHECK(r.scrub("command killed by signal 9") == "command killed by signal 9");
    // A spec without secrets changes nothing but the marker.
    AppSpec plain;
    plain.command = {"/bin/true"};
    CHECK(redacted_spec_json(plain) == app_spec_to_json(plain));
}

TEST_CASE("an unprivileged peer on the control socket gets 403 for everything", "[api]") {
    Fixture f;
    for (const char* target : {"/v1/apps", "/v1/health", "/v1/apps/web/logs"}) {
        auto r = f.get(target, /* read_only= */ false, /* privileged= */ false);
        CHECK(r.status == 403);
    }
    auto r = f.call({"POST", "/v1/apps/web/stop", "", false, false});
    REQUIRE(r);
    CHECK(r->status == 403);
    CHECK(f.backend.action_calls.empty());
}

TEST_CASE("a body over the limit is 413", "[api]") {
    Fixture f;
    std::string big = R"({"timeout": "1s", "pad": ")" + std::string(64 * 1024, 'x') + "\"}";
    auto r = f.post("/v1/apps/web/stop", big);
    CHECK(r.status == 413);
    CHECK(error_code_of(r) == "payload_too_large");
    CHECK(f.post("/v1/reload", std::string(64 * 1024 + 1, ' ')).status == 413);
    CHECK(f.post("/v1/reload", std::string(64 * 1024, ' ')).status == 200);
    CHECK(f.backend.action_calls.empty());
}

TEST_CASE("query strings: decoding, duplicates, unknown keys, bad numbers", "[api]") {
    Fixture f;
    for (int i = 0; i < 5; ++i) f.backend.write_log("web", "line " + std::to_string(i));

    CHECK(f.get("/v1/apps/w%65b").status == 200);
    CHECK(f.get("/v1/apps/web/logs?tail=%32").body == "line 3\nline 4\n");
    CHECK(f.get("/v1/apps/web/logs?tail=2&&").body == "line 3\nline 4\n");
    CHECK(f.get("/v1/apps/web%2Flogs").status == 404);  // %2F stays inside the name

    struct Bad {
        const char* target;
        const char* says;
    };
    for (auto c : {Bad{"/v1/apps/web/logs?tail=abc", "tail"}, Bad{"/v1/apps/web/logs?tail=-1", "tail"},
                   Bad{"/v1/apps/web/logs?tail=", "tail"}, Bad{"/v1/apps/web/logs?tail=1.5", "tail"},
                   Bad{"/v1/apps/web/logs?tail=99999999999999999999999", "tail"},
                   Bad{"/v1/apps/web/logs?tail=1&tail=2", "twice"}, Bad{"/v1/apps/web/logs?tial=5", "tial"},
                   Bad{"/v1/apps/web/logs?follow=yes", "follow"}, Bad{"/v1/apps/web/logs?timestamps=2", "timestamps"},
                   Bad{"/v1/apps?x=1", "x"}, Bad{"/v1/events?follow=1&follow=1", "twice"},
                   Bad{"/v1/apps/web%zz", "percent"}, Bad{"/v1/apps/web%4", "percent"},
                   Bad{"/v1/apps/web%00", "percent"}, Bad{"/v1/apps?%zz=1", "percent"}}) {
        CAPTURE(c.target);
        auto r = f.get(c.target);
        CHECK(r.status == 400);
        CHECK(error_code_of(r) == "bad_request");
        CHECK(body_of(r)["error"]["message"].get<std::string>().find(c.says) != std::string::npos);
    }
    auto absolute = f.get("http://x/v1/apps");
    CHECK(absolute.status == 400);
}

TEST_CASE("GET logs: tail, timestamps, text/plain", "[api]") {
    Fixture f;
    for (int i = 0; i < 3; ++i) f.backend.write_log("web", "line " + std::to_string(i));

    auto all = f.get("/v1/apps/web/logs");
    CHECK(all.status == 200);
    CHECK(all.content_type == "text/plain; charset=utf-8");
    CHECK(all.body == "line 0\nline 1\nline 2\n");
    CHECK_FALSE(all.stream);
    CHECK(f.get("/v1/apps/web/logs?tail=all").body == all.body);
    CHECK(f.get("/v1/apps/web/logs?tail=1").body == "line 2\n");
    CHECK(f.get("/v1/apps/web/logs?tail=0").body.empty());
    CHECK(f.get("/v1/apps/db/logs").body.empty());
    CHECK(f.get("/v1/apps/web/logs?tail=1&timestamps=1").body == "2023-11-14T22:13:20.002Z line 2\n");
    CHECK(f.get("/v1/apps/web/logs?tail=1&timestamps").body == "2023-11-14T22:13:20.002Z line 2\n");
    CHECK(f.get("/v1/apps/web/logs?tail=1&timestamps=0&follow=false").body == "line 2\n");

    auto missing = f.get("/v1/apps/nope/logs");
    CHECK(missing.status == 404);
    CHECK(error_code_of(missing) == "not_found");
}

TEST_CASE("GET logs?since= keeps the lines written since then, tail cuts those, follow goes on", "[api]") {
    Fixture f;
    // write_log stamps line i at 2023-11-14T22:13:20Z + i ms.
    for (int i = 0; i < 5; ++i) f.backend.write_log("web", "line " + std::to_string(i));
    CHECK(f.get("/v1/apps/web/logs?since=2023-11-14T22:13:20.002Z").body == "line 2\nline 3\nline 4\n");
    CHECK(f.get("/v1/apps/web/logs?since=2023-11-14T23:13:20.002%2B01:00").body == "line 2\nline 3\nline 4\n");
    CHECK(f.get("/v1/apps/web/logs?since=1700000000.003").body == "line 3\nline 4\n");
    CHECK(f.get("/v1/apps/web/logs?since=2023-11-14T22:13:20.001Z&tail=2").body == "line 3\nline 4\n");
    CHECK(f.get("/v1/apps/web/logs?since=2023-11-14T22:13:20.004Z&tail=3").body == "line 4\n");
    CHECK(f.get("/v1/apps/web/logs?since=2030-01-01T00:00:00Z").body.empty());
    CHECK(f.get("/v1/apps/web/logs?since=1h").body.empty());  // an hour ago: 2023 is older

    auto r = f.get("/v1/apps/web/logs?since=2023-11-14T22:13:20.003Z&follow=1");
    REQUIRE(r.stream);
    f.backend.run_deferred();
    CHECK(r.stream->take() == "line 3\nline 4\n");
    f.backend.write_log("web", "new");
    CHECK(r.stream->take() == "new\n");

    auto bad = f.get("/v1/apps/web/logs?since=yesterday");
    CHECK(bad.status == 400);
    CHECK(body_of(bad)["error"]["message"].get<std::string>().find("since: \"yesterday\" is not a time") == 0);
    CHECK(f.get("/v1/apps/nope/logs?since=10m").status == 404);
}

TEST_CASE("GET logs?follow=1 streams the tail, then new lines, until dropped", "[api]") {
    Fixture f;
    for (int i = 0; i < 3; ++i) f.backend.write_log("web", "old " + std::to_string(i));
    auto r = f.get("/v1/apps/web/logs?follow=1&tail=2&timestamps=0");
    REQUIRE(r.status == 200);
    REQUIRE(r.stream);
    CHECK(r.content_type == "text/plain; charset=utf-8");
    CHECK(r.body.empty());
    CHECK(f.backend.log_followers() == 1);

    int wakes = 0;
    r.stream->on_data([&] { ++wakes; });
    f.backend.write_log("web", "during");  // before the tail went out: comes after it
    f.backend.run_deferred();
    CHECK(r.stream->take() == "old 1\nold 2\nduring\n");
    CHECK(wakes == 3);
    f.backend.write_log("web", "new");
    f.backend.write_log("db", "other app");
    CHECK(r.stream->take() == "new\n");
    CHECK(r.stream->take().empty());

    r.stream.reset();
    CHECK(f.backend.log_followers() == 0);
    f.backend.write_log("web", "nobody listens");
}

TEST_CASE("GET events: NDJSON of stored events, filtered by app", "[api]") {
    Fixture f;
    for (const char* app : {"web", "db", "web"}) {
        AppEvent e;
        e.app = app;
        e.type = "state";
        e.message = std::string(app) + " changed";
        f.backend.publish(e);
    }
    auto r = f.get("/v1/events");
    REQUIRE(r.status == 200);
    CHECK(r.content_type == "application/x-ndjson");
    CHECK_FALSE(r.stream);
    std::vector<json> lines;
    std::size_t pos = 0;
    for (auto nl = r.body.find('\n'); nl != std::string::npos; pos = nl + 1, nl = r.body.find('\n', pos))
        lines.push_back(json::parse(r.body.substr(pos, nl - pos)));
    REQUIRE(lines.size() == 3);
    CHECK(lines[0]["seq"] == 1);
    CHECK(lines[1]["app"] == "db");
    CHECK(lines[2]["seq"] == 3);

    auto web = f.get("/v1/events?app=web");
    CHECK(std::count(web.body.begin(), web.body.end(), '\n') == 2);
    CHECK(web.body.find("\"db\"") == std::string::npos);
}

TEST_CASE("GET events?app= of an app that is not defined is 404, as for logs", "[api]") {
    Fixture f;
    for (const char* target : {"/v1/events?app=nope", "/v1/events?app=nope&follow=1"}) {
        auto r = f.get(target);
        CHECK(r.status == 404);
        CHECK(error_code_of(r) == "not_found");
        CHECK(body_of(r)["error"]["message"] == "no app named \"nope\"");
        CHECK_FALSE(r.stream);
    }
    CHECK(f.backend.event_subscribers() == 0);
    CHECK(f.get("/v1/apps/nope/logs").status == 404);
    // A defined app without events is an empty history.
    auto db = f.get("/v1/events?app=db");
    CHECK(db.status == 200);
    CHECK(db.body.empty());
}

TEST_CASE("GET events?follow=1 streams stored events then new ones", "[api]") {
    Fixture f;
    AppEvent old;
    old.app = "web";
    old.type = "state";
    f.backend.publish(old);

    auto r = f.get("/v1/events?follow=1&app=web");
    REQUIRE(r.stream);
    CHECK(r.content_type == "application/x-ndjson");
    CHECK(f.backend.event_subscribers() == 1);
    auto first = r.stream->take();
    CHECK(json::parse(first)["seq"] == 1);

    AppEvent e;
    e.app = "web";
    e.type = "restart";
    e.message = "liveness failed";
    f.backend.publish(e);
    e.app = "db";
    f.backend.publish(e);
    auto next = r.stream->take();
    REQUIRE(std::count(next.begin(), next.end(), '\n') == 1);
    CHECK(json::parse(next)["type"] == "restart");
    CHECK(json::parse(next)["seq"] == 2);

    r.stream.reset();
    CHECK(f.backend.event_subscribers() == 0);
}

TEST_CASE("a stream that the client does not drain overflows", "[api]") {
    Stream stream(/* max_buffered= */ 100);
    int wakes = 0;
    stream.on_data([&] { ++wakes; });
    stream.push(std::string(500, 'a'));  // the first batch (stored events, log tail) may exceed it
    CHECK_FALSE(stream.overflowed());
    CHECK(stream.take().size() == 500);
    stream.push(std::string(60, 'b'));
    CHECK_FALSE(stream.overflowed());
    stream.push(std::string(60, 'c'));
    CHECK(stream.overflowed());
    CHECK(stream.buffered() == 0);
    stream.push("ignored");
    CHECK(stream.take().empty());
    CHECK(wakes == 3);
}

TEST_CASE("metrics are Prometheus text", "[api]") {
    Fixture f;
    auto r = f.get("/v1/metrics");
    CHECK(r.status == 200);
    CHECK(r.content_type.rfind("text/plain; version=0.0.4", 0) == 0);
    CHECK(r.body == f.backend.metrics_text);
}

TEST_CASE("GET /metrics is /v1/metrics, on both sockets, and nothing else moves out of /v1", "[api][metrics]") {
    Fixture f;
    for (bool read_only : {false, true}) {
        CAPTURE(read_only);
        // The read-only socket's everyday peer is an unprivileged one (a scraper's proxy).
        auto r = f.get("/metrics", read_only, /* privileged= */ !read_only);
        CHECK(r.status == 200);
        CHECK(r.content_type == "text/plain; version=0.0.4; charset=utf-8");
        CHECK(r.body == f.backend.metrics_text);
    }
    // The same rules as /v1/metrics: GET only, no query parameters.
    auto post = f.call({"POST", "/metrics", "", /* read_only= */ false, /* privileged= */ true});
    REQUIRE(post);
    CHECK(post->status == 405);
    CHECK(f.get("/metrics?x=1").status == 400);
    for (const char* target : {"/apps", "/health", "/version", "/metrics/x", "/v1/metrics/x", "/Metrics"}) {
        CAPTURE(target);
        CHECK(f.get(target).status == 404);
    }
}

TEST_CASE("POST /v1/reload answers the report", "[api]") {
    Fixture f;
    f.backend.reload_report.added = {"cache"};
    f.backend.reload_report.rejected = {RejectedApp{"bad", {"apps/bad.json:3: command: missing"}}};
    auto r = f.post("/v1/reload");
    REQUIRE(r.status == 200);
    auto j = body_of(r);
    CHECK(j["added"] == json{"cache"});
    CHECK(j["rejected"][0]["name"] == "bad");
    CHECK(j["changed"] == json::array());
    CHECK(f.backend.reload_calls == 1);

    CHECK(f.post("/v1/reload", "{}").status == 200);
    CHECK(f.post("/v1/reload", R"({"dryRun": true})").status == 400);
    CHECK(f.post("/v1/reload", "nope").status == 400);
    CHECK(f.backend.reload_calls == 2);
}

TEST_CASE("a backend exception is a 500, not a crash", "[api]") {
    struct Throwing : FakeBackend {
        std::string metrics() override { throw std::runtime_error("cgroup read failed"); }
    } backend;
    Dispatcher dispatcher(backend);
    std::optional<Response> out;
    dispatcher.dispatch(Request{"GET", "/v1/metrics", "", {}, false, true}, [&](Response r) { out = r; });
    REQUIRE(out);
    CHECK(out->status == 500);
    CHECK(error_code_of(*out) == "internal");
    CHECK(out->body.find("cgroup read failed") != std::string::npos);
}

TEST_CASE("invalid UTF-8 in event text does not break the JSON", "[api]") {
    Fixture f;
    AppEvent e;
    e.app = "web";
    e.message = "bad \xff\xfe bytes";
    f.backend.publish(e);
    auto r = f.get("/v1/events");
    CHECK(r.status == 200);
    CHECK(json::parse(r.body)["message"].get<std::string>().find("bad") == 0);
}

TEST_CASE("request targets split and decode", "[api]") {
    auto t = parse_target("/v1/apps/my%20app/logs?tail=5&follow&q=a+b%2Bc");
    REQUIRE(t);
    CHECK(t->segments == std::vector<std::string>{"v1", "apps", "my app", "logs"});
    REQUIRE(t->query.size() == 3);
    CHECK(t->query[0].key == "tail");
    CHECK(t->query[0].value == "5");
    CHECK(t->query[1].key == "follow");
    CHECK(t->query[1].value.empty());
    CHECK(t->query[2].value == "a b+c");
    CHECK(parse_target("/a+b")->segments == std::vector<std::string>{"a+b"});
    CHECK_FALSE(parse_target(""));
    CHECK_FALSE(parse_target("v1/apps"));
    CHECK_FALSE(parse_target("/%"));
    CHECK_FALSE(parse_target("/%g0"));
    CHECK(percent_decode("%41%62", false) == "Ab");
}

TEST_CASE("privileged peers: root or the isolated group", "[api]") {
    const gid_t isolated_gid = 990;
    CHECK(is_privileged(PeerCredentials{1, 0, 0, {}}, isolated_gid));
    CHECK(is_privileged(PeerCredentials{1, 0, 0, {}}, static_cast<gid_t>(-1)));
    CHECK(is_privileged(PeerCredentials{1, 1000, 990, {}}, isolated_gid));
    CHECK(is_privileged(PeerCredentials{1, 1000, 1000, {27, 990}}, isolated_gid));
    CHECK_FALSE(is_privileged(PeerCredentials{1, 1000, 1000, {27}}, isolated_gid));
    CHECK_FALSE(is_privileged(PeerCredentials{1, 1000, 1000, {}}, static_cast<gid_t>(-1)));
    // (gid_t)-1 in a peer's groups must not match "no group".
    CHECK_FALSE(is_privileged(PeerCredentials{1, 1000, static_cast<gid_t>(-1), {}}, static_cast<gid_t>(-1)));
}

TEST_CASE("app actions have names", "[api]") {
    for (auto a : {AppAction::start, AppAction::stop, AppAction::restart})
        CHECK(app_action_from_string(to_string(a)) == a);
    CHECK(to_string(AppAction::restart) == "restart");
    CHECK_FALSE(app_action_from_string("kill"));
}

// ---- POST /v1/apps/{name}/signal (issue 16, item 4) ------------------------------------

TEST_CASE("POST signal delivers to the main process, or with all to every process", "[api][signal]") {
    Fixture f;
    auto r = f.post("/v1/apps/web/signal", R"({"signal": "SIGHUP"})");
    REQUIRE(r.status == 200);
    CHECK(body_of(r) == json{{"app", "web"},
                             {"signal", "SIGHUP"},
                             {"all", false},
                             {"mainPid", 100},
                             {"pids", {100}},
                             {"processes", 1}});
    REQUIRE(f.backend.signal_calls.size() == 1);
    CHECK(f.backend.signal_calls[0].app == "web");
    CHECK(f.backend.signal_calls[0].signal == SIGHUP);
    CHECK_FALSE(f.backend.signal_calls[0].all);
    // Who asked goes to the daemon's log, as for the other mutating calls.
    REQUIRE_FALSE(f.log.empty());
    CHECK(f.log.back().find("signal SIGHUP web") != std::string::npos);

    auto all = body_of(f.post("/v1/apps/web/signal", R"({"signal": "USR1", "all": true})"));
    CHECK(all["signal"] == "SIGUSR1");
    CHECK(all["all"] == true);
    CHECK(all["processes"] == 2);
    CHECK(all["pids"] == json{100, 101});
    CHECK(f.backend.signal_calls.back().all);
}

TEST_CASE("POST signal takes a name with or without SIG, or a number", "[api][signal]") {
    Fixture f;
    for (auto [body, sig] : std::vector<std::pair<std::string, int>>{{R"({"signal": "SIGHUP"})", SIGHUP},
                                                                      {R"({"signal": "HUP"})", SIGHUP},
                                                                      {R"({"signal": "1"})", SIGHUP},
                                                                      {R"({"signal": 1})", SIGHUP},
                                                                      {R"({"signal": "SIGKILL", "all": false})", SIGKILL},
                                                                      {R"({"signal": 10, "all": true})", SIGUSR1}}) {
        CAPTURE(body);
        auto r = f.post("/v1/apps/web/signal", body);
        CHECK(r.status == 200);
        CHECK(f.backend.signal_calls.back().signal == sig);
    }
}

TEST_CASE("POST signal with a wrong signal or body is 400 with a hint, and reaches no app", "[api][signal]") {
    Fixture f;
    auto message = [&](const std::string& body) {
        auto r = f.post("/v1/apps/web/signal", body);
        CHECK(r.status == 400);
        CHECK(error_code_of(r) == "bad_request");
        return body_of(r)["error"]["message"].get<std::string>();
    };
    CHECK(message(R"({"signal": "hup"})") == R"(signal: "hup" is not a signal (did you mean "HUP"?))");
    CHECK(message(R"({"signal": "SIGFOO"})") ==
          R"(signal: "SIGFOO" is not a signal (use a name such as "SIGTERM" or "TERM", or a number))");
    CHECK(message(R"({"signal": "65"})").find("is not a signal") != std::string::npos);
    CHECK(message(R"({"signal": 0})") == "signal: 0 is not a signal number (1 to 64)");
    CHECK(message(R"({"signal": 65})") == "signal: 65 is not a signal number (1 to 64)");
    CHECK(message(R"({"signal": 1.5})").find("must be a name such as") != std::string::npos);
    CHECK(message(R"({"signal": null})").find("must be a name such as") != std::string::npos);
    CHECK(message(R"({"signal": "HUP", "all": "yes"})") == "all: must be true or false");
    CHECK(message(R"({"signal": "HUP", "whom": "all"})") ==
          R"(unknown field "whom" in request body (allowed: signal, all))");
    CHECK(message(R"({"all": true})").find("the body must name the signal") != std::string::npos);
    CHECK(message("").find("the body must name the signal") != std::string::npos);
    CHECK(message("HUP") == "request body is not valid JSON");
    CHECK(message(R"(["HUP"])").find("must be a JSON object") != std::string::npos);
    CHECK(f.backend.signal_calls.empty());
    // A bad body is 400 even for an app that does not exist (as the other actions).
    CHECK(f.post("/v1/apps/nope/signal", R"({"signal": "hup"})").status == 400);
}

TEST_CASE("POST signal: 404 unknown app, 409 not running, 403 read-only, 405 GET", "[api][signal]") {
    Fixture f;
    auto unknown = f.post("/v1/apps/nope/signal", R"({"signal": "HUP"})");
    CHECK(unknown.status == 404);
    CHECK(error_code_of(unknown) == "not_found");

    auto stopped = f.post("/v1/apps/db/signal", R"({"signal": "HUP"})");
    CHECK(stopped.status == 409);
    CHECK(error_code_of(stopped) == "conflict");
    CHECK(body_of(stopped)["error"]["message"] == "db is stopped, not running");

    const auto calls = f.backend.signal_calls.size();
    for (bool privileged : {false, true}) {
        auto r = f.call({"POST", "/v1/apps/web/signal", R"({"signal": "KILL", "all": true})", true, privileged});
        REQUIRE(r);
        CHECK(r->status == 403);
        CHECK(error_code_of(*r) == "forbidden");
        CHECK(body_of(*r)["error"]["message"] ==
              "the read-only socket answers GET only; use the control socket (isolated.sock)");
    }
    CHECK(f.backend.signal_calls.size() == calls);

    auto get = f.get("/v1/apps/web/signal");
    CHECK(get.status == 405);
    CHECK(header(get, "Allow") == "POST");
    CHECK(f.post("/v1/apps/web/signal?all=1", R"({"signal": "HUP"})").status == 400);
}

// ---- caching and validators (issue 19, item 3) -----------------------------------------

namespace {

/// What GET /v1/apps answered before the cache: the statuses through json, dumped.
std::string uncached_list(const std::vector<AppStatus>& apps, const Redactor* r) {
    json a = json::array();
    for (const auto& s : apps) a.push_back(r ? json(r->redact(s)) : json(s));
    return json{{"apps", std::move(a)}}.dump(-1, ' ', false, json::error_handler_t::replace) + "\n";
}

}  // namespace

TEST_CASE("GET /v1/apps from the cache is byte for byte the uncached JSON, on both views", "[api][etag]") {
    Fixture f;
    leak_everywhere(f.backend);
    f.backend.apps[0].usage.memory_bytes = 12345;
    f.backend.apps[0].message = std::string("bad \xff utf-8");
    auto full = f.get("/v1/apps");
    CHECK(full.body == uncached_list(f.backend.apps, nullptr));
    Redactor r;
    r.add(secret_spec());
    r.add(f.backend.learned);
    auto red = f.get("/v1/apps", /* read_only= */ true, /* privileged= */ false);
    CHECK(red.body == uncached_list(f.backend.apps, &r));
    check_no_secret(red.body);
    // Asked again, from the cache: the same bytes; then after a change, the new ones.
    CHECK(f.get("/v1/apps").body == full.body);
    CHECK(f.get("/v1/apps", true, false).body == red.body);
    f.backend.apps[1].restarts = 7;
    f.backend.apps.push_back(f.backend.apps[0]);
    f.backend.apps.back().name = "third";
    CHECK(f.get("/v1/apps").body == uncached_list(f.backend.apps, nullptr));
    CHECK(f.get("/v1/apps", true, false).body == uncached_list(f.backend.apps, &r));
    std::swap(f.backend.apps[0], f.backend.apps[2]);
    CHECK(f.get("/v1/apps").body == uncached_list(f.backend.apps, nullptr));
    f.backend.apps.clear();
    CHECK(f.get("/v1/apps").body == "{\"apps\":[]}\n");
}

TEST_CASE("GET /v1/apps: ETag, 200 -> 304 -> change -> 200", "[api][etag]") {
    Fixture f;
    auto first = f.get("/v1/apps");
    REQUIRE(first.status == 200);
    const auto etag = header(first, "ETag");
    REQUIRE(etag.size() > 2);
    CHECK(etag.front() == '"');
    CHECK(etag.back() == '"');
    CHECK(header(first, "Cache-Control") == "no-cache");
    CHECK(f.get("/v1/apps").body == first.body);
    CHECK(header(f.get("/v1/apps"), "ETag") == etag);  // unchanged: the same tag

    f.if_none_match = etag;
    auto again = f.get("/v1/apps");
    CHECK(again.status == 304);
    CHECK(again.body.empty());
    CHECK(header(again, "ETag") == etag);
    CHECK(header(again, "Cache-Control") == "no-cache");
    for (const std::string& list : std::vector<std::string>{"*", "\"other\", " + etag, "W/" + etag, "\"x\",\t" + etag + " , \"y\""}) {
        f.if_none_match = list;
        CAPTURE(list);
        CHECK(f.get("/v1/apps").status == 304);
    }
    f.if_none_match = "\"other\"";
    CHECK(f.get("/v1/apps").status == 200);

    f.if_none_match = etag;
    f.backend.apps[0].usage.cpu_seconds = 99.5;
    auto changed = f.get("/v1/apps");
    CHECK(changed.status == 200);
    CHECK(body_of(changed)["apps"][0]["resources"]["usage"]["cpuSeconds"] == 99.5);
    CHECK(header(changed, "ETag") != etag);
    f.if_none_match = header(changed, "ETag");
    CHECK(f.get("/v1/apps").status == 304);
    // An app gone is a change too.
    f.backend.apps.pop_back();
    CHECK(f.get("/v1/apps").status == 200);
}

TEST_CASE("GET /v1/apps with a generation reads the apps only when it moves or usage is due", "[api][etag]") {
    Fixture f;
    f.backend.generation = 7;
    auto first = f.get("/v1/apps");
    REQUIRE(f.backend.list_calls == 1);
    for (int i = 0; i < 5; ++i) CHECK(f.get("/v1/apps").body == first.body);
    CHECK(f.backend.list_calls == 1);  // the same generation within a second: no per-app work
    // A change the backend counts is seen at once, with a new tag.
    f.backend.apps[0].state = AppState::failed;
    f.backend.generation = 8;
    auto changed = f.get("/v1/apps");
    CHECK(f.backend.list_calls == 2);
    CHECK(changed.body != first.body);
    CHECK(body_of(changed)["apps"][0]["state"] == "failed");
    CHECK(header(changed, "ETag") != header(first, "ETag"));
    // Without a generation every request reads the list (and sees every change).
    f.backend.generation.reset();
    f.backend.apps[0].restarts = 41;
    CHECK(body_of(f.get("/v1/apps"))["apps"][0]["restarts"] == 41);
    CHECK(f.backend.list_calls == 3);
}

TEST_CASE("AppListCache: usage is read again after a second even with the same generation", "[api][etag]") {
    api::AppListCache cache;
    std::vector<AppStatus> apps(2);
    apps[0].name = "a";
    apps[1].name = "b";
    int loads = 0;
    auto load = [&] {
        ++loads;
        return apps;
    };
    auto t0 = std::chrono::steady_clock::time_point{} + std::chrono::hours(1);
    std::string body = cache.list(1, t0, load, nullptr).body;
    std::string etag = cache.list(1, t0, load, nullptr).etag;
    CHECK(loads == 1);
    apps[1].usage.cpu_seconds = 3.25;  // what the runtime's once-a-second read brings
    CHECK(cache.list(1, t0 + std::chrono::milliseconds(999), load, nullptr).body == body);
    CHECK(loads == 1);
    auto later = cache.list(1, t0 + api::AppListCache::usage_period, load, nullptr);
    CHECK(loads == 2);
    CHECK(later.body != body);
    CHECK(later.body.find("3.25") != std::string::npos);
    CHECK(later.etag != etag);
    // The same list again: read (a second on), but the same body and tag.
    std::string later_etag = later.etag;
    auto same = cache.list(1, t0 + std::chrono::seconds(5), load, nullptr);
    CHECK(loads == 3);
    CHECK(same.etag == later_etag);
    // A clock that went back (it is steady, but a stored time may be from a test) reads.
    cache.list(1, t0, load, nullptr);
    CHECK(loads == 4);
}

TEST_CASE("ETags differ per socket view, and the redacted view never gets a full answer", "[api][etag][secrets]") {
    Fixture f;
    leak_everywhere(f.backend);
    for (const char* target : {"/v1/apps", "/v1/apps/db"}) {
        CAPTURE(target);
        f.if_none_match.clear();
        auto full = f.get(target);
        auto red = f.get(target, /* read_only= */ true, /* privileged= */ false);
        auto ro_priv = f.get(target, /* read_only= */ true, /* privileged= */ true);
        CHECK(header(full, "ETag") != header(red, "ETag"));
        CHECK(header(ro_priv, "ETag") == header(full, "ETag"));  // a privileged peer sees everything
        check_no_secret(red.body);
        CHECK(full.body.find("argsecret-1") != std::string::npos);
        // The control socket's tag does not validate on the redacted view, nor back.
        f.if_none_match = header(full, "ETag");
        auto r2 = f.get(target, true, false);
        CHECK(r2.status == 200);
        check_no_secret(r2.body);
        f.if_none_match = header(red, "ETag");
        CHECK(f.get(target).status == 200);
        CHECK(f.get(target, true, false).status == 304);
    }
    // A secret learnt later is scrubbed from the cached redacted fragments at once.
    f.if_none_match.clear();
    f.backend.apps[0].message = "token learned-secret-9 in use";
    CHECK(f.get("/v1/apps", true, false).body.find("learned-secret-9") != std::string::npos);
    f.backend.learned.learn("web", {"learned-secret-9"});
    auto after = f.get("/v1/apps", true, false);
    CHECK(after.body.find("learned-secret-9") == std::string::npos);
}

TEST_CASE("GET /v1/apps/{name} and /v1/metrics: ETag and 304", "[api][etag]") {
    Fixture f;
    for (const char* target : {"/v1/apps/web", "/v1/metrics", "/metrics"}) {
        CAPTURE(target);
        f.if_none_match.clear();
        auto first = f.get(target);
        REQUIRE(first.status == 200);
        CHECK(header(first, "Cache-Control") == "no-cache");
        f.if_none_match = header(first, "ETag");
        auto again = f.get(target);
        CHECK(again.status == 304);
        CHECK(again.body.empty());
    }
    f.backend.apps[0].restarts = 3;
    f.backend.metrics_text += "isolated_x 1\n";
    CHECK(f.get("/v1/apps/web").status == 200);
    CHECK(f.get("/v1/metrics").status == 200);
    // Errors carry no validator.
    f.if_none_match = "*";
    auto missing = f.get("/v1/apps/nope");
    CHECK(missing.status == 404);
    CHECK(header(missing, "ETag").empty());
}
