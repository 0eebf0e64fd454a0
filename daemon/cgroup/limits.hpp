// Translating ResourcesSpec to cgroup file values and parsing the kernel's stat files.
// Pure functions: every number the drivers write or read goes through here, so the
// unit tests pin the formats.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

namespace isolated::cgroup {

/// The CFS period isolated uses (the kernel's and systemd's default): 100 ms.
inline constexpr std::uint64_t kCpuPeriodUs = 100000;

/// Quota in microseconds per period for `cores` (0.5 -> 50000); at least 1000, the
/// kernel's minimum quota (cpu.max / cfs_quota_us refuse less with EINVAL).
std::uint64_t cpu_quota_us(double cores, std::uint64_t period_us = kCpuPeriodUs);
/// v2 cpu.max: "50000 100000".
std::string v2_cpu_max(double cores);
/// v2 cpu.max back to cores; nullopt for "max ..." or garbage.
std::optional<double> parse_v2_cpu_max(std::string_view text);

/// cgroup v2 weight (1..10000, default 100) -> v1 cpu.shares (2..262144, default
/// 1024), scaled around the defaults as systemd does (cgroup_cpu_weight_to_shares).
/// crun/runc use a linear map of the whole ranges instead, which sends the default
/// weight 100 to 2597 shares; keeping 100 <-> 1024 matters more to operators.
std::uint64_t weight_to_shares(std::uint32_t weight);
/// The inverse, clamped to 1..10000.
std::uint32_t shares_to_weight(std::uint64_t shares);

/// "max" for nullopt, else the number: memory.max, pids.max, memory.swap.max, ...
std::string v2_limit(std::optional<std::uint64_t> v);
/// "max" -> nullopt (unlimited), a number -> it; nullopt also for garbage.
std::optional<std::uint64_t> parse_v2_limit(std::string_view text);

/// v1 memory.limit_in_bytes reads back a page-rounded huge number when unlimited
/// (PAGE_COUNTER_MAX * PAGE_SIZE); anything at or above 2^62 counts as unlimited.
std::optional<std::uint64_t> parse_v1_limit(std::string_view text);

/// Unsigned decimal with surrounding whitespace; nullopt otherwise.
std::optional<std::uint64_t> parse_u64(std::string_view text);
/// Signed decimal (cpu.cfs_quota_us is -1 when unlimited).
std::optional<std::int64_t> parse_i64(std::string_view text);

/// "key value" lines (cpu.stat, memory.stat, memory.events, memory.oom_control,
/// pids.events). Lines whose value is not a number are skipped.
std::map<std::string, std::uint64_t> parse_flat_keyed(std::string_view text);

/// cAdvisor's working set: usage - inactive_file, never below zero.
std::uint64_t working_set(std::uint64_t usage, std::uint64_t inactive_file);

}  // namespace isolated::cgroup
