// A HostView for the kube export tests: users, groups, trees and files from maps.
#pragma once

#include <map>
#include <string>
#include <utility>

#include "kube/kube.hpp"

struct FakeHost : isoctl::kube::HostView {
    std::map<std::string, std::pair<std::uint32_t, std::uint32_t>> users;  ///< name -> uid, gid
    std::map<std::string, std::uint32_t> groups;
    std::map<std::string, isoctl::kube::HostTree> trees;
    std::map<std::string, std::string> files;
    std::map<std::string, isoctl::StoredImage> images;  ///< the store, by rootfs.image as written
    std::string no_store;                               ///< when set: why the store cannot be read

    std::optional<std::uint32_t> user_id(const isolated::AppSpec&, const std::string& n, std::string& why) override {
        if (auto it = users.find(n); it != users.end()) return it->second.first;
        why = "\"" + n + "\" is not in /etc/passwd";
        return std::nullopt;
    }
    std::optional<std::uint32_t> user_gid(const isolated::AppSpec&, const std::string& n, std::string& why) override {
        if (auto it = users.find(n); it != users.end()) return it->second.second;
        why = "\"" + n + "\" is not in /etc/passwd";
        return std::nullopt;
    }
    std::optional<std::uint32_t> group_id(const isolated::AppSpec&, const std::string& n, std::string& why) override {
        if (auto it = groups.find(n); it != groups.end()) return it->second;
        why = "\"" + n + "\" is not in /etc/group";
        return std::nullopt;
    }
    std::optional<isoctl::kube::HostTree> read_tree(const std::string& p, std::string& why) override {
        if (auto it = trees.find(p); it != trees.end()) return it->second;
        why = "No such file or directory";
        return std::nullopt;
    }
    std::optional<std::string> read_file(const std::string& p, std::string& why) override {
        if (auto it = files.find(p); it != files.end()) return it->second;
        why = p + ": No such file or directory";
        return std::nullopt;
    }
    std::optional<isoctl::StoredImage> stored_image(const std::string& ref, std::string& why) override {
        if (!no_store.empty()) {
            why = no_store;
            return std::nullopt;
        }
        if (auto it = images.find(ref); it != images.end()) return it->second;
        why = "image \"" + ref + "\" is not in the store";
        return std::nullopt;
    }
};
