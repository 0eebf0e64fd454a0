// What isolated-unpack (daemon/image/unpack/) and the daemon say to each other on the
// helper's stdout. Both sides are built from this one header, so it is not a stable
// format: only the same build's helper and daemon ever meet.
//
//   isolated-unpack layer <parent pid> <what> <diff_id|-> <privileged 1|0>
//       stdin: the layer blob; fd 3: the tree's root directory.
//       stdout: "ok <diff_id hex> <entries> <uncompressed bytes>\n", or
//               "error <errno>\n<message>" (the message is the rest, up to EOF).
//   isolated-unpack members <parent pid>
//       stdin: the archive (`isoctl image load`).
//       stdout: records, each a kind byte, a 32-bit length and that many bytes:
//         entry  (kind 'E'): type byte ('f' regular file, 'h' hardlink, 'l' symlink,
//                'o' anything else), 64-bit size, 32-bit path length, the path, then
//                the link target (the rest);
//         data   (kind 'D'): the next bytes of the last 'f' entry; an empty one ends it;
//         error  (kind 'X'): a stage byte ('o' opening, 'h' a header, 'd' a member's
//                data), then libarchive's message; nothing follows;
//         done   (kind 'K'): the archive's end was reached; nothing follows.
//
// The parent pid is the daemon's: the helper asks for SIGKILL when the thread that
// started it goes (PR_SET_PDEATHSIG) and exits at once if that parent is gone already.
// Numbers are in the host's byte order (both ends are on the same host).
#pragma once

#include <cstddef>
#include <cstdint>

namespace isolated::image::unpack_protocol {

inline constexpr char kind_entry = 'E';
inline constexpr char kind_data = 'D';
inline constexpr char kind_error = 'X';
inline constexpr char kind_done = 'K';

inline constexpr char entry_file = 'f';
inline constexpr char entry_hardlink = 'h';
inline constexpr char entry_symlink = 'l';
inline constexpr char entry_other = 'o';

inline constexpr char stage_open = 'o';
inline constexpr char stage_header = 'h';
inline constexpr char stage_data = 'd';

/// kind + length
inline constexpr std::size_t record_header = 1 + sizeof(std::uint32_t);
/// The largest record either side makes or accepts: a data chunk, or a path and a
/// link target (libarchive's pax headers allow long ones).
inline constexpr std::size_t max_record = 1024 * 1024;

}  // namespace isolated::image::unpack_protocol
