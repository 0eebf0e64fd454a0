// Issue 14, item 2: `isoctl image pull` from a real registry -- Debian's
// docker-registry (the CNCF distribution registry), started by each test inside the
// daemon's own network namespace on 127.0.0.1 (a fresh namespace: its ports are all
// free), with a temp config and storage, and fed by `skopeo copy`. Plain HTTP for a
// registry listed as insecure, TLS with a test CA given through the certs dir, Basic
// auth from an htpasswd file, Bearer tokens from a token server the test runs (a JWT
// signed with the openssl CLI, as the registry's `auth: token` checks it), a
// multi-platform index, digests right and wrong. After each refusal the store holds
// nothing: no blob, no tree, nothing in tmp/.
#include <catch2/catch.hpp>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <fstream>

#include "integration/harness.hpp"


using namespace isolated::test;
using namespace std::chrono_literals;
using nlohmann::json;
namespace fs = std::filesystem;

namespace {

void require_tools() {
    require_prerequisite(is_root(), "pull tests need root (the daemon's network namespace, owners in layers)");
    for (const char* tool : {"umoci", "skopeo", "docker-registry", "htpasswd", "openssl", "python3", "curl"})
        require_prerequisite(have_tool(tool), std::string("pull tests need ") + tool + " (scripts/install-deps.sh)");
    require_prerequisite(fs::exists("/bin/busybox"), "pull tests need busybox-static (/bin/busybox)");
}

std::size_t entries(const std::string& dir) {
    std::size_t n = 0;
    std::error_code ec;
    for (auto it = fs::directory_iterator(dir, ec); !ec && it != fs::directory_iterator(); it.increment(ec)) ++n;
    return n;
}

/// The store holds nothing at all.
void store_is_empty(Daemon& d) {
    const std::string store = d.state_dir() + "/images";
    CHECK(d.get_json("/v1/images")["images"].empty());
    CHECK(entries(store + "/blobs/sha256") == 0);
    CHECK(entries(store + "/rootfs") == 0);
    CHECK(entries(store + "/tmp") == 0);
}

std::string b64(const std::string& in, bool url) {
    static const char* t = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    for (std::size_t i = 0; i < in.size(); i += 3) {
        std::uint32_t v = static_cast<std::uint8_t>(in[i]) << 16;
        if (i + 1 < in.size()) v |= static_cast<std::uint8_t>(in[i + 1]) << 8;
        if (i + 2 < in.size()) v |= static_cast<std::uint8_t>(in[i + 2]);
        out += t[(v >> 18) & 63];
        out += t[(v >> 12) & 63];
        out += i + 1 < in.size() ? t[(v >> 6) & 63] : '=';
        out += i + 2 < in.size() ? t[v & 63] : '=';
    }
    if (url) {
        while (!out.empty() && out.back() == '=') out.pop_back();
        for (auto& c : out) c = c == '+' ? '-' : c == '/' ? '_' : c;
    }
    return out;
}

/// A process in the daemon's network namespace, killed (and reaped) by the destructor.
class Background {
public:
    Background(const Daemon& d, std::vector<std::string> argv, const std::string& log) : log_(log) {
        argv.insert(argv.begin(), {"nsenter", "--net=" + d.netns(), "--"});
        pid_ = spawn_logged(std::move(argv), log);
    }
    ~Background() { stop(); }
    Background(const Background&) = delete;
    Background& operator=(const Background&) = delete;
    void stop() {
        if (pid_ <= 0) return;
        ::kill(pid_, SIGTERM);
        bool gone = wait_until([&] { return ::waitpid(pid_, nullptr, WNOHANG) == pid_; }, 10s);
        if (!gone) {
            ::kill(pid_, SIGKILL);
            ::waitpid(pid_, nullptr, 0);
        }
        pid_ = -1;
    }
    std::string log() const { return read_file(log_); }

private:
    pid_t pid_ = -1;
    std::string log_;
};

/// busybox in one layer, built with umoci: the image the registry serves.
struct Image {
    TempDir dir{"isolated-pull-fixture"};
    std::string layout = dir / "layout";
    std::string tag = "one";
    std::string manifest_digest;  ///< sha256:...
    std::string config_digest;

