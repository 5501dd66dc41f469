#include "storage/status.hpp"

#include <cerrno>
#include <cstring>

namespace herald::storage {

const char* to_string(errc code) {
  switch (code) {
  case errc::ok: return "ok";
  case errc::io_error: return "io_error";
  case errc::no_space: return "no_space";
  case errc::corrupt: return "corrupt";
  case errc::invalid_batch: return "invalid_batch";
  case errc::batch_too_large: return "batch_too_large";
  case errc::offset_out_of_range: return "offset_out_of_range";
  case errc::locked: return "locked";
  case errc::invalid_argument: return "invalid argument";
  case errc::damaged: return "damaged";
  case errc::cancelled: return "cancelled";
  }
  return "unknown";
}

status make_errno_status(int err, const std::string& what) {
  // A full disk or quota is a condition the caller can wait out, so it gets
  // its own code instead of being lumped in with real I/O failures.
  const errc code = (err == ENOSPC || err == EDQUOT) ? errc::no_space : errc::io_error;
  return {code, what + ": " + std::strerror(err)};
}

} // namespace herald::storage
