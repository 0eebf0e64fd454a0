// YAML for isoctl export/import kube, through yaml-cpp: manifests are built and read as
// JSON values (nlohmann), which is what the Kubernetes API itself is, and only turned
// into YAML text at the edge.
#pragma once

#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "isolated/base64.hpp"

namespace isoctl::kube {

using ojson = nlohmann::ordered_json;

/// Multi-document YAML ("---" before each document), keys in the order given. A string
/// that a YAML reader would take for something else ("8080", "true", "null", "0644",
/// "") is double-quoted, so a Kubernetes string field never turns into a number.
std::string to_yaml(const std::vector<ojson>& documents);

/// Every document of TEXT, as JSON values: plain scalars are read as YAML 1.2's core
/// schema reads them (null, booleans, integers, floats, else strings), quoted ones are
/// strings. Empty documents are left out. Throws std::runtime_error naming LABEL and
/// the line on a syntax error.
std::vector<ojson> parse_yaml(std::string_view text, const std::string& label);

// base64 for Secret and ConfigMap binaryData: isolated/base64.hpp.
using isolated::base64_decode;
using isolated::base64_encode;

}  // namespace isoctl::kube
