// Content digests ("sha256:<64 hex>") and the streaming hash that verifies them. Every
// blob and every uncompressed layer the store keeps is checked against one of these
// while its bytes go by, never after the fact from a second read.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "isolated/result.hpp"

namespace isolated::image {

/// A sha256 digest. Only sha256 is accepted: it is what every registry and engine
/// writes, and the OCI spec's only required algorithm.
struct Digest {
    std::string hex;  ///< 64 lowercase hex characters

    std::string str() const { return "sha256:" + hex; }
    bool empty() const { return hex.empty(); }
    friend bool operator==(const Digest&, const Digest&) = default;
    friend auto operator<=>(const Digest&, const Digest&) = default;
};

/// "sha256:<64 lowercase hex>". Errors name the text and what is wrong with it.
Result<Digest> parse_digest(std::string_view text);
/// 64 lowercase hex characters.
bool is_sha256_hex(std::string_view hex);

/// Streaming SHA-256 (OpenSSL EVP).
class Sha256 {
public:
    Sha256();
    ~Sha256();
    Sha256(const Sha256&) = delete;
    Sha256& operator=(const Sha256&) = delete;
    Sha256(Sha256&&) noexcept;
    Sha256& operator=(Sha256&&) noexcept;

    void update(const void* data, std::size_t size);
    /// The digest of everything so far; the hash cannot be updated after it.
    Digest finish();
    std::uint64_t bytes() const { return bytes_; }

private:
    struct Ctx;
    std::unique_ptr<Ctx> ctx_;
    std::uint64_t bytes_ = 0;
};

/// The digest of a whole string (manifests and configs held in memory).
Digest sha256_of(std::string_view data);

}  // namespace isolated::image
