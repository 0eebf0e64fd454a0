// daemon/probe without sockets: Worker timing and thresholds and ProbeSet gating with a
// manual clock and a prober the test answers; HTTP rules (status classes, redirects,
// headers) and exec outcomes as pure functions.
#include <catch2/catch.hpp>

#include <deque>

#include "fakes/manual_clock.hpp"
#include "probe/exec_prober.hpp"
#include "probe/http_prober.hpp"
#include "probe/probe_set.hpp"
#include "probe/worker.hpp"

using namespace isolated;
using namespace isolated::probe;
using namespace std::chrono_literals;
using isolated::test::ManualClock;
using supervisor::ProbeChange;

namespace {

/// Runs are answered by the test (answer()), or at once from a script of outcomes.
struct FakeProberState {
    std::vector<supervisor::SteadyTime> started;  // when each run began
    std::vector<Duration> timeouts;
    Prober::Done pending;
    std::deque<ProbeOutcome> script;  // answered through the clock, right away
    bool destroyed = false;
};

class FakeProber : public Prober {
public:
    FakeProber(ManualClock& clock, std::shared_ptr<FakeProberState> s) : clock_(clock), s_(std::move(s)) {}
    ~FakeProber() override {
        s_->destroyed = true;
        s_->pending = nullptr;
    }
    void run(Duration timeout, Done done) override {
        s_->started.push_back(clock_.now());
        s_->timeouts.push_back(timeout);
        if (!s_->script.empty()) {
            auto o = s_->script.front();
            s_->script.pop_front();
            clock_.post([done = std::move(done), o] { done(o); });
            return;
        }
        s_->pending = std::move(done);
    }

private:
    ManualClock& clock_;
    std::shared_ptr<FakeProberState> s_;
};

void answer(FakeProberState& s, ProbeOutcome o) {
    REQUIRE(s.pending);
    auto fn = std::move(s.pending);
    s.pending = nullptr;
    fn(std::move(o));
}

struct WorkerRig {
    ManualClock clock;
    std::shared_ptr<FakeProberState> prober = std::make_shared<FakeProberState>();
    std::vector<bool> changes;
    std::vector<std::string> messages, warnings;
    int runs = 0;  ///< on_run calls
    std::unique_ptr<Worker> worker;

    WorkerRig(ProbeType type, ProbeSpec spec, double jitter = 0.0) {
        WorkerCallbacks cb;
        cb.on_change = [this](bool passing, const std::string& m) {
            changes.push_back(passing);
            messages.push_back(m);
        };
        cb.on_warning = [this](const std::string& m) { warnings.push_back(m); };
        cb.on_run = [this] { ++runs; };
        worker = std::make_unique<Worker>(clock, type, spec, std::make_unique<FakeProber>(clock, prober), jitter,
                                          std::move(cb));
    }
    /// Advances to the next run and answers it.
    void next(ProbeOutcome o) {
        auto runs = prober->started.size();
        auto due = clock.next_due();
        REQUIRE(due);
        clock.advance(*due);
        REQUIRE(prober->started.size() == runs + 1);
        answer(*prober, std::move(o));
    }
};

ProbeSpec spec_with(Duration period = 10s, std::uint32_t success = 1, std::uint32_t failure = 3) {
    ProbeSpec s;
    s.period = period;
    s.success_threshold = success;
    s.failure_threshold = failure;
    return s;
}

const auto ok = ProbeOutcome::success();
ProbeOutcome bad(std::string m = "boom") { return ProbeOutcome::failure(std::move(m)); }

}  // namespace

// ---- Worker ---------------------------------------------------------------------------

TEST_CASE("worker: the first run waits initialDelay plus the jitter, then runs every period", "[probe][worker]") {
    auto s = spec_with(10s);
    s.initial_delay = 5s;
    s.timeout = 2s;
    WorkerRig r(ProbeType::readiness, s, 0.5);  // jitter: half of min(period, 1s)
    auto t0 = r.clock.now();
    r.worker->start();
    r.clock.advance(5s);
    CHECK(r.prober->started.empty());
    r.clock.advance(500ms);
    REQUIRE(r.prober->started.size() == 1);
    CHECK(r.prober->started[0] == t0 + 5500ms);
    CHECK(r.prober->timeouts[0] == 2s);
    r.clock.advance(300ms);  // the run takes 300 ms
    answer(*r.prober, ok);
    r.clock.advance(9700ms - 1ms);
    CHECK(r.prober->started.size() == 1);
    r.clock.advance(1ms);  // period counts from the start of the previous run
    REQUIRE(r.prober->started.size() == 2);
    CHECK(r.prober->started[1] == t0 + 15500ms);
}

