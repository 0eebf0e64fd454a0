// Name discovery's files (issue 13): every running bridged app's /etc/hosts follows the
// apps that come and go, rewritten in place so a bind mount of the file sees it.
#include <sys/stat.h>

#include <catch2/catch.hpp>
#include <fstream>
#include <sstream>

#include "net/discovery.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::net;

namespace {

std::string slurp(const std::string& path) {
    std::ifstream in(path);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

ino_t inode_of(const std::string& path) {
    struct stat st{};
    REQUIRE(::stat(path.c_str(), &st) == 0);
    return st.st_ino;
}

Ipv4 ip(const char* s) { return *Ipv4::parse(s); }

}  // namespace

TEST_CASE("rewrite_in_place keeps the inode, never shrinks the file, and pads with a comment line",
          "[net][discovery]") {
    test::TempDir tmp("hosts");
    std::string path = tmp / "hosts";
    std::ofstream(path) << "127.0.0.1\tlocalhost\n10.0.0.2\tlonger-name\n";
    const ino_t ino = inode_of(path);
    const auto old_size = slurp(path).size();

    REQUIRE(rewrite_in_place(path, "127.0.0.1\tlocalhost\n"));
    CHECK(inode_of(path) == ino);
    std::string now = slurp(path);
    CHECK(now.size() == old_size);
    CHECK(now.rfind("127.0.0.1\tlocalhost\n#", 0) == 0);
    CHECK(now.back() == '\n');
    CHECK(now.find("longer-name") == std::string::npos);

    REQUIRE(rewrite_in_place(path, std::string(old_size - 1, 'x').replace(old_size - 2, 1, "\n")));
    CHECK(slurp(path).size() == old_size);
    CHECK(slurp(path).substr(old_size - 2) == "\n\n");

    std::string longer = "127.0.0.1\tlocalhost\n10.0.0.2\ta\n10.0.0.3\tb\n10.0.0.4\tcccccccc\n";
    REQUIRE(rewrite_in_place(path, longer));
    CHECK(slurp(path) == longer);
    CHECK(inode_of(path) == ino);

    CHECK_FALSE(rewrite_in_place(tmp / "missing", "x\n"));
}

TEST_CASE("HostsFiles: members' files list the running apps as they join and leave", "[net][discovery]") {
    test::TempDir tmp("hosts");
    std::string a = tmp / "a-hosts", b = tmp / "b-hosts";
    std::ofstream(a) << "";
    std::ofstream(b) << "";
    HostsFiles files;
    std::vector<std::string> errors;
    files.on_error = [&](const std::string& app, const std::string& e) { errors.push_back(app + ": " + e); };

    files.join("a1", {ip("10.100.0.2"), "a1", a});
    CHECK(slurp(a).find("10.100.0.2\ta1\n") != std::string::npos);
    // What a newcomer's own file is prepared with before it joins.
    std::string newbie = files.render("newbie", "newbie", ip("10.100.0.3"));
    CHECK(newbie.find("10.100.0.2\ta1\n") != std::string::npos);
    CHECK(newbie.find("10.100.0.3\tnewbie\n") != std::string::npos);

    files.join("newbie", {ip("10.100.0.3"), "newbie", b});
    CHECK(slurp(a).find("10.100.0.3\tnewbie\n") != std::string::npos);
    CHECK(slurp(b).find("10.100.0.2\ta1\n") != std::string::npos);

    // Back with another address.
    files.leave("newbie");
    CHECK(slurp(a).find("newbie") == std::string::npos);
    files.join("newbie", {ip("10.100.0.9"), "newbie", b});
    CHECK(slurp(a).find("10.100.0.9\tnewbie\n") != std::string::npos);
    CHECK(slurp(a).find("10.100.0.3") == std::string::npos);

    files.leave("nobody");  // not a member: nothing happens
    CHECK(errors.empty());
    // A file that cannot be written is reported; the others are still written.
    files.join("ghost", {ip("10.100.0.5"), "ghost", tmp / "no-such-dir/hosts"});
    CHECK(errors.size() == 1);
    CHECK(slurp(a).find("10.100.0.5\tghost\n") != std::string::npos);
}
