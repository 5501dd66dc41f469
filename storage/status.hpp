#pragma once
// Error reporting for storage/: an error code a caller can branch on plus a
// message a human can act on. No exceptions cross the storage interface.

#include <optional>
#include <string>
#include <utility>
#include <variant>

namespace herald::storage {

enum class errc {
  ok = 0,
  io_error,          // read/write/fsync failed; message carries errno text
  no_space,          // ENOSPC/EDQUOT: nothing was appended, retry later
  corrupt,           // bytes on disk failed validation
  invalid_batch,     // a batch offered for append is malformed or fails its CRC
  batch_too_large,   // a batch exceeds log_config::max_batch_bytes
  offset_out_of_range,
  locked,            // another process holds the data directory
  invalid_argument,  // a caller broke a precondition (a bug, or a peer sent nonsense)
  damaged,           // durable data is corrupt where a crash cannot explain it (valid data after
                     // the damage, a closed segment, terms out of order): the bytes are kept, the
                     // replica must not vote or serve past it until repaired (<dir>/damaged)
  cancelled,         // the caller asked a long operation to stop; nothing was left behind
};

const char* to_string(errc code);

// [[nodiscard]]: a status dropped on the floor is an error nobody handles.
struct [[nodiscard]] status {
  errc code = errc::ok;
  std::string message;

  static status ok() { return {}; }
  bool is_ok() const { return code == errc::ok; }
  explicit operator bool() const { return is_ok(); }
};

// A value or a non-ok status.
template <class T>
class [[nodiscard]] result {
public:
  result(T value) : v_(std::move(value)) {}
  result(status error) : v_(std::move(error)) {}

  bool has_value() const { return v_.index() == 0; }
  explicit operator bool() const { return has_value(); }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  T& operator*() { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  const status& error() const { return std::get<1>(v_); }

private:
  std::variant<T, status> v_;
};

status make_errno_status(int err, const std::string& what);

} // namespace herald::storage