TEST_CASE("worker: runs never overlap, a slow run is followed at once by the next", "[probe][worker]") {
    auto s = spec_with(1s);
    s.timeout = 5s;
    WorkerRig r(ProbeType::liveness, s);
    r.worker->start();
    r.clock.advance(0ms);
    REQUIRE(r.prober->started.size() == 1);
    r.clock.advance(3s);
    CHECK(r.prober->started.size() == 1);  // still in flight
    answer(*r.prober, ok);
    r.clock.advance(0ms);
    CHECK(r.prober->started.size() == 2);
}

TEST_CASE("worker: the first-run jitter spreads 100 probes with 1s periods over the second, on a 50 ms grid",
          "[probe][worker]") {
    ManualClock clock;
    std::vector<std::shared_ptr<FakeProberState>> states;
    std::vector<std::unique_ptr<Worker>> workers;
    for (int i = 0; i < 100; ++i) {
        auto st = std::make_shared<FakeProberState>();
        for (int k = 0; k < 10; ++k) st->script.push_back(ok);
        states.push_back(st);
        workers.push_back(std::make_unique<Worker>(clock, ProbeType::readiness, spec_with(1s),
                                                   std::make_unique<FakeProber>(clock, st), i / 100.0,
                                                   WorkerCallbacks{}));
        workers.back()->start();
    }
    auto t0 = clock.now();  // on the grid (ManualClock starts at 1 h)
    clock.advance(3s);
    std::map<long, int> per_50ms;
    for (auto& st : states) {
        REQUIRE(st->started.size() >= 3);
        auto at = std::chrono::duration_cast<std::chrono::milliseconds>(st->started[2] - t0).count();
        CHECK(at % 50 == 0);  // runs fall on the shared grid: one wakeup for the runs due in 50 ms
        ++per_50ms[at / 50];
        // they stay spread: each keeps its own phase
        CHECK(st->started[2] - st->started[1] == 1s);
    }
    // all over the second: ~20 grid points of at most 5 runs each, never all at once
    // (jitters 0, 10, ... 990 ms round up to 0, 50 (5 of them), ... 1000 ms (4))
    CHECK(per_50ms.size() == 21);
    for (auto& [point, n] : per_50ms) CHECK(n <= 5);
}

TEST_CASE("worker: the slack grid does not stretch the period", "[probe][worker]") {
    auto s = spec_with(1030ms);  // not a multiple of the 50 ms grid
    WorkerRig r(ProbeType::liveness, s);
    for (int i = 0; i < 200; ++i) r.prober->script.push_back(ok);
    auto t0 = r.clock.now();
    r.worker->start();
    r.clock.advance(102500ms);
    REQUIRE(r.prober->started.size() == 100);  // 0, 1.03 s, ... 101.97 s
    for (std::size_t i = 0; i < r.prober->started.size(); ++i) {
        auto nominal = t0 + i * 1030ms;
        auto at = r.prober->started[i];
        CHECK(at >= nominal);
        CHECK(at - nominal < 50ms);  // rounded up to the grid, never drifting further
    }
}

TEST_CASE("worker: short periods use a finer grid (period / 10)", "[probe][worker]") {
    auto s = spec_with(100ms);
    WorkerRig r(ProbeType::liveness, s, 0.37);  // first run at 37 ms: on the 10 ms grid at 40 ms
    auto t0 = r.clock.now();
    r.worker->start();
    r.clock.advance(39ms);
    CHECK(r.prober->started.empty());
    r.clock.advance(1ms);
    REQUIRE(r.prober->started.size() == 1);
    CHECK(r.prober->started[0] == t0 + 40ms);
}