    Image() {
        const std::string image = layout + ":" + tag;
        must({"umoci", "init", "--layout", layout});
        must({"umoci", "new", "--image", image});
        std::string b = dir / "b";
        must({"umoci", "unpack", "--image", image, b});
        fs::create_directories(b + "/rootfs/bin");
        fs::copy_file("/bin/busybox", b + "/rootfs/bin/busybox");
        fs::permissions(b + "/rootfs/bin/busybox", fs::perms(0755));
        fs::create_symlink("busybox", b + "/rootfs/bin/sh");
        write_file(b + "/rootfs/hello", "from the registry\n");
        must({"umoci", "repack", "--image", image, b});
        must({"umoci", "config", "--image", image, "--config.cmd", "/bin/sh", "--architecture", "amd64", "--os", "linux"});
        auto index = json::parse(read_file(layout + "/index.json"));
        for (const auto& m : index["manifests"])
            if (m["annotations"]["org.opencontainers.image.ref.name"] == tag) manifest_digest = m["digest"];
        REQUIRE(!manifest_digest.empty());
        auto manifest = json::parse(read_file(layout + "/blobs/sha256/" + manifest_digest.substr(7)));
        config_digest = manifest["config"]["digest"];
    }
};

/// A docker-registry in the daemon's namespace.
struct Registry {
    struct Options {
        int port = 5000;
        std::string tls_cert, tls_key;
        std::string htpasswd;
        std::string token_realm, token_bundle;
    };
    TempDir dir{"isolated-registry"};
    std::string storage = dir / "storage";
    std::unique_ptr<Background> proc;
    Options opt;

    void start(const Daemon& d, const Options& o) {
        opt = o;
        fs::create_directories(storage);
        std::string cfg = "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: true\n"
                          "storage:\n  filesystem:\n    rootdirectory: " + storage + "\n  delete:\n    enabled: true\n"
                          "http:\n  addr: 127.0.0.1:" + std::to_string(o.port) + "\n";
        if (!o.tls_cert.empty()) cfg += "  tls:\n    certificate: " + o.tls_cert + "\n    key: " + o.tls_key + "\n";
        if (!o.htpasswd.empty()) cfg += "auth:\n  htpasswd:\n    realm: test\n    path: " + o.htpasswd + "\n";
        if (!o.token_realm.empty())
            cfg += "auth:\n  token:\n    realm: " + o.token_realm + "\n    service: test-registry\n"
                   "    issuer: test-issuer\n    rootcertbundle: " + o.token_bundle + "\n";
        write_file(dir / "config.yml", cfg);
        proc = std::make_unique<Background>(d, std::vector<std::string>{"docker-registry", "serve", dir / "config.yml"},
                                            dir / "registry.log");
        std::string scheme = o.tls_cert.empty() ? "http" : "https";
        bool up = wait_until(
            [&] {
                return run({"nsenter", "--net=" + d.netns(), "--", "curl", "-sk", "-o", "/dev/null",
                            scheme + "://127.0.0.1:" + std::to_string(o.port) + "/v2/"})
                           .code == 0;
            },
            20s);
        INFO(proc->log());
        REQUIRE(up);
    }
    void stop() { proc.reset(); }
    std::string host() const { return "127.0.0.1:" + std::to_string(opt.port); }

    /// skopeo copy of an OCI layout's image into this registry.
    void push(const Daemon& d, const std::string& source, const std::string& repo, std::vector<std::string> extra = {}) {
        std::vector<std::string> argv{"nsenter", "--net=" + d.netns(), "--", "skopeo", "copy", "--quiet",
                                      "--dest-tls-verify=false"};
        argv.insert(argv.end(), extra.begin(), extra.end());
        argv.push_back(source);
        argv.push_back("docker://" + host() + "/" + repo);
        must(argv);
    }
};

std::string auth_json(const std::string& key, const std::string& user, const std::string& pass) {
    return json{{"auths", {{key, {{"auth", b64(user + ":" + pass, false)}}}}}}.dump();
}

}  // namespace

