#include "api/dispatcher.hpp"

#include <algorithm>
#include <charconv>
#include <chrono>
#include <exception>
#include <optional>
#include <set>

#include "api/target.hpp"
#include "isolated/api_json.hpp"
#include "isolated/base64.hpp"
#include "isolated/redact.hpp"
#include "isolated/since.hpp"
#include "isolated/units.hpp"

namespace isolated::api {
namespace {

constexpr const char* text_type = "text/plain; charset=utf-8";
constexpr const char* ndjson_type = "application/x-ndjson";
// What Prometheus' own client libraries send for the text exposition format 0.0.4.
constexpr const char* metrics_type = "text/plain; version=0.0.4; charset=utf-8";

enum class RouteKind {
    apps, app, action, logs, reload, events, metrics, version, health, exec, signal,
    images, image, image_rm, image_load, image_prune, image_pull
};

/// Event messages and app names can hold any bytes; invalid UTF-8 must not make
/// dump() throw, so it is replaced (U+FFFD) instead.
std::string to_body(const json& j) { return j.dump(-1, ' ', false, json::error_handler_t::replace) + "\n"; }

Response json_response(int status, const json& j) {
    Response r;
    r.status = status;
    r.body = to_body(j);
    return r;
}

Response text_response(std::string content_type, std::string body) {
    Response r;
    r.content_type = std::move(content_type);
    r.body = std::move(body);
    return r;
}

Response stream_response(std::string content_type, std::shared_ptr<Stream> stream) {
    Response r;
    r.content_type = std::move(content_type);
    r.stream = std::move(stream);
    return r;
}

Response bad_request(std::string_view message) { return error_response(400, api_error::bad_request, message); }

Response unknown_app(const std::string& name) {
    return error_response(404, api_error::not_found, "no app named \"" + name + "\"");
}

bool is_blank(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
}

/// The optional body of start/stop/restart: {"timeout": "10s"}; empty means none.
Result<std::optional<Duration>> parse_action_body(std::string_view body) {
    std::optional<Duration> timeout;
    if (is_blank(body)) return timeout;
    auto j = json::parse(body, nullptr, /* allow_exceptions= */ false);
    if (j.is_discarded()) return Error::msg("request body is not valid JSON");
    if (!j.is_object()) return Error::msg(R"(request body must be a JSON object such as {"timeout": "10s"})");
    for (const auto& [key, value] : j.items()) {
        if (key != "timeout") return Error::msg("unknown field \"" + key + "\" in request body (allowed: timeout)");
        if (!value.is_string()) return Error::msg(R"(timeout: must be a duration string such as "10s")");
        const auto& text = value.get_ref<const std::string&>();
        auto d = parse_duration(text);
        if (!d) return Error::msg("timeout: \"" + text + R"(" is not a duration ("500ms", "10s", "5m", "1h"))");
        timeout = d;
    }
    return timeout;
}

/// The body of POST /v1/apps/NAME/signal: {"signal": "SIGHUP", "all": false}; the
/// signal as a name with or without "SIG", or its number (a JSON number or a string).
struct SignalBody {
    int signal = 0;
    bool all = false;
};

Result<SignalBody> parse_signal_body(std::string_view body) {
    constexpr const char* example = R"(such as {"signal": "SIGHUP"} or {"signal": "SIGUSR1", "all": true})";
    if (is_blank(body)) return Error::msg(std::string("the body must name the signal, ") + example);
    auto j = json::parse(body, nullptr, /* allow_exceptions= */ false);
    if (j.is_discarded()) return Error::msg("request body is not valid JSON");
    if (!j.is_object()) return Error::msg(std::string("request body must be a JSON object ") + example);
    SignalBody out;
    bool have_signal = false;
    for (const auto& [key, value] : j.items()) {
        if (key == "signal") {
            have_signal = true;
            if (value.is_string()) {
                const auto& text = value.get_ref<const std::string&>();
                auto sig = parse_signal(text);
                if (!sig) return Error::msg("signal: " + signal_error(text));
                out.signal = *sig;
            } else if (value.is_number_integer()) {
                auto n = value.get<std::int64_t>();
                if (n < 1 || n > 64) return Error::msg("signal: " + std::to_string(n) + " is not a signal number (1 to 64)");
                out.signal = static_cast<int>(n);
            } else {
                return Error::msg(R"(signal: must be a name such as "SIGHUP" or "HUP", or a number)");
            }
        } else if (key == "all") {
            if (!value.is_boolean()) return Error::msg("all: must be true or false");
            out.all = value.get<bool>();
        } else {
            return Error::msg("unknown field \"" + key + "\" in request body (allowed: signal, all)");
        }
    }
    if (!have_signal) return Error::msg(std::string("the body must name the signal, ") + example);
    return out;
}

/// Reload takes no parameters: an empty body or {}.
std::optional<std::string> check_empty_body(std::string_view body) {
    if (is_blank(body)) return std::nullopt;
    auto j = json::parse(body, nullptr, /* allow_exceptions= */ false);
    if (j.is_discarded()) return "request body is not valid JSON";
    if (!j.is_object()) return "request body must be empty or a JSON object";
    if (!j.empty()) return "unknown field \"" + j.begin().key() + "\" in request body (this call takes none)";
    return std::nullopt;
}

std::string format_log_line(const LogLine& line, bool timestamps) {
    std::string out;
    out.reserve(line.text.size() + (timestamps ? 26 : 1));
    if (timestamps) {
        out += format_rfc3339(line.time);
        out += ' ';
    }
    out += line.text;
    out += '\n';
    return out;
}

std::string ndjson_line(const AppEvent& e) { return to_body(json(e)); }

std::string describe(const PeerCredentials& peer) {
    return "uid " + std::to_string(peer.uid) + ", pid " + std::to_string(peer.pid);
}

// ---- routes ---------------------------------------------------------------------------

struct Route {
    RouteKind kind;
    const char* method;
    std::vector<std::string_view> query_keys;
    std::string app;
    AppAction action = AppAction::start;
};

std::optional<Route> match_route(const std::vector<std::string>& seg, std::string_view method) {
    // /metrics is Prometheus' default metrics_path: a scrape job through a socket proxy
    // (systemd/isolated-metrics.socket) needs no metrics_path of its own. The one path
    // outside /v1, so that it never changes with the API's version.
    if (seg.size() == 1 && seg[0] == "metrics") return Route{RouteKind::metrics, "GET", {}, {}};
    if (seg.size() < 2 || seg[0] != "v1") return std::nullopt;
    const std::string& top = seg[1];
    if (top == "images") {
        if (seg.size() == 2) return Route{RouteKind::images, "GET", {}, {}};
        // POST load and prune; GET and DELETE a ref, whose slashes ("docker.io/library/
        // busybox:1") make more segments.
        if (seg.size() == 3 && method == "POST" && seg[2] == "load")
            return Route{RouteKind::image_load, "POST", {"name"}, {}};
        if (seg.size() == 3 && method == "POST" && seg[2] == "prune")
            return Route{RouteKind::image_prune, "POST", {}, {}};
        if (seg.size() == 3 && method == "POST" && seg[2] == "pull")
            return Route{RouteKind::image_pull, "POST", {}, {}};
        std::string ref;
        for (std::size_t i = 2; i < seg.size(); ++i) {
            if (seg[i].empty()) return std::nullopt;
            ref += (ref.empty() ? "" : "/") + seg[i];
        }
        if (method == "DELETE") return Route{RouteKind::image_rm, "DELETE", {}, ref};
        return Route{RouteKind::image, "GET", {}, ref};
    }
    if (seg.size() == 2) {
        if (top == "apps") return Route{RouteKind::apps, "GET", {}, {}};
        if (top == "reload") return Route{RouteKind::reload, "POST", {}, {}};
        if (top == "events") return Route{RouteKind::events, "GET", {"follow", "app"}, {}};
        if (top == "metrics") return Route{RouteKind::metrics, "GET", {}, {}};
        if (top == "version") return Route{RouteKind::version, "GET", {}, {}};
        if (top == "health") return Route{RouteKind::health, "GET", {}, {}};
        return std::nullopt;
    }
    if (top != "apps" || seg[2].empty()) return std::nullopt;
    if (seg.size() == 3) return Route{RouteKind::app, "GET", {}, seg[2]};
    if (seg.size() != 4) return std::nullopt;
    if (seg[3] == "logs") return Route{RouteKind::logs, "GET", {"tail", "follow", "timestamps", "since"}, seg[2]};
    if (seg[3] == "exec") return Route{RouteKind::exec, "POST", {}, seg[2]};
    if (seg[3] == "signal") return Route{RouteKind::signal, "POST", {}, seg[2]};
    if (auto action = app_action_from_string(seg[3]))
        return Route{RouteKind::action, "POST", {"wait"}, seg[2], *action};
    return std::nullopt;
}

// ---- query parameters -----------------------------------------------------------------

class Query {
public:
    explicit Query(std::vector<QueryParam> params) : params_(std::move(params)) {}