TEST_CASE("worker: readiness starts not ready and flips only after its thresholds", "[probe][worker]") {
    WorkerRig r(ProbeType::readiness, spec_with(10s, 2, 3));
    CHECK(r.worker->verdict() == false);
    r.worker->start();
    r.next(ok);
    CHECK(r.changes.empty());  // 1 of 2 successes
    CHECK(r.worker->status().result == ProbeResult::success);
    CHECK(r.worker->status().consecutive_successes == 1);
    r.next(ok);
    CHECK(r.changes == std::vector<bool>{true});
    r.next(ok);
    r.next(bad("e1"));
    r.next(bad("e2"));
    CHECK(r.changes == std::vector<bool>{true});
    CHECK(r.worker->status().consecutive_failures == 2);
    CHECK(r.worker->status().consecutive_successes == 0);
    r.next(bad("e3"));
    CHECK(r.changes == std::vector<bool>{true, false});
    CHECK(r.messages.back() == "e3");
    CHECK(r.worker->status().message == "e3");
    r.next(ok);  // one success is not enough with successThreshold 2
    r.next(bad("e4"));
    r.next(ok);
    r.next(ok);
    CHECK(r.changes == std::vector<bool>{true, false, true});
    CHECK_FALSE(r.worker->stopped());  // readiness probes for the whole life
    CHECK(r.worker->status().last_probe_at.has_value());
}

TEST_CASE("worker: a success clears the previous failure's message", "[probe][worker]") {
    WorkerRig r(ProbeType::readiness, spec_with(10s, 1, 1));
    r.worker->start();
    r.next(bad("connection refused"));
    CHECK(r.worker->status().message == "connection refused");
    r.next(ok);
    CHECK(r.worker->status().result == ProbeResult::success);
    CHECK(r.worker->status().message.empty());
}

TEST_CASE("worker: liveness reports one failure per crossing and then holds", "[probe][worker]") {
    WorkerRig r(ProbeType::liveness, spec_with(10s));
    CHECK(r.worker->verdict() == true);
    r.worker->start();
    r.next(ok);
    CHECK(r.changes.empty());  // alive already: not a change
    r.next(bad());
    r.next(bad());
    CHECK(r.changes.empty());
    r.next(bad("connect 127.0.0.1:80: ECONNREFUSED"));
    CHECK(r.changes == std::vector<bool>{false});
    CHECK(r.messages.back() == "connect 127.0.0.1:80: ECONNREFUSED");
    CHECK(r.worker->stopped());
    r.clock.advance(1h);
    CHECK(r.prober->started.size() == 4);  // on hold: no more runs
}

TEST_CASE("worker: liveness and startup ignore successThreshold > 1 (must be 1)", "[probe][worker]") {
    WorkerRig r(ProbeType::startup, spec_with(10s, 3, 3));
    r.worker->start();
    r.next(ok);
    CHECK(r.changes == std::vector<bool>{true});
}

TEST_CASE("worker: startup succeeds once and stops, or fails after failureThreshold and holds",
          "[probe][worker]") {
    SECTION("success") {
        WorkerRig r(ProbeType::startup, spec_with(1s, 1, 30));
        CHECK_FALSE(r.worker->verdict().has_value());
        r.worker->start();
        r.next(bad());
        r.next(bad());
        r.next(ok);
        CHECK(r.changes == std::vector<bool>{true});
        CHECK(r.worker->stopped());
        r.clock.advance(1h);
        CHECK(r.prober->started.size() == 3);
    }
    SECTION("failure") {
        WorkerRig r(ProbeType::startup, spec_with(1s, 1, 3));
        r.worker->start();
        r.next(bad());
        r.next(bad());
        CHECK(r.changes.empty());
        r.next(bad("still down"));
        CHECK(r.changes == std::vector<bool>{false});
        CHECK(r.worker->stopped());
    }
}

TEST_CASE("worker: a warning counts as success and is reported when it first appears", "[probe][worker]") {
    WorkerRig r(ProbeType::readiness, spec_with(10s));
    r.worker->start();
    r.next(ProbeOutcome::warning("redirect to another host"));
    CHECK(r.changes == std::vector<bool>{true});
    CHECK(r.worker->status().result == ProbeResult::warning);
    CHECK(r.worker->status().message == "redirect to another host");
    r.next(ProbeOutcome::warning("redirect to another host"));
    r.next(ProbeOutcome::warning("redirect to another host"));
    CHECK(r.warnings.size() == 1);
    r.next(ok);
    r.next(ProbeOutcome::warning("redirect to another host"));
    CHECK(r.warnings.size() == 2);
    CHECK(r.changes == std::vector<bool>{true});
}