TEST_CASE("pull: by tag and by digest from an insecure plain-HTTP registry, and unknown tags and digests refused",
          "[images][pull]") {
    require_tools();
    Image img;
    Daemon d;
    d.start({"--insecure-registry", "127.0.0.1:5000"});
    Registry reg;
    reg.start(d, {});
    reg.push(d, "oci:" + img.layout + ":" + img.tag, "test/busybox:1");

    auto r = d.isoctl({"image", "pull", "127.0.0.1:5000/test/busybox:1"}, 120s);
    INFO(r.out << r.err << d.daemon_log());
    REQUIRE(r.code == 0);
    CHECK_THAT(r.out, Catch::Contains("Pulled image: 127.0.0.1:5000/test/busybox:1"));
    CHECK_THAT(r.err, Catch::Contains("plain HTTP"));
    CHECK_THAT(r.err, Catch::Contains("digest verified"));
    auto images = d.get_json("/v1/images")["images"];
    REQUIRE(images.size() == 1);
    CHECK(images[0]["id"] == img.config_digest);
    CHECK(images[0]["manifest"] == img.manifest_digest);
    CHECK(images[0]["refs"] == json::array({"127.0.0.1:5000/test/busybox:1"}));
    const std::string tree = d.state_dir() + "/images/rootfs/" + img.config_digest.substr(7);
    CHECK(read_file(tree + "/hello") == "from the registry\n");
    CHECK(fs::is_symlink(tree + "/bin/sh"));
    auto inspect = json::parse(d.isoctl({"image", "inspect", "127.0.0.1:5000/test/busybox:1"}).out);
    CHECK(inspect["config"]["cmd"] == json::array({"/bin/sh"}));

    // Again: every blob is there already.
    auto again = d.isoctl({"image", "pull", "127.0.0.1:5000/test/busybox:1"}, 120s);
    REQUIRE(again.code == 0);
    CHECK_THAT(again.err, Catch::Contains("already in the store"));
    CHECK_THAT(again.err, Catch::Contains("already unpacked"));
    REQUIRE(d.isoctl({"image", "rm", "127.0.0.1:5000/test/busybox:1"}).code == 0);
    store_is_empty(d);

    // By digest: recorded as name@digest, found by it.
    std::string by_digest = "127.0.0.1:5000/test/busybox@" + img.manifest_digest;
    auto pd = d.isoctl({"-o", "json", "image", "pull", by_digest}, 120s);
    INFO(pd.out << pd.err);
    REQUIRE(pd.code == 0);
    auto result = json::parse(pd.out);
    CHECK(result["images"][0]["refs"] == json::array({by_digest}));
    CHECK(d.isoctl({"image", "inspect", by_digest}).code == 0);
    REQUIRE(d.isoctl({"image", "rm", by_digest}).code == 0);
    store_is_empty(d);

    // A digest the registry does not have, a tag it does not have.
    auto wrong = d.isoctl({"image", "pull", "127.0.0.1:5000/test/busybox@sha256:" + std::string(64, 'a')}, 60s);
    CHECK(wrong.code == 1);
    CHECK_THAT(wrong.err, Catch::Contains("not found in registry 127.0.0.1:5000"));
    auto missing = d.isoctl({"image", "pull", "127.0.0.1:5000/test/busybox:nosuch"}, 60s);
    CHECK(missing.code == 1);
    CHECK_THAT(missing.err, Catch::Contains("image \"127.0.0.1:5000/test/busybox:nosuch\" not found in registry 127.0.0.1:5000"));
    CHECK_THAT(missing.err, Catch::Contains("MANIFEST_UNKNOWN"));
    // The same registry under a name not listed as insecure: TLS only, which it does not speak.
    auto unlisted = d.isoctl({"image", "pull", "localhost:5000/test/busybox:1"}, 60s);
    CHECK(unlisted.code == 1);
    CHECK_THAT(unlisted.err, Catch::Contains("TLS handshake with localhost:5000"));
    // A malformed reference never reaches the worker.
    auto bad = d.isoctl({"image", "pull", "Test/Busybox"});
    CHECK(bad.code == 1);
    CHECK_THAT(bad.err, Catch::Contains("lowercase"));
    store_is_empty(d);
    // The read-only socket cannot pull.
    auto ro = run({"curl", "-sS", "--unix-socket", d.ro_socket(), "-d", R"({"ref":"busybox"})", "http://x/v1/images/pull"});
    CHECK_THAT(ro.out, Catch::Contains("forbidden"));
}

