#include "net/nftables.hpp"

#include <nftables/libnftables.h>

namespace isolated::net {

void NftContext::Free::operator()(nft_ctx* c) const { nft_ctx_free(c); }

Result<NftContext> NftContext::create() {
    nft_ctx* c = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!c) return Error::msg("nftables: nft_ctx_new failed");
    NftContext ctx(c);
    if (nft_ctx_buffer_output(c) != 0 || nft_ctx_buffer_error(c) != 0)
        return Error::msg("nftables: cannot buffer output");
    return ctx;
}

Result<std::string> NftContext::run(const std::string& commands, bool json) {
    nft_ctx* c = ctx_.get();
    nft_ctx_output_set_flags(c, json ? NFT_CTX_OUTPUT_JSON : 0);
    int rc = nft_run_cmd_from_buffer(c, commands.c_str());
    // The buffers are reset by the next get, so read both now.
    std::string out = nft_ctx_get_output_buffer(c) ?: "";
    std::string err = nft_ctx_get_error_buffer(c) ?: "";
    if (rc != 0) {
        while (!err.empty() && (err.back() == '\n' || err.back() == ' ')) err.pop_back();
        std::string first = commands.substr(0, commands.find('\n'));
        return Error::msg("nftables: `" + first + (commands.find('\n') + 1 < commands.size() ? " ...`" : "`") +
                          " failed: " + (err.empty() ? "unknown error" : err));
    }
    return out;
}

}  // namespace isolated::net
