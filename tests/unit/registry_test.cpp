// The registry client's pure parts (issue 14, pull): WWW-Authenticate challenges,
// auth.json and its key forms, the platform matcher for indexes, URLs and redirects.
#include <catch2/catch.hpp>

#include <sys/stat.h>
#include <unistd.h>

#include "isolated/base64.hpp"
#include "registry/auth.hpp"
#include "registry/http.hpp"
#include "registry/platform.hpp"
#include "registry/pull.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::registry;

TEST_CASE("registry: WWW-Authenticate challenges", "[registry]") {
    auto c = parse_www_authenticate(
        R"(Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull")");
    REQUIRE(c.size() == 1);
    CHECK(c[0].scheme == "bearer");
    CHECK(c[0].params["realm"] == "https://auth.docker.io/token");
    CHECK(c[0].params["service"] == "registry.docker.io");
    CHECK(c[0].params["scope"] == "repository:library/busybox:pull");

    // Several challenges in one header; a quoted comma and an escaped quote; unquoted
    // values; the scheme and names in any case.
    c = parse_www_authenticate(R"(Basic realm="a, \"b\"", BEARER Realm=https://x/t, Service = svc ,scope="s")");
    REQUIRE(c.size() == 2);
    CHECK(c[0].scheme == "basic");
    CHECK(c[0].params["realm"] == "a, \"b\"");
    CHECK(c[1].scheme == "bearer");
    CHECK(c[1].params["realm"] == "https://x/t");
    CHECK(c[1].params["service"] == "svc");
    CHECK(c[1].params["scope"] == "s");

    // A bare scheme, a token68, junk: nothing throws, what parses is kept.
    c = parse_www_authenticate("Negotiate abc==, Basic");
    REQUIRE(c.size() == 2);
    CHECK(c[0].scheme == "negotiate");
    CHECK(c[1].scheme == "basic");
    CHECK(parse_www_authenticate("").empty());
    CHECK(parse_www_authenticate("=,,\"\" ").empty());
    c = parse_www_authenticate(R"(Bearer realm="unterminated)");
    REQUIRE(c.size() == 1);
    CHECK(c[0].params["realm"] == "unterminated");
}

TEST_CASE("registry: auth.json keys and credentials", "[registry]") {
    auto enc = [](const std::string& s) { return base64_encode(s); };
    std::string text = R"({"auths": {
        "127.0.0.1:5000": {"auth": ")" + enc("a:pw:with:colons") + R"("},
        "https://index.docker.io/v1/": {"auth": ")" + enc("hub:h") + R"("},
        "quay.io/team": {"auth": ")" + enc("team:t") + R"("},
        "quay.io": {"auth": ")" + enc("any:q") + R"("},
        "https://ghcr.io/v2/whatever": {"auth": ")" + enc("gh:g") + R"("},
        "helper.example.com": {}
    }, "credHelpers": {"x": "y"}})";
    auto f = AuthFile::parse(text, "auth.json");
    REQUIRE(f);
    CHECK(f->exists());
    CHECK(f->size() == 5);
    auto a = f->find("127.0.0.1:5000", "test/busybox");
    REQUIRE(a);
    CHECK(a->username == "a");
    CHECK(a->password == "pw:with:colons");
    CHECK(!f->find("127.0.0.1:5001", "test/busybox"));
    CHECK(!f->find("127.0.0.1", "test/busybox"));
    // Docker Hub under any of its names.
    REQUIRE(f->find("docker.io", "library/busybox"));
    CHECK(f->find("docker.io", "library/busybox")->username == "hub");
    CHECK(f->find("index.docker.io", "x/y")->username == "hub");
    // The most specific key wins; a URL key's path is dropped.
    CHECK(f->find("quay.io", "team/app")->username == "team");
    CHECK(f->find("quay.io", "other/app")->username == "any");
    CHECK(f->find("ghcr.io", "o/app")->username == "gh");
    CHECK(!f->find("helper.example.com", "a/b"));

    // Errors name the key, never the value.
    auto bad = AuthFile::parse(R"({"auths": {"r.io": {"auth": "bm9jb2xvbg=="}}})", "/x/auth.json");  // "nocolon"
    REQUIRE(!bad);
    CHECK(bad.error().message == "/x/auth.json: auths[\"r.io\"].auth is not base64 of \"user:password\"");
    CHECK(!AuthFile::parse(R"({"auths": {"r.io": {"auth": "!!!"}}})", "f"));
    CHECK(!AuthFile::parse("[]", "f"));
    CHECK(!AuthFile::parse(R"({"auths": []})", "f"));
    auto empty = AuthFile::parse("{}", "f");
    REQUIRE(empty);
    CHECK(empty->size() == 0);
}