TEST_CASE("pull: a multi-platform index yields this host's manifest", "[images][pull]") {
    require_tools();
#if !defined(__x86_64__)
    require_prerequisite(false, "the index fixture names amd64 as the host's platform");
#endif
    Image img;
    // A second image for arm64 (another config, so another id), then an OCI layout
    // whose one entry is an index listing arm64 first and amd64 second.
    const std::string arm = img.layout + ":arm";
    must({"umoci", "config", "--image", img.layout + ":" + img.tag, "--tag", "arm", "--architecture", "arm64",
          "--config.cmd", "/bin/arm"});
    auto index = json::parse(read_file(img.layout + "/index.json"));
    json arm_desc, amd_desc;
    for (const auto& m : index["manifests"]) {
        if (m["annotations"]["org.opencontainers.image.ref.name"] == "arm") arm_desc = m;
        if (m["annotations"]["org.opencontainers.image.ref.name"] == img.tag) amd_desc = m;
    }
    REQUIRE(!arm_desc.is_null());
    REQUIRE(!amd_desc.is_null());
    for (auto* desc : {&arm_desc, &amd_desc}) desc->erase("annotations");
    arm_desc["platform"] = {{"os", "linux"}, {"architecture", "arm64"}, {"variant", "v8"}};
    amd_desc["platform"] = {{"os", "linux"}, {"architecture", "amd64"}};
    json multi{{"schemaVersion", 2},
               {"mediaType", "application/vnd.oci.image.index.v1+json"},
               {"manifests", json::array({arm_desc, amd_desc})}};
    std::string text = multi.dump();
    write_file(img.dir / "multi.json", text);
    auto sum = run({"sha256sum", img.dir / "multi.json"});
    std::string hex = sum.out.substr(0, 64);
    fs::copy_file(img.dir / "multi.json", img.layout + "/blobs/sha256/" + hex);
    index["manifests"].push_back({{"mediaType", "application/vnd.oci.image.index.v1+json"},
                                  {"digest", "sha256:" + hex},
                                  {"size", text.size()},
                                  {"annotations", {{"org.opencontainers.image.ref.name", "multi"}}}});
    write_file(img.layout + "/index.json", index.dump());

    Daemon d;
    d.start({"--insecure-registry", "127.0.0.1:5000"});
    Registry reg;
    reg.start(d, {});
    reg.push(d, "oci:" + img.layout + ":multi", "test/multi:1", {"--all"});

    auto r = d.isoctl({"image", "pull", "127.0.0.1:5000/test/multi:1"}, 120s);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK_THAT(r.err, Catch::Contains("linux/amd64 is manifest " + amd_desc["digest"].get<std::string>()));
    auto images = d.get_json("/v1/images")["images"];
    REQUIRE(images.size() == 1);
    CHECK(images[0]["id"] == img.config_digest);
    CHECK(images[0]["manifest"] == amd_desc["digest"]);
    // By the index's digest: recorded under it, and found by it.
    std::string by_index = "127.0.0.1:5000/test/multi@sha256:" + hex;
    auto bi = d.isoctl({"image", "pull", by_index}, 120s);
    INFO(bi.out << bi.err);
    REQUIRE(bi.code == 0);
    CHECK(d.isoctl({"image", "inspect", by_index}).code == 0);
}

