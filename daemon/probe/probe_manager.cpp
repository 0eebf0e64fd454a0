#include "probe/probe_manager.hpp"

#include <boost/asio/post.hpp>

#include "probe/exec_prober.hpp"
#include "probe/host_exec_runner.hpp"
#include "probe/http_prober.hpp"
#include "probe/probe_set.hpp"
#include "probe/tcp_prober.hpp"
#include "sys/netns.hpp"

namespace isolated::probe {

namespace asio = boost::asio;

namespace {

/// A socket probe whose target could not be resolved: fails every run with why.
class FailingProber : public Prober {
public:
    FailingProber(asio::io_context& io, std::string why) : io_(io), why_(std::move(why)) {}
    ~FailingProber() override { *cancelled_ = true; }
    void run(Duration, Done done) override {
        *cancelled_ = true;
        cancelled_ = std::make_shared<bool>(false);
        asio::post(io_, [c = cancelled_, done = std::move(done), why = why_] {
            if (!*c) done(ProbeOutcome::failure(why));
        });
    }

private:
    asio::io_context& io_;
    std::string why_;
    std::shared_ptr<bool> cancelled_ = std::make_shared<bool>(false);
};

class InstanceProbes : public supervisor::ProbeSetHandle {
public:
    InstanceProbes(ProbeTarget target, std::string target_error)
        : target(std::move(target)), target_error(std::move(target_error)) {}
    HealthStatus health() const override { return set->health(); }

    ProbeTarget target;
    std::string target_error;
    std::unique_ptr<ProbeSet> set;  // after `target`: destroyed first, while the netns fd is open
};

}  // namespace

TargetResolver netns_of_init(ExecRunnerFactory exec) {
    return [exec = std::move(exec)](const AppSpec& spec, const supervisor::Instance& instance) -> Result<ProbeTarget> {
        ProbeTarget t;
        if (exec) t.exec = exec(spec, instance);
        if (spec.network.mode == NetworkMode::host) return t;
        auto sandbox = instance.sandbox();
        if (!sandbox) return Error::msg("its sandbox has ended");
        auto fd = sys::netns_of_pidfd(sandbox.pidfd, sandbox.pid);
        if (!fd) return fd.error();
        t.netns = std::move(*fd);
        return t;
    };
}

ProbeManager::ProbeManager(asio::io_context& io, supervisor::Clock& clock, TargetResolver resolve,
                           supervisor::RandomSource random)
    : io_(io), clock_(clock), resolve_(std::move(resolve)), random_(std::move(random)) {}

std::unique_ptr<supervisor::ProbeSetHandle> ProbeManager::start(const AppSpec& spec,
                                                                const supervisor::Instance& instance,
                                                                supervisor::ProbeCallbacks callbacks) {
    ProbeTarget target;
    std::string error;
    if (resolve_) {
        auto r = resolve_(spec, instance);
        if (r)
            target = std::move(*r);
        else
            error = "cannot reach the app: " + r.error().to_string();
    }
    auto probes = std::make_unique<InstanceProbes>(std::move(target), std::move(error));
    InstanceProbes* p = probes.get();
    std::shared_ptr<ExecRunner> exec = p->target.exec;
    if (!exec)
        exec = std::make_shared<UnavailableExecRunner>(
            io_, p->target_error.empty() ? "no exec runner for this app" : p->target_error);

    ProberFactory make = [this, p, exec](supervisor::ProbeType, const ProbeSpec& s) -> std::unique_ptr<Prober> {
        int netns = p->target.netns ? p->target.netns.get() : -1;
        switch (s.kind) {
            case ProbeKind::exec: return std::make_unique<ExecProber>(exec, s.command);
            case ProbeKind::http: {
                if (!p->target_error.empty()) return std::make_unique<FailingProber>(io_, p->target_error);
                HttpTarget t;
                t.netns_fd = netns;
                t.port = s.port;
                t.scheme = s.scheme;
                t.path = s.path;
                t.headers = s.headers;
                return std::make_unique<HttpProber>(io_, std::move(t));
            }
            case ProbeKind::tcp: {
                if (!p->target_error.empty()) return std::make_unique<FailingProber>(io_, p->target_error);
                TcpTarget t;
                t.netns_fd = netns;
                t.port = s.port;
                t.expect = s.expect;
                return std::make_unique<TcpProber>(io_, std::move(t));
            }
        }
        return std::make_unique<FailingProber>(io_, "unknown probe kind");
    };
    p->set = std::make_unique<ProbeSet>(clock_, spec.probes, make, random_, std::move(callbacks));
    p->set->start();
    return probes;
}

}  // namespace isolated::probe
