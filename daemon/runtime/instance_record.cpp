#include "runtime/instance_record.hpp"

#include <signal.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "isolated/api_json.hpp"
#include "isolated/app_parser.hpp"

namespace isolated::runtime {

namespace {

std::int64_t to_unix_ns(WallTime t) {
    return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

}  // namespace

std::string serialize_instance_record(const InstanceRecord& r) {
    nlohmann::json j = {{"instance", r.instance},
                        {"initPid", r.init_pid},
                        {"initStart", r.init_start},
                        {"pid", r.pid},
                        {"address", r.address},
                        {"restarts", r.restarts},
                        {"lastExit", r.last_exit ? nlohmann::json(*r.last_exit) : nlohmann::json(nullptr)},
                        {"spec", app_spec_to_json(r.spec)}};
    if (r.started_at) j["startedAt"] = to_unix_ns(*r.started_at);
    if (r.pid_start != 0) j["pidStart"] = r.pid_start;
    if (r.image)
        j["image"] = {{"ref", r.image->ref}, {"id", r.image->id}, {"manifest", r.image->manifest}};
    if (r.stop_signal != 0) j["stopSignal"] = r.stop_signal;
    return j.dump() + "\n";
}

Result<InstanceRecord> parse_instance_record(const std::string& app, const std::string& text,
                                             const std::string& source) {
    const nlohmann::json rec = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    auto has = [&](const char* key, auto check) { return rec.contains(key) && (rec[key].*check)(); };
    if (!rec.is_object() || !rec.contains("spec") || !has("instance", &nlohmann::json::is_string) ||
        !has("initPid", &nlohmann::json::is_number_integer) || !has("initStart", &nlohmann::json::is_number_unsigned))
        return Error::msg("is malformed");
    auto parsed = parse_app_text(app, rec["spec"].dump(), source);
    if (!parsed.spec) return Error::msg("holds a definition this daemon cannot read");

    InstanceRecord r;
    r.spec = std::move(*parsed.spec);
    r.instance = rec["instance"].get<std::string>();
    r.init_pid = rec["initPid"].get<pid_t>();
    r.init_start = rec["initStart"].get<std::uint64_t>();
    if (has("pid", &nlohmann::json::is_number_integer)) r.pid = rec["pid"].get<pid_t>();
    if (has("pidStart", &nlohmann::json::is_number_unsigned)) r.pid_start = rec["pidStart"].get<std::uint64_t>();
    if (has("startedAt", &nlohmann::json::is_number_integer))
        r.started_at = WallTime(std::chrono::duration_cast<WallTime::duration>(
            std::chrono::nanoseconds(rec["startedAt"].get<std::int64_t>())));
    if (has("address", &nlohmann::json::is_string)) r.address = rec["address"].get<std::string>();
    if (has("restarts", &nlohmann::json::is_number_unsigned)) r.restarts = rec["restarts"].get<std::uint32_t>();
    if (has("image", &nlohmann::json::is_object)) {
        const auto& i = rec["image"];
        auto str = [&](const char* k) { return i.contains(k) && i[k].is_string() ? i[k].get<std::string>() : ""; };
        if (!str("id").empty()) r.image = AppImage{str("ref"), str("id"), str("manifest")};
    }
    if (has("stopSignal", &nlohmann::json::is_number_integer)) r.stop_signal = rec["stopSignal"].get<int>();
    if (has("lastExit", &nlohmann::json::is_object)) {
        try {
            r.last_exit = rec["lastExit"].get<ExitInfo>();
        } catch (const nlohmann::json::exception&) {
            // An unreadable last exit is only history: the instance is adopted without it.
        }
    }
    return r;
}

std::optional<ExitInfo> parse_exit_record(const std::string& text, const std::string& instance) {
    std::istringstream in(text);
    std::string line;
    ExitInfo e;
    bool have_code = false, have_instance = false, have_message = false;
    while (std::getline(in, line)) {
        auto eq = line.find('=');
        if (eq == std::string::npos) continue;
        std::string key = line.substr(0, eq), val = line.substr(eq + 1);
        try {
            if (key == "instance") {
                if (val != instance) return std::nullopt;
                have_instance = true;
            } else if (key == "code") {
                e.code = std::stoi(val);
                have_code = true;
            } else if (key == "signal") {
                e.signal = std::stoi(val);
            } else if (key == "at") {
                auto dot = val.find('.');
                std::int64_t secs = std::stoll(val.substr(0, dot));
                std::int64_t nanos = dot == std::string::npos ? 0 : std::stoll(val.substr(dot + 1));
                e.at = WallTime(std::chrono::seconds(secs)) +
                       std::chrono::duration_cast<WallTime::duration>(std::chrono::nanoseconds(nanos));
            } else if (key == "message") {
                e.message = val;
                have_message = true;
            }
        } catch (const std::exception&) {
            return std::nullopt;
        }
    }
    // The init writes every key, message last, and ends with a newline: a record cut
    // short anywhere lacks one or the other -- even one cut inside the code ("code=13"
    // of "code=137\n..."), which would otherwise parse as another exit.
    if (!have_code || !have_instance || !have_message || text.empty() || text.back() != '\n') return std::nullopt;
    return e;
}

void parse_log_dropped(const std::string& text, ResourceUsage& usage) {
    std::optional<std::uint64_t> lines, bytes;
    std::istringstream in(text);
    for (std::string line; std::getline(in, line);) {
        auto eq = line.find('=');
        if (eq == std::string::npos || eq + 1 == line.size() || line.size() - eq > 20) return;
        std::uint64_t v = 0;
        for (char c : line.substr(eq + 1)) {
            if (c < '0' || c > '9') return;
            v = v * 10 + static_cast<std::uint64_t>(c - '0');
        }
        if (line.compare(0, eq, "lines") == 0) lines = v;
        else if (line.compare(0, eq, "bytes") == 0) bytes = v;
    }
    if (!lines || !bytes || text.back() != '\n') return;
    usage.log_dropped_lines = lines;
    usage.log_dropped_bytes = bytes;
}

ExitInfo exit_while_down(const std::optional<ExitInfo>& recorded, bool has_init, WallTime now) {
    ExitInfo exit;
    if (recorded) {
        exit = *recorded;
        if (exit.message.empty()) exit.message = "while the daemon was down";
    } else if (has_init) {
        // Its init was SIGKILLed (nothing else ends it without a record).
        exit.signal = SIGKILL;
        exit.code = 128 + SIGKILL;
        exit.at = now;
        exit.message = "ended while the daemon was down: the sandbox's init was killed (SIGKILL) before it "
                       "could record the app's exit";
    } else {
        exit.code = 255;
        exit.at = now;
        exit.message = "ended while the daemon was down; its exit status is unknown";
    }
    return exit;
}

}  // namespace isolated::runtime
