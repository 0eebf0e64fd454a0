// RFC 4648 base64 (standard alphabet, with padding): one implementation for every
// user -- the exec ticket's plan (API <-> isoctl), auth.json's "auth" (registry pulls),
// Kubernetes Secret and ConfigMap data (isoctl export/import kube).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace isolated {

std::string base64_encode(std::string_view bytes);

/// nullopt for anything that is not canonical padded base64. With `skip_blanks`,
/// spaces, tabs and newlines are passed over first (a YAML block scalar's folding).
std::optional<std::string> base64_decode(std::string_view text, bool skip_blanks = false);

}  // namespace isolated
