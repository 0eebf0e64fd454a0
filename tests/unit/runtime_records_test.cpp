// What the runtime keeps in an app's run dir, as text: instance.json (written at launch,
// read back by adoption), the exit of an instance that ended while no daemon watched,
// and the /etc files prepared for the sandbox (daemon/runtime/instance_record.hpp,
// app_files.hpp); and the one release path of what an instance holds
// (instance_resources.hpp), against a fake cgroup. No files, no processes.
#include <signal.h>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "isolated/api_json.hpp"
#include "runtime/app_files.hpp"
#include "runtime/instance_record.hpp"
#include "runtime/instance_resources.hpp"

using namespace isolated;
using namespace isolated::runtime;
using namespace std::chrono_literals;

namespace {

const std::string kSource = "/run/isolated/apps/web/instance.json";

AppSpec web_spec() {
    AppSpec s;
    s.name = "web";
    s.source_file = "apps/web.json";
    s.command = {"/bin/web", "--port", "8080"};
    s.init = false;
    s.restart.policy = RestartPolicy::on_failure;
    return s;
}

InstanceRecord full_record() {
    InstanceRecord r;
    r.instance = "0123456789abcdef";
    r.init_pid = 4242;
    r.init_start = 987654321;
    r.pid = 4243;
    r.pid_start = 987654400;
    r.started_at = WallTime(std::chrono::duration_cast<WallTime::duration>(1'700'000'000'123'456'789ns));
    r.address = "10.88.0.7";
    r.restarts = 3;
    ExitInfo last;
    last.code = 137;
    last.signal = SIGKILL;
    last.oom_killed = true;
    last.at = WallTime(std::chrono::duration_cast<WallTime::duration>(1'699'999'999'000'000'000ns));
    last.message = "killed by the OOM killer (memory limit)";
    r.last_exit = last;
    r.spec = web_spec();
    return r;
}

// The record with one field replaced (or removed, with a discarded value).
std::string with_field(const std::string& key, const nlohmann::json& value) {
    auto j = nlohmann::json::parse(serialize_instance_record(full_record()));
    if (value.is_discarded())
        j.erase(key);
    else
        j[key] = value;
    return j.dump();
}

// Records what the release path asks of the cgroup, in order.
class RecordingCgroup : public cgroup::AppCgroup {
public:
    RecordingCgroup(std::vector<std::string>& calls, std::uint64_t oom) : calls_(calls), oom_(oom) {}
    const std::string& app() const override { return app_; }
    std::string describe() const override { return "fake"; }
    cgroup::Placement placement() const override { return {}; }
    std::vector<std::string> procs_files() const override { return {}; }
    Status attach(pid_t) override { return note("attach"); }
    Status kill() override { return note("kill"); }
    Result<std::vector<pid_t>> pids() const override { return std::vector<pid_t>{}; }
    Result<ResourceUsage> usage() const override { return ResourceUsage{}; }
    Result<std::uint64_t> oom_kills() const override {
        calls_.push_back("oom_kills");
        return oom_;
    }
    Result<ResourcesSpec> limits() const override { return ResourcesSpec{}; }
    Status remove() override {
        calls_.push_back("remove");
        return Error::os(EBUSY, "rmdir");  // a failure does not stop the rest
    }

private:
    Status note(const char* what) {
        calls_.push_back(what);
        return {};
    }
    std::string app_ = "web";
    std::vector<std::string>& calls_;
    std::uint64_t oom_;
};

std::string parse_error(const std::string& text) {
    auto r = parse_instance_record("web", text, kSource);
    REQUIRE_FALSE(r);
    return r.error().to_string();
}

}  // namespace

TEST_CASE("instance record: what launch writes, adoption reads back", "[runtime][records]") {
    const InstanceRecord in = full_record();
    const std::string text = serialize_instance_record(in);
    CHECK(text.back() == '\n');
    auto out = parse_instance_record("web", text, kSource);
    REQUIRE(out);
    CHECK(out->instance == in.instance);
    CHECK(out->init_pid == in.init_pid);
    CHECK(out->init_start == in.init_start);
    CHECK(out->pid == in.pid);
    CHECK(out->pid_start == in.pid_start);
    CHECK(out->started_at == in.started_at);
    CHECK(out->address == in.address);
    CHECK(out->restarts == in.restarts);
    CHECK(out->last_exit == in.last_exit);
    CHECK(app_spec_to_json(out->spec) == app_spec_to_json(in.spec));
}