TEST_CASE("worker: it counts runs by result and times each from its start to its result", "[probe][worker]") {
    auto s = spec_with(10s, 1, 5);
    s.timeout = 2s;
    WorkerRig r(ProbeType::readiness, s);
    CHECK_FALSE(r.worker->status().last_duration_seconds);  // nothing ran yet
    r.worker->start();

    auto run_for = [&](Duration took, ProbeOutcome o) {
        auto due = r.clock.next_due();
        REQUIRE(due);
        r.clock.advance(*due);
        REQUIRE(r.prober->pending);
        r.clock.advance(took);
        answer(*r.prober, std::move(o));
    };
    run_for(300ms, ok);
    CHECK(r.worker->status().last_duration_seconds == Approx(0.3));
    run_for(40ms, ProbeOutcome::warning("redirect to another host"));  // a success
    CHECK(r.worker->status().last_duration_seconds == Approx(0.04));
    run_for(1500ms, bad());
    CHECK(r.worker->status().last_duration_seconds == Approx(1.5));
    // A result that lands after the timeout (a busy loop) counts as the timeout.
    run_for(2050ms, bad("timed out"));
    CHECK(r.worker->status().last_duration_seconds == Approx(2.0));
    CHECK(r.worker->status().total_successes == 2);
    CHECK(r.worker->status().total_failures == 2);
    // The streaks start over; the totals do not.
    run_for(0ms, ok);
    CHECK(r.worker->status().consecutive_successes == 1);
    CHECK(r.worker->status().total_successes == 3);
    CHECK(r.worker->status().total_failures == 2);
    CHECK(r.worker->status().last_duration_seconds == 0.0);
}

TEST_CASE("worker: every finished run is reported (the status it shows moved), not only changes",
          "[probe][worker]") {
    WorkerRig r(ProbeType::readiness, spec_with(1s, 1, 3));
    r.worker->start();
    r.next(ok);
    r.next(ok);
    r.next(bad());
    CHECK(r.runs == 3);
    CHECK(r.changes.size() == 1);  // ready once; the runs after it changed only the counts
    CHECK(r.worker->status().total_successes == 2);
}

TEST_CASE("worker: destroying it mid-run abandons the run", "[probe][worker]") {
    WorkerRig r(ProbeType::readiness, spec_with(10s));
    r.worker->start();
    r.clock.advance(0ms);
    REQUIRE(r.prober->pending);
    r.worker.reset();
    CHECK(r.prober->destroyed);
    CHECK(r.clock.pending_timers() == 0);
}

TEST_CASE("worker: a change callback may destroy the worker", "[probe][worker]") {
    ManualClock clock;
    auto st = std::make_shared<FakeProberState>();
    std::unique_ptr<Worker> w;
    int calls = 0;
    WorkerCallbacks cb;
    cb.on_change = [&](bool, const std::string&) {
        ++calls;
        w.reset();
    };
    w = std::make_unique<Worker>(clock, ProbeType::liveness, spec_with(1s, 1, 1), std::make_unique<FakeProber>(clock, st),
                                 0.0, cb);
    w->start();
    clock.advance(0ms);
    answer(*st, bad());
    CHECK(calls == 1);
    CHECK_FALSE(w);
    clock.advance(1h);
}

// ---- ProbeSet -------------------------------------------------------------------------

namespace {

struct SetRig {
    ManualClock clock;
    std::map<ProbeType, std::shared_ptr<FakeProberState>> probers;
    std::vector<ProbeChange> changes;
    std::unique_ptr<ProbeSet> set;

    explicit SetRig(const ProbesSpec& spec) {
        ProberFactory make = [this](ProbeType t, const ProbeSpec&) {
            auto st = std::make_shared<FakeProberState>();
            probers[t] = st;
            return std::make_unique<FakeProber>(clock, st);
        };
        supervisor::ProbeCallbacks cb;
        cb.on_change = [this](const ProbeChange& c) { changes.push_back(c); };
        set = std::make_unique<ProbeSet>(clock, spec, make, [] { return 0.0; }, cb);
    }
    std::size_t runs(ProbeType t) { return probers.at(t)->started.size(); }
};

}  // namespace

