// How an image app runs: its app file over its image's config, as Docker and
// Kubernetes read them (issue 14, item 4). Pure: the daemon resolves the image in its
// store at every start and hands the config here.
#pragma once

#include <string>

#include "isolated/app_spec.hpp"
#include "isolated/image_types.hpp"
#include "isolated/result.hpp"

namespace isolated {

/// The spec a start of the image app SPEC runs with, given its image's CONFIG and the
/// image's unpacked tree ROOTFS: rootfs becomes a `directory` rootfs over ROOTFS (same
/// `writable`), and what the app file leaves unset comes from the image:
///  - argv: command + args when the file has a command (the image's Entrypoint and Cmd
///    are then ignored, as Kubernetes does); else Entrypoint + args when args are
///    given (args replace Cmd), else Entrypoint + Cmd;
///  - env: the image's Env, then the app file's variables over it;
///  - workdir: the image's WorkingDir (relative: from "/"), else "/";
///  - user: the image's User (resolved later in the image's /etc/passwd), else root;
///  - stop.signal: the image's StopSignal, else SIGTERM.
/// Errors (the image named by the app file's reference): no program at all, a
/// StopSignal or User that cannot be read, a NUL byte in a string the init would pass on.
/// For any other rootfs, command + args.
Result<AppSpec> image_run_spec(const AppSpec& spec, const ImageConfigInfo& config, const std::string& rootfs);

}  // namespace isolated
