// A hook's user, resolved against this host's user database (root and nobody exist
// on every Debian system; the names below do not).
#include <catch2/catch.hpp>

#include <algorithm>

#include "hooks/hook_process.hpp"

using namespace isolated;
using isolated::hooks::resolve_user;

TEST_CASE("hook user: NAME, UID, UID:GID and NAME:GROUP resolve on the host, unknown names are errors",
          "[hooks]") {
    auto root = resolve_user("root");
    REQUIRE(root);
    CHECK(root->uid == 0);
    CHECK(root->gid == 0);
    CHECK(std::count(root->groups.begin(), root->groups.end(), 0u) == 1);

    auto nobody = resolve_user("nobody");
    REQUIRE(nobody);
    CHECK(nobody->uid == 65534);
    CHECK(nobody->gid == 65534);  // its passwd group (nogroup)
    CHECK(std::find(nobody->groups.begin(), nobody->groups.end(), 65534u) != nobody->groups.end());

    auto by_uid = resolve_user("65534");
    REQUIRE(by_uid);
    CHECK(by_uid->uid == 65534);
    CHECK(by_uid->gid == 65534);  // from its passwd entry

    auto pair = resolve_user("65534:0");
    REQUIRE(pair);
    CHECK(pair->uid == 65534);
    CHECK(pair->gid == 0);
    CHECK(pair->groups.front() == 0u);

    auto named_group = resolve_user("nobody:root");
    REQUIRE(named_group);
    CHECK(named_group->gid == 0);

    // A uid without a passwd entry runs with gid = uid and that group only.
    auto bare = resolve_user("43210");
    REQUIRE(bare);
    CHECK(bare->uid == 43210);
    CHECK(bare->gid == 43210);
    CHECK(bare->groups == std::vector<gid_t>{43210});

    auto unknown = resolve_user("no-such-user-here");
    REQUIRE_FALSE(unknown);
    CHECK(unknown.error().to_string() == "user \"no-such-user-here\" does not exist on this host");
    auto bad_group = resolve_user("nobody:no-such-group-here");
    REQUIRE_FALSE(bad_group);
    CHECK(bad_group.error().to_string() == "group \"no-such-group-here\" does not exist on this host");
}
