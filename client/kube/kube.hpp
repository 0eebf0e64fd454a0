// isoctl export kube / import kube: the mapping between app files and Kubernetes
// manifests, as two pure functions the unit tests call directly.
//
//   export_kube:  app definitions (+ what the host holds: users, config files, secret
//                 values, through a HostView) -> manifests + warnings
//   import_kube:  manifests -> app files (+ the files ConfigMaps and Secrets hold) + warnings
//
// Every loss is a Warning naming the app and the field: on export the app file's field
// ("resources.pids", "mounts[1].source"), on import the manifest's
// ("spec.template.spec.nodeSelector"). The verbs (commands/kube.cpp) print them and make
// them errors with --strict. The rules, and why, are in docs/DECISIONS.md, "Moving to
// Kubernetes (issue 15)"; the user's view in isoctl(1).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "host_checks.hpp"
#include "isolated/app_spec.hpp"
#include "kube/yaml.hpp"

namespace isoctl::kube {

struct Warning {
    std::string app;
    std::string field;
    std::string message;
    /// "APP: FIELD: MESSAGE"
    std::string to_string() const;
    bool operator==(const Warning&) const = default;
};

// ---- export ------------------------------------------------------------------------------

struct HostFile {
    std::string path;        ///< relative to the tree's top ("html/index.html"); a lone file: its base name
    std::string content;
    bool executable = false;
};

struct HostTree {
    bool single_file = false;  ///< the path was a file, not a directory
    std::vector<HostFile> files;
    std::vector<std::string> skipped;  ///< relative paths of what is neither a file nor a directory
};

/// What export needs from the machine it runs on. The real one (FsHostView) reads the
/// file system; the tests give a fake.
class HostView {
public:
    virtual ~HostView() = default;
    /// The numeric ids of a user or group NAME in the app's root file system (its
    /// /etc/passwd, /etc/group); nullopt with WHY when it cannot be told.
    virtual std::optional<std::uint32_t> user_id(const isolated::AppSpec& app, const std::string& name,
                                                 std::string& why) = 0;
    /// The primary group of user NAME.
    virtual std::optional<std::uint32_t> user_gid(const isolated::AppSpec& app, const std::string& name,
                                                  std::string& why) = 0;
    virtual std::optional<std::uint32_t> group_id(const isolated::AppSpec& app, const std::string& name,
                                                  std::string& why) = 0;
    /// The regular files under PATH (or PATH itself when it is a file).
    virtual std::optional<HostTree> read_tree(const std::string& path, std::string& why) = 0;
    virtual std::optional<std::string> read_file(const std::string& path, std::string& why) = 0;
    /// What an image app's rootfs.image REF names in the daemon's image store (its
    /// index.json); nullopt with WHY when the store cannot be read or has no such image.
    virtual std::optional<StoredImage> stored_image(const std::string& ref, std::string& why) = 0;
};

/// The machine's own file system, and the image store under STATE_DIR (isoctl export
/// --config: the daemon's state-dir). An image app's users are looked up in its image's
/// unpacked tree there.
class FsHostView : public HostView {
public:
    explicit FsHostView(std::string state_dir = "/var/lib/isolated") : state_dir_(std::move(state_dir)) {}
    std::optional<StoredImage> stored_image(const std::string&, std::string&) override;
    std::optional<std::uint32_t> user_id(const isolated::AppSpec&, const std::string&, std::string&) override;
    std::optional<std::uint32_t> user_gid(const isolated::AppSpec&, const std::string&, std::string&) override;
    std::optional<std::uint32_t> group_id(const isolated::AppSpec&, const std::string&, std::string&) override;
    std::optional<HostTree> read_tree(const std::string&, std::string&) override;
    std::optional<std::string> read_file(const std::string&, std::string&) override;

private:
    /// The directory the app's /etc/passwd and /etc/group are under ("" = the host's).
    std::optional<std::string> root_of(const isolated::AppSpec& app, std::string& why);
    std::optional<std::uint32_t> lookup(const isolated::AppSpec& app, const char* file, const std::string& name,
                                        int field, std::string& why);
    std::string state_dir_;
};

struct ExportOptions {
    std::map<std::string, std::string> images;     ///< --image APP=REF (written as given)
    bool pin = false;                              ///< --pin: an image app's image as name@<manifest digest>
    std::string service_type = "ClusterIP";        ///< --service-type
    bool host_ports = false;                       ///< --host-ports: forwards -> hostPort
    bool host_paths = false;                       ///< --host-paths: bind mounts -> hostPath
    bool include_secret_values = false;            ///< --include-secret-values
    std::string pvc_size = "1Gi";                  ///< --pvc-size
    std::string storage_class;                     ///< --storage-class ("" = the cluster's default)
};

struct ExportResult {
    std::vector<ojson> documents;
    std::vector<Warning> warnings;
    std::vector<Warning> errors;  ///< what stops the export (an app without an image, --pin without the store)
};

/// APPS must be a valid set (load_app_dir's accepted apps): every app: reference is in it.
ExportResult export_kube(const std::map<std::string, isolated::AppSpec>& apps, const ExportOptions& options,
                         HostView& host);

// ---- import ------------------------------------------------------------------------------

struct Manifest {
    std::string source;  ///< the file it came from, for messages
    ojson body;
};

struct ImportOptions {
    std::string out_dir;  ///< absolute: where app files, config files and secrets go
};

struct OutFile {
    std::string path;  ///< absolute, under out_dir
    std::string content;
    std::uint32_t mode = 0644;
};

struct ImportResult {
    std::map<std::string, isolated::AppSpec> apps;
    std::map<std::string, ojson> app_files;  ///< the app file of each app: its fields that are not defaults
    std::vector<OutFile> files;              ///< what ConfigMaps and Secrets hold, and envFiles
    std::vector<Warning> warnings;
    std::vector<Warning> errors;             ///< an app that cannot be written (no command, ...)
};

ImportResult import_kube(const std::vector<Manifest>& manifests, const ImportOptions& options);

/// The fields of SPEC's canonical app file (api_json.hpp) that differ from the defaults:
/// what a person would write. parse_app_text() of it gives back SPEC.
ojson minimal_app_json(const isolated::AppSpec& spec);

}  // namespace isoctl::kube
