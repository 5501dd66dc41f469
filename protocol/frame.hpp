#pragma once
// Herald's client wire format: length-prefixed frames around Cap'n Proto flat
// messages. This header is the definition; it has no CAF and no network, so
// the broker (actors/client_connection) and the client library
// (client/wire_connection) share it, and tests drive it byte by byte.
//
// Every frame, all integers little-endian (as Cap'n Proto):
//
//   offset size  field
//   0      4     length       u32: bytes after this field = 16 + payload size.
//                             16 <= length <= the limit of the connection's phase
//                             (pre_auth_max_frame before the handshake, and
//                             authentication when required, completes;
//                             --max-frame-bytes after). Checked as soon as these
//                             4 bytes arrive, BEFORE anything is allocated for the
//                             payload.
//   4      1     kind         frame_kind below; any other value is a protocol error
//   5      1     flags        0; nonzero is a protocol error (reserved)
//   6      2     reserved     0; nonzero is a protocol error
//   8      8     correlation  u64 chosen by the client per request, echoed in the
//                             response (or pong); 0 in hello and hello_reply
//   16     4     throttle_ms  u32: in response frames, how long the client must not
//                             send more requests on this connection (quota);
//                             0 in every other frame
//   20     n     payload      n = length - 16: a Cap'n Proto flat message (or empty),
//                             per kind
//
// Kinds (payload schemas: schema/wire.capnp and schema/client.capnp):
//   1 hello        c->s  Hello          5 request   c->s  Request
//   2 hello_reply  s->c  HelloReply     6 response  s->c  Response
//   3 sasl         c->s  SaslStep       7 ping      either way, empty
//   4 sasl_reply   s->c  SaslReply      8 pong      reply to a ping, same correlation, empty
//                                       9 goodbye   s->c, then the server closes; Goodbye
//
// A bad header (length < 16 or over the phase's limit, unknown kind, nonzero
// flags or reserved) ends the connection: the server sends goodbye with
// invalidRequest naming the field, then closes.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

namespace herald::protocol {

enum class frame_kind : std::uint8_t {
  hello = 1,
  hello_reply = 2,
  sasl = 3,
  sasl_reply = 4,
  request = 5,
  response = 6,
  ping = 7,
  pong = 8,
  goodbye = 9,
};

const char* to_string(frame_kind kind);
bool is_known_kind(std::uint8_t kind);

inline constexpr std::size_t frame_header_bytes = 20;   // length field included
inline constexpr std::uint32_t frame_min_length = 16;   // the length field's value for an empty payload
// Limits on the length field (16 + payload), per phase of a connection.
inline constexpr std::uint32_t pre_auth_max_frame = 64u << 10;
inline constexpr std::uint32_t default_max_frame_bytes = 65u << 20;  // the 64 MiB max batch plus room
inline constexpr std::uint16_t protocol_version = 1;

struct frame_header {
  std::uint32_t length = frame_min_length;
  frame_kind kind = frame_kind::ping;
  std::uint64_t correlation = 0;
  std::uint32_t throttle_ms = 0;
  std::size_t payload_size() const { return length - frame_min_length; }
};

struct frame {
  frame_kind kind = frame_kind::ping;
  std::uint64_t correlation = 0;
  std::uint32_t throttle_ms = 0;
  std::vector<char> payload;
};

// Appends one whole frame to `out`. A payload longer than UINT32_MAX - 16
// cannot be framed (the caller bounds its messages far below that).
void append_frame(std::vector<char>& out, frame_kind kind, std::uint64_t correlation, std::uint32_t throttle_ms,
                  std::span<const char> payload);
std::vector<char> encode_frame(frame_kind kind, std::uint64_t correlation, std::uint32_t throttle_ms,
                               std::span<const char> payload);
// The 20 header bytes alone (for writers that send the payload from its own buffer).
void encode_header(char out[frame_header_bytes], frame_kind kind, std::uint64_t correlation,
                   std::uint32_t throttle_ms, std::size_t payload_size);

// Checks the header bytes received so far (any prefix, 0..20 bytes) against
// `max_length`: an empty string when nothing in them is wrong yet, else what
// is wrong ("frame length 70000 exceeds the limit of 65536 bytes"). A raw
// prefix can thus be refused after its first 4 bytes.
std::string check_header_prefix(const char* bytes, std::size_t n, std::uint32_t max_length);
// Decodes 20 header bytes; nullopt (and `why`) when check_header_prefix refuses them.
std::optional<frame_header> decode_header(const char* bytes, std::uint32_t max_length, std::string* why = nullptr);

// Incremental frame reader: feed it socket bytes in chunks of any size, poll
// whole frames out. Memory: a frame's payload buffer grows only with bytes
// actually received (a header that claims 4 GiB costs nothing), and a header
// is checked field by field as its bytes arrive, so an oversized or malformed
// one is refused before any of its payload is buffered. Bytes fed while a
// complete frame waits to be polled are kept raw (bounded by what the caller
// reads from its socket) and parsed on the next poll, against the limit in
// force then: the caller polls hello, raises the limit, and polls again.
class frame_reader {
public:
  using clock = std::chrono::steady_clock;

  explicit frame_reader(std::uint32_t max_length = pre_auth_max_frame) : max_length_(max_length) {}

  // Limit on the length field of frames whose header is not complete yet.
  void set_max_length(std::uint32_t max_length) { max_length_ = max_length; }
  std::uint32_t max_length() const { return max_length_; }

  // Bytes from the socket, received at `now`. Ignored after an error.
  void feed(const char* data, std::size_t n, clock::time_point now);

  enum class status { frame, need_more, error };
  // The next whole frame into `out` (status::frame), or need_more, or error
  // (then error() says why and the reader stays failed).
  status poll(frame& out);

  const std::string& error() const { return error_; }
  bool failed() const { return !error_.empty(); }

  // When the first byte of a frame that is not complete yet arrived; nullopt
  // when no such bytes are held (between frames). The caller times slow
  // frames out with it (slowloris).
  std::optional<clock::time_point> incomplete_since() const;

  // Bytes held: a partial frame's header and payload plus raw bytes not yet parsed.
  std::size_t buffered_bytes() const;
  // Memory reserved for them (what a hostile length would inflate; tests bound it).
  std::size_t buffered_capacity() const { return sizeof(header_) + payload_.capacity() + pending_.capacity(); }

private:
  // Consumes bytes of the current frame from [p, p+n), stopping after the
  // frame's last byte or at an error; returns how many it took.
  std::size_t consume(const char* p, std::size_t n, clock::time_point arrived);
  void fail(std::string why);

  std::uint32_t max_length_;
  char header_[frame_header_bytes] = {};
  std::size_t header_have_ = 0;
  std::optional<frame_header> current_;     // a checked header whose payload is arriving
  std::vector<char> payload_;
  std::optional<clock::time_point> started_;  // first byte of the current frame
  bool ready_ = false;                      // current_ + payload_ form a whole frame
  std::vector<char> pending_;               // raw bytes after a whole frame, not parsed yet
  std::size_t pending_pos_ = 0;
  clock::time_point pending_since_{};
  std::string error_;
};

} // namespace herald::protocol
