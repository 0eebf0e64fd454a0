#include <catch2/catch.hpp>

#include "isolated/units.hpp"

using namespace isolated;
using namespace std::chrono_literals;

TEST_CASE("durations parse in the app-file syntax", "[units]") {
    CHECK(parse_duration("500ms") == Duration(500));
    CHECK(parse_duration("10s") == Duration(10'000));
    CHECK(parse_duration("5m") == Duration(300'000));
    CHECK(parse_duration("1h") == Duration(3'600'000));
    CHECK(parse_duration("1m30s") == Duration(90'000));
    CHECK(parse_duration("0s") == Duration(0));
    CHECK_FALSE(parse_duration(""));
    CHECK_FALSE(parse_duration("10"));
    CHECK_FALSE(parse_duration("-1s"));
    CHECK_FALSE(parse_duration("1.5s"));
    CHECK_FALSE(parse_duration("10 s"));
    CHECK_FALSE(parse_duration("s"));
    CHECK_FALSE(parse_duration("99999999999999999999s"));
}

TEST_CASE("durations format in their shortest exact form", "[units]") {
    CHECK(format_duration(Duration(0)) == "0s");
    CHECK(format_duration(Duration(1500)) == "1500ms");
    CHECK(format_duration(Duration(90'000)) == "90s");
    CHECK(format_duration(Duration(300'000)) == "5m");
    CHECK(format_duration(Duration(3'600'000)) == "1h");
    for (auto s : {"250ms", "3s", "7m", "2h"}) CHECK(format_duration(*parse_duration(s)) == s);
}

TEST_CASE("sizes are 1024-based as in systemd", "[units]") {
    CHECK(parse_size("512K") == 512ull * 1024);
    CHECK(parse_size("512M") == 512ull << 20);
    CHECK(parse_size("2G") == 2ull << 30);
    CHECK(parse_size("1T") == 1ull << 40);
    CHECK(parse_size("4096") == 4096u);
    CHECK(parse_size("512MiB") == 512ull << 20);
    CHECK(parse_size("16MB") == 16ull << 20);
    CHECK_FALSE(parse_size("12Q"));
    CHECK_FALSE(parse_size(""));
    CHECK_FALSE(parse_size("M"));
    CHECK_FALSE(parse_size("1.5G"));
    CHECK_FALSE(parse_size("-1"));
    CHECK_FALSE(parse_size("99999999999T"));
    CHECK(format_size(512ull << 20) == "512M");
    CHECK(format_size(1000) == "1000");
    CHECK(format_size(0) == "0");
}

TEST_CASE("cpu percentages are of one core", "[units]") {
    CHECK(parse_cpu_percent("50%") == Approx(0.5));
    CHECK(parse_cpu_percent("150%") == Approx(1.5));
    CHECK(parse_cpu_percent("12.5%") == Approx(0.125));
    CHECK_FALSE(parse_cpu_percent("50"));
    CHECK_FALSE(parse_cpu_percent("0%"));
    CHECK_FALSE(parse_cpu_percent("-5%"));
    CHECK_FALSE(parse_cpu_percent("%"));
}

TEST_CASE("signals by name, short name or number", "[units]") {
    CHECK(parse_signal("SIGTERM") == 15);
    CHECK(parse_signal("TERM") == 15);
    CHECK(parse_signal("9") == 9);
    CHECK(parse_signal("SIGQUIT") == 3);
    CHECK_FALSE(parse_signal("SIGFOO"));
    CHECK_FALSE(parse_signal("0"));
    CHECK_FALSE(parse_signal("sigterm"));
    CHECK(signal_name(9) == "SIGKILL");
    CHECK(signal_name(15) == "SIGTERM");
    CHECK(signal_name(40) == "SIG40");
}

TEST_CASE("RFC 3339 timestamps are UTC with milliseconds", "[units]") {
    std::chrono::system_clock::time_point t{std::chrono::milliseconds(1'700'000'000'123)};
    CHECK(format_rfc3339(t) == "2023-11-14T22:13:20.123Z");
}
