// envFile (issue 16, item 2): systemd's EnvironmentFile= syntax (common/src/env_file.cpp),
// the reading of the files at a start and the checks on secrets' sources
// (daemon/sandbox/start_files.cpp), and what the launch plan makes of them.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <fstream>

#include "isolated/app_parser.hpp"
#include "isolated/env_file.hpp"
#include "isolated/redact.hpp"
#include "sandbox/init_protocol.h"
#include "sandbox/sandbox_plan.hpp"
#include "sandbox/start_files.hpp"
#include "support/test_env.hpp"

using namespace isolated;
using namespace isolated::sandbox;

namespace {

struct Case {
    const char* what;
    std::string text;
    EnvList want;
};

// What systemd's parse_env_file makes of each (src/basic/env-file.c), CRLF aside.
const std::vector<Case>& good_cases() {
    static const std::vector<Case> cases = {
        {"plain", "A=b", {{"A", "b"}}},
        {"several lines, a final newline", "A=1\nB=2\n", {{"A", "1"}, {"B", "2"}}},
        {"blanks around the name and the value", "  A = b  \n", {{"A", "b"}}},
        {"tabs are blanks", "\tA=\tb\t", {{"A", "b"}}},
        {"blanks inside an unquoted value stay", "A=x  y", {{"A", "x  y"}}},
        {"empty value", "A=\n", {{"A", ""}}},
        {"empty value at the end of the file", "A=", {{"A", ""}}},
        {"only blanks after =", "A=   \nB=1", {{"A", ""}, {"B", "1"}}},
        {"comments and blank lines", "# one\n; two\n\n   # three\nA=1\n", {{"A", "1"}}},
        {"# inside a value is not a comment", "A=b # c", {{"A", "b # c"}}},
        {"= inside a value", "A=b=c", {{"A", "b=c"}}},
        {"single quotes keep everything", "A='x  \\n $y \"z\"'", {{"A", "x  \\n $y \"z\""}}},
        {"double quotes: \\\" \\\\ \\` \\$ are escapes",
         "A=\"a \\\"q\\\" \\$x \\\\ \\`\"",
         {{"A", "a \"q\" $x \\ `"}}},
        {"double quotes keep other backslashes", "A=\"a\\nb\"", {{"A", "a\\nb"}}},
        {"quoted blanks stay", "A=\"  x  \"", {{"A", "  x  "}}},
        {"quoted and unquoted parts run together", "A='x'y", {{"A", "xy"}}},
        {"once unquoted, quotes are text", "A='x'y\"z\"", {{"A", "xy\"z\""}}},
        {"blanks between quoted parts go", "A='x' 'y'", {{"A", "xy"}}},
        {"a quote after unquoted text is text", "A=a \"b\"", {{"A", "a \"b\""}}},
        {"a quoted value spans lines", "A=\"line1\nline2\"\nB=1", {{"A", "line1\nline2"}, {"B", "1"}}},
        {"unquoted backslash escapes", "A=a\\$b\\\\c", {{"A", "a$b\\c"}}},
        {"an escaped trailing blank stays", "A=x\\ ", {{"A", "x "}}},
        {"continuation, unquoted", "A=a\\\n  b\nB=2", {{"A", "a  b"}, {"B", "2"}}},
        {"continuation in double quotes", "A=\"a\\\nb\"", {{"A", "ab"}}},
        {"a backslash at a comment's end continues nothing", "# c \\\nA=1", {{"A", "1"}}},
        {"CRLF line ends", "A=1\r\nB=2\r\n", {{"A", "1"}, {"B", "2"}}},
        {"CRLF inside a quoted value", "A=\"x\r\ny\"\r\n", {{"A", "x\ny"}}},
        {"CRLF continuation", "A=a\\\r\nb\r\n", {{"A", "ab"}}},
        {"a lone CR ends a line", "A=1\rB=2", {{"A", "1"}, {"B", "2"}}},
        {"a later assignment is kept after an earlier one", "A=1\nA=2", {{"A", "1"}, {"A", "2"}}},
        {"UTF-8 values", "A=h\xc3\xa9llo \xe2\x82\xac", {{"A", "h\xc3\xa9llo \xe2\x82\xac"}}},
        {"lower case and digits in names", "abc_1=x\n_X=y", {{"abc_1", "x"}, {"_X", "y"}}},
        {"empty file", "", {}},
        {"only comments", "# nothing\n", {}},
    };
    return cases;
}

struct BadCase {
    const char* what;
    std::string text;
    std::string error;   ///< the whole message
    std::string secret;  ///< a part of the text the message must not quote
};

const std::vector<BadCase>& bad_cases() {
    static const std::vector<BadCase> cases = {
        {"a blank in the name", "A=1\nMY NAME=hunter2-x",
         "line 2: the name before \"=\" is not a valid variable name (letters, digits and \"_\", not starting with a "
         "digit)",
         "MY NAME"},
        {"export is not shell", "export A=hunter2-x",
         "line 1: the name before \"=\" is not a valid variable name (letters, digits and \"_\", not starting with a "
         "digit)",
         "export"},
        {"a name starting with a digit", "1A=hunter2-x",
         "line 1: the name before \"=\" is not a valid variable name (letters, digits and \"_\", not starting with a "
         "digit)",
         "1A"},
        {"no name", "=hunter2-x",
         "line 1: the name before \"=\" is not a valid variable name (letters, digits and \"_\", not starting with a "
         "digit)",
         "hunter2"},
        {"a line without =", "A=1\n\nhunter2-alone\n", "line 3: no \"=\" (each line is NAME=VALUE, a comment or blank)",
         "hunter2"},
        {"a last line without =", "A=1\nhunter2-alone", "line 2: no \"=\" (each line is NAME=VALUE, a comment or blank)",
         "hunter2"},
        {"a single quote left open", "A=1\nB='hunter2-x\nC=3", "line 2: a quote opened here is never closed", "hunter2"},
        {"a double quote left open", "B=\"hunter2-x", "line 1: a quote opened here is never closed", "hunter2"},
        {"a control character", "A=1\nB=hunter2\x1b[0m",
         "line 2: the value of B holds a control character (of those only tab and newline may appear)", "hunter2"},
        {"a CR inside quotes", "B=\"hunter2\rx\"",
         "line 1: the value of B holds a control character (of those only tab and newline may appear)", "hunter2"},
        {"invalid UTF-8", "B=hunter2\xff", "line 1: the value of B is not valid UTF-8", "hunter2"},
        {"an overlong UTF-8 form", "B=hunter2\xc0\xaf", "line 1: the value of B is not valid UTF-8", "hunter2"},
        {"a NUL byte", std::string("A=1\nB=hunter2\0x", 14), "line 2: holds a NUL byte (an envFile is text)",
         "hunter2"},
    };
    return cases;
}

AppSpec spec_of(const std::string& json) {
    auto p = parse_app_text("app", json, "apps/app.json");
    INFO(json);
    REQUIRE(p.spec);
    return *p.spec;
}

void write_text(const std::string& path, const std::string& text, mode_t mode = 0600) {
    std::ofstream(path, std::ios::binary) << text;
    REQUIRE(::chmod(path.c_str(), mode) == 0);
}

std::string env_of(const LaunchPlan& plan, const std::string& name) {
    for (const auto& e : plan.env)
        if (e.rfind(name + "=", 0) == 0) return e.substr(name.size() + 1);
    return "<unset>";
}

}  // namespace

