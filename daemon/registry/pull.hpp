// `isoctl image pull`: an image from a registry into the store, speaking the OCI
// distribution API (distribution-spec v1.1, "Pull"):
//
//   GET /v2/<name>/manifests/<tag|digest>   Accept: OCI index/manifest, Docker list/manifest
//   GET /v2/<name>/blobs/<digest>           following redirects (a CDN: no Authorization)
//
// anonymous first, then what a 401's WWW-Authenticate asks for (Basic, or a Bearer
// token from the realm), with the credentials of an auth.json. An index yields the
// manifest of this host's platform. Every blob is verified while it streams into a
// BlobWriter (digest and size), blobs the store has are skipped, and nothing is
// committed before every blob of the image has arrived whole: a failed pull leaves no
// blob, tree or ref behind. Then the store installs the image under its ref, as a
// load does.
//
// Blocking: it runs on the image worker's thread.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "image/reference.hpp"
#include "image/store.hpp"
#include "isolated/result.hpp"
#include "registry/auth.hpp"
#include "registry/platform.hpp"

namespace isolated::registry {

struct PullOptions {
    /// The auth.json to read; a missing file means no credentials.
    std::string auth_file = "/etc/isolated/auth.json";
    /// Set when the file was named by the caller (--authfile): read only if that
    /// caller may read it.
    std::optional<AuthFile::Reader> reader;
    /// <certs_dir>/<host[:port]>/ca.crt (and *.crt) are trusted for that registry.
    std::string certs_dir = "/etc/containers/certs.d";
    /// host[:port] of registries that may be reached without verified TLS: HTTPS without
    /// checking the certificate, then plain HTTP when the server does not speak TLS.
    std::vector<std::string> insecure;
    PlatformSpec platform = host_platform();
    std::chrono::milliseconds connect_timeout{std::chrono::seconds(30)};
    std::chrono::milliseconds read_timeout{std::chrono::seconds(60)};
    const std::atomic<bool>* cancel = nullptr;
};

/// One progress report: a line, or (with `id`) bytes of one blob so far.
struct PullEvent {
    std::string message;
    std::string id;  ///< "sha256:..." of the blob being downloaded, "" for a plain line
    std::uint64_t current = 0;
    std::uint64_t total = 0;
};
using PullProgress = std::function<void(const PullEvent&)>;

/// Why a pull failed, for the API's answer.
struct PullError {
    enum class Kind {
        bad_request,  ///< the ref or options
        not_found,    ///< the registry has no such image (or no manifest for this platform)
        denied,       ///< authentication required or refused
        registry,     ///< unreachable, timed out, a protocol error, an unexpected answer
        invalid,      ///< content refused: a digest or size that does not match, a bad document
        store,        ///< the store failed (disk)
    } kind = Kind::registry;
    std::string message;
};

Result<image::ImageRecord, PullError> pull(image::Store& store, const image::Reference& ref, const PullOptions& options,
                                           const PullProgress& progress = {});

/// The registry's API endpoint for a reference's domain: docker.io is served by
/// registry-1.docker.io.
std::string api_host(const std::string& domain);

/// Whether `domain` (host[:port]) is in `insecure` (exact, or the host alone when the
/// list names it without a port).
bool is_insecure(const std::vector<std::string>& insecure, const std::string& domain);

}  // namespace isolated::registry
