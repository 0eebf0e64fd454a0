// daemon/image/reference: the distribution/reference grammar and Docker's
// normalization (docker.io, library/, latest), and image ids.
#include <catch2/catch.hpp>

#include "image/reference.hpp"

using namespace isolated::image;

TEST_CASE("image references: normalized like docker and podman", "[image]") {
    struct Case {
        const char* in;
        const char* normalized;
    };
    const Case cases[] = {
        {"busybox", "docker.io/library/busybox:latest"},
        {"busybox:1.36", "docker.io/library/busybox:1.36"},
        {"library/busybox", "docker.io/library/busybox:latest"},
        {"docker.io/busybox", "docker.io/library/busybox:latest"},
        {"index.docker.io/library/busybox:1", "docker.io/library/busybox:1"},
        {"myorg/app", "docker.io/myorg/app:latest"},
        {"ghcr.io/o/app:v1.2.3", "ghcr.io/o/app:v1.2.3"},
        {"localhost/app", "localhost/app:latest"},
        {"localhost:5000/a/b/c:tag_1", "localhost:5000/a/b/c:tag_1"},
        {"127.0.0.1:5000/app", "127.0.0.1:5000/app:latest"},
        {"[::1]:5000/app:x", "[::1]:5000/app:x"},
        {"registry.example.com/a-b/c__d/e.f:T.-", "registry.example.com/a-b/c__d/e.f:T.-"},
        {"Registry.Example.COM/app", "Registry.Example.COM/app:latest"},
        {"busybox@sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "docker.io/library/busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"busybox:1@sha256:" "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
         "docker.io/library/busybox:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
        {"a---b/c", "docker.io/a---b/c:latest"},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        auto r = parse_reference(c.in);
        REQUIRE(r);
        CHECK(r->str() == c.normalized);
        // Normalizing twice changes nothing (the index stores the normalized form).
        auto again = parse_reference(r->str());
        REQUIRE(again);
        CHECK(again->str() == r->str());
    }
    auto r = parse_reference("ghcr.io/o/app:1");
    REQUIRE(r);
    CHECK(r->domain == "ghcr.io");
    CHECK(r->path == "o/app");
    CHECK(r->tag == "1");
    CHECK(parse_reference("busybox")->familiar() == "busybox:latest");
    CHECK(parse_reference("ghcr.io/o/app")->familiar() == "ghcr.io/o/app:latest");
}

TEST_CASE("image references: malformed ones are refused with the reason", "[image]") {
    struct Case {
        const char* in;
        const char* says;
    };
    const Case cases[] = {
        {"", "empty"},
        {"Busybox", "lowercase"},
        {"docker.io/Library/busybox", "lowercase"},
        {"busybox:", "tag"},
        {"busybox:-x", "tag"},
        {"busybox:.x", "tag"},
        {"busybox:a b", "tag"},
        {"busybox@sha256:abc", "digest"},
        {"busybox@md5:0123456789abcdef0123456789abcdef", "sha256"},
        {"a//b", "malformed"},
        {"a/b/", "malformed"},
        {"-a/b", "malformed"},
        {"a_/b", "malformed"},
        {"a/_b", "malformed"},
        {"a..b/c", "registry host"},
        {"foo_bar.com:8080/x", "registry host"},
        {":tag", "empty"},
        {"0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef", "64 hexadecimal"},
        {"ghcr.io/o/app:" "toolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongtoolongt12",
         "tag"},
    };
    for (const auto& c : cases) {
        INFO(c.in);
        auto r = parse_reference(c.in);
        REQUIRE_FALSE(r);
        CHECK_THAT(r.error().message, Catch::Contains("invalid reference") && Catch::Contains(c.says));
    }
    std::string long_name = "a/" + std::string(260, 'b');
    auto r = parse_reference(long_name);
    REQUIRE_FALSE(r);
    CHECK_THAT(r.error().message, Catch::Contains("longer than 255"));
}

TEST_CASE("image references: image ids are sha256 config digests", "[image]") {
    const std::string hex = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
    auto a = parse_image_ref("sha256:" + hex);
    REQUIRE(a);
    REQUIRE(a->id);
    CHECK(a->id->hex == hex);
    auto b = parse_image_ref(hex);
    REQUIRE(b);
    REQUIRE(b->id);
    auto c = parse_image_ref("busybox");
    REQUIRE(c);
    CHECK_FALSE(c->id);
    CHECK(c->ref.str() == "docker.io/library/busybox:latest");
    auto bad = parse_image_ref("sha256:12");
    REQUIRE_FALSE(bad);
    CHECK_THAT(bad.error().message, Catch::Contains("invalid image id"));
    CHECK_FALSE(parse_digest("sha256:" + std::string(64, 'A')));
    CHECK(sha256_of("").str() == "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
}