TEST_CASE("envFile syntax: what systemd's EnvironmentFile= reads", "[envfile]") {
    for (const auto& c : good_cases()) {
        INFO(c.what);
        auto r = parse_env_file(c.text);
        REQUIRE(r);
        CHECK(*r == c.want);
    }
}

TEST_CASE("envFile syntax: errors name the line, never the text", "[envfile]") {
    for (const auto& c : bad_cases()) {
        INFO(c.what);
        auto r = parse_env_file(c.text);
        REQUIRE_FALSE(r);
        CHECK(r.error().message == c.error);
        CHECK(r.error().message.find(c.secret) == std::string::npos);
    }
}

TEST_CASE("envFile syntax: one variable may not be longer than the kernel takes", "[envfile]") {
    std::string name = "BIG";
    std::string fits(env_string_max_bytes - name.size() - 2, 'x');
    auto ok = parse_env_file(name + "=" + fits);
    REQUIRE(ok);
    CHECK(ok->at(0).second.size() == fits.size());
    auto bad = parse_env_file(name + "=" + fits + "x");
    REQUIRE_FALSE(bad);
    CHECK(bad.error().message == "line 1: BIG=... is longer than 128 KiB, the kernel's limit for one variable");
}

TEST_CASE("envFile reading: optional and missing files, size cap, errors naming the file", "[envfile]") {
    test::TempDir dir("envfile");
    const std::string a = dir / "a.env", b = dir / "b.env", missing = dir / "missing.env";
    write_text(a, "A=1\nB=from-a\n");
    write_text(b, "B=from-b\nC='3'\n");

    auto both = read_env_files({{a, false}, {missing, true}, {b, false}});
    REQUIRE(both);
    CHECK(*both == EnvList{{"A", "1"}, {"B", "from-a"}, {"B", "from-b"}, {"C", "3"}});

    auto gone = read_env_files({{a, false}, {missing, false}});
    REQUIRE_FALSE(gone);
    CHECK(gone.error().to_string() == "envFile " + missing + ": ENOENT (No such file or directory)");

    write_text(b, "B=1\nsecret-line-x\n");
    auto syntax = read_env_files({{b, false}});
    REQUIRE_FALSE(syntax);
    CHECK(syntax.error().to_string() ==
          "envFile " + b + ": line 2: no \"=\" (each line is NAME=VALUE, a comment or blank)");

    write_text(b, "B=" + std::string(env_file_max_bytes, 'x'));
    auto big = read_env_files({{b, false}});
    REQUIRE_FALSE(big);
    CHECK(big.error().to_string() == "envFile " + b + ": larger than 1 MiB");

    auto directory = read_env_files({{dir.path(), false}});
    REQUIRE_FALSE(directory);
    CHECK(directory.error().to_string() == "envFile " + dir.path() + ": EISDIR (Is a directory)");

    // An optional file that exists is read, and its errors count.
    write_text(b, "1X=y\n");
    CHECK_FALSE(read_env_files({{b, true}}));
}