TEST_CASE("probe set: the startup probe gates liveness and readiness", "[probe][probeset]") {
    ProbesSpec spec;
    spec.startup = spec_with(1s, 1, 5);
    spec.liveness = spec_with(1s);
    spec.readiness = spec_with(1s);
    SetRig r(spec);
    r.set->start();
    r.clock.advance(0ms);
    CHECK(r.runs(ProbeType::startup) == 1);
    answer(*r.probers[ProbeType::startup], bad());
    r.clock.advance(1s);
    CHECK(r.runs(ProbeType::liveness) == 0);
    CHECK(r.runs(ProbeType::readiness) == 0);
    auto h = r.set->health();
    REQUIRE(h.liveness);
    CHECK(h.liveness->result == ProbeResult::unknown);
    CHECK(h.startup->consecutive_failures == 1);

    answer(*r.probers[ProbeType::startup], ok);
    REQUIRE(r.changes.size() == 1);
    CHECK(r.changes[0].type == ProbeType::startup);
    CHECK(r.changes[0].passing);
    r.clock.advance(0ms);
    CHECK(r.runs(ProbeType::liveness) == 1);
    CHECK(r.runs(ProbeType::readiness) == 1);
    answer(*r.probers[ProbeType::readiness], ok);
    CHECK(r.changes.back().type == ProbeType::readiness);
    r.clock.advance(1h);
    CHECK(r.runs(ProbeType::startup) == 2);  // done after its success
}

TEST_CASE("probe set: a failed startup never starts the others", "[probe][probeset]") {
    ProbesSpec spec;
    spec.startup = spec_with(1s, 1, 2);
    spec.readiness = spec_with(1s);
    SetRig r(spec);
    r.set->start();
    r.clock.advance(0ms);
    answer(*r.probers[ProbeType::startup], bad());
    r.clock.advance(1s);
    answer(*r.probers[ProbeType::startup], bad("no"));
    REQUIRE(r.changes.size() == 1);
    CHECK(r.changes[0].type == ProbeType::startup);
    CHECK_FALSE(r.changes[0].passing);
    CHECK(r.changes[0].message == "no");
    r.clock.advance(1h);
    CHECK(r.runs(ProbeType::readiness) == 0);
}

TEST_CASE("probe set: without a startup probe liveness and readiness start together", "[probe][probeset]") {
    ProbesSpec spec;
    spec.liveness = spec_with(1s);
    spec.readiness = spec_with(1s);
    SetRig r(spec);
    CHECK_FALSE(r.set->health().startup);
    r.set->start();
    r.clock.advance(0ms);
    CHECK(r.runs(ProbeType::liveness) == 1);
    CHECK(r.runs(ProbeType::readiness) == 1);
}

// ---- HTTP rules -------------------------------------------------------------------------

TEST_CASE("http: 200-299 success, 300-399 warning (a success), the rest failure", "[probe][http]") {
    CHECK(classify_status(199).result == ProbeResult::failure);
    CHECK(classify_status(200).result == ProbeResult::success);
    CHECK(classify_status(204).result == ProbeResult::success);
    CHECK(classify_status(299).result == ProbeResult::success);
    CHECK(classify_status(300).result == ProbeResult::warning);
    CHECK(classify_status(304).result == ProbeResult::warning);
    CHECK(classify_status(399).result == ProbeResult::warning);
    CHECK(classify_status(400).result == ProbeResult::failure);
    CHECK(classify_status(500).result == ProbeResult::failure);
    CHECK_THAT(classify_status(503).message, Catch::Contains("503"));
}

TEST_CASE("http: URLs and Location headers", "[probe][http]") {
    auto u = parse_url("http://127.0.0.1:8080/a/b?x=1#frag");
    REQUIRE(u);
    CHECK(u->scheme == "http");
    CHECK(u->host == "127.0.0.1");
    CHECK(u->port == 8080);
    CHECK(u->target == "/a/b?x=1");
    CHECK(parse_url("HTTPS://h")->port == 443);
    CHECK(parse_url("https://h")->target == "/");
    CHECK(parse_url("http://[::1]:81/x")->host == "::1");
    CHECK(parse_url("http://user:pw@h:82/")->host == "h");
    CHECK_FALSE(parse_url("ftp://h/"));
    CHECK_FALSE(parse_url("http://:80/"));
    CHECK_FALSE(parse_url("http://h:99999/"));

    Url base{"http", "127.0.0.1", 8080, "/a/b?q"};
    CHECK(resolve_location(base, "/c")->target == "/c");
    CHECK(resolve_location(base, "c")->target == "/a/c");
    CHECK(resolve_location(base, "?z")->target == "/a/b?z");
    CHECK(resolve_location(base, "/c#f")->target == "/c");
    auto abs = resolve_location(base, "https://127.0.0.1:8443/s");
    REQUIRE(abs);
    CHECK(abs->scheme == "https");
    CHECK(abs->port == 8443);
    auto schemeless = resolve_location(base, "//example.com/x");
    REQUIRE(schemeless);
    CHECK(schemeless->host == "example.com");
    CHECK(schemeless->scheme == "http");
    CHECK_FALSE(resolve_location(base, ""));
    CHECK_FALSE(resolve_location(base, "ftp://x/"));
}

