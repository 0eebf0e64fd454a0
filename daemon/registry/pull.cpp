#include "registry/pull.hpp"

#include <algorithm>
#include <memory>
#include <set>

#include <nlohmann/json.hpp>

#include "image/digest.hpp"
#include "isolated/base64.hpp"
#include "image/oci.hpp"
#include "registry/http.hpp"

namespace isolated::registry {

namespace {

using Kind = PullError::Kind;
using image::Descriptor;
using image::Digest;

constexpr std::size_t manifest_max = 4 * 1024 * 1024;  // as the store's read_blob
constexpr std::size_t token_max = 1024 * 1024;
constexpr std::size_t error_body_max = 64 * 1024;
constexpr int max_redirects = 5;
constexpr auto progress_every = std::chrono::milliseconds(250);

const std::string accept_manifests = std::string(image::media_type::oci_index) + ", " +
                                     std::string(image::media_type::oci_manifest) + ", " +
                                     std::string(image::media_type::docker_list) + ", " +
                                     std::string(image::media_type::docker_manifest);

PullError fail(Kind k, std::string message) { return PullError{k, std::move(message)}; }

std::string short_hex(const Digest& d) { return d.hex.substr(0, 12); }

/// What a hostile server wrote, made fit for an error message: printable ASCII, short.
std::string printable(std::string_view s, std::size_t max = 200) {
    std::string out;
    for (char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f) ? c : '?';
    if (s.size() > max) out += "...";
    return out;
}

/// The registry's own words from an error body ({"errors": [{"code", "message"}]}).
std::string registry_says(const std::string& body) {
    auto j = nlohmann::json::parse(body, nullptr, false);
    if (j.is_discarded() || !j.is_object() || !j.contains("errors") || !j["errors"].is_array() || j["errors"].empty())
        return {};
    const auto& e = j["errors"][0];
    if (!e.is_object()) return {};
    std::string code = e.contains("code") && e["code"].is_string() ? e["code"].get<std::string>() : "";
    std::string msg = e.contains("message") && e["message"].is_string() ? e["message"].get<std::string>() : "";
    if (code.empty() && msg.empty()) return {};
    return " (" + printable(code) + (code.empty() || msg.empty() ? "" : ": ") + printable(msg) + ")";
}

std::string base_type(std::string_view content_type) {
    auto semi = content_type.find(';');
    std::string_view t = content_type.substr(0, semi);
    while (!t.empty() && t.back() == ' ') t.remove_suffix(1);
    return std::string(t);
}

class Puller {
public:
    Puller(image::Store& store, const image::Reference& ref, const PullOptions& opt, const PullProgress& progress)
        : store_(store), ref_(ref), opt_(opt), progress_(progress),
          http_(HttpOptions{opt.connect_timeout, opt.read_timeout, std::string("isolated/") + ISOLATED_VERSION,
                            opt.cancel}) {}

    Result<image::ImageRecord, PullError> run();

private:
    void say(const std::string& s) {
        if (progress_) progress_(PullEvent{s, {}, 0, 0});
    }
    Status setup_endpoint();
    bool on_registry(const Url& u) const { return u.host == base_.host && u.port == base_.port && u.scheme == base_.scheme; }
    Url registry_url(const std::string& target) const {
        Url u = base_;
        u.target = target;
        return u;
    }
    TlsOptions tls_for(const Url& u) const {
        if (on_registry(u)) return TlsOptions{opt_.certs_dir, certs_name_, !insecure_};
        return TlsOptions{opt_.certs_dir, u.authority(), !is_insecure(opt_.insecure, u.authority())};
    }
    std::string need_credentials() const;
    std::string denied() const;
    Result<HttpResponse, PullError> fetch(const std::string& target, const Headers& extra, const std::string& what);
    Result<void, PullError> authenticate(const HttpResponse& challenge);
    Result<void, PullError> unexpected(const HttpResponse& r, const std::string& what);
    Result<std::string, PullError> get_manifest(const std::string& tag_or_digest, const std::optional<Descriptor>& want,
                                                std::string* media_type);
    Result<std::unique_ptr<image::BlobWriter>, PullError> get_blob(const Descriptor& d, const std::string& what,
                                                                   std::string* keep);

