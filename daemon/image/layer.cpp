#include "image/layer.hpp"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "image/unpack_client.hpp"

namespace isolated::image {

Result<LayerResult> apply_layer(const std::string& helper, int root_fd, int layer_fd, const std::string& what,
                                const std::optional<Digest>& diff_id, const ApplyOptions& options) {
    auto h = UnpackHelper::spawn(helper,
                                 {"layer", std::to_string(::getpid()), what, diff_id ? diff_id->str() : "-",
                                  options.privileged ? "1" : "0"},
                                 layer_fd, root_fd);
    if (!h) return Error::os(h.error().errno_value, what + ": " + h.error().message);
    // One line, or an error's message: a layer's error names an entry, whose path is
    // at most what libarchive accepts.
    auto out = h->read_all(1024 * 1024);
    auto ended = h->wait();
    if (!out) return Error::os(out.error().errno_value, what + ": " + out.error().message);
    if (!ended) return Error::msg(what + ": " + ended.error().message);
    const std::string& text = *out;
    if (text.rfind("error ", 0) == 0) {
        auto nl = text.find('\n');
        if (nl == std::string::npos) return Error::msg(what + ": the unpack helper \"" + helper + "\" sent a bad error");
        int err = std::atoi(text.substr(6, nl - 6).c_str());
        return Error::os(err, text.substr(nl + 1));
    }
    // "ok <64 hex> <entries> <bytes>\n"
    LayerResult r;
    char hex[65] = {};
    unsigned long long entries = 0, bytes = 0;
    if (text.rfind("ok ", 0) != 0 || text.back() != '\n' ||
        std::sscanf(text.c_str(), "ok %64s %llu %llu", hex, &entries, &bytes) != 3 || !is_sha256_hex(hex))
        return Error::msg(what + ": the unpack helper \"" + helper + "\" gave no result");
    r.diff_id = Digest{hex};
    r.entries = entries;
    r.uncompressed_bytes = bytes;
    return r;
}

}  // namespace isolated::image