TEST_CASE("registry: auth files on disk: missing, not regular, not the caller's to read", "[registry]") {
    test::TempDir dir("isolated-authfile");
    auto missing = AuthFile::load(dir / "none.json");
    REQUIRE(missing);
    CHECK(!missing->exists());
    CHECK(!AuthFile::load(dir.path()));
    test::write_file(dir / "a.json", R"({"auths": {}})");
    ::chmod((dir / "a.json").c_str(), 0600);
    auto own = AuthFile::load(dir / "a.json");
    REQUIRE(own);
    CHECK(!own->world_readable());
    // Another user may not name a file of mode 0600 owned by someone else.
    struct stat st {};
    REQUIRE(::stat((dir / "a.json").c_str(), &st) == 0);
    AuthFile::Reader stranger{st.st_uid + 4242, st.st_gid + 4242, {}};
    auto refused = AuthFile::load(dir / "a.json", &stranger);
    REQUIRE(!refused);
    CHECK(refused.error().errno_value == EACCES);
    AuthFile::Reader owner{st.st_uid, st.st_gid, {}};
    CHECK(AuthFile::load(dir / "a.json", &owner));
    ::chmod((dir / "a.json").c_str(), 0644);
    auto readable = AuthFile::load(dir / "a.json", &stranger);
    REQUIRE(readable);
    CHECK(readable->world_readable());
}

TEST_CASE("registry: base64 both ways", "[registry]") {
    CHECK(base64_encode("") == "");
    CHECK(base64_encode("user:pass") == "dXNlcjpwYXNz");
    CHECK(base64_encode("ab") == "YWI=");
    CHECK(base64_decode("YWI=") == std::string("ab"));
    CHECK(base64_decode("YQ==") == std::string("a"));
    CHECK(base64_decode("dXNlcjpwYXNz") == std::string("user:pass"));
    CHECK(!base64_decode("YWI"));
    CHECK(!base64_decode("Y=WI"));
    CHECK(!base64_decode("YW I"));
}

namespace {

image::Index index_of(std::vector<std::tuple<std::string, std::string, std::string>> platforms) {
    image::Index idx;
    int n = 0;
    for (auto& [os, arch, variant] : platforms) {
        image::Descriptor d;
        d.digest = image::Digest{std::string(63, '0') + std::to_string(n++)};
        d.platform = image::Platform{os, arch, variant};
        idx.manifests.push_back(d);
    }
    return idx;
}

std::string picked(const image::Index& idx, PlatformSpec want) {
    auto d = pick_manifest(idx, want, "index");
    if (!d) return "error: " + d.error().message;
    return d->platform->os + "/" + d->platform->architecture + (d->platform->variant.empty() ? "" : "/" + d->platform->variant);
}

}  // namespace

