// What follows the end of an instance, as one table: restart policy x how the run ended
// x retries left or not x what the operator asked while it was ending -> the state the
// app enters and the message of that state's event. All of it is decided in one place,
// App::enter_dead(); this drives it through the supervisor, a fake runtime and fake
// probes, so every path that ends an instance (an exit, an exit after a probe's stop,
// an exit after an operator's stop or restart) is the one measured.
#include <catch2/catch.hpp>

#include <csignal>
#include <iterator>

#include "fakes/fake_hook_runner.hpp"
#include "fakes/fake_probe_host.hpp"
#include "fakes/fake_runtime.hpp"
#include "fakes/manual_clock.hpp"
#include "fakes/supervisor_rig.hpp"
#include "supervisor/supervisor.hpp"

using namespace isolated;
using namespace isolated::supervisor;
using namespace std::chrono_literals;
using isolated::test::FakeHookRunner;
using isolated::test::FakeProbeHost;
using isolated::test::FakeRuntime;
using isolated::test::ManualClock;

namespace {

/// How the run ended.
enum class End { exit0, exit3, signal, oom, liveness, startup };

/// What the operator asked for while the instance was ending (after it had been told
/// to stop, before it exited).
enum class Asked { nothing, stop, restart };

const char* name(End e) {
    switch (e) {
        case End::exit0: return "exit 0";
        case End::exit3: return "exit 3";
        case End::signal: return "SIGSEGV";
        case End::oom: return "OOM kill";
        case End::liveness: return "liveness failure";
        case End::startup: return "startup failure";
    }
    return "?";
}

const char* name(Asked a) {
    switch (a) {
        case Asked::nothing: return "nothing asked";
        case Asked::stop: return "operator stop pending";
        case Asked::restart: return "operator restart pending";
    }
    return "?";
}

struct Outcome {
    AppState state;
    const char* message;  ///< of the `state` event that entered it
};

struct Row {
    RestartPolicy policy;
    End end;
    Outcome retries_left;  ///< maxRetries 1: the first restart is allowed
    Outcome retries_out;   ///< maxRetries 0: no restart is
};

constexpr auto always = RestartPolicy::always;
constexpr auto on_failure = RestartPolicy::on_failure;
constexpr auto never = RestartPolicy::never;
constexpr auto backoff = AppState::backoff;
constexpr auto stopped = AppState::stopped;
constexpr auto failed = AppState::failed;

// With nothing asked. (1s: the first restart's backoff, the default initial delay.)
// A probe's failure is a failure whatever the exit its stop left; a clean exit is the
// only run on-failure does not restart; never restarts nothing, and fails all but a
// clean exit; maxRetries turns a due restart into `failed`.
const Row kTable[] = {
    // policy      end            retries left                                            maxRetries reached
    {always,     End::exit0,    {backoff, "exited with code 0; restarting in 1s"},          {failed, "exited with code 0; gave up after 0 restarts"}},
    {always,     End::exit3,    {backoff, "exited with code 3; restarting in 1s"},          {failed, "exited with code 3; gave up after 0 restarts"}},
    {always,     End::signal,   {backoff, "killed by SIGSEGV; restarting in 1s"},           {failed, "killed by SIGSEGV; gave up after 0 restarts"}},
    {always,     End::oom,      {backoff, "killed by the OOM killer; restarting in 1s"},    {failed, "killed by the OOM killer; gave up after 0 restarts"}},
    {always,     End::liveness, {backoff, "liveness probe failed: boom; restarting in 1s"}, {failed, "liveness probe failed: boom; gave up after 0 restarts"}},
    {always,     End::startup,  {backoff, "startup probe failed: boom; restarting in 1s"},  {failed, "startup probe failed: boom; gave up after 0 restarts"}},
    {on_failure, End::exit0,    {stopped, "exited with code 0"},                            {stopped, "exited with code 0"}},
    {on_failure, End::exit3,    {backoff, "exited with code 3; restarting in 1s"},          {failed, "exited with code 3; gave up after 0 restarts"}},
    {on_failure, End::signal,   {backoff, "killed by SIGSEGV; restarting in 1s"},           {failed, "killed by SIGSEGV; gave up after 0 restarts"}},
    {on_failure, End::oom,      {backoff, "killed by the OOM killer; restarting in 1s"},    {failed, "killed by the OOM killer; gave up after 0 restarts"}},
    {on_failure, End::liveness, {backoff, "liveness probe failed: boom; restarting in 1s"}, {failed, "liveness probe failed: boom; gave up after 0 restarts"}},
    {on_failure, End::startup,  {backoff, "startup probe failed: boom; restarting in 1s"},  {failed, "startup probe failed: boom; gave up after 0 restarts"}},
    {never,      End::exit0,    {stopped, "exited with code 0"},                            {stopped, "exited with code 0"}},
    {never,      End::exit3,    {failed, "exited with code 3"},                             {failed, "exited with code 3"}},
    {never,      End::signal,   {failed, "killed by SIGSEGV"},                              {failed, "killed by SIGSEGV"}},
    {never,      End::oom,      {failed, "killed by the OOM killer"},                       {failed, "killed by the OOM killer"}},
    {never,      End::liveness, {failed, "liveness probe failed: boom"},                    {failed, "liveness probe failed: boom"}},
    {never,      End::startup,  {failed, "startup probe failed: boom"},                     {failed, "startup probe failed: boom"}},
};

// What the operator asked outranks all of the above, whatever the policy, the end and
// the retries: a stop leaves the app stopped (the message empty: the operator knows
// why), a restart starts it again at once, not counted.
const Outcome kAfterStop{stopped, ""};
const Outcome kAfterRestart{AppState::starting, ""};

ProbeSpec http_probe() {
    ProbeSpec p;
    p.kind = ProbeKind::http;
    p.port = 80;
    return p;
}

struct Rig {
    ManualClock clock;
    FakeRuntime runtime;
    FakeProbeHost probes;
    FakeHookRunner hooks;
    EventLog events;
    Supervisor sup{clock, runtime, events, [] { return 0.5; }, &probes, &hooks};  // no jitter
    Rig() { sup.settle = Duration(0); }