TEST_CASE("pull: TLS with a private CA from the certs dir, and an unknown CA or a wrong name refused", "[images][pull]") {
    require_tools();
    Image img;
    TempDir pki{"isolated-pull-pki"};
    must({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", pki / "ca.key", "-out", pki / "ca.crt",
          "-days", "2", "-subj", "/CN=isolated test CA"});
    write_file(pki / "san.cnf", "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\n");
    must({"openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", pki / "server.key", "-out", pki / "server.csr",
          "-subj", "/CN=127.0.0.1"});
    must({"openssl", "x509", "-req", "-in", pki / "server.csr", "-CA", pki / "ca.crt", "-CAkey", pki / "ca.key",
          "-CAcreateserial", "-out", pki / "server.crt", "-days", "2", "-extfile", pki / "san.cnf"});
    const std::string certs = pki / "certs.d";
    fs::create_directories(certs + "/127.0.0.1:5443");
    fs::create_directories(certs + "/localhost:5443");
    fs::copy_file(pki / "ca.crt", certs + "/127.0.0.1:5443/ca.crt");
    fs::copy_file(pki / "ca.crt", certs + "/localhost:5443/ca.crt");

    Daemon d;
    d.start({"--registry-certs-dir", certs});
    Registry reg;
    Registry::Options tls;
    tls.port = 5443;
    tls.tls_cert = pki / "server.crt";
    tls.tls_key = pki / "server.key";
    reg.start(d, tls);
    reg.push(d, "oci:" + img.layout + ":" + img.tag, "test/busybox:1");

    auto r = d.isoctl({"image", "pull", "127.0.0.1:5443/test/busybox:1"}, 120s);
    INFO(r.out << r.err);
    REQUIRE(r.code == 0);
    CHECK(d.get_json("/v1/images")["images"][0]["id"] == img.config_digest);
    REQUIRE(d.isoctl({"image", "rm", "127.0.0.1:5443/test/busybox:1"}).code == 0);

    // The certificate names 127.0.0.1, not localhost (host name verification is on).
    auto name = d.isoctl({"image", "pull", "localhost:5443/test/busybox:1"}, 60s);
    CHECK(name.code == 1);
    CHECK_THAT(name.err, Catch::Contains("not trusted"));
    // Without the CA in the certs dir, the system store does not know it.
    fs::remove(certs + "/127.0.0.1:5443/ca.crt");
    auto untrusted = d.isoctl({"image", "pull", "127.0.0.1:5443/test/busybox:1"}, 60s);
    CHECK(untrusted.code == 1);
    CHECK_THAT(untrusted.err, Catch::Contains("certificate is not trusted"));
    CHECK_THAT(untrusted.err, Catch::Contains(certs + "/127.0.0.1:5443/ca.crt"));
    store_is_empty(d);
}

TEST_CASE("pull: Basic auth from auth.json or --authfile, and a clear error without credentials", "[images][pull]") {
    require_tools();
    Image img;
    TempDir etc{"isolated-pull-auth"};
    must({"htpasswd", "-Bbc", etc / "htpasswd", "puller", "s3cret-pw"});
    const std::string daemon_auth = etc / "daemon-auth.json";
    Daemon d;
    d.start({"--insecure-registry", "127.0.0.1:5000", "--registry-auth-file", daemon_auth});
    Registry reg;
    Registry::Options basic;
    basic.htpasswd = etc / "htpasswd";
    reg.start(d, basic);
    reg.push(d, "oci:" + img.layout + ":" + img.tag, "test/busybox:1", {"--dest-creds", "puller:s3cret-pw"});
    const std::string ref = "127.0.0.1:5000/test/busybox:1";

    // No auth file at all.
    auto none = d.isoctl({"image", "pull", ref}, 60s);
    CHECK(none.code == 1);
    CHECK_THAT(none.err, Catch::Contains("registry 127.0.0.1:5000 requires authentication: add credentials to " +
                                         daemon_auth + " or use --authfile"));
    store_is_empty(d);

    // Wrong password: refused, and the password is in no message.
    write_file(daemon_auth, auth_json("127.0.0.1:5000", "puller", "wrong-pw"));
    ::chmod(daemon_auth.c_str(), 0600);
    auto wrong = d.isoctl({"image", "pull", ref}, 60s);
    CHECK(wrong.code == 1);
    CHECK_THAT(wrong.err, Catch::Contains("denied access"));
    CHECK_THAT(wrong.err + d.daemon_log(), !Catch::Contains("wrong-pw"));

    // The daemon's file, keyed by host:port.
    write_file(daemon_auth, auth_json("127.0.0.1:5000", "puller", "s3cret-pw"));
    auto ok = d.isoctl({"image", "pull", ref}, 120s);
    INFO(ok.out << ok.err);
    REQUIRE(ok.code == 0);
    CHECK_THAT(ok.err, Catch::Contains("as \"puller\""));
    REQUIRE(d.isoctl({"image", "rm", ref}).code == 0);

    // --authfile, keyed in Docker's URL form; relative to isoctl's directory.
    fs::remove(daemon_auth);
    write_file(etc / "mine.json", auth_json("https://127.0.0.1:5000/v1/", "puller", "s3cret-pw"));
    auto via = run({"sh", "-c", "cd " + etc.path() + " && " + build_dir() + "/isoctl --socket " + d.socket() +
                                    " image pull --authfile mine.json " + ref},
                   120s);
    INFO(via.out << via.err);
    REQUIRE(via.code == 0);
    CHECK_THAT(d.daemon_log() + via.err, !Catch::Contains("s3cret-pw"));
    // An --authfile without this registry says so.
    write_file(etc / "other.json", auth_json("example.com", "x", "y"));
    REQUIRE(d.isoctl({"image", "rm", ref}).code == 0);
    auto other = d.isoctl({"image", "pull", "--authfile", etc / "other.json", ref}, 60s);
    CHECK(other.code == 1);
    CHECK_THAT(other.err, Catch::Contains(etc / "other.json" + " has no credentials for 127.0.0.1:5000"));
    store_is_empty(d);
}

