#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

// ctest runs each test case by name (catch_discover_tests): a ';' splits the name into
// two that match nothing and a leading '-' reads as an option, so such a test would not
// run at all. In the file that holds main(), so every test binary checks its own names;
// the binary's name (ISOLATED_TEST_BINARY, set by tests/CMakeLists.txt) keeps this
// test's own name unique among the binaries that share a ctest prefix.
#ifndef ISOLATED_TEST_BINARY
#define ISOLATED_TEST_BINARY "this binary"
#endif
TEST_CASE("every test case name in " ISOLATED_TEST_BINARY " is one ctest can run", "[meta]") {
    for (const auto& tc : Catch::getAllTestCasesSorted(*Catch::getCurrentContext().getConfig())) {
        INFO(tc.name);
        CHECK(tc.name.find(';') == std::string::npos);
        CHECK_FALSE(tc.name.starts_with("-"));
    }
}
