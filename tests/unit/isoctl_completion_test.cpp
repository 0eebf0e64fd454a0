// packaging/bash-completion/isoctl knows every verb and every option of client/cli.cpp's
// verb table (run in bash, no daemon), and the systemd unit's Documentation= names the
// man pages this tree ships. Both drifted before (issue 13, item 11).
#include <catch2/catch.hpp>

#include <sys/wait.h>

#include <cstdio>
#include <sstream>

#include "cli.hpp"
#include "support/test_env.hpp"

namespace {

std::string shell_quote(const std::string& s) {
    std::string out = "'";
    for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
    return out + "'";
}

/// The completions bash offers for `words` (the last one being completed).
std::string complete(const std::vector<std::string>& words) {
    std::string cmd = "ISOCTL_SOCKET=/nonexistent/isolated.sock bash --norc --noprofile -c "
                      "'source \"$1\"; shift; COMP_WORDS=(\"$@\"); COMP_CWORD=$(( $# - 1 )); "
                      "COMP_LINE=\"$*\"; COMP_POINT=${#COMP_LINE}; _isoctl; printf \"%s \" \"${COMPREPLY[@]}\"' _ " +
                      shell_quote(std::string(ISOLATED_SOURCE_DIR) + "/packaging/bash-completion/isoctl");
    for (const auto& w : words) cmd += " " + shell_quote(w);
    cmd += " 2>&1";
    FILE* p = ::popen(cmd.c_str(), "r");
    REQUIRE(p);
    std::string out;
    char buf[4096];
    std::size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
    ::pclose(p);
    return " " + out;  // every word then has a space on both sides
}

bool offers(const std::string& reply, const std::string& word) { return reply.find(" " + word + " ") != std::string::npos; }

}  // namespace

TEST_CASE("bash completion offers every verb and every option of the verb table", "[isoctl][packaging]") {
    std::string verbs = complete({"isoctl", ""});
    for (const auto& v : isoctl::verbs()) {
        INFO("verb " << v.name << "; offered:" << verbs);
        CHECK(offers(verbs, v.name));
        std::string opts = complete({"isoctl", v.name, "-"});
        for (const auto& o : v.options) {
            INFO("option --" << o.long_name << " of " << v.name << "; offered:" << opts);
            CHECK(offers(opts, "--" + o.long_name));
            if (o.short_name) CHECK(offers(opts, std::string("-") + o.short_name));
        }
        for (const auto& o : isoctl::global_options()) CHECK(offers(opts, "--" + o.long_name));
    }
    // Values of the new options, and app names are not looked for in the option values.
    CHECK(offers(complete({"isoctl", "logs", "--since", ""}), "10m"));
    CHECK(offers(complete({"isoctl", "status", "--interval", ""}), "2s"));
    CHECK(offers(complete({"isoctl", "help", "ins"}), "inspect"));
}

TEST_CASE("the systemd unit's Documentation= names the man pages the tree ships", "[packaging]") {
    std::string unit = isolated::test::read_file(std::string(ISOLATED_SOURCE_DIR) + "/systemd/isolated.service");
    std::istringstream in(unit);
    std::string line, docs;
    while (std::getline(in, line))
        if (line.rfind("Documentation=", 0) == 0) docs += line.substr(14) + " ";
    CHECK(docs.find("http") == std::string::npos);  // no placeholder URL
    for (const char* page : {"man:isolated(8)", "man:isoctl(1)", "man:isolated.app(5)"}) {
        INFO(page << " in Documentation=" << docs);
        CHECK(docs.find(page) != std::string::npos);
    }
    for (const char* source : {"/docs/man/isolated.8.scd.in", "/docs/man/isoctl.1.scd", "/docs/man/isolated.app.5.scd"})
        CHECK_FALSE(isolated::test::read_file(std::string(ISOLATED_SOURCE_DIR) + source).empty());
}
