#include "net/nftables.hpp"

#include <dirent.h>
#include <fcntl.h>

#include <cstdlib>
#include <set>

#include <nftables/libnftables.h>

namespace isolated::net {

void NftContext::Free::operator()(nft_ctx* c) const { nft_ctx_free(c); }

namespace {

std::set<int> open_fds() {
    std::set<int> fds;
    if (DIR* d = ::opendir("/proc/self/fd")) {
        while (dirent* e = ::readdir(d))
            if (e->d_name[0] != '.' && std::atoi(e->d_name) != ::dirfd(d)) fds.insert(std::atoi(e->d_name));
        ::closedir(d);
    }
    return fds;
}

}  // namespace

Result<NftContext> NftContext::create() {
    // libnftables opens its netlink socket without SOCK_CLOEXEC and does not expose it:
    // find what it opened (the daemon is single-threaded, so the difference is its own)
    // and mark it, so no exec'ed child inherits it.
    auto before = open_fds();
    nft_ctx* c = nft_ctx_new(NFT_CTX_DEFAULT);
    if (!c) return Error::msg("nftables: nft_ctx_new failed");
    NftContext ctx(c);
    if (nft_ctx_buffer_output(c) != 0 || nft_ctx_buffer_error(c) != 0)
        return Error::msg("nftables: cannot buffer output");
    if (auto probe = ctx.run("list tables ip\n"); !probe) return probe.error();
    for (int fd : open_fds()) {
        if (before.count(fd)) continue;
        int flags = ::fcntl(fd, F_GETFD);
        if (flags >= 0 && !(flags & FD_CLOEXEC)) ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC);
    }
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
