// The file log store's reading side: the last N lines across rotations, and --since
// (read backwards, stopping at the first whole line older than the time).
#include <catch2/catch.hpp>

#include <boost/asio/io_context.hpp>

#include "isolated/api_json.hpp"
#include "logs/log_store.hpp"
#include "support/test_env.hpp"

using namespace isolated;

namespace {

WallTime at(const char* s) { return *parse_rfc3339(s); }

std::vector<std::string> texts(const std::vector<logs::LogRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) out.push_back(r.text);
    return out;
}

}  // namespace

TEST_CASE("log store: since keeps the lines written since then, across rotated files, with the tail", "[logs]") {
    test::TempDir dir;
    // web.log.1 is older than web.log; "c" is split in two partial records whose first
    // part is older than the time asked for: the line is kept whole, with its last time.
    test::write_file(dir / "web.log.1",
                     "2026-11-23T19:00:01.000Z stdout F a\n"
                     "2026-11-23T19:00:02.000Z stderr F b\n");
    test::write_file(dir / "web.log",
                     "2026-11-23T19:00:02.500Z stdout P c-\n"
                     "2026-11-23T19:00:03.000Z stdout F c\n"
                     "2026-11-23T19:00:04.000Z stdout F d\n"
                     "2026-11-23T19:00:05.000Z stderr F e\n");
    boost::asio::io_context io;
    logs::LogStore store(io, dir.path());

    CHECK(texts(store.read_tail("web", SIZE_MAX)) == std::vector<std::string>{"a", "b", "c-c", "d", "e"});
    CHECK(texts(store.read_tail("web", 2)) == std::vector<std::string>{"d", "e"});
    CHECK(texts(store.read_tail("web", SIZE_MAX, at("2026-11-23T19:00:03Z"))) ==
          std::vector<std::string>{"c-c", "d", "e"});
    CHECK(texts(store.read_tail("web", SIZE_MAX, at("2026-11-23T19:00:01.500Z"))) ==
          std::vector<std::string>{"b", "c-c", "d", "e"});
    CHECK(texts(store.read_tail("web", SIZE_MAX, at("2026-11-23T19:00:00Z"))) ==
          std::vector<std::string>{"a", "b", "c-c", "d", "e"});
    CHECK(texts(store.read_tail("web", 2, at("2026-11-23T19:00:01.500Z"))) == std::vector<std::string>{"d", "e"});
    CHECK(texts(store.read_tail("web", 9, at("2026-11-23T19:00:04.500Z"))) == std::vector<std::string>{"e"});
    CHECK(store.read_tail("web", SIZE_MAX, at("2026-11-23T19:00:06Z")).empty());
    CHECK(store.read_tail("web", 0, at("2026-11-23T19:00:00Z")).empty());
    CHECK(store.read_tail("ghost", SIZE_MAX, at("2026-11-23T19:00:00Z")).empty());
}
