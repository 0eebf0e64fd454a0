#include "image/reference.hpp"

#include <algorithm>
#include <regex>

namespace isolated::image {
namespace {

// The distribution/reference grammar (reference/regexp.go), piece by piece.
const std::string alnum = "[a-z0-9]+";
const std::string separator = "(?:[._]|__|[-]+)";
const std::string path_component = alnum + "(?:" + separator + alnum + ")*";
const std::string domain_component = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const std::string ipv6 = "\\[(?:[a-fA-F0-9:]+)\\]";
const std::string domain_name = "(?:" + domain_component + "(?:\\." + domain_component + ")*|" + ipv6 + ")";
const std::string domain_re = domain_name + "(?::[0-9]+)?";
const std::string tag_re = "[\\w][\\w.-]{0,127}";
const std::string digest_re = "[A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[0-9a-fA-F]{32,}";
constexpr std::size_t name_max = 255;

Error invalid(std::string_view text, std::string why) {
    return Error::msg("invalid reference \"" + std::string(text) + "\": " + why);
}

bool is_lower(std::string_view s) {
    return std::none_of(s.begin(), s.end(), [](char c) { return c >= 'A' && c <= 'Z'; });
}

}  // namespace

std::string Reference::str() const {
    std::string s = name();
    if (!tag.empty()) s += ":" + tag;
    if (digest) s += "@" + digest->str();
    return s;
}

std::string Reference::familiar() const {
    std::string n = path;
    if (domain != default_domain) n = domain + "/" + path;
    else if (path.rfind("library/", 0) == 0 && path.find('/', 8) == std::string::npos) n = path.substr(8);
    if (!tag.empty()) n += ":" + tag;
    if (digest) n += "@" + digest->str();
    return n;
}

Result<Reference> parse_reference(std::string_view text) {
    static const std::regex domain_rx("^" + domain_re + "$");
    static const std::regex path_rx("^" + path_component + "(?:/" + path_component + ")*$");
    static const std::regex tag_rx("^" + tag_re + "$");
    static const std::regex digest_rx("^" + digest_re + "$");
    static const std::regex hex64_rx("^[a-f0-9]{64}$");

    if (text.empty()) return invalid(text, "it is empty");
    std::string s(text);
    if (std::regex_match(s, hex64_rx))
        return invalid(text, "a repository name cannot be 64 hexadecimal characters (an image id is sha256:<hex>)");

    Reference ref;
    // The digest: after the first '@'.
    if (auto at = s.find('@'); at != std::string::npos) {
        std::string d = s.substr(at + 1);
        s.resize(at);
        if (!std::regex_match(d, digest_rx)) return invalid(text, "\"" + d + "\" is not a digest");
        auto parsed = parse_digest(d);
        if (!parsed) return invalid(text, parsed.error().message);
        ref.digest = *parsed;
    }
    // The tag: after the last ':' that comes after the last '/' (a ':' before it is a
    // registry's port).
    auto slash = s.rfind('/');
    if (auto colon = s.rfind(':'); colon != std::string::npos && (slash == std::string::npos || colon > slash)) {
        ref.tag = s.substr(colon + 1);
        s.resize(colon);
        if (!std::regex_match(ref.tag, tag_rx))
            return invalid(text, "tag \"" + ref.tag + "\" is malformed (letters, digits, _ . -, at most 128, not starting with . or -)");
    }
    if (s.empty()) return invalid(text, "the repository name is empty");

    // The domain: the first component when it looks like a host (has '.' or ':', is
    // localhost, or has upper-case letters, which a path may not); docker.io otherwise
    // (containers/image's splitDockerDomain).
    std::string remainder = s;
    ref.domain = std::string(default_domain);
    if (auto i = s.find('/'); i != std::string::npos) {
        std::string first = s.substr(0, i);
        if (first.find_first_of(".:") != std::string::npos || first == "localhost" || !is_lower(first)) {
            ref.domain = first;
            remainder = s.substr(i + 1);
        }
    }
    if (ref.domain == "index.docker.io") ref.domain = std::string(default_domain);
    if (!std::regex_match(ref.domain, domain_rx)) return invalid(text, "\"" + ref.domain + "\" is not a registry host");
    if (!is_lower(remainder)) return invalid(text, "repository name must be lowercase");
    if (ref.domain == default_domain && remainder.find('/') == std::string::npos) remainder = "library/" + remainder;
    if (!std::regex_match(remainder, path_rx))
        return invalid(text, "repository name \"" + remainder +
                                 "\" is malformed (lowercase letters and digits, separated by . _ __ - or /)");
    ref.path = remainder;
    if (ref.name().size() > name_max)
        return invalid(text, "repository name is longer than " + std::to_string(name_max) + " characters");
    if (ref.tag.empty() && !ref.digest) ref.tag = std::string(default_tag);
    return ref;
}

Result<ImageRef> parse_image_ref(std::string_view text) {
    ImageRef out;
    if (text.rfind("sha256:", 0) == 0) {
        auto d = parse_digest(text);
        if (!d) return Error::msg("invalid image id \"" + std::string(text) + "\": expected sha256:<64 lowercase hex>");
        out.id = *d;
        return out;
    }
    if (is_sha256_hex(text)) {
        out.id = Digest{std::string(text)};
        return out;
    }
    auto r = parse_reference(text);
    if (!r) return r.error();
    out.ref = std::move(*r);
    return out;
}

}  // namespace isolated::image
