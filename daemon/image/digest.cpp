#include "image/digest.hpp"

#include <openssl/evp.h>

#include <stdexcept>

namespace isolated::image {

bool is_sha256_hex(std::string_view hex) {
    if (hex.size() != 64) return false;
    for (char c : hex)
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
    return true;
}

Result<Digest> parse_digest(std::string_view text) {
    auto colon = text.find(':');
    if (colon == std::string_view::npos)
        return Error::msg("digest \"" + std::string(text) + "\" has no algorithm (expected sha256:<64 hex>)");
    auto algo = text.substr(0, colon);
    auto hex = text.substr(colon + 1);
    if (algo != "sha256")
        return Error::msg("digest \"" + std::string(text) + "\": algorithm \"" + std::string(algo) +
                          "\" is not supported (only sha256)");
    if (!is_sha256_hex(hex))
        return Error::msg("digest \"" + std::string(text) + "\": expected 64 lowercase hex characters after sha256:");
    return Digest{std::string(hex)};
}

struct Sha256::Ctx {
    EVP_MD_CTX* md = nullptr;
    ~Ctx() { EVP_MD_CTX_free(md); }
};

Sha256::Sha256() : ctx_(std::make_unique<Ctx>()) {
    ctx_->md = EVP_MD_CTX_new();
    if (!ctx_->md || EVP_DigestInit_ex(ctx_->md, EVP_sha256(), nullptr) != 1)
        throw std::runtime_error("OpenSSL: cannot initialise SHA-256");
}
Sha256::~Sha256() = default;
Sha256::Sha256(Sha256&&) noexcept = default;
Sha256& Sha256::operator=(Sha256&&) noexcept = default;

void Sha256::update(const void* data, std::size_t size) {
    if (size == 0) return;
    EVP_DigestUpdate(ctx_->md, data, size);
    bytes_ += size;
}

Digest Sha256::finish() {
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_DigestFinal_ex(ctx_->md, out, &n);
    static constexpr char digits[] = "0123456789abcdef";
    std::string hex;
    hex.reserve(n * 2);
    for (unsigned i = 0; i < n; ++i) {
        hex += digits[out[i] >> 4];
        hex += digits[out[i] & 15];
    }
    return Digest{std::move(hex)};
}

Digest sha256_of(std::string_view data) {
    Sha256 h;
    h.update(data.data(), data.size());
    return h.finish();
}

}  // namespace isolated::image