    /// Unknown keys are refused rather than ignored: "?tial=5" is a typo, not a wish.
    std::optional<std::string> check(const std::vector<std::string_view>& allowed) const {
        for (std::size_t i = 0; i < params_.size(); ++i) {
            const auto& key = params_[i].key;
            if (std::find(allowed.begin(), allowed.end(), key) == allowed.end()) {
                std::string list;
                for (auto a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
                return "unknown query parameter \"" + key + "\"" +
                       (list.empty() ? " (this endpoint takes none)" : " (allowed: " + list + ")");
            }
            for (std::size_t k = 0; k < i; ++k)
                if (params_[k].key == key) return "query parameter \"" + key + "\" given twice";
        }
        return std::nullopt;
    }

    const std::string* find(std::string_view key) const {
        for (const auto& p : params_)
            if (p.key == key) return &p.value;
        return nullptr;
    }

    /// "1"/"true", "0"/"false"; a bare key ("?follow") means true.
    Result<bool> flag(std::string_view key, bool fallback) const {
        const std::string* v = find(key);
        if (!v) return fallback;
        if (v->empty() || *v == "1" || *v == "true") return true;
        if (*v == "0" || *v == "false") return false;
        return Error::msg(std::string(key) + ": \"" + *v + "\" is not a boolean (1, 0, true, false)");
    }

    /// A non-negative count, or "all".
    Result<std::size_t> count(std::string_view key, std::size_t fallback) const {
        const std::string* v = find(key);
        if (!v) return fallback;
        if (*v == "all") return std::size_t(SIZE_MAX);
        std::size_t n = 0;
        auto [end, ec] = std::from_chars(v->data(), v->data() + v->size(), n);
        if (v->empty() || ec != std::errc() || end != v->data() + v->size())
            return Error::msg(std::string(key) + ": \"" + *v + "\" is not a non-negative integer or \"all\"");
        return n;
    }

    std::string text(std::string_view key) const {
        const std::string* v = find(key);
        return v ? *v : std::string();
    }

private:
    std::vector<QueryParam> params_;
};

// ---- handlers -------------------------------------------------------------------------

// ---- what the read-only socket hides ----------------------------------------------------

/// The read-only socket is world-connectable: a peer there that is neither root nor in
/// group isolated gets every answer through a Redactor (isolated/redact.hpp; docs/API.md,
/// "What the read-only socket shows").
bool redacting(const Request& request) { return request.read_only && !request.peer_is_privileged; }

/// Adds the secrets of every app's definition in force: free text is scrubbed of all of
/// them, not only of its own app's (a message can name another app's argument).
void add_all_secrets(Backend& backend, Redactor& redactor) {
    for (const auto& status : backend.list_apps())
        if (auto detail = backend.get_app(status.name); detail && detail->has_spec) redactor.add(detail->spec);
    // And what the apps' starts read from envFiles and secrets, which no spec holds.
    if (const auto* learned = backend.learned_secrets()) redactor.add(*learned);
}

/// A follower's redaction: what it has learnt, and of which apps.
struct EventRedaction {
    Redactor redactor;
    std::set<std::string> apps;
    std::uint64_t learned_generation = 0;  ///< of the backend's LearnedSecrets last added
    void learn(Backend& backend) {
        for (const auto& status : backend.list_apps()) {
            apps.insert(status.name);
            if (auto detail = backend.get_app(status.name); detail && detail->has_spec) redactor.add(detail->spec);
        }
        learn_started(backend);
    }
    /// A start reads envFiles and secrets again: a changed file brings new values.
    void learn_started(Backend& backend) {
        const auto* learned = backend.learned_secrets();
        if (!learned || learned->generation() == learned_generation) return;
        redactor.add(*learned);
        learned_generation = learned->generation();
    }
};

Redactor all_secrets(Backend& backend) {
    Redactor r;
    add_all_secrets(backend, r);
    return r;
}

/// A GET answer that pollers revalidate: its strong ETag, "Cache-Control: no-cache" (use
/// it, but ask first), and a 304 with no body when If-None-Match already names it.
Response validated(const Request& request, Response r, std::string etag) {
    if (if_none_match(request.if_none_match, etag)) {
        r.status = 304;
        r.body.clear();
        r.content_type.clear();
    }
    r.headers.emplace_back("ETag", std::move(etag));
    r.headers.emplace_back("Cache-Control", "no-cache");
    return r;
}

// The body comes from the cache, serialized once per change of each app's status.
Response list_apps(Backend& backend, AppListCache& cache, const Request& request) {
    std::optional<Redactor> r;
    if (redacting(request)) r = all_secrets(backend);
    auto answer = cache.list(backend.apps_generation(), std::chrono::steady_clock::now(),
                             [&backend] { return backend.list_apps(); }, r ? &*r : nullptr);
    if (if_none_match(request.if_none_match, answer.etag)) return validated(request, Response{}, answer.etag);
    Response out;
    out.body = answer.body;
    return validated(request, std::move(out), answer.etag);
}

Response get_app(Backend& backend, const std::string& name, const Request& request) {
    auto detail = backend.get_app(name);
    if (!detail) return unknown_app(name);
    const bool redact = redacting(request);
    auto r = json_response(200, redact ? all_secrets(backend).redact(*detail) : json(*detail));
    auto etag = body_etag(redact ? "app-r" : "app-f", r.body);
    return validated(request, std::move(r), std::move(etag));
}

std::optional<Response> app_action(Backend& backend, const DispatcherOptions& options, const Request& request,
                                   const std::string& name, AppAction action, const Query& query,
                                   const Dispatcher::Respond& respond) {
    auto timeout = parse_action_body(request.body);
    if (!timeout) return bad_request(timeout.error().message);
    auto wait = query.flag("wait", true);
    if (!wait) return bad_request(wait.error().message);
    if (!backend.get_app(name)) return unknown_app(name);
    if (options.log) options.log("api: " + to_string(action) + " " + name + " (" + describe(request.peer) + ")");

    // The status after the action (200) or right away (202); the app can have been
    // removed by a reload in between.
    auto status_of = [](Backend& b, const std::string& app, int status) {
        auto detail = b.get_app(app);
        if (!detail) return error_response(404, api_error::not_found, "app \"" + app + "\" no longer exists");
        return json_response(status, json(detail->status));
    };

    if (!*wait) {
        // Done may come before app_action returns (unknown app, refused at once):
        // that error is still the answer. A later Done has nobody left to tell.
        struct Early {
            bool returned = false;
            std::optional<ApiError> error;
        };
        auto early = std::make_shared<Early>();
        backend.app_action(name, action, *timeout, [early](ApiResult<void> settled) {
            if (!early->returned && !settled) early->error = std::move(settled.error());
        });
        early->returned = true;
        if (early->error) return error_response(*early->error);
        return status_of(backend, name, 202);
    }

    // Captures the backend, not `this`: Done can outlive the server (shutdown while a
    // stop is still in progress); `respond` then finds its session gone.
    backend.app_action(name, action, *timeout, [b = &backend, name, respond, status_of](ApiResult<void> settled) {
        if (!settled) {
            respond(error_response(settled.error()));
            return;
        }
        try {
            respond(status_of(*b, name, 200));
        } catch (const std::exception& e) {
            respond(error_response(500, api_error::internal, e.what()));
        }
    });
    return std::nullopt;
}

Response reload(Backend& backend, const DispatcherOptions& options, const Request& request) {
    if (auto err = check_empty_body(request.body)) return bad_request(*err);
    if (options.log) options.log("api: reload (" + describe(request.peer) + ")");
    return json_response(200, json(backend.reload()));
}

Response logs(Backend& backend, const DispatcherOptions& options, const Request& request, const std::string& name,
              const Query& query) {
    // App output may hold secrets (passwords printed at first start, tokens): the
    // read-only socket is world-connectable, so logs there need a privileged peer.
    if (request.read_only && !request.peer_is_privileged)
        return error_response(403, api_error::forbidden,
                              "app logs on the read-only socket need root or group isolated");
    auto tail = query.count("tail", SIZE_MAX);
    if (!tail) return bad_request(tail.error().message);
    auto follow = query.flag("follow", false);
    if (!follow) return bad_request(follow.error().message);
    auto timestamps = query.flag("timestamps", false);
    if (!timestamps) return bad_request(timestamps.error().message);
    std::optional<WallTime> since;
    if (const std::string* text = query.find("since")) {
        since = parse_since(*text, std::chrono::system_clock::now());
        if (!since)
            return bad_request("since: \"" + *text +
                               "\" is not a time (RFC 3339 such as \"2026-11-23T19:00:00Z\", Unix seconds, or a "
                               "duration back from now such as \"10m\")");
    }
    if (!backend.get_app(name)) return unknown_app(name);

    const bool with_time = *timestamps;
    if (!*follow) {
        auto lines = backend.read_logs(name, *tail, since);
        if (!lines) return error_response(lines.error());
        std::string body;
        for (const auto& line : *lines) body += format_log_line(line, with_time);
        return text_response(text_type, std::move(body));
    }
    auto stream = std::make_shared<Stream>(options.max_stream_buffer);
    auto subscription = backend.follow_logs(name, *tail, since, [s = stream.get(), with_time](const LogLine& line) {
        s->push(format_log_line(line, with_time));
    });
    if (!subscription) return error_response(subscription.error());
    stream->hold(std::move(*subscription));
    return stream_response(text_type, std::move(stream));
}

Response events(Backend& backend, const DispatcherOptions& options, const Request& request, const Query& query) {
    auto follow = query.flag("follow", false);
    if (!follow) return bad_request(follow.error().message);
    const std::string app = query.text("app");
    // As for logs: an app that is not defined is a 404, not an empty history.
    if (!app.empty() && !backend.get_app(app)) return unknown_app(app);

    // Null for a peer that sees everything.
    std::shared_ptr<EventRedaction> redaction;
    if (redacting(request)) {
        redaction = std::make_shared<EventRedaction>();
        redaction->learn(backend);
    }
    auto line_of = [](const EventRedaction* r, const AppEvent& e) {
        return ndjson_line(r ? r->redactor.redact(e) : e);
    };

    std::string stored;
    std::uint64_t last_seq = 0;
    for (const auto& e : backend.events(app)) {
        stored += line_of(redaction.get(), e);
        last_seq = std::max(last_seq, e.seq);
    }
    if (!*follow) return text_response(ndjson_type, std::move(stored));

    auto stream = std::make_shared<Stream>(options.max_stream_buffer);
    stream->push(stored);
    // Stored and new events could overlap if the backend ever delivered an event it
    // had already stored; seq tells them apart. A reload, a changed definition or a new
    // app can bring new secrets: the redaction learns them (and keeps the old ones). It
    // must see the daemon-wide "reload" event, so it follows every app and filters here.
    const std::string subscribed = redaction ? std::string() : app;
    stream->hold(backend.subscribe_events(
        subscribed, [s = stream.get(), last_seq, redaction, b = &backend, line_of, app](const AppEvent& e) {
            if (redaction && (e.type == "reload" || e.type == "redefine" ||
                              (!e.app.empty() && !redaction->apps.count(e.app))))
                redaction->learn(*b);
            else if (redaction)
                redaction->learn_started(*b);
            if (!app.empty() && e.app != app) return;
            if (e.seq == 0 || e.seq > last_seq) s->push(line_of(redaction.get(), e));
        }));
    return stream_response(ndjson_type, std::move(stream));
}

// POST /v1/apps/NAME/exec {"command": [...], "tty": bool}: a ticket for isoctl, which
// enters the sandbox itself (it needs root for setns; the daemon never runs the
// command, so no stdin/stdout streams through the API).
Response exec_ticket(Backend& backend, const Request& request, const std::string& app) {
    if (request.peer.uid != 0)
        return error_response(403, api_error::forbidden, "isoctl exec needs root: it enters the app's namespaces");
    json body;
    try {
        body = json::parse(request.body);
    } catch (const std::exception&) {
        return bad_request("the body must be JSON: {\"command\": [\"sh\"], \"tty\": false}");
    }
    if (!body.is_object() || !body.contains("command") || !body["command"].is_array() || body["command"].empty())
        return bad_request("\"command\" must be a non-empty array of strings");
    std::vector<std::string> command;
    for (const auto& a : body["command"]) {
        if (!a.is_string()) return bad_request("\"command\" must be a non-empty array of strings");
        command.push_back(a.get<std::string>());
    }
    bool tty = body.value("tty", false);
    auto issued = backend.exec_ticket(app, command, tty);
    if (!issued) return error_response(issued.error());
    const ExecTicket& ticket = *issued;
    return json_response(200, json{{"initPid", ticket.init_pid},
                                    {"initStart", ticket.init_start},
                                    {"initPath", ticket.init_path},
                                    {"plan", isolated::base64_encode(ticket.plan)}});
}

// POST /v1/apps/NAME/signal: an operator's signal to the app's main process, or with
// "all" to every process of it (`isoctl kill`).
Response signal_app(Backend& backend, const DispatcherOptions& options, const Request& request,
                    const std::string& name) {
    auto body = parse_signal_body(request.body);
    if (!body) return bad_request(body.error().message);
    if (options.log)
        options.log("api: signal " + signal_name(body->signal) + (body->all ? " (all processes) " : " ") + name + " (" +
                    describe(request.peer) + ")");
    auto signalled = backend.signal_app(name, body->signal, body->all);
    if (!signalled) return error_response(signalled.error());
    const SignalResult& result = *signalled;
    return json_response(200, json{{"app", name},
                                   {"signal", signal_name(result.signal)},
                                   {"all", result.all},
                                   {"mainPid", result.main_pid > 0 ? json(result.main_pid) : json(nullptr)},
                                   {"pids", result.pids},
                                   {"processes", result.pids.size()}});
}

// ---- images (docs/API.md, "Images") -----------------------------------------------------

Response list_images(Backend& backend) {
    auto images = backend.list_images();
    if (!images) return error_response(images.error());
    return json_response(200, json{{"images", *images}});
}

Response inspect_image(Backend& backend, const std::string& ref) {
    auto image = backend.inspect_image(ref);
    if (!image) return error_response(image.error());
    return json_response(200, json(*image));
}

std::optional<Response> remove_image(Backend& backend, const DispatcherOptions& options, const Request& request,
                                     const std::string& ref, const Dispatcher::Respond& respond) {
    if (auto err = check_empty_body(request.body)) return bad_request(*err);
    if (options.log) options.log("api: image rm " + ref + " (" + describe(request.peer) + ")");
    backend.remove_image(ref, [respond](ApiResult<ImageRemoveReport> r) {
        respond(r ? json_response(200, json(*r)) : error_response(r.error()));
    });
    return std::nullopt;
}

std::optional<Response> prune_images(Backend& backend, const DispatcherOptions& options, const Request& request,
                                     const Dispatcher::Respond& respond) {
    if (auto err = check_empty_body(request.body)) return bad_request(*err);
    if (options.log) options.log("api: image prune (" + describe(request.peer) + ")");
    backend.prune_images([respond](ApiResult<ImagePruneReport> r) {
        respond(r ? json_response(200, json(*r)) : error_response(r.error()));
    });
    return std::nullopt;
}

std::string ndjson_line(const ImageLoadEvent& e) {
    switch (e.kind) {
        case ImageLoadEvent::Kind::progress: return to_body(json{{"status", e.message}});
        case ImageLoadEvent::Kind::result: return to_body(json{{"result", {{"images", e.images}}}});
        case ImageLoadEvent::Kind::error: return to_body(error_json(e.error.code, e.error.message));
    }
    return {};
}

// POST /v1/images/load[?name=REF]: the body (the archive) is already in a file
// (Session streamed it there); the answer is NDJSON progress ending in a result or an
// error line.
Response load_image(Backend& backend, const DispatcherOptions& options, const Request& request, const Query& query) {
    if (!request.upload)
        return bad_request("the archive must be the request body (Content-Type: application/x-tar)");
    std::string name = query.text("name");
    if (options.log)
        options.log("api: image load" + (name.empty() ? std::string() : " --name " + name) + " (" +
                    std::to_string(request.upload_bytes) + " bytes, " + describe(request.peer) + ")");
    auto stream = std::make_shared<Stream>(options.max_stream_buffer);
    stream->mark_finite();
    std::weak_ptr<Stream> weak = stream;
    auto started = backend.load_image(request.upload, name, [weak](ImageLoadEvent e) {
        auto s = weak.lock();
        if (!s) return;  // the client went away; the load goes on
        s->push(ndjson_line(e));
        if (e.kind != ImageLoadEvent::Kind::progress) s->close();
    });
    if (!started) return error_response(started.error());
    return stream_response(ndjson_type, std::move(stream));
}

std::string ndjson_line(const ImagePullEvent& e) {
    switch (e.kind) {
        case ImagePullEvent::Kind::progress:
            if (e.id.empty()) return to_body(json{{"status", e.message}});
            return to_body(json{{"status", e.message},
                                {"progress", {{"id", e.id}, {"current", e.current}, {"total", e.total}}}});
        case ImagePullEvent::Kind::result: return to_body(json{{"result", {{"images", e.images}}}});
        case ImagePullEvent::Kind::error: return to_body(error_json(e.error.code, e.error.message));
    }
    return {};
}

// POST /v1/images/pull {"ref": "busybox:1", "authfile": "/root/auth.json"}: NDJSON
// progress as for a load, ending in a result or an error line.
Response pull_image(Backend& backend, const DispatcherOptions& options, const Request& request) {
    constexpr const char* example = R"(such as {"ref": "busybox:1.36"})";
    auto j = json::parse(request.body, nullptr, /* allow_exceptions= */ false);
    if (is_blank(request.body)) return bad_request(std::string("the body must name the image, ") + example);
    if (j.is_discarded()) return bad_request("request body is not valid JSON");
    if (!j.is_object()) return bad_request(std::string("request body must be a JSON object ") + example);
    ImagePullRequest pull;
    for (const auto& [key, value] : j.items()) {
        if (key != "ref" && key != "authfile")
            return bad_request("unknown field \"" + key + "\" in request body (allowed: ref, authfile)");
        if (!value.is_string()) return bad_request(key + ": must be a string");
        (key == "ref" ? pull.ref : pull.authfile) = value.get<std::string>();
    }
    if (pull.ref.empty()) return bad_request(std::string("the body must name the image, ") + example);
    if (!pull.authfile.empty() && pull.authfile.front() != '/')
        return bad_request("authfile: must be an absolute path");
    pull.uid = request.peer.uid;
    pull.gid = request.peer.gid;
    pull.groups = request.peer.groups;
    if (options.log)
        options.log("api: image pull " + pull.ref + (pull.authfile.empty() ? std::string() : " --authfile " + pull.authfile) +
                    " (" + describe(request.peer) + ")");
    auto stream = std::make_shared<Stream>(options.max_stream_buffer);
    stream->mark_finite();
    std::weak_ptr<Stream> weak = stream;
    auto started = backend.pull_image(pull, [weak](ImagePullEvent e) {
        auto s = weak.lock();
        if (!s) return;  // the client went away; the pull goes on
        s->push(ndjson_line(e));
        if (e.kind != ImagePullEvent::Kind::progress) s->close();
    });
    if (!started) return error_response(started.error());
    return stream_response(ndjson_type, std::move(stream));
}

std::optional<Response> route(Backend& backend, AppListCache& app_list, const DispatcherOptions& options,
                              const Request& request, const Dispatcher::Respond& respond) {
    auto target = parse_target(request.target);
    if (!target) return bad_request(target.error().message);
    auto route = match_route(target->segments, request.method);
    if (!route) {
        std::string path = request.target.substr(0, std::min<std::size_t>(request.target.find('?'), 200));
        return error_response(404, api_error::not_found, "no such endpoint: " + request.method + " " + path);
    }
    if (request.method != route->method) {
        auto r = error_response(405, api_error::method_not_allowed,
                                request.method + " is not allowed here; use " + route->method);
        r.headers.emplace_back("Allow", route->method);
        return r;
    }
    // The socket's mode already keeps others out; this is the second check.
    if (!request.read_only && !request.peer_is_privileged)
        return error_response(403, api_error::forbidden, "the control socket is for root and group isolated");
    const bool mutating = std::string_view(route->method) != "GET";
    if (request.read_only && mutating)
        return error_response(403, api_error::forbidden,
                              "the read-only socket answers GET only; use the control socket (isolated.sock)");
    if (request.body.size() > options.max_body_bytes)
        return error_response(413, api_error::payload_too_large,
                              "request body over " + std::to_string(options.max_body_bytes) + " bytes");
    Query query(std::move(target->query));
    if (auto err = query.check(route->query_keys)) return bad_request(*err);

    switch (route->kind) {
        case RouteKind::apps: return list_apps(backend, app_list, request);
        case RouteKind::app: return get_app(backend, route->app, request);
        case RouteKind::action:
            return app_action(backend, options, request, route->app, route->action, query, respond);
        case RouteKind::logs: return logs(backend, options, request, route->app, query);
        case RouteKind::reload: return reload(backend, options, request);
        case RouteKind::events: return events(backend, options, request, query);
        case RouteKind::metrics: {
            auto r = text_response(metrics_type, backend.metrics());
            auto etag = body_etag("metrics", r.body);
            return validated(request, std::move(r), std::move(etag));
        }
        case RouteKind::version: return json_response(200, json(backend.version()));
        case RouteKind::health: return json_response(200, json{{"status", "ok"}});
        case RouteKind::exec: return exec_ticket(backend, request, route->app);
        case RouteKind::signal: return signal_app(backend, options, request, route->app);
        case RouteKind::images: return list_images(backend);
        case RouteKind::image: return inspect_image(backend, route->app);
        case RouteKind::image_rm: return remove_image(backend, options, request, route->app, respond);
        case RouteKind::image_load: return load_image(backend, options, request, query);
        case RouteKind::image_prune: return prune_images(backend, options, request, respond);
        case RouteKind::image_pull: return pull_image(backend, options, request);
    }
    return error_response(500, api_error::internal, "unhandled route");
}

}  // namespace

// ---- responses ------------------------------------------------------------------------

Response error_response(int status, std::string_view code, std::string_view message) {
    return json_response(status, error_json(code, message));
}

Response error_response(const ApiError& error) { return error_response(error.status, error.code, error.message); }

bool is_privileged(const PeerCredentials& peer, gid_t group) {
    if (peer.uid == 0) return true;
    if (group == static_cast<gid_t>(-1)) return false;
    return peer.gid == group || std::find(peer.groups.begin(), peer.groups.end(), group) != peer.groups.end();
}

// ---- the dispatcher -------------------------------------------------------------------

Dispatcher::Dispatcher(Backend& backend, DispatcherOptions options) : backend_(backend), options_(std::move(options)) {}

bool Dispatcher::is_upload(std::string_view method, std::string_view target) {
    if (method != "POST") return false;
    auto t = parse_target(target);
    if (!t) return false;
    auto r = match_route(t->segments, method);
    return r && r->kind == RouteKind::image_load;
}

Result<std::shared_ptr<Upload>, Response> Dispatcher::begin_upload(const Request& head) {
    if (head.read_only)
        return error_response(403, api_error::forbidden,
                              "the read-only socket answers GET only; use the control socket (isolated.sock)");
    if (!head.peer_is_privileged)
        return error_response(403, api_error::forbidden, "the control socket is for root and group isolated");
    auto up = backend_.begin_upload();
    if (!up) return error_response(up.error());
    return std::move(*up);
}

std::uint64_t Dispatcher::max_upload_bytes() { return backend_.max_upload_bytes(); }

void Dispatcher::dispatch(const Request& request, Respond respond) {
    // Exactly once, whichever of the synchronous path, the backend's Done or the
    // exception handler below gets there first.
    auto pending = std::make_shared<Respond>(std::move(respond));
    Respond answer = [pending](Response r) {
        if (!*pending) return;
        auto fn = std::exchange(*pending, nullptr);
        fn(std::move(r));
    };
    std::optional<Response> response;
    try {
        response = route(backend_, app_list_, options_, request, answer);
    } catch (const std::exception& e) {
        if (options_.log) options_.log("api: " + request.method + " " + request.target + ": " + e.what());
        response = error_response(500, api_error::internal, e.what());
    }
    if (response && redacting(request) && response->status >= 400 && !response->stream) {
        // Error messages quote what they are about; for a peer that must not see the
        // apps' secrets they are scrubbed like any other text.
        try {
            auto body = json::parse(response->body, nullptr, /* allow_exceptions= */ false);
            if (!body.is_discarded()) response->body = to_body(all_secrets(backend_).redact_error(std::move(body)));
        } catch (const std::exception&) {
            response = error_response(500, api_error::internal, "could not redact an error message");
        }
    }
    if (response) answer(std::move(*response));
}

}  // namespace isolated::api
