#include "api/status_cache.hpp"

#include <cstdio>
#include <random>

#include "isolated/api_json.hpp"

namespace isolated::api {

namespace {

// What the dispatcher's to_body() gives for one element of the array: invalid UTF-8
// replaced, never a throw.
std::string fragment_of(const AppStatus& status) {
    return json(status).dump(-1, ' ', false, json::error_handler_t::replace);
}

std::string hex(std::uint64_t v, int width) {
    char buf[24];
    std::snprintf(buf, sizeof buf, "%0*llx", width, static_cast<unsigned long long>(v));
    return buf;
}

}  // namespace

AppListCache::AppListCache() {
    std::random_device rd;
    boot_ = hex((static_cast<std::uint64_t>(rd()) << 32) | rd(), 16);
}

AppListCache::Answer AppListCache::list(const std::vector<AppStatus>& apps, const Redactor* redactor) {
    View& v = redactor ? redacted_ : full_;
    bool changed = !v.built || apps.size() != v.order.size();
    // New secrets can turn up in any text: every redacted fragment is made again.
    if (redactor && !(v.secrets == *redactor)) {
        v.secrets = *redactor;
        v.fragments.clear();
        changed = true;
    }
    std::map<std::string, Fragment, std::less<>> next;
    for (std::size_t i = 0; i < apps.size(); ++i) {
        const AppStatus& s = apps[i];
        if (!changed && v.order[i] != s.name) changed = true;
        auto it = v.fragments.find(s.name);
        if (it != v.fragments.end() && it->second.status == s) {
            next.emplace(s.name, std::move(it->second));
            continue;
        }
        changed = true;
        next.emplace(s.name, Fragment{s, fragment_of(redactor ? redactor->redact(s) : s)});
    }
    v.fragments = std::move(next);
    if (changed) {
        v.order.clear();
        std::size_t size = 16;
        for (const auto& s : apps) size += v.fragments.at(s.name).json.size() + 1;
        v.body.clear();
        v.body.reserve(size);
        v.body += "{\"apps\":[";
        for (std::size_t i = 0; i < apps.size(); ++i) {
            if (i) v.body += ',';
            v.body += v.fragments.at(apps[i].name).json;
            v.order.push_back(apps[i].name);
        }
        v.body += "]}\n";
        ++v.generation;
        v.etag = "\"apps-" + std::string(redactor ? "r" : "f") + "-" + boot_ + "-" + std::to_string(v.generation) + "\"";
        v.built = true;
    }
    return Answer{v.body, v.etag};
}

AppListCache::Answer AppListCache::list(std::optional<std::uint64_t> generation,
                                        std::chrono::steady_clock::time_point now,
                                        const std::function<std::vector<AppStatus>()>& load,
                                        const Redactor* redactor) {
    View& v = redactor ? redacted_ : full_;
    bool same_secrets = !redactor || v.secrets == *redactor;
    if (v.built && generation && v.read_generation == generation && same_secrets && now >= v.read_at &&
        now - v.read_at < usage_period)
        return Answer{v.body, v.etag};
    auto answer = list(load(), redactor);
    v.read_generation = generation;
    v.read_at = now;
    return answer;
}

std::string body_etag(std::string_view view, std::string_view body) {
    // FNV-1a, 64 bits, and the length: a validator, not a defence (the client already
    // has the body it would forge a tag for).
    std::uint64_t h = 14695981039346656037ull;
    for (unsigned char c : body) h = (h ^ c) * 1099511628211ull;
    return "\"" + std::string(view) + "-" + hex(h, 16) + "-" + std::to_string(body.size()) + "\"";
}

bool if_none_match(std::string_view header, std::string_view etag) {
    std::size_t pos = 0;
    while (pos <= header.size()) {
        std::size_t comma = header.find(',', pos);
        if (comma == std::string_view::npos) comma = header.size();
        std::string_view tag = header.substr(pos, comma - pos);
        while (!tag.empty() && (tag.front() == ' ' || tag.front() == '\t')) tag.remove_prefix(1);
        while (!tag.empty() && (tag.back() == ' ' || tag.back() == '\t')) tag.remove_suffix(1);
        if (tag == "*") return true;
        if (tag.substr(0, 2) == "W/") tag.remove_prefix(2);
        if (!tag.empty() && tag == etag) return true;
        pos = comma + 1;
    }
    return false;
}

}  // namespace isolated::api