TEST_CASE("instance record: at launch, before the app runs", "[runtime][records]") {
    InstanceRecord in = full_record();
    in.pid = 0;
    in.pid_start = 0;
    in.started_at.reset();
    in.last_exit.reset();
    in.address.clear();
    const auto j = nlohmann::json::parse(serialize_instance_record(in));
    // The fields an older daemon wrote and a newer one reads, by name.
    CHECK(j["pid"] == 0);
    CHECK_FALSE(j.contains("startedAt"));
    CHECK_FALSE(j.contains("pidStart"));
    CHECK(j["lastExit"].is_null());
    CHECK(j["address"] == "");
    CHECK(j["initPid"] == 4242);
    CHECK(j["initStart"] == 987654321u);
    CHECK(j["instance"] == "0123456789abcdef");
    CHECK(j["restarts"] == 3);
    CHECK(j["spec"].is_object());
    auto out = parse_instance_record("web", j.dump(), kSource);
    REQUIRE(out);
    CHECK(out->pid == 0);
    CHECK(out->pid_start == 0);
    CHECK_FALSE(out->started_at);
    CHECK_FALSE(out->last_exit);
}

TEST_CASE("instance record: one the daemon cannot trust is not adopted", "[runtime][records]") {
    const nlohmann::json gone = nlohmann::json::value_t::discarded;
    struct Row {
        const char* what;
        std::string text;
    };
    const Row rows[] = {
        {"not JSON", "{\"instance\": "},
        {"empty", ""},
        {"an array", "[1, 2]"},
        {"a string", "\"instance.json\""},
        {"no spec", with_field("spec", gone)},
        {"no instance", with_field("instance", gone)},
        {"instance a number", with_field("instance", 7)},
        {"no initPid", with_field("initPid", gone)},
        {"initPid a string", with_field("initPid", "4242")},
        {"initPid a float", with_field("initPid", 4242.5)},
        {"no initStart", with_field("initStart", gone)},
        {"initStart negative", with_field("initStart", -1)},
        {"initStart a string", with_field("initStart", "987654321")},
    };
    for (const auto& row : rows) {
        INFO(row.what);
        CHECK(parse_error(row.text) == "is malformed");
    }
}

TEST_CASE("instance record: a definition this daemon cannot read is not adopted", "[runtime][records]") {
    CHECK(parse_error(with_field("spec", {{"command", "not a list"}})) == "holds a definition this daemon cannot read");
    CHECK(parse_error(with_field("spec", {{"command", {"/bin/x"}}, {"noSuchField", 1}})) ==
          "holds a definition this daemon cannot read");
    CHECK(parse_error(with_field("spec", "web")) == "holds a definition this daemon cannot read");
}

TEST_CASE("instance record: optional fields of the wrong type count as absent", "[runtime][records]") {
    const nlohmann::json gone = nlohmann::json::value_t::discarded;
    SECTION("lastExit") {
        for (const auto& v : {nlohmann::json("oom"), nlohmann::json({{"code", "x"}}), nlohmann::json(nullptr), gone}) {
            INFO(v.dump());
            auto r = parse_instance_record("web", with_field("lastExit", v), kSource);
            REQUIRE(r);
            CHECK_FALSE(r->last_exit);
            CHECK(r->init_pid == 4242);  // adopted all the same
        }
    }
    SECTION("the rest") {
        auto r = parse_instance_record("web", with_field("pid", "4243"), kSource);
        REQUIRE(r);
        CHECK(r->pid == 0);
        r = parse_instance_record("web", with_field("pidStart", -5), kSource);
        REQUIRE(r);
        CHECK(r->pid_start == 0);
        r = parse_instance_record("web", with_field("startedAt", "yesterday"), kSource);
        REQUIRE(r);
        CHECK_FALSE(r->started_at);
        r = parse_instance_record("web", with_field("address", 10), kSource);
        REQUIRE(r);
        CHECK(r->address.empty());
        r = parse_instance_record("web", with_field("restarts", -2), kSource);
        REQUIRE(r);
        CHECK(r->restarts == 0);
        r = parse_instance_record("web", with_field("restarts", gone), kSource);
        REQUIRE(r);
        CHECK(r->restarts == 0);
    }
}