TEST_CASE("pull: Bearer tokens from the registry's token service", "[images][pull]") {
    require_tools();
    Image img;
    TempDir tok{"isolated-pull-token"};
    // The token service's signing certificate; the registry trusts it (rootcertbundle)
    // and finds it in the token's x5c header.
    must({"openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", tok / "sign.key", "-out",
          tok / "sign.crt", "-days", "2", "-subj", "/CN=isolated test token signer"});
    must({"openssl", "x509", "-in", tok / "sign.crt", "-outform", "DER", "-out", tok / "sign.der"});
    const long now = static_cast<long>(std::time(nullptr));
    json header{{"typ", "JWT"}, {"alg", "RS256"}, {"x5c", json::array({b64(read_file(tok / "sign.der"), false)})}};
    json claims{{"iss", "test-issuer"},
                {"sub", "puller"},
                {"aud", "test-registry"},
                {"exp", now + 3600},
                {"nbf", now - 60},
                {"iat", now - 60},
                {"jti", "isolated-test"},
                {"access", json::array({{{"type", "repository"}, {"name", "test/busybox"}, {"actions", {"pull"}}}})}};
    std::string signing_input = b64(header.dump(), true) + "." + b64(claims.dump(), true);
    write_file(tok / "input", signing_input);
    must({"openssl", "dgst", "-sha256", "-sign", tok / "sign.key", "-out", tok / "sig", tok / "input"});
    write_file(tok / "token", signing_input + "." + b64(read_file(tok / "sig"), true));
    // The token service: a token for the right Basic credentials only; it logs each query.
    write_file(tok / "server.py", R"PY(
import http.server, json, sys
port, token_file, want, log = int(sys.argv[1]), sys.argv[2], sys.argv[3], sys.argv[4]
token = open(token_file).read().strip()
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        with open(log, 'a') as f:
            f.write(self.path + '\n')
        if self.headers.get('Authorization', '') != 'Basic ' + want:
            self.send_response(401)
            self.send_header('Content-Length', '0')
            self.end_headers()
            return
        body = json.dumps({'access_token': token}).encode()
        self.send_response(200)
        self.send_header('Content-Type', 'application/json')
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', port), H).serve_forever()
)PY");

    write_file(tok / "auth.json", auth_json("127.0.0.1:5000", "puller", "t0ken-pw"));
    ::chmod((tok / "auth.json").c_str(), 0600);
    Daemon d;
    d.start({"--insecure-registry", "127.0.0.1:5000", "--insecure-registry", "127.0.0.1:5001", "--registry-auth-file",
             tok / "auth.json"});
    // Fed before the registry requires tokens (skopeo would need a push token).
    Registry reg;
    reg.start(d, {});
    reg.push(d, "oci:" + img.layout + ":" + img.tag, "test/busybox:1");
    reg.stop();
    Registry::Options token;
    token.token_realm = "http://127.0.0.1:5001/token";
    token.token_bundle = tok / "sign.crt";
    reg.start(d, token);
    Background server(d, {"python3", tok / "server.py", "5001", tok / "token", b64("puller:t0ken-pw", false), tok / "queries"},
                      tok / "server.log");
    REQUIRE(wait_until([&] { return d.in_netns({"curl", "-s", "-o", "/dev/null", "http://127.0.0.1:5001/"}).code == 0; },
                       20s));

    auto r = d.isoctl({"image", "pull", "127.0.0.1:5000/test/busybox:1"}, 120s);
    INFO(r.out << r.err << reg.proc->log() << server.log());
    REQUIRE(r.code == 0);
    CHECK(d.get_json("/v1/images")["images"][0]["id"] == img.config_digest);
    auto queries = read_file(tok / "queries");
    CHECK_THAT(queries, Catch::Contains("service=test-registry"));
    CHECK_THAT(queries, Catch::Contains("scope=repository%3Atest%2Fbusybox%3Apull"));
    CHECK_THAT(d.daemon_log(), !Catch::Contains(read_file(tok / "token").substr(0, 60)));
    REQUIRE(d.isoctl({"image", "rm", "127.0.0.1:5000/test/busybox:1"}).code == 0);

    // Without credentials the token service refuses: the clear error.
    write_file(tok / "empty.json", "{\"auths\": {}}");
    auto none = d.isoctl({"image", "pull", "--authfile", tok / "empty.json", "127.0.0.1:5000/test/busybox:1"}, 60s);
    CHECK(none.code == 1);
    CHECK_THAT(none.err, Catch::Contains("requires authentication"));
    store_is_empty(d);
}