TEST_CASE("secret sources: regular, root's, not writable by others, at most 1 MiB", "[secrets]") {
    struct stat st {};
    st.st_mode = S_IFREG | 0400;
    st.st_uid = 0;
    st.st_size = 20;
    CHECK_FALSE(secret_source_problem(st));
    st.st_mode = S_IFREG | 0644;  // readable by others is the operator's choice
    CHECK_FALSE(secret_source_problem(st));

    struct Bad {
        mode_t mode;
        uid_t uid;
        off_t size;
        std::string why;
    };
    for (const auto& b : std::vector<Bad>{
             {S_IFREG | 0460, 0, 20, "is writable by its group or by others (mode 0460; chmod go-w)"},
             {S_IFREG | 0402, 0, 20, "is writable by its group or by others (mode 0402; chmod go-w)"},
             {S_IFREG | 0400, 1000, 20,
              "is owned by uid 1000, not root (only root may decide what an app's secret is: chown root)"},
             {S_IFREG | 0400, 0, (1 << 20) + 1, "is larger than 1 MiB (systemd's limit for a credential)"},
             {S_IFDIR | 0700, 0, 4096, "is a directory, not a file"},
             {S_IFIFO | 0600, 0, 0, "is not a regular file"},
             {S_IFCHR | 0600, 0, 0, "is not a regular file"},
         }) {
        st.st_mode = b.mode;
        st.st_uid = b.uid;
        st.st_size = b.size;
        auto why = secret_source_problem(st);
        INFO(b.why);
        REQUIRE(why);
        CHECK(*why == b.why);
    }
    // Exactly 1 MiB is allowed (systemd's CREDENTIAL_SIZE_MAX).
    st.st_mode = S_IFREG | 0400;
    st.st_uid = 0;
    st.st_size = 1 << 20;
    CHECK_FALSE(secret_source_problem(st));
}

