// One error model for the whole project: kernel-facing code returns Result<T>
// carrying errno plus context ("mount \"/var/lib/x\" on \"/data\": EACCES") and does
// not log; the supervisor and the API log once. A layer whose errors are not errnos
// names its own error type, as the API's Backend does (Result<T, api::ApiError>: an
// HTTP status, a code and a message).
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace isolated {

struct Error {
    int errno_value = 0;  ///< 0 when the error is not an OS error
    std::string message;  ///< context, e.g. `open "/run/isolated/x"`

    /// An OS error: `what` plus the errno's name and text.
    static Error os(int err, std::string what) { return Error{err, std::move(what)}; }
    /// A plain error without errno.
    static Error msg(std::string what) { return Error{0, std::move(what)}; }

    /// "open "/x": ENOENT (No such file or directory)"
    std::string to_string() const;
};

/// Symbolic errno name: "ENOENT". Falls back to the number.
std::string errno_name(int err);

/// Error::os(errno, what) with errno captured at the call.
inline Error os_error(std::string what) { return Error::os(errno, std::move(what)); }

template <typename T, typename E = Error>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(E err) : v_(std::move(err)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }

    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }

    /// The value, or `fallback` on error: for reads where "nothing" is an answer.
    T value_or(T fallback) const& { return ok() ? value() : std::move(fallback); }

    const E& error() const { return std::get<1>(v_); }
    E& error() { return std::get<1>(v_); }

private:
    std::variant<T, E> v_;
};

template <typename E>
class [[nodiscard]] Result<void, E> {
public:
    Result() = default;
    Result(E err) : err_(std::move(err)), failed_(true) {}

    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const E& error() const { return err_; }
    E& error() { return err_; }

private:
    E err_;
    bool failed_ = false;
};

using Status = Result<void>;

}  // namespace isolated
