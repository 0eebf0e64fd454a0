// RAII owner of a libnftables context, and the one way the module talks to nftables:
// a buffer of commands run as one transaction (all or nothing), errors captured.
#pragma once

#include <memory>
#include <string>

#include "isolated/result.hpp"

struct nft_ctx;

namespace isolated::net {

class NftContext {
public:
    /// A context bound to the calling thread's network namespace (libnftables opens
    /// its netlink socket there).
    static Result<NftContext> create();

    /// Runs `commands` (nft syntax, one transaction). `json` asks for JSON output, which
    /// is returned (listings); nft's own message on failure, with the first lines of
    /// the commands as context.
    Result<std::string> run(const std::string& commands, bool json = false);

    nft_ctx* get() const { return ctx_.get(); }

private:
    struct Free {
        void operator()(nft_ctx* c) const;
    };
    explicit NftContext(nft_ctx* c) : ctx_(c) {}
    std::unique_ptr<nft_ctx, Free> ctx_;
};

}  // namespace isolated::net
