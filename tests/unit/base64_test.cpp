#include <catch2/catch.hpp>

#include "isolated/base64.hpp"

using isolated::base64_decode;
using isolated::base64_encode;

TEST_CASE("base64: RFC 4648's test vectors encode and decode", "[base64]") {
    const std::pair<const char*, const char*> vectors[] = {
        {"", ""}, {"f", "Zg=="}, {"fo", "Zm8="}, {"foo", "Zm9v"},
        {"foob", "Zm9vYg=="}, {"fooba", "Zm9vYmE="}, {"foobar", "Zm9vYmFy"}};
    for (const auto& [plain, encoded] : vectors) {
        CHECK(base64_encode(plain) == encoded);
        CHECK(base64_decode(encoded) == std::string(plain));
    }
}

TEST_CASE("base64: every byte value and length survives the round trip", "[base64]") {
    std::string bytes;
    for (int i = 0; i < 256; ++i) {
        bytes += static_cast<char>(255 - i);
        auto back = base64_decode(base64_encode(bytes));
        REQUIRE(back);
        CHECK(*back == bytes);
    }
}

TEST_CASE("base64: what is not canonical padded base64 is refused", "[base64]") {
    for (const char* bad : {"Zm8", "Zg=", "Z===", "Zg==Zg==", "Zm9v!A==", "Zm 9v", "=Zm9", "Zm=v"}) {
        INFO(bad);
        CHECK_FALSE(base64_decode(bad));
    }
    // Blanks are passed over only when asked (a YAML block scalar's line breaks).
    CHECK_FALSE(base64_decode("Zm9v\nYmFy"));
    CHECK(base64_decode("Zm9v\nYmFy\n", true) == std::string("foobar"));
}
