// What the read-only socket shows a peer that is neither root nor in the `isolated`
// group (docs/API.md, "What the read-only socket shows"; DECISIONS.md, "Secrets
// (issue 16)"). The one place that decides it: the dispatcher passes every answer
// for such a peer through these functions, and only for such a peer.
//
// Two layers:
// - the spec loses its values by structure: env values, the command's arguments
//   (argv[0] stays), exec probe arguments, HTTP probe header values and the query of
//   an HTTP probe's path become null; names of env keys and headers stay;
// - free text (status and probe messages, exit messages, event messages, error
//   messages) is scrubbed of every such value that the Redactor knows (of every app,
//   at least `min_scrub_length` bytes long), of an exec probe's output, and file
//   errors (which quote the rejected file) are replaced by a count.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/api_json.hpp"
#include "isolated/api_types.hpp"

namespace isolated {

/// What replaces a secret inside a text.
inline constexpr std::string_view redacted_marker = "[redacted]";
/// What replaces an exec probe's output inside a text.
inline constexpr std::string_view hidden_output_marker = "[output hidden]";

/// The values of a spec that an unprivileged peer must not see: env values, command
/// arguments after argv[0], exec probe arguments after argv[0], HTTP probe header
/// values, the query of an HTTP probe's path. Empty strings are left out.
std::vector<std::string> secret_values(const AppSpec& spec);

/// Values the daemon reads at an app's start that no app file holds -- its envFiles'
/// values and its secrets' contents (daemon/sandbox/start_files.hpp): the read-only
/// socket's Redactors learn them too. In memory only. Per app it keeps the values of
/// the latest read, and, up to max_earlier_bytes, those of earlier reads (an event
/// written before a file changed may quote an old value); the oldest go first.
class LearnedSecrets {
public:
    static constexpr std::size_t max_earlier_bytes = 4u << 20;

    /// The values read for APP's latest start (or adoption).
    void learn(const std::string& app, std::vector<std::string> values);
    /// Every value known, latest reads first.
    std::vector<std::string> values() const;
    /// Changes whenever learn() brings a value that was not known.
    std::uint64_t generation() const { return generation_; }

private:
    std::map<std::string, std::vector<std::string>> current_;
    std::deque<std::string> earlier_;
    std::size_t earlier_bytes_ = 0;
    std::uint64_t generation_ = 0;
};

/// Scrubs free text of the secrets of the specs it was given.
class Redactor {
public:
    /// Shorter values are not searched for in free text ("1", "on", "80" would turn
    /// "exited with code 1" into nonsense); they are still hidden in the spec.
    static constexpr std::size_t min_scrub_length = 4;

    /// Adds the secrets of `spec`; secrets already known stay (an event written under
    /// an earlier definition may hold an earlier value).
    void add(const AppSpec& spec);
    void add(const LearnedSecrets& learned);
    void add_value(std::string value);
    std::size_t size() const { return values_.size(); }
    /// Same secrets (the API's cached redacted answers are made again when not).
    bool operator==(const Redactor&) const = default;

    /// `text` with every known secret replaced by redacted_marker and an exec probe's
    /// output ("command exited with code 1: <output>") by hidden_output_marker.
    std::string scrub(std::string_view text) const;

    AppStatus redact(AppStatus status) const;
    AppEvent redact(AppEvent event) const;
    /// The JSON of GET /v1/apps/{name}: the status and events scrubbed, the spec with
    /// its values null (redacted_spec_json), and "redacted": true.
    json redact(const AppDetail& detail) const;
    /// An API error body ({"error": {"code", "message"}}) with its message scrubbed;
    /// anything else as it was.
    json redact_error(json body) const;

private:
    std::vector<std::string> values_;  ///< longest first, so that a longer secret wins over its prefix
};

/// app_spec_to_json(spec) with the values of secret_values() set to null: "env":
/// {"KEY": null}, "command": ["/usr/bin/x", null, ...], exec probe "command" likewise,
/// header {"name": "Authorization", "value": null}, and an HTTP probe's "path"
/// "/health?[redacted]" when it had a query.
json redacted_spec_json(const AppSpec& spec);

}  // namespace isolated