TEST_CASE("pull: a hostile registry: wrong digests, endless redirects, oversized manifests, lying blobs", "[images][pull]") {
    require_tools();
    TempDir dir{"isolated-pull-hostile"};
    // Serves, whatever is asked: a manifest for any digest (not of that digest), a
    // redirect to itself, a 5 MiB manifest, and a manifest whose config blob is served
    // with other bytes of the same length.
    write_file(dir / "evil.py", R"PY(
import hashlib, http.server, json, sys
config = b'{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}'
manifest = json.dumps({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
               "digest": "sha256:" + hashlib.sha256(config).hexdigest(), "size": len(config)},
    "layers": []}).encode()
class H(http.server.BaseHTTPRequestHandler):
    def send(self, status, body=b'', headers=()):
        self.send_response(status)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header('Content-Length', str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def do_GET(self):
        p = self.path
        if p.startswith('/v2/loop/'):
            return self.send(302, headers=[('Location', p)])
        if p.startswith('/v2/big/'):
            return self.send(200, b' ' * (5 << 20), [('Content-Type', 'application/vnd.oci.image.manifest.v1+json')])
        if '/manifests/' in p:
            return self.send(200, manifest, [('Content-Type', 'application/vnd.oci.image.manifest.v1+json')])
        if '/blobs/' in p:
            return self.send(200, config.replace(b'amd64', b'AMD64'))
        self.send(404)
    def log_message(self, *a):
        pass
http.server.HTTPServer(('127.0.0.1', 5002), H).serve_forever()
)PY");
    Daemon d;
    d.start({"--insecure-registry", "127.0.0.1:5002"});
    Background evil(d, {"python3", dir / "evil.py"}, dir / "evil.log");
    REQUIRE(wait_until([&] { return d.in_netns({"curl", "-s", "-o", "/dev/null", "http://127.0.0.1:5002/"}).code == 0; },
                       20s));
    const std::string asked = "sha256:" + std::string(64, 'b');
    auto wrong = d.isoctl({"image", "pull", "127.0.0.1:5002/evil/app@" + asked}, 60s);
    INFO(wrong.err << evil.log());
    CHECK(wrong.code == 1);
    CHECK_THAT(wrong.err, Catch::Contains("not " + asked + " as asked"));
    auto loop = d.isoctl({"image", "pull", "127.0.0.1:5002/loop/app:1"}, 60s);
    CHECK(loop.code == 1);
    CHECK_THAT(loop.err, Catch::Contains("too many redirects"));
    auto big = d.isoctl({"image", "pull", "127.0.0.1:5002/big/app:1"}, 60s);
    CHECK(big.code == 1);
    CHECK_THAT(big.err, Catch::Contains("over 4194304 bytes"));
    auto lying = d.isoctl({"image", "pull", "127.0.0.1:5002/evil/app:1"}, 60s);
    CHECK(lying.code == 1);
    CHECK_THAT(lying.err, Catch::Contains("the registry sent content whose digest is"));
    store_is_empty(d);
}
