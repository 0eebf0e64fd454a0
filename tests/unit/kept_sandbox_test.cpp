// The kept pod sandbox's files (daemon/runtime/kept_sandbox.hpp): its record is read
// back by a later launch and a restarted daemon, and the namespace file is joined with
// setns. Both sit in the run dir, where a crash, a full disk or a hand edit can leave
// anything: whatever is not exactly what keep() makes is no sandbox to reuse. Plain
// files only (no mounts, no namespaces): what keep() binds is covered by the
// [sandbox-keep] integration tests.
#include <sys/stat.h>
#include <unistd.h>

#include <catch2/catch.hpp>
#include <filesystem>
#include <fstream>

#include "runtime/kept_sandbox.hpp"

using namespace isolated;
using namespace isolated::runtime;

namespace {

struct RunDir {
    std::string path;
    RunDir() {
        char tmpl[] = "/tmp/isolated-kept-test-XXXXXX";
        REQUIRE(::mkdtemp(tmpl) != nullptr);
        path = tmpl;
        std::filesystem::create_directories(path + "/apps/web");
        std::filesystem::create_directories(path + "/netns");
    }
    ~RunDir() { std::filesystem::remove_all(path); }
    void write(const std::string& rel, const std::string& text) const { std::ofstream(path + "/" + rel) << text; }
};

const std::string kGood =
    R"({"mode":"bridge","pinned":"","hostname":"web","ports":"8080:80/tcp@;","address":"10.100.0.2"})";

}  // namespace

TEST_CASE("kept sandbox: a record is read back only when it is what keep() writes", "[kept-sandbox]") {
    RunDir run;
    KeptSandboxes kept(run.path);
    CHECK_FALSE(kept.recorded("web").has_value());  // none

    run.write("apps/web/sandbox.json", kGood);
    auto rec = kept.recorded("web");
    REQUIRE(rec.has_value());
    CHECK(rec->mode == "bridge");
    CHECK(rec->address == "10.100.0.2");
    CHECK(rec->ports == "8080:80/tcp@;");

    for (const std::string& bad : {
             std::string(""),                                  // cut at 0
             kGood.substr(0, kGood.size() / 2),                // cut in the middle
             std::string("[1,2,3]"),                           // not an object
             std::string("\"bridge\""),                        // a string
             std::string(R"({"mode":"bridge"})"),              // fields missing
             std::string(R"({"mode":1,"pinned":"","hostname":"web","ports":"","address":""})"),  // wrong type
             std::string(R"({"mode":null,"pinned":"","hostname":"web","ports":"","address":""})"),
             std::string("\xff\xfe garbage \x00\x01", 16),  // not JSON at all
         }) {
        INFO("record: " << bad);
        run.write("apps/web/sandbox.json", bad);
        CHECK_FALSE(kept.recorded("web").has_value());
    }
    // Larger than any record keep() writes: not read at all.
    run.write("apps/web/sandbox.json", R"({"mode":")" + std::string(100 * 1024, 'b') + R"("})");
    CHECK_FALSE(kept.recorded("web").has_value());
}

TEST_CASE("kept sandbox: a namespace file that is not a mounted network namespace is never opened for setns",
          "[kept-sandbox]") {
    RunDir run;
    KeptSandboxes kept(run.path);
    // Missing.
    CHECK_FALSE(kept.open("web"));
    // The empty file keep() creates, left unmounted (a crash between its steps).
    run.write("netns/web", "");
    auto plain = kept.open("web");
    REQUIRE_FALSE(plain);
    CHECK_THAT(plain.error().to_string(), Catch::Contains("not a namespace"));
    // A symlink to a real network namespace is not followed (O_NOFOLLOW).
    std::filesystem::remove(run.path + "/netns/web");
    std::filesystem::create_symlink("/proc/self/ns/net", run.path + "/netns/web");
    CHECK_FALSE(kept.open("web"));
    // drop() cleans up whatever is there, and has() then finds nothing.
    run.write("apps/web/sandbox.json", kGood);
    CHECK(kept.has("web"));
    CHECK(kept.list() == std::set<std::string>{"web"});
    kept.drop("web");
    CHECK_FALSE(kept.has("web"));
    CHECK(kept.list().empty());
}