TEST_CASE("secret sources: symlinks are not followed, the opened file is what is checked", "[secrets]") {
    test::TempDir dir("secrets");
    const std::string real = dir / "real", link = dir / "link", missing = dir / "missing";
    write_text(real, "s3cr3t-value\n", 0400);
    // Whoever runs the unit tests: the file must be root's; as another user it is not.
    bool root = ::geteuid() == 0;
    auto ok = read_secret({real, "real", 0400});
    if (root) {
        REQUIRE(ok);
        CHECK(*ok == "s3cr3t-value\n");
        REQUIRE(::chown(real.c_str(), 65534, 65534) == 0);
        auto theirs = read_secret({real, "real", 0400});
        REQUIRE_FALSE(theirs);
        CHECK(theirs.error().to_string() ==
              "secret \"real\" (" + real +
                  "): is owned by uid 65534, not root (only root may decide what an app's secret is: chown root)");
    } else {
        REQUIRE_FALSE(ok);
        CHECK(ok.error().message.find("not root") != std::string::npos);
    }
    REQUIRE(::symlink(real.c_str(), link.c_str()) == 0);
    auto via_link = read_secret({link, "pw", 0400});
    REQUIRE_FALSE(via_link);
    CHECK(via_link.error().to_string() == "secret \"pw\" (" + link +
                                              "): is a symlink, or a directory on its path is (secrets are read "
                                              "without following symlinks: name the file itself)");
    // A symlinked directory on the path counts too.
    const std::string dir_link = dir / "dirlink";
    REQUIRE(::symlink(dir.path().c_str(), dir_link.c_str()) == 0);
    auto via_dir = read_secret({dir_link + "/real", "pw", 0400});
    REQUIRE_FALSE(via_dir);
    CHECK(via_dir.error().message.find("is a symlink, or a directory on its path is") != std::string::npos);
    auto gone = read_secret({missing, "pw", 0400});
    REQUIRE_FALSE(gone);
    CHECK(gone.error().to_string() == "secret \"pw\" (" + missing + "): ENOENT (No such file or directory)");
    for (const auto& e : {via_link, via_dir, gone}) CHECK(e.error().to_string().find("s3cr3t") == std::string::npos);
}

TEST_CASE("launch plan: envFile variables override env, CREDENTIALS_DIRECTORY with secrets", "[envfile][secrets]") {
    auto spec = spec_of(R"({"command": ["/bin/true"], "env": {"A": "from-env", "B": "from-env"},
                            "secrets": [{"source": "/etc/isolated/secrets/pw"}]})");
    LogSettings log;
    auto plan = make_launch_plan(spec, "i", log, {{"B", "from-file-1"}, {"C", "c"}, {"B", "from-file-2"}});
    CHECK(env_of(plan, "A") == "from-env");
    CHECK(env_of(plan, "B") == "from-file-2");
    CHECK(env_of(plan, "C") == "c");
    CHECK(env_of(plan, "CREDENTIALS_DIRECTORY") == "/run/secrets");
    CHECK_FALSE(plan.home_set);
    // HOME from an envFile is kept over the user's home.
    auto home = make_launch_plan(spec, "i", log, {{"HOME", "/srv/home"}});
    CHECK(home.home_set);
    REQUIRE(plan_sandbox(home, spec, SandboxInputs{"/stage", "/etc-dir", "", "", "/etc/isolated", probe_host}));
    CHECK(env_of(home, "HOME") == "/srv/home");

    auto plain = make_launch_plan(spec_of(R"({"command": ["/bin/true"]})"), "i", log);
    CHECK(env_of(plain, "CREDENTIALS_DIRECTORY") == "<unset>");
}

