#include "api_client.hpp"

namespace isoctl {

Response Client::call(const Request& req, const std::string& app) {
    Response r;
    try {
        r = transport_.request(req);
    } catch (const TransportError& e) {
        throw Failure(exit_code::unreachable, e.what());
    }
    if (!r.ok()) throw_api_error(r, app);
    return r;
}

Response Client::get(const std::string& target, const std::string& app) {
    return call(Request{"GET", target, {}, kQueryTimeout}, app);
}

Response Client::post(const std::string& target, const std::string& body, std::chrono::milliseconds timeout,
                      const std::string& app) {
    return call(Request{"POST", target, body, timeout}, app);
}

Response Client::post_unchecked(const std::string& target, const std::string& body,
                                std::chrono::milliseconds timeout) {
    try {
        return transport_.request(Request{"POST", target, body, timeout});
    } catch (const TransportError& e) {
        throw Failure(exit_code::unreachable, e.what());
    }
}

void Client::stream(const std::string& target, const std::function<void(std::string_view)>& on_data,
                    std::chrono::milliseconds header_timeout, const std::string& app) {
    Response r;
    try {
        r = transport_.stream(Request{"GET", target, {}, header_timeout}, on_data);
    } catch (const TransportError& e) {
        throw Failure(exit_code::unreachable, e.what());
    }
    if (!r.ok()) throw_api_error(r, app);
}

Response Client::raw(const Request& req) {
    try {
        return transport_.request(req);
    } catch (const TransportError& e) {
        throw Failure(exit_code::unreachable, e.what());
    }
}

void Client::upload(const std::string& target, std::function<std::size_t(char*, std::size_t)> source,
                    const std::function<void(std::string_view)>& on_data) {
    Request req{"POST", target, {}, std::chrono::milliseconds(0)};
    req.body_source = std::move(source);
    Response r;
    try {
        r = transport_.stream(req, on_data);
    } catch (const TransportError& e) {
        throw Failure(exit_code::unreachable, e.what());
    }
    if (!r.ok()) throw_api_error(r, {});
}

void Client::post_stream(const std::string& target, const std::string& body,
                         const std::function<void(std::string_view)>& on_data) {
    Response r;
    try {
        r = transport_.stream(Request{"POST", target, body, kQueryTimeout}, on_data);
    } catch (const TransportError& e) {
        throw Failure(exit_code::unreachable, e.what());
    }
    if (!r.ok()) throw_api_error(r, {});
}

void throw_api_error(const Response& r, const std::string& app) {
    std::string message;
    try {
        auto j = nlohmann::json::parse(r.body);
        message = j.at("error").at("message").get<std::string>();
    } catch (const nlohmann::json::exception&) {
        std::string body = r.body.substr(0, 200);
        while (!body.empty() && (body.back() == '\n' || body.back() == '\r')) body.pop_back();
        message = "the daemon answered HTTP " + std::to_string(r.status) + (body.empty() ? "" : ": " + body);
    }
    if (!app.empty() && message.find(app) == std::string::npos) message = app + ": " + message;
    int code = r.status == 404 && !app.empty() ? exit_code::no_such_app : exit_code::failed;
    throw Failure(code, message);
}

nlohmann::json parse_json(std::string_view body) {
    try {
        return nlohmann::json::parse(body);
    } catch (const nlohmann::json::exception& e) {
        throw Failure(exit_code::failed, std::string("the daemon sent invalid JSON: ") + e.what());
    }
}

nlohmann::ordered_json parse_ordered_json(std::string_view body) {
    try {
        return nlohmann::ordered_json::parse(body);
    } catch (const nlohmann::json::exception& e) {
        throw Failure(exit_code::failed, std::string("the daemon sent invalid JSON: ") + e.what());
    }
}

std::string print_json(const nlohmann::ordered_json& j) {
    return j.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
}

std::string app_path(const std::string& name) { return "/v1/apps/" + name; }

}  // namespace isoctl
