// What a registry's 401 asks for and what we answer it with: the WWW-Authenticate
// challenges (RFC 7235: "Basic realm=..." or "Bearer realm=...,service=...,scope=...",
// several per header) and the credentials of a containers-style auth.json
// ({"auths": {"registry.example.com": {"auth": base64("user:password")}}}), the file
// podman, skopeo and buildah write with `login` (containers-auth.json(5)).
//
// Credentials are secrets: nothing here puts them in an error message, and the errors
// about a file name the file and the key, never a value.
#pragma once

#include <sys/types.h>

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/result.hpp"

namespace isolated::registry {

struct Challenge {
    std::string scheme;                         ///< lower case: "basic", "bearer"
    std::map<std::string, std::string> params;  ///< keys lower case: "realm", "service", "scope"
};

/// Every challenge in one WWW-Authenticate value, in order. Malformed parts are skipped
/// (a hostile registry's header never throws); an empty list when nothing parses.
std::vector<Challenge> parse_www_authenticate(std::string_view header);

struct Credentials {
    std::string username;
    std::string password;
};

/// The credentials of one auth.json. Keys are matched as containers/image matches them:
/// "host[:port]/namespace/repo" (most specific first, up to "host[:port]"), and the
/// legacy Docker forms "https://host[:port]/anything" (scheme and path dropped);
/// Docker Hub's "https://index.docker.io/v1/", "index.docker.io" and
/// "registry-1.docker.io" all mean docker.io.
class AuthFile {
public:
    /// Parses the file's text; `path` names it in errors. Entries without "auth" (a
    /// credential helper's, an identity token's) are skipped; an "auth" that is not
    /// base64 of "user:password" is an error naming its key.
    static Result<AuthFile> parse(std::string_view json_text, const std::string& path);
    /// Who asked for a file named in a request: the daemon (root) reads it only if
    /// this caller could (owner, group or other read bit of the file itself).
    struct Reader {
        uid_t uid = 0;
        gid_t gid = 0;
        std::vector<gid_t> groups;
    };
    /// Reads and parses `path`: a regular file of at most 1 MiB. A missing file is an
    /// empty AuthFile with exists() false, not an error. With `reader`, a file that
    /// caller may not read is refused (EACCES).
    static Result<AuthFile> load(const std::string& path, const Reader* reader = nullptr);

    /// For `domain` ("docker.io", "127.0.0.1:5000") and repository `path`
    /// ("library/busybox").
    std::optional<Credentials> find(std::string_view domain, std::string_view path) const;
    bool exists() const { return exists_; }
    /// Its mode lets every user read it (a warning, as neither podman nor docker refuse).
    bool world_readable() const { return world_readable_; }
    std::size_t size() const { return entries_.size(); }

private:
    std::map<std::string, Credentials> entries_;  ///< normalized key -> credentials
    bool exists_ = false;
    bool world_readable_ = false;
};

/// "docker.io" for Docker Hub's other names, else `domain` unchanged.
std::string normalize_registry(std::string_view domain);


}  // namespace isolated::registry
