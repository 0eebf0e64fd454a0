#include "kube/yaml.hpp"

#include <yaml-cpp/yaml.h>

#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <regex>
#include <stdexcept>

namespace isoctl::kube {

namespace {

// YAML 1.2 core schema (and the 1.1 words some readers still honour: yes/no/on/off),
// so that what we emit plain reads back as a string everywhere.
const std::regex kNull("^(~|null|Null|NULL)$");
const std::regex kBool("^(true|True|TRUE|false|False|FALSE)$");
const std::regex kBool11("^(y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$");
const std::regex kInt("^[-+]?[0-9]+$");
const std::regex kOct("^0o[0-7]+$");
// YAML 1.1's octal, which Kubernetes' own reader (sigs.k8s.io/yaml) still takes: "mode: 0400".
const std::regex kOct11("^0[0-7]+$");
const std::regex kHex("^0x[0-9a-fA-F]+$");
const std::regex kFloat("^[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?$");
const std::regex kInf("^[-+]?\\.(inf|Inf|INF)$");
const std::regex kNan("^\\.(nan|NaN|NAN)$");

bool reads_as_non_string(const std::string& s) {
    if (s.empty()) return true;
    for (const auto* re : {&kNull, &kBool, &kBool11, &kInt, &kOct, &kHex, &kFloat, &kInf, &kNan})
        if (std::regex_match(s, *re)) return true;
    return false;
}

void emit(YAML::Emitter& out, const ojson& v) {
    switch (v.type()) {
        case ojson::value_t::object:
            out << YAML::BeginMap;
            for (const auto& [k, item] : v.items()) {
                out << YAML::Key;
                if (reads_as_non_string(k)) out << YAML::DoubleQuoted;
                out << k << YAML::Value;
                emit(out, item);
            }
            out << YAML::EndMap;
            break;
        case ojson::value_t::array:
            out << YAML::BeginSeq;
            for (const auto& item : v) emit(out, item);
            out << YAML::EndSeq;
            break;
        case ojson::value_t::string: {
            const auto& s = v.get_ref<const std::string&>();
            if (s.find('\n') != std::string::npos)
                out << YAML::Literal << s;
            else if (reads_as_non_string(s))
                out << YAML::DoubleQuoted << s;
            else
                out << s;
            break;
        }
        case ojson::value_t::boolean:
            out << (v.get<bool>() ? "true" : "false");
            break;
        case ojson::value_t::number_integer:
            out << v.get<std::int64_t>();
            break;
        case ojson::value_t::number_unsigned:
            out << v.get<std::uint64_t>();
            break;
        case ojson::value_t::number_float:
            out << v.dump();
            break;
        default:
            out << YAML::Null;
            break;
    }
}

ojson scalar(const YAML::Node& n) {
    const std::string& s = n.Scalar();
    if (n.Tag() != "?") return s;  // quoted ("!") or explicitly tagged: a string
    if (std::regex_match(s, kNull)) return nullptr;
    if (std::regex_match(s, kBool)) return s[0] == 't' || s[0] == 'T';
    if (std::regex_match(s, kOct11)) return std::strtoull(s.c_str() + 1, nullptr, 8);
    if (std::regex_match(s, kInt)) {
        errno = 0;
        if (s[0] == '-') {
            long long x = std::strtoll(s.c_str(), nullptr, 10);
            if (errno == 0) return x;
        } else {
            unsigned long long x = std::strtoull(s.c_str(), nullptr, 10);
            if (errno == 0) return x;
        }
        return s;
    }
    if (std::regex_match(s, kOct)) return std::strtoull(s.c_str() + 2, nullptr, 8);
    if (std::regex_match(s, kHex)) return std::strtoull(s.c_str() + 2, nullptr, 16);
    if (std::regex_match(s, kFloat)) return std::strtod(s.c_str(), nullptr);
    return s;
}

// A YAML alias is a reference, so a few lines can name a billion values ("billion
// laughs"); the JSON made from them would be all of them. A file's values are counted
// as they are made, and a manifest file has nowhere near this many.
constexpr std::size_t kMaxValues = 1'000'000;

ojson to_json(const YAML::Node& n, int depth, std::size_t& values) {
    if (depth > 64) throw std::runtime_error("nested too deeply");
    if (++values > kMaxValues)
        throw std::runtime_error("more than " + std::to_string(kMaxValues) + " values (aliases that expand without end?)");
    switch (n.Type()) {
        case YAML::NodeType::Map: {
            ojson o = ojson::object();
            for (const auto& kv : n) {
                if (!kv.first.IsScalar()) throw std::runtime_error("a key that is not a string");
                o[kv.first.Scalar()] = to_json(kv.second, depth + 1, values);
            }
            return o;
        }
        case YAML::NodeType::Sequence: {
            ojson a = ojson::array();
            for (const auto& item : n) a.push_back(to_json(item, depth + 1, values));
            return a;
        }
        case YAML::NodeType::Scalar:
            return scalar(n);
        default:
            return nullptr;
    }
}


}  // namespace

std::string to_yaml(const std::vector<ojson>& documents) {
    std::string text;
    for (const auto& doc : documents) {
        YAML::Emitter out;
        out.SetIndent(2);
        out.SetSeqFormat(YAML::Block);
        emit(out, doc);
        text += "---\n";
        text += out.c_str();
        text += "\n";
    }
    return text;
}

std::vector<ojson> parse_yaml(std::string_view text, const std::string& label) {
    std::vector<ojson> docs;
    std::size_t values = 0;
    try {
        for (const auto& node : YAML::LoadAll(std::string(text))) {
            if (node.IsNull()) continue;
            docs.push_back(to_json(node, 0, values));
        }
    } catch (const YAML::Exception& e) {
        std::string where = e.mark.is_null() ? "" : ":" + std::to_string(e.mark.line + 1);
        throw std::runtime_error(label + where + ": " + e.msg);
    } catch (const std::runtime_error& e) {
        throw std::runtime_error(label + ": " + e.what());
    }
    return docs;
}

}  // namespace isoctl::kube