TEST_CASE("http: redirects are followed to the same host only, at most 10", "[probe][http]") {
    Url first{"http", "127.0.0.1", 8080, "/"};
    auto same = next_step(first, first, 302, "/login", 0);
    CHECK(same.kind == RedirectStep::follow);
    CHECK(same.next.target == "/login");
    // kubelet compares host names, not ports or schemes
    auto other_port = next_step(first, first, 301, "https://127.0.0.1:8443/", 3);
    CHECK(other_port.kind == RedirectStep::follow);
    auto other_host = next_step(first, first, 302, "http://example.com/", 0);
    CHECK(other_host.kind == RedirectStep::done);
    CHECK(other_host.outcome.result == ProbeResult::warning);
    CHECK_THAT(other_host.outcome.message, Catch::Contains("example.com"));
    auto tenth = next_step(first, first, 307, "/x", 9);
    CHECK(tenth.kind == RedirectStep::follow);
    auto eleventh = next_step(first, first, 307, "/x", 10);
    CHECK(eleventh.kind == RedirectStep::done);
    CHECK(eleventh.outcome.result == ProbeResult::failure);
    CHECK_THAT(eleventh.outcome.message, Catch::Contains("10 redirects"));
    // a 3xx without Location, or one Go does not follow, ends the chain as a warning
    CHECK(next_step(first, first, 302, "", 0).outcome.result == ProbeResult::warning);
    CHECK(next_step(first, first, 300, "/x", 0).kind == RedirectStep::done);
    CHECK(next_step(first, first, 304, "/x", 0).outcome.result == ProbeResult::warning);
    CHECK(next_step(first, first, 200, "/x", 0).outcome.result == ProbeResult::success);
    CHECK(next_step(first, first, 302, "ftp://x/", 0).outcome.result == ProbeResult::failure);
}

TEST_CASE("http: request headers as kubelet sends them", "[probe][http]") {
    Url u{"http", "127.0.0.1", 8080, "/healthz"};
    auto h = request_headers(u, {});
    using H = std::pair<std::string, std::string>;
    CHECK(h == std::vector<H>{{"Host", "127.0.0.1:8080"},
                              {"User-Agent", std::string("isolated-probe/") + ISOLATED_VERSION},
                              {"Accept", "*/*"},
                              {"Connection", "close"}});
    auto custom = request_headers(u, {{"X-Token", "a"}, {"X-Token", "b"}, {"user-agent", "mine/1"}, {"Accept", ""},
                                      {"Host", "web.example"}});
    CHECK(custom == std::vector<H>{{"Host", "web.example"},
                                   {"X-Token", "a"},
                                   {"X-Token", "b"},
                                   {"user-agent", "mine/1"},
                                   {"Connection", "close"}});
}

// ---- exec outcomes ----------------------------------------------------------------------

TEST_CASE("exec: exit 0 is success, non-zero, signals, timeouts and spawn errors fail", "[probe][exec]") {
    ExecResult r;
    CHECK(classify_exec(r, 1s).result == ProbeResult::success);
    r.exit_code = 2;
    r.output = "pg_isready: no response\n";
    auto f = classify_exec(r, 1s);
    CHECK(f.result == ProbeResult::failure);
    CHECK(f.message == "command exited with code 2: pg_isready: no response");
    r.timed_out = true;
    r.signal = 9;
    r.exit_code = 137;
    CHECK_THAT(classify_exec(r, 1s).message, Catch::StartsWith("command timed out after 1s"));
    ExecResult e;
    e.ran = false;
    e.error = "exec \"nope\": ENOENT";
    CHECK_THAT(classify_exec(e, 1s).message, Catch::Contains("ENOENT"));
}