TEST_CASE("registry: platform matching as containerd's", "[registry]") {
    auto idx = index_of({{"linux", "arm64", "v8"}, {"linux", "arm", "v6"}, {"linux", "arm", "v7"}, {"windows", "amd64", ""},
                         {"linux", "amd64", ""}, {"linux", "386", ""}});
    CHECK(picked(idx, {"linux", "amd64", ""}) == "linux/amd64");
    CHECK(picked(idx, {"linux", "x86_64", ""}) == "linux/amd64");
    CHECK(picked(idx, {"linux", "arm64", ""}) == "linux/arm64/v8");  // v8 is arm64's default
    CHECK(picked(idx, {"linux", "aarch64", "8"}) == "linux/arm64/v8");
    CHECK(picked(idx, {"linux", "arm", "v7"}) == "linux/arm/v7");
    CHECK(picked(idx, {"linux", "arm", ""}) == "linux/arm/v7");  // arm means v7
    CHECK(picked(idx, {"linux", "armhf", ""}) == "linux/arm/v7");
    CHECK(picked(idx, {"linux", "arm", "v6"}) == "linux/arm/v6");
    // A v8 arm runs v7 and down; a v5 one nothing here.
    CHECK(picked(index_of({{"linux", "arm", "v6"}, {"linux", "arm", "v7"}}), {"linux", "arm", "v8"}) == "linux/arm/v7");
    CHECK(picked(index_of({{"linux", "arm", "v7"}, {"linux", "arm", "v6"}}), {"linux", "arm", "v7"}) == "linux/arm/v7");
    CHECK(picked(index_of({{"linux", "arm", "v7"}}), {"linux", "arm", "v6"}).rfind("error: index: no manifest for linux/arm/v6", 0) == 0);
    // arm64 falls back to 32-bit arm, amd64 to 386; not the other way.
    CHECK(picked(index_of({{"linux", "arm", "v7"}, {"linux", "arm", "v5"}}), {"linux", "arm64", ""}) == "linux/arm/v7");
    CHECK(picked(index_of({{"linux", "386", ""}}), {"linux", "amd64", ""}) == "linux/386");
    CHECK(picked(index_of({{"linux", "amd64", ""}}), {"linux", "386", ""}).rfind("error:", 0) == 0);
    // amd64 levels: v3 runs v2 and v1 (no variant); plain amd64 does not run v3.
    CHECK(picked(index_of({{"linux", "amd64", "v3"}, {"linux", "amd64", ""}}), {"linux", "amd64", ""}) == "linux/amd64");
    CHECK(picked(index_of({{"linux", "amd64", "v2"}, {"linux", "amd64", "v1"}}), {"linux", "amd64", "v3"}) == "linux/amd64/v2");
    CHECK(picked(index_of({{"linux", "amd64", "v1"}}), {"linux", "amd64", ""}) == "linux/amd64/v1");
    // The OS must match; the error lists what the index has.
    auto win = picked(index_of({{"windows", "amd64", ""}, {"linux", "s390x", ""}}), {"linux", "amd64", ""});
    CHECK(win == "error: index: no manifest for linux/amd64 (it has: windows/amd64, linux/s390x)");
    // One entry without a platform is taken; several are not.
    image::Index bare;
    bare.manifests.push_back(image::Descriptor{});
    CHECK(pick_manifest(bare, {"linux", "amd64", ""}, "i"));
    bare.manifests.push_back(image::Descriptor{});
    CHECK(!pick_manifest(bare, {"linux", "amd64", ""}, "i"));
    CHECK(host_platform().os == "linux");
}

TEST_CASE("registry: URLs, redirects and insecure registries", "[registry]") {
    auto u = parse_url("https://registry-1.docker.io/v2/library/busybox/manifests/latest");
    REQUIRE(u);
    CHECK(u->host == "registry-1.docker.io");
    CHECK(u->port == "443");
    CHECK(u->authority() == "registry-1.docker.io");
    u = parse_url("http://[::1]:5000/token?x=1#frag");
    REQUIRE(u);
    CHECK(u->host == "::1");
    CHECK(u->port == "5000");
    CHECK(u->target == "/token?x=1");
    CHECK(u->authority() == "[::1]:5000");
    CHECK(!parse_url("ftp://x/"));
    CHECK(!parse_url("https://user:pw@x/"));
    CHECK(!parse_url("https://x:99999/"));
    CHECK(!parse_url("https://x/a b"));
    CHECK(!parse_url("https:///path"));

    Url base = *parse_url("https://r.io:5000/v2/a/blobs/sha256:x");
    auto abs = resolve_location(base, "https://cdn.example.com/b?sig=1");
    REQUIRE(abs);
    CHECK(abs->str() == "https://cdn.example.com/b?sig=1");
    auto rel = resolve_location(base, "/other");
    REQUIRE(rel);
    CHECK(rel->str() == "https://r.io:5000/other");
    auto sib = resolve_location(base, "c");
    REQUIRE(sib);
    CHECK(sib->str() == "https://r.io:5000/v2/a/blobs/c");
    auto scheme_rel = resolve_location(base, "//cdn.io/x");
    REQUIRE(scheme_rel);
    CHECK(scheme_rel->str() == "https://cdn.io/x");
    CHECK(!resolve_location(base, ""));
    CHECK(query_escape("repository:a/b:pull") == "repository%3Aa%2Fb%3Apull");

    CHECK(api_host("docker.io") == "registry-1.docker.io");
    CHECK(api_host("ghcr.io") == "ghcr.io");
    CHECK(is_insecure({"127.0.0.1:5000"}, "127.0.0.1:5000"));
    CHECK(!is_insecure({"127.0.0.1:5000"}, "127.0.0.1:5001"));
    CHECK(is_insecure({"myreg"}, "myreg:5000"));
    CHECK(!is_insecure({"myreg:5000"}, "myreg"));
    CHECK(is_insecure({"[::1]"}, "[::1]:5000"));
}