    image::Store& store_;
    image::Reference ref_;
    const PullOptions& opt_;
    const PullProgress& progress_;
    HttpClient http_;
    Url base_;
    std::string registry_;    ///< the domain as written ("127.0.0.1:5000", "docker.io")
    std::string certs_name_;  ///< its certs.d directory
    bool insecure_ = false;
    AuthFile auth_;
    std::optional<Credentials> creds_;
    std::string authorization_;  ///< the Authorization header for the registry; a secret
};

Status Puller::setup_endpoint() {
    registry_ = ref_.domain;
    std::string host = api_host(registry_);
    certs_name_ = host;
    insecure_ = is_insecure(opt_.insecure, registry_) || is_insecure(opt_.insecure, host);
    auto u = parse_url("https://" + host + "/");
    if (!u) return u.error();
    base_ = *u;
    return {};
}

std::string Puller::need_credentials() const {
    if (opt_.reader)
        return "registry " + registry_ + " requires authentication: " + opt_.auth_file + " has no credentials for " + registry_;
    return "registry " + registry_ + " requires authentication: add credentials to " + opt_.auth_file +
           " or use --authfile";
}

std::string Puller::denied() const {
    return "registry " + registry_ + " denied access to " + ref_.path + " with the credentials of user \"" +
           printable(creds_ ? creds_->username : "") + "\" from " + opt_.auth_file +
           " (wrong credentials, or the repository does not exist)";
}

Result<void, PullError> Puller::unexpected(const HttpResponse& r, const std::string& what) {
    auto body = http_.read_body(error_body_max);
    std::string says = body ? registry_says(*body) : "";
    if (r.status == 401) return fail(Kind::denied, creds_ ? denied() : need_credentials());
    if (r.status == 403)
        return fail(Kind::denied, "registry " + registry_ + " refused " + what + " (HTTP 403)" + says);
    if (r.status == 429)
        return fail(Kind::registry, "registry " + registry_ + " refused " + what + ": too many requests (HTTP 429)" + says);
    return fail(Kind::registry, "registry " + registry_ + " answered HTTP " + std::to_string(r.status) + " for " + what + says);
}

Result<void, PullError> Puller::authenticate(const HttpResponse& r) {
    (void)http_.read_body(error_body_max);  // drain, so the connection is reused
    std::vector<Challenge> challenges;
    for (const auto& h : r.all("www-authenticate"))
        for (auto& c : parse_www_authenticate(h)) challenges.push_back(std::move(c));
    auto pick = [&](std::string_view scheme) -> const Challenge* {
        for (const auto& c : challenges)
            if (c.scheme == scheme) return &c;
        return nullptr;
    };
    if (const Challenge* bearer = pick("bearer")) {
        auto realm_it = bearer->params.find("realm");
        if (realm_it == bearer->params.end() || realm_it->second.empty())
            return fail(Kind::registry, "registry " + registry_ + " asks for a Bearer token without naming its realm");
        auto realm = parse_url(realm_it->second);
        if (!realm) return fail(Kind::registry, "registry " + registry_ + ": token realm: " + realm.error().message);
        // Credentials and tokens travel in plain text only to hosts listed as insecure.
        if (realm->scheme == "http" && !is_insecure(opt_.insecure, realm->authority()))
            return fail(Kind::registry, "registry " + registry_ + " names the plain-HTTP token realm " +
                                            printable(realm->str()) + "; list " + realm->authority() +
                                            " with --insecure-registry to allow it");
        std::string query;
        if (auto s = bearer->params.find("service"); s != bearer->params.end())
            query += "service=" + query_escape(s->second);
        query += std::string(query.empty() ? "" : "&") + "scope=" + query_escape("repository:" + ref_.path + ":pull");
        realm->target += (realm->target.find('?') == std::string::npos ? "?" : "&") + query;
        Headers h;
        if (creds_) h.emplace_back("Authorization", "Basic " + base64_encode(creds_->username + ":" + creds_->password));
        auto tr = http_.get(*realm, h, tls_for(*realm));
        if (!tr) return fail(Kind::registry, "the token service of " + registry_ + ": " + tr.error().message);
        if (tr->status == 401 || tr->status == 403) {
            (void)http_.read_body(error_body_max);
            return fail(Kind::denied, creds_ ? denied() : need_credentials());
        }
        if (tr->status != 200) {
            auto body = http_.read_body(error_body_max);
            return fail(Kind::registry, "the token service of " + registry_ + " (" + realm->authority() + ") answered HTTP " +
                                            std::to_string(tr->status) + (body ? registry_says(*body) : ""));
        }
        if (tr->content_length && *tr->content_length > token_max)
            return fail(Kind::registry, "the token service of " + registry_ + " sent an answer over 1 MiB");
        auto body = http_.read_body(token_max);
        if (!body) return fail(Kind::registry, "the token service of " + registry_ + ": " + body.error().message);
        auto j = nlohmann::json::parse(*body, nullptr, false);
        std::string token;
        if (!j.is_discarded() && j.is_object())
            for (const char* key : {"token", "access_token"})
                if (j.contains(key) && j[key].is_string() && !j[key].get<std::string>().empty()) {
                    token = j[key].get<std::string>();
                    break;
                }
        if (token.empty())
            return fail(Kind::registry, "the token service of " + registry_ + " answered without a token");
        for (char c : token)
            if (c <= 0x20 || c >= 0x7f) return fail(Kind::registry, "the token service of " + registry_ + " sent a malformed token");
        authorization_ = "Bearer " + token;
        return {};
    }
    if (pick("basic")) {
        if (!creds_) return fail(Kind::denied, need_credentials());
        if (base_.scheme == "http" && !insecure_)
            return fail(Kind::registry, "registry " + registry_ + " asks for Basic credentials over plain HTTP");
        authorization_ = "Basic " + base64_encode(creds_->username + ":" + creds_->password);
        return {};
    }
    return fail(Kind::denied, "registry " + registry_ + " requires authentication of a kind not supported here" +
                                  (challenges.empty() ? std::string() : " (" + printable(challenges.front().scheme) + ")"));
}

Result<HttpResponse, PullError> Puller::fetch(const std::string& target, const Headers& extra, const std::string& what) {
    Url u = registry_url(target);
    bool authenticated = false;
    int redirects = 0;
    while (true) {
        Headers h = extra;
        const bool registry = on_registry(u);
        if (registry && !authorization_.empty()) h.emplace_back("Authorization", authorization_);
        auto r = http_.get(u, h, tls_for(u));
        if (!r) {
            // An insecure registry that does not speak TLS: plain HTTP from now on.
            if (registry && insecure_ && base_.scheme == "https" && r.error().errno_value == tls_handshake_errno) {
                auto plain = parse_url("http://" + api_host(registry_) + "/");
                if (!plain) return fail(Kind::registry, plain.error().message);
                base_ = *plain;
                u.scheme = base_.scheme;
                u.port = base_.port;
                say("registry " + registry_ + " does not speak TLS; using plain HTTP (it is listed as insecure)");
                continue;
            }
            if (r.error().errno_value == ECANCELED)
                return fail(Kind::registry, "the pull was cancelled: the daemon is stopping");
            return fail(Kind::registry, "registry " + registry_ + ": " + r.error().message);
        }
        if (r->status == 401 && registry && !authenticated) {
            authenticated = true;
            if (auto a = authenticate(*r); !a) return a.error();
            continue;
        }
        if (r->status == 301 || r->status == 302 || r->status == 303 || r->status == 307 || r->status == 308) {
            std::string location = r->header("location");
            (void)http_.read_body(error_body_max);
            if (++redirects > max_redirects)
                return fail(Kind::registry, "registry " + registry_ + ": too many redirects (more than " +
                                                std::to_string(max_redirects) + ") for " + what);
            auto next = resolve_location(u, location);
            if (!next) return fail(Kind::registry, "registry " + registry_ + ": a redirect for " + what + ": " + next.error().message);
            if (u.scheme == "https" && next->scheme == "http" && !is_insecure(opt_.insecure, next->authority()))
                return fail(Kind::registry, "registry " + registry_ + " redirects " + what + " from HTTPS to plain HTTP (" +
                                                printable(next->authority()) + "), which is refused");
            u = *next;
            continue;
        }
        return std::move(*r);
    }
}

Result<std::string, PullError> Puller::get_manifest(const std::string& tag_or_digest, const std::optional<Descriptor>& want,
                                                    std::string* media_type) {
    const std::string what = "manifest " + tag_or_digest + " of " + ref_.path;
    auto r = fetch("/v2/" + ref_.path + "/manifests/" + tag_or_digest, {{"Accept", accept_manifests}}, what);
    if (!r) return r.error();
    if (r->status == 404) {
        auto body = http_.read_body(error_body_max);
        if (want)
            return fail(Kind::invalid, "registry " + registry_ + " has no manifest " + tag_or_digest +
                                           ", which its index lists" + (body ? registry_says(*body) : ""));
        return fail(Kind::not_found, "image \"" + ref_.str() + "\" not found in registry " + registry_ +
                                         (body ? registry_says(*body) : ""));
    }
    if (r->status != 200) {
        auto u = unexpected(*r, what);
        return u.error();
    }
    if (r->content_length && *r->content_length > manifest_max)
        return fail(Kind::invalid, what + ": over " + std::to_string(manifest_max) + " bytes");
    auto body = http_.read_body(manifest_max);
    if (!body) return fail(Kind::registry, what + ": " + body.error().message);
    Digest got = image::sha256_of(*body);
    if (want) {
        if (got != want->digest || static_cast<std::int64_t>(body->size()) != want->size)
            return fail(Kind::invalid, what + ": the registry sent " + std::to_string(body->size()) + " bytes of digest " +
                                           got.str() + ", the index says " + std::to_string(want->size) + " bytes of " +
                                           want->digest.str());
    } else if (ref_.digest) {
        if (got != *ref_.digest)
            return fail(Kind::invalid, "registry " + registry_ + " sent a manifest whose digest is " + got.str() + ", not " +
                                           ref_.digest->str() + " as asked (wrong digest, or a tampered answer)");
    } else {
        // By tag: the registry's Docker-Content-Digest must be what it sent.
        std::string header = r->header("docker-content-digest");
        if (header.rfind("sha256:", 0) == 0 && header != got.str())
            return fail(Kind::invalid, what + ": the registry says its digest is " + printable(header) +
                                           " but sent content of digest " + got.str());
    }
    auto j = nlohmann::json::parse(*body, nullptr, false);
    std::string type;
    if (!j.is_discarded() && j.is_object() && j.contains("mediaType") && j["mediaType"].is_string())
        type = j["mediaType"].get<std::string>();
    if (type.empty()) type = base_type(r->header("content-type"));
    if (type.empty() && !j.is_discarded() && j.is_object())
        type = j.contains("manifests") ? std::string(image::media_type::oci_index) : std::string(image::media_type::oci_manifest);
    *media_type = type;
    return std::move(*body);
}

Result<std::unique_ptr<image::BlobWriter>, PullError> Puller::get_blob(const Descriptor& d, const std::string& what,
                                                                       std::string* keep) {
    auto w = store_.blob_writer(d.digest, d.size);
    if (!w) return fail(Kind::store, w.error().to_string());
    auto r = fetch("/v2/" + ref_.path + "/blobs/" + d.digest.str(), {}, what);
    if (!r) return r.error();
    if (r->status == 404) {
        auto body = http_.read_body(error_body_max);
        return fail(Kind::invalid, "registry " + registry_ + " has no blob " + d.digest.str() + " (" + what + ")" +
                                       (body ? registry_says(*body) : ""));
    }
    if (r->status != 200) {
        auto u = unexpected(*r, what);
        return u.error();
    }
    const auto total = static_cast<std::uint64_t>(d.size);
    if (r->content_length && *r->content_length != total)
        return fail(Kind::invalid, what + ": the registry sends " + std::to_string(*r->content_length) +
                                       " bytes, the manifest says " + std::to_string(total));
    std::uint64_t got = 0;
    auto last = std::chrono::steady_clock::now();
    auto report = [&](bool force) {
        auto now = std::chrono::steady_clock::now();
        if (!progress_ || (!force && now - last < progress_every)) return;
        last = now;
        progress_(PullEvent{what + ": downloading", d.digest.str(), got, total});
    };
    report(true);
    Status written = {};
    auto s = http_.stream_body([&](const char* p, std::size_t n) -> Status {
        if (got + n > total) {
            written = Error::msg(what + ": the registry sends more than the " + std::to_string(total) + " bytes the manifest says");
            return written;
        }
        if (auto st = (*w)->write(p, n); !st) {
            written = st;
            return st;
        }
        if (keep) keep->append(p, n);
        got += n;
        report(false);
        return {};
    });
    if (!written) {
        bool store_failed = written.error().errno_value != 0;
        return fail(store_failed ? Kind::store : Kind::invalid, written.error().errno_value ? written.error().to_string()
                                                                                            : written.error().message);
    }
    if (!s) {
        if (s.error().errno_value == ECANCELED) return fail(Kind::registry, "the pull was cancelled: the daemon is stopping");
        return fail(Kind::registry, what + ": " + s.error().message);
    }
    if (got != total)
        return fail(Kind::invalid, what + ": the registry sent " + std::to_string(got) + " bytes, the manifest says " +
                                       std::to_string(total));
    auto digest = (*w)->finish();
    if (!digest) return fail(Kind::store, digest.error().to_string());
    if (*digest != d.digest)
        return fail(Kind::invalid, what + ": the registry sent content whose digest is " + digest->str() + ", not " +
                                       d.digest.str() + " (corrupt or tampered)");
    report(true);
    return std::move(*w);
}

Result<image::ImageRecord, PullError> Puller::run() {
    if (auto s = setup_endpoint(); !s) return fail(Kind::bad_request, s.error().message);
    auto auth = AuthFile::load(opt_.auth_file, opt_.reader ? &*opt_.reader : nullptr);
    if (!auth) {
        auto e = auth.error();
        return fail(e.errno_value == EACCES || e.errno_value == EINVAL ? Kind::bad_request : Kind::store,
                    e.errno_value == EINVAL || e.errno_value == EACCES ? e.message : e.to_string());
    }
    auth_ = std::move(*auth);
    creds_ = auth_.find(registry_, ref_.path);
    if (creds_ && auth_.world_readable())
        say("warning: " + opt_.auth_file + " is readable by every user (chmod 600 it)");
    say("pulling " + ref_.str() + " from " + (insecure_ ? "insecure registry " : "") + registry_ +
        (creds_ ? " as \"" + printable(creds_->username) + "\"" : ""));

    // The manifest, or an index and then this platform's manifest.
    std::string type;
    std::string top = ref_.digest ? ref_.digest->str() : ref_.tag;
    auto text = get_manifest(top, std::nullopt, &type);
    if (!text) return text.error();
    if (image::is_index_type(type)) {
        auto index = image::parse_index(*text, "index " + top);
        if (!index) return fail(Kind::invalid, index.error().message);
        auto pick = pick_manifest(*index, opt_.platform, "image \"" + ref_.str() + "\"");
        if (!pick) return fail(pick.error().errno_value == ENOENT ? Kind::not_found : Kind::invalid, pick.error().message);
        say("index " + short_hex(image::sha256_of(*text)) + ": " + opt_.platform.str() + " is manifest " + pick->digest.str());
        std::string nested_type;
        auto m = get_manifest(pick->digest.str(), *pick, &nested_type);
        if (!m) return m.error();
        if (image::is_index_type(nested_type))
            return fail(Kind::invalid, "manifest " + pick->digest.str() + " is itself an index (nested indexes are not supported)");
        text = std::move(m);
        type = nested_type;
    }
    if (type == "application/vnd.docker.distribution.manifest.v1+json" ||
        type == "application/vnd.docker.distribution.manifest.v1+prettyjws")
        return fail(Kind::invalid, "image \"" + ref_.str() + "\" has a Docker schema 1 manifest, which is not supported");
    const Digest manifest_digest = image::sha256_of(*text);
    auto manifest = image::parse_manifest(*text, "manifest " + manifest_digest.str());
    if (!manifest) return fail(Kind::invalid, manifest.error().message);

    // Every blob, each verified while it streams; none committed until all are here.
    std::vector<Descriptor> blobs{manifest->config};
    for (const auto& l : manifest->layers) blobs.push_back(l);
    std::vector<std::pair<Descriptor, std::unique_ptr<image::BlobWriter>>> fetched;
    std::set<Digest> seen;
    std::string config_text;
    for (std::size_t i = 0; i < blobs.size(); ++i) {
        const auto& d = blobs[i];
        std::string what = i == 0 ? "config " + short_hex(d.digest)
                                  : "layer " + std::to_string(i) + "/" + std::to_string(manifest->layers.size()) + " " +
                                        short_hex(d.digest);
        if (!seen.insert(d.digest).second) continue;
        if (store_.has_blob(d.digest)) {
            say(what + ": already in the store");
            if (i == 0) {
                auto c = store_.read_blob(d.digest);
                if (c) config_text = *c;
            }
            continue;
        }
        auto w = get_blob(d, what, i == 0 && d.size <= static_cast<std::int64_t>(manifest_max) ? &config_text : nullptr);
        if (!w) return w.error();
        if (i > 0) say(what + ": downloaded, " + std::to_string(d.size) + " bytes, digest verified");
        fetched.emplace_back(d, std::move(*w));
    }
    if (auto c = image::parse_config(config_text, "config " + manifest->config.digest.str()); c) {
        PlatformSpec got = normalize({c->os, c->architecture, c->variant});
        PlatformSpec want = normalize(opt_.platform);
        if (!c->architecture.empty() && got.architecture != want.architecture)
            say("warning: the image is for " + got.str() + ", this host is " + want.str());
    }

    // Commit: blobs first, the manifest last (the store installs from it).
    for (auto& [d, w] : fetched)
        if (auto c = w->commit(d.digest, d.size); !c)
            return fail(c.error().errno_value ? Kind::store : Kind::invalid, c.error().errno_value ? c.error().to_string()
                                                                                                  : c.error().message);
    auto mw = store_.blob_writer(manifest_digest, static_cast<std::int64_t>(text->size()));
    if (!mw) return fail(Kind::store, mw.error().to_string());
    if (auto st = (*mw)->write(text->data(), text->size()); !st) return fail(Kind::store, st.error().to_string());
    if (auto c = (*mw)->commit(manifest_digest, static_cast<std::int64_t>(text->size())); !c)
        return fail(Kind::store, c.error().to_string());

    image::Reference name = ref_;
    if (name.digest) name.tag.clear();  // name@digest: the tag, if any, is only a comment
    auto rec = store_.install(manifest_digest, {name}, [&](const std::string& line) { say(line); });
    if (!rec)
        return fail(rec.error().errno_value ? Kind::store : Kind::invalid,
                    rec.error().errno_value ? rec.error().to_string() : rec.error().message);
    say("pulled " + rec->id.str() + " as " + name.str());
    return std::move(*rec);
}

}  // namespace

std::string api_host(const std::string& domain) {
    return normalize_registry(domain) == "docker.io" ? "registry-1.docker.io" : domain;
}

bool is_insecure(const std::vector<std::string>& insecure, const std::string& domain) {
    std::string host = domain;
    if (!host.empty() && host.front() == '[') host = host.substr(0, host.find(']') + 1);
    else if (auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) host.resize(colon);
    for (const auto& i : insecure)
        if (i == domain || i == host) return true;
    return false;
}

Result<image::ImageRecord, PullError> pull(image::Store& store, const image::Reference& ref, const PullOptions& options,
                                           const PullProgress& progress) {
    Puller p(store, ref, options, progress);
    return p.run();
}

}  // namespace isolated::registry