    /// The last `state` event of `app`.
    AppEvent last_state(const std::string& app) const {
        AppEvent last;
        for (auto& e : events.recent(app))
            if (e.type == "state") last = e;
        return last;
    }
    std::size_t count(const std::string& app, const std::string& type) const {
        std::size_t n = 0;
        for (auto& e : events.recent(app))
            if (e.type == type) ++n;
        return n;
    }
};

}  // namespace

TEST_CASE("enter_dead: restart policy x how the run ended x retries x the operator's word, as one table",
          "[supervisor][enter_dead]") {
    const Row& row = kTable[GENERATE(range(std::size_t{0}, std::size(kTable)))];
    const bool retries_out = GENERATE(false, true);
    const Asked asked = GENERATE(Asked::nothing, Asked::stop, Asked::restart);
    INFO("policy " << to_string(row.policy) << ", " << name(row.end) << ", "
                   << (retries_out ? "maxRetries reached" : "retries left") << ", " << name(asked));

    Rig r;
    AppSpec s;
    s.name = "web";
    s.command = {"/bin/web"};
    s.restart.policy = row.policy;
    s.restart.max_retries = retries_out ? 0 : 1;
    s.hooks.on_failure = HookSpec{};
    s.hooks.on_failure->command = {"/usr/local/bin/on-failure"};
    if (row.end == End::liveness) s.probes.liveness = http_probe();
    if (row.end == End::startup) s.probes.startup = http_probe();
    std::map<std::string, AppSpec> m;
    m.emplace(s.name, s);
    r.sup.load(m);
    r.sup.start_all();
    r.runtime.started("web");
    // Up: ready, or running until its startup probe passes.
    REQUIRE(r.sup.detail("web")->status.state == (row.end == End::startup ? AppState::running : AppState::ready));

    // A probe's failure stops the app first (its stop signal); the operator's stop or
    // restart then arrives while it is stopping, before it exits.
    if (row.end == End::liveness) r.probes.change("web", ProbeType::liveness, false, "boom");
    if (row.end == End::startup) r.probes.change("web", ProbeType::startup, false, "boom");
    if (asked == Asked::stop) r.sup.stop("web", std::nullopt, [](std::optional<std::string>) {});
    if (asked == Asked::restart) r.sup.restart("web", std::nullopt, [](std::optional<std::string>) {});
    const bool stopping = row.end == End::liveness || row.end == End::startup || asked != Asked::nothing;
    REQUIRE((r.sup.detail("web")->status.state == AppState::stopping) == stopping);

    switch (row.end) {
        case End::exit0: r.runtime.exit("web", 0); break;
        case End::exit3: r.runtime.exit("web", 3); break;
        case End::signal: r.runtime.exit("web", 0, SIGSEGV); break;
        case End::oom: {
            ExitInfo e;
            e.code = 128 + SIGKILL;
            e.signal = SIGKILL;
            e.oom_killed = true;
            r.runtime.exit_with("web", e);
            break;
        }
        case End::liveness:
        case End::startup: r.runtime.exit("web", 0, SIGTERM); break;  // the stop signal's exit
    }

    const Outcome want = asked == Asked::stop      ? kAfterStop
                         : asked == Asked::restart ? kAfterRestart
                         : retries_out             ? row.retries_out
                                                   : row.retries_left;
    auto st = r.sup.detail("web")->status;
    CHECK(st.state == want.state);
    AppEvent entered = r.last_state("web");
    CHECK(entered.state == to_string(want.state));
    CHECK(entered.message == want.message);

    // Around the decision, the same for every row: one exit event, an oom event for an
    // OOM kill, onFailure exactly when the app entered `failed`, and nothing counted
    // in `restarts` until a restart is made (an operator's never is).
    CHECK(r.count("web", "exit") == 1);
    CHECK(r.count("web", "oom") == (row.end == End::oom ? 1u : 0u));
    CHECK(r.hooks.of("web", HookKind::failure).size() == (want.state == failed ? 1u : 0u));
    CHECK(st.restarts == 0);
    CHECK(r.runtime.launch_count("web") == (want.state == AppState::starting ? 2u : 1u));
    if (want.state == backoff) {
        r.clock.advance(1s);
        CHECK(r.sup.detail("web")->status.restarts == 1);
        CHECK(r.runtime.launch_count("web") == 2u);
    } else if (want.state != AppState::starting) {
        CHECK(r.clock.pending_timers() == 0);  // no restart left scheduled
    }
}