TEST_CASE("exit while the daemon was down: the init's record, else what can be known", "[runtime][records]") {
    const WallTime now = WallTime(std::chrono::duration_cast<WallTime::duration>(1'800'000'000s));
    SECTION("recorded by the init") {
        ExitInfo rec;
        rec.code = 3;
        rec.at = now - std::chrono::hours(1);
        auto e = exit_while_down(rec, true, now);
        CHECK(e.code == 3);
        CHECK(e.signal == 0);
        CHECK(e.at == rec.at);  // when it ended, not when it was found
        CHECK(e.message == "while the daemon was down");
        rec.message = "exec \"/bin/web\": ENOENT";
        CHECK(exit_while_down(rec, false, now).message == rec.message);
    }
    SECTION("no record, with the init: only a SIGKILL of the init ends it so") {
        auto e = exit_while_down(std::nullopt, true, now);
        CHECK(e.signal == SIGKILL);
        CHECK(e.code == 128 + SIGKILL);
        CHECK(e.at == now);
        CHECK(e.message.find("killed (SIGKILL)") != std::string::npos);
    }
    SECTION("no record, no init: unknown") {
        auto e = exit_while_down(std::nullopt, false, now);
        CHECK(e.signal == 0);
        CHECK(e.code == 255);
        CHECK(e.at == now);
        CHECK(e.message == "ended while the daemon was down; its exit status is unknown");
    }
    CHECK_FALSE(exit_while_down(std::nullopt, true, now).oom_killed);  // the cgroup tells, not the record
}

TEST_CASE("app files: resolv.conf without loopback nameservers, hosts for loopback only", "[runtime][records]") {
    const std::string host =
        "# from the host\n"
        "nameserver 127.0.0.53\n"
        "nameserver 192.0.2.1\n"
        "nameserver ::1\n"
        "nameserver 2001:db8::1\n"
        "search example.org\n"
        "options edns0";
    CHECK(sandbox_resolv_conf(host) ==
          "# from the host\n"
          "nameserver 192.0.2.1\n"
          "nameserver 2001:db8::1\n"
          "search example.org\n"
          "options edns0\n");
    CHECK(sandbox_resolv_conf("") == "");
    const std::string hosts = loopback_hosts("web.example");
    CHECK(hosts.find("127.0.0.1\tlocalhost\n") == 0);
    CHECK(hosts.find("\n127.0.1.1\tweb.example\n") != std::string::npos);
}

TEST_CASE("release: kill, then the OOM counter, then the cgroup's removal, once", "[runtime][release]") {
    std::vector<std::string> calls;
    auto hosts = std::make_shared<net::HostsFiles>();
    hosts->on_error = [](const std::string&, const std::string&) {};  // no file to write here
    SECTION("an exit: the OOM kill is read into it, a message only if it has none") {
        InstanceResources held;
        held.app = "web";
        held.cgroup = std::make_unique<RecordingCgroup>(calls, 1);
        hosts->join("web", {*net::Ipv4::parse("10.88.0.7"), "web", "/nonexistent/isolated-test/hosts"});
        held.hosts = hosts;
        ExitInfo exit;
        exit.code = 137;
        exit.signal = SIGKILL;
        held.release(&exit);
        CHECK(calls == std::vector<std::string>{"kill", "oom_kills", "remove"});
        CHECK(exit.oom_killed);
        CHECK(exit.message == "killed by the OOM killer (memory limit)");
        CHECK(hosts->members().count("web") == 0);  // left the others' /etc/hosts despite the failed removal
        CHECK_FALSE(held.cgroup);
        CHECK_FALSE(held.hosts);
        held.release(&exit);  // nothing left to give back
        CHECK(calls.size() == 3);

        ExitInfo told;
        told.message = "while the daemon was down";
        InstanceResources again;
        again.cgroup = std::make_unique<RecordingCgroup>(calls, 2);
        again.release(&told);
        CHECK(told.oom_killed);
        CHECK(told.message == "while the daemon was down");
    }
    SECTION("no OOM kill counted: the exit is left as it was") {
        InstanceResources held;
        held.cgroup = std::make_unique<RecordingCgroup>(calls, 0);
        ExitInfo exit;
        exit.code = 3;
        held.release(&exit);
        CHECK(calls == std::vector<std::string>{"kill", "oom_kills", "remove"});
        CHECK_FALSE(exit.oom_killed);
        CHECK(exit.message.empty());
    }
    SECTION("a failed launch has no exit to tell: no OOM read") {
        InstanceResources held;
        held.cgroup = std::make_unique<RecordingCgroup>(calls, 1);
        held.release(nullptr);
        CHECK(calls == std::vector<std::string>{"kill", "remove"});
    }
}

TEST_CASE("log-dropped record: whole records only", "[runtime][records]") {
    ResourceUsage u;
    parse_log_dropped("lines=3\nbytes=120\n", u);
    CHECK(u.log_dropped_lines == 3u);
    CHECK(u.log_dropped_bytes == 120u);
    for (std::string bad : {"", "lines=3\n", "lines=3\nbytes=12", "lines=x\nbytes=1\n", "lines=\nbytes=1\n",
                            "lines=3\nbytes=-1\n", "lines=99999999999999999999999\nbytes=1\n"}) {
        ResourceUsage v;
        parse_log_dropped(bad, v);
        INFO(bad);
        CHECK(!v.log_dropped_lines);
        CHECK(!v.log_dropped_bytes);
    }
}