TEST_CASE("launch plan: secrets are a read-only tmpfs at /run/secrets, owned by the app's user", "[secrets]") {
    auto spec = spec_of(R"({"command": ["/bin/true"], "user": "1234:2345",
                            "namespaces": {"user": {"uid": 300000, "count": 65536}},
                            "secrets": [{"source": "/etc/isolated/secrets/pw", "mode": "0440"},
                                        {"source": "/etc/isolated/secrets/key", "name": "tls.key"}]})");
    auto plan = make_launch_plan(spec, "i", LogSettings{});
    plan.secrets = {{"pw", "one", 0440, 0, 0}, {"tls.key", "two", 0400, 0, 0}};
    REQUIRE(plan_sandbox(plan, spec, SandboxInputs{"/stage", "/etc-dir", "", "", "/etc/isolated", probe_host}));
    int steps = 0;
    for (const auto& m : plan.mounts) {
        if (m.op != MOP_SECRETS) continue;
        ++steps;
        CHECK(m.target == "/run/secrets");
        CHECK(m.fstype == "tmpfs");
        CHECK(m.data.rfind("mode=0755,size=", 0) == 0);
        CHECK(m.attr == (MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC));
        CHECK_FALSE((m.flags & MF_IDMAP));
    }
    CHECK(steps == 1);
    // After the /run tmpfs it must sit on.
    auto at = [](const LaunchPlan& p, std::uint32_t op, const std::string& target) {
        for (std::size_t i = 0; i < p.mounts.size(); ++i)
            if (p.mounts[i].op == op && p.mounts[i].target == target) return static_cast<int>(i);
        return -1;
    };
    CHECK(at(plan, MOP_FS, "/run") >= 0);
    CHECK(at(plan, MOP_FS, "/run") < at(plan, MOP_SECRETS, "/run/secrets"));
    // Host ids: the user's inside the mapping.
    REQUIRE(plan.secrets.size() == 2);
    CHECK(plan.secrets[0].uid == 300000 + 1234);
    CHECK(plan.secrets[0].gid == 300000 + 2345);
    CHECK(plan.secrets[0].mode == 0440);

    // The encoded record: header, name, NUL, content.
    std::string blob = plan.encode();
    int records = 0;
    for (std::size_t off = 0; off + 8 <= blob.size();) {
        std::uint32_t tag, len;
        std::memcpy(&tag, blob.data() + off, 4);
        std::memcpy(&len, blob.data() + off + 4, 4);
        if (tag == PLAN_SECRET) {
            plan_secret ps;
            std::memcpy(&ps, blob.data() + off + 8, sizeof ps);
            std::string rest = blob.substr(off + 8 + sizeof ps, len - sizeof ps);
            if (records++ == 0) {
                CHECK(ps.mode == 0440);
                CHECK(ps.uid == 301234);
                CHECK(ps.name_len == 2);
                CHECK(rest == std::string("pw\0one", 6));
            }
        }
        off += 8 + len;
    }
    CHECK(records == 2);

    // Without secrets, no step.
    auto none = make_launch_plan(spec_of(R"({"command": ["/bin/true"]})"), "i", LogSettings{});
    REQUIRE(plan_sandbox(none, spec_of(R"({"command": ["/bin/true"]})"),
                         SandboxInputs{"/stage", "/etc-dir", "", "", "/etc/isolated", probe_host}));
    CHECK(at(none, MOP_SECRETS, "/run/secrets") == -1);
}

TEST_CASE("learned secrets: the latest read per app, earlier ones kept within a bound", "[secrets]") {
    LearnedSecrets learned;
    learned.learn("db", {"pw-one", "", "pw-one", "user-x"});
    auto g1 = learned.generation();
    CHECK(g1 > 0);
    auto v = learned.values();
    CHECK(std::count(v.begin(), v.end(), "pw-one") == 1);
    CHECK(std::count(v.begin(), v.end(), "") == 0);
    learned.learn("db", {"user-x", "pw-one"});  // the same again: nothing new
    CHECK(learned.generation() == g1);
    learned.learn("db", {"pw-two", "user-x"});  // changed: new, the old one kept
    CHECK(learned.generation() > g1);
    v = learned.values();
    CHECK(std::count(v.begin(), v.end(), "pw-one") == 1);
    CHECK(std::count(v.begin(), v.end(), "pw-two") == 1);

    Redactor r;
    r.add(learned);
    CHECK(r.scrub("failed: pw-one and pw-two") == "failed: [redacted] and [redacted]");

    // The history is bounded: many changes push the oldest out.
    for (char c = 'b'; c < 'h'; ++c) learned.learn("db", {std::string(1 << 20, c)});
    v = learned.values();
    std::size_t total = 0;
    for (const auto& s : v) total += s.size();
    CHECK(total <= LearnedSecrets::max_earlier_bytes + (1u << 20));
    CHECK(std::count(v.begin(), v.end(), "pw-one") == 0);
}
