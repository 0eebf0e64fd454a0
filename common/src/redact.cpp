// What the read-only socket hides from unprivileged peers (redact.hpp).
#include "isolated/redact.hpp"

#include <algorithm>

namespace isolated {
namespace {

/// The query of an HTTP probe's path ("token=x" of "/health?token=x"); "" when none.
std::string_view path_query(std::string_view path) {
    auto q = path.find('?');
    return q == std::string_view::npos ? std::string_view() : path.substr(q + 1);
}

void add_probe_values(const std::optional<ProbeSpec>& p, std::vector<std::string>& out) {
    if (!p) return;
    for (std::size_t i = 1; i < p->command.size(); ++i) out.push_back(p->command[i]);
    for (const auto& h : p->headers) out.push_back(h.value);
    if (auto q = path_query(p->path); !q.empty()) out.emplace_back(q);
}

void redact_probe_json(json& probe) {
    if (!probe.is_object()) return;
    if (auto exec = probe.find("exec"); exec != probe.end() && exec->contains("command")) {
        auto& cmd = (*exec)["command"];
        for (std::size_t i = 1; i < cmd.size(); ++i) cmd[i] = nullptr;
    }
    if (auto http = probe.find("http"); http != probe.end() && http->is_object()) {
        if (auto headers = http->find("headers"); headers != http->end())
            for (auto& h : *headers) h["value"] = nullptr;
        if (auto path = http->find("path"); path != http->end() && path->is_string()) {
            std::string p = path->get<std::string>();
            if (auto q = p.find('?'); q != std::string::npos && q + 1 < p.size())
                *path = p.substr(0, q + 1) + std::string(redacted_marker);
        }
    }
}

/// The texts classify_exec (daemon/probe/exec_prober.cpp) puts before an exec probe's
/// output: "command exited with code 1: <output>".
constexpr std::string_view exec_output_leads[] = {"command exited with code ", "command killed by signal ",
                                                  "command timed out after "};

std::string hide_exec_output(std::string text) {
    for (auto lead : exec_output_leads) {
        auto at = text.find(lead);
        if (at == std::string::npos) continue;
        auto colon = text.find(": ", at + lead.size());
        if (colon == std::string::npos) continue;
        text = text.substr(0, colon + 2) + std::string(hidden_output_marker);
    }
    return text;
}

}  // namespace

std::vector<std::string> secret_values(const AppSpec& spec) {
    std::vector<std::string> out;
    for (const auto& [key, value] : spec.env) out.push_back(value);
    for (std::size_t i = 1; i < spec.command.size(); ++i) out.push_back(spec.command[i]);
    for (const auto& a : spec.args) out.push_back(a);  // arguments as much as command's
    add_probe_values(spec.probes.liveness, out);
    add_probe_values(spec.probes.readiness, out);
    add_probe_values(spec.probes.startup, out);
    // A hook's arguments can hold a webhook's token or a mail address.
    for (const auto* h : {&spec.hooks.on_failure, &spec.hooks.on_unhealthy, &spec.hooks.on_oom})
        if (*h)
            for (std::size_t i = 1; i < (*h)->command.size(); ++i) out.push_back((*h)->command[i]);
    out.erase(std::remove(out.begin(), out.end(), std::string()), out.end());
    return out;
}

json redacted_spec_json(const AppSpec& spec) {
    json j = app_spec_to_json(spec);
    for (auto& [key, value] : j["env"].items()) value = nullptr;
    auto& cmd = j["command"];
    for (std::size_t i = 1; i < cmd.size(); ++i) cmd[i] = nullptr;
    for (auto& a : j["args"]) a = nullptr;
    for (const char* which : {"liveness", "readiness", "startup"}) redact_probe_json(j["probes"][which]);
    for (auto& [key, hook] : j["hooks"].items()) {
        if (!hook.is_object()) continue;
        auto& hc = hook["command"];
        for (std::size_t i = 1; i < hc.size(); ++i) hc[i] = nullptr;
    }
    return j;
}

void Redactor::add(const AppSpec& spec) {
    for (auto& v : secret_values(spec)) add_value(std::move(v));
}

void Redactor::add(const LearnedSecrets& learned) {
    for (auto& v : learned.values()) add_value(std::move(v));
}

void LearnedSecrets::learn(const std::string& app, std::vector<std::string> values) {
    values.erase(std::remove(values.begin(), values.end(), std::string()), values.end());
    std::sort(values.begin(), values.end());
    values.erase(std::unique(values.begin(), values.end()), values.end());
    auto& current = current_[app];
    if (current == values) return;
    auto known = [&](const std::string& v) {
        for (const auto& [a, vs] : current_)
            if (std::binary_search(vs.begin(), vs.end(), v)) return true;
        return std::find(earlier_.begin(), earlier_.end(), v) != earlier_.end();
    };
    bool news = std::any_of(values.begin(), values.end(), [&](const std::string& v) { return !known(v); });
    // What the app's last start read becomes history, still scrubbed while it fits.
    for (auto& v : current) {
        if (std::binary_search(values.begin(), values.end(), v)) continue;
        earlier_bytes_ += v.size();
        earlier_.push_front(std::move(v));
    }
    while (earlier_bytes_ > max_earlier_bytes && !earlier_.empty()) {
        earlier_bytes_ -= earlier_.back().size();
        earlier_.pop_back();
    }
    current = std::move(values);
    if (news) ++generation_;
}

std::vector<std::string> LearnedSecrets::values() const {
    std::vector<std::string> out;
    for (const auto& [app, vs] : current_) out.insert(out.end(), vs.begin(), vs.end());
    out.insert(out.end(), earlier_.begin(), earlier_.end());
    return out;
}

void Redactor::add_value(std::string value) {
    if (value.size() < min_scrub_length) return;
    if (std::find(values_.begin(), values_.end(), value) != values_.end()) return;
    auto at = std::find_if(values_.begin(), values_.end(), [&](const std::string& v) { return v.size() < value.size(); });
    values_.insert(at, std::move(value));
}

std::string Redactor::scrub(std::string_view text) const {
    std::string out = hide_exec_output(std::string(text));
    for (const auto& secret : values_) {
        std::size_t pos = 0;
        while ((pos = out.find(secret, pos)) != std::string::npos) {
            out.replace(pos, secret.size(), redacted_marker);
            pos += redacted_marker.size();
        }
    }
    return out;
}

AppStatus Redactor::redact(AppStatus s) const {
    // File errors quote the rejected file, whose values no Redactor has seen: only
    // their number is shown.
    if (!s.file_errors.empty()) {
        std::size_t n = s.file_errors.size();
        s.file_errors = {"the app file was rejected (" + std::to_string(n) + (n == 1 ? " error" : " errors") +
                         "); the details need root or group isolated"};
        if (s.message.rfind("app file rejected", 0) == 0) s.message = "app file rejected";
    }
    s.message = scrub(s.message);
    if (s.last_exit) s.last_exit->message = scrub(s.last_exit->message);
    for (auto* p : {&s.health.startup, &s.health.liveness, &s.health.readiness})
        if (*p) (*p)->message = scrub((*p)->message);
    return s;
}

AppEvent Redactor::redact(AppEvent e) const {
    e.message = scrub(e.message);
    if (e.exit) e.exit->message = scrub(e.exit->message);
    return e;
}

json Redactor::redact(const AppDetail& detail) const {
    json j = redact(detail.status);
    j["spec"] = detail.has_spec ? redacted_spec_json(detail.spec) : json(nullptr);
    json events = json::array();
    for (const auto& e : detail.events) events.push_back(redact(e));
    j["events"] = std::move(events);
    j["redacted"] = true;
    return j;
}

json Redactor::redact_error(json body) const {
    if (!body.is_object()) return body;
    auto err = body.find("error");
    if (err == body.end() || !err->is_object()) return body;
    auto msg = err->find("message");
    if (msg != err->end() && msg->is_string()) *msg = scrub(msg->get<std::string>());
    return body;
}

}  // namespace isolated
