// The answers pollers ask for over and over (GET /v1/apps), serialized once per change
// rather than once per request, and the validators (ETag, If-None-Match) that let a
// dashboard that polls get a 304 instead of the body. docs/API.md, "Caching".
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/api_types.hpp"
#include "isolated/redact.hpp"

namespace isolated::api {

/// GET /v1/apps as a concatenation of per-app JSON fragments. Each fragment is kept
/// with the status it was made from and made again only when that status changes
/// (usage changes at most once a second: the runtime reads a cgroup's counters no more
/// often). Two views, never mixed: the full one (control socket, privileged peers) and
/// the redacted one (an unprivileged peer on the read-only socket), whose fragments are
/// also made again whenever the set of known secrets changes.
class AppListCache {
public:
    AppListCache();

    struct Answer {
        const std::string& body;  ///< {"apps":[...]}\n, byte for byte what json dump gives
        std::string etag;         ///< strong, quoted; changes whenever the body does
    };
    /// `redactor` is null for the full view.
    Answer list(const std::vector<AppStatus>& apps, const Redactor* redactor);

    /// The usage counters' own pace (the runtime reads a cgroup at most once a second).
    static constexpr std::chrono::seconds usage_period{1};
    /// As above, but `load` (which reads the apps) is not called at all while
    /// `generation` is the one the view was last read at and less than usage_period
    /// has passed since: a poller's request then costs no per-app work. `generation`
    /// must change whenever the list may (Backend::apps_generation); nullopt = always
    /// read.
    Answer list(std::optional<std::uint64_t> generation, std::chrono::steady_clock::time_point now,
                const std::function<std::vector<AppStatus>()>& load, const Redactor* redactor);

private:
    struct Fragment {
        AppStatus status;
        std::string json;
    };
    struct View {
        std::map<std::string, Fragment, std::less<>> fragments;
        std::vector<std::string> order;  ///< names as last listed
        Redactor secrets;                ///< what the redacted fragments were scrubbed with
        std::string body;
        std::uint64_t generation = 0;
        std::string etag;
        bool built = false;
        std::optional<std::uint64_t> read_generation;  ///< the source's, when last read
        std::chrono::steady_clock::time_point read_at;
    };
    View full_, redacted_;
    std::string boot_;  ///< random per daemon start: a restarted daemon's generations do not collide
};

/// A strong ETag ("...") over a body's bytes, for answers that are cheap to make but
/// worth a 304 (one app's detail, metrics). `view` keeps the sockets' tags apart.
std::string body_etag(std::string_view view, std::string_view body);

/// RFC 9110 13.1.2: does If-None-Match (`header`, "" = absent) match `etag`? "*" matches
/// any current representation; otherwise a comma-separated list of entity tags, compared
/// weakly (W/"x" matches "x").
bool if_none_match(std::string_view header, std::string_view etag);

}  // namespace isolated::api
