// Capabilities and the seccomp filter of an app: policy computed in the daemon, applied
// by the init right before exec.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "isolated/app_spec.hpp"
#include "isolated/result.hpp"

namespace isolated::sandbox {

/// Docker's default set of 14 (moby/moby oci/caps/defaults.go).
const std::vector<std::string>& default_capabilities();

/// The capability mask an app keeps: Docker's 14, then `drop` ("ALL" empties the set),
/// then `add` ("ALL" fills it), as `docker run --cap-drop/--cap-add` combine.
std::uint64_t capability_mask(const SecuritySpec& security);

/// Names of the bits of MASK ("CAP_CHOWN", ...), for tests and status.
std::vector<std::string> capability_names_of(std::uint64_t mask);

/// The default seccomp filter as classic BPF (struct sock_filter[]), built with
/// libseccomp: an allowlist modelled on Docker's profile, everything else fails with
/// EPERM; clone with namespace flags is refused and clone3 answers ENOSYS (so libc
/// falls back to clone), unless CAP_SYS_ADMIN is kept; syscalls that a kept capability
/// makes meaningful (ptrace for SYS_PTRACE, settimeofday for SYS_TIME, ...) are allowed
/// along with it. Built once per capability mask and cached.
Result<std::string> default_seccomp_bpf(std::uint64_t caps);

/// A filter file (`security.seccomp` = path): Docker's JSON profile format subset
/// (defaultAction, syscalls[].names/action/errnoRet), compiled the same way.
Result<std::string> seccomp_bpf_from_profile(const std::string& json_text, std::uint64_t caps);

}  // namespace isolated::sandbox
