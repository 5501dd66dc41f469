#pragma once
// Hostile client patterns: raw TCP connections that send what a careless or
// malicious client would, against either of heraldd's listeners:
//   proto::basp    CAF's middleman port (BASP, 32-byte big-endian header)
//   proto::framed  Herald's client listener (docs: protocol/frame.hpp; the
//                  bytes are built here by hand, independently of the codec,
//                  so a codec bug cannot hide itself)
// No CAF, no Herald library: a pattern is plain sockets and poll(2). Each one
// reports what the server did to its connections (closed them, sent a
// goodbye, left them open), so a caller can assert on it and measure the
// broker's memory meanwhile (bench/hostile_rss.sh, tests/hostile).

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

namespace herald::hostile {

enum class proto { basp, framed };

struct target {
  std::string host = "127.0.0.1";
  std::uint16_t port = 0;
  proto kind = proto::framed;
};

struct pattern_options {
  int connections = 0;                      // 0: the pattern's default
  std::chrono::milliseconds hold{3000};     // how long connections stay open afterwards
  std::uint64_t seed = 42;                  // random bytes are reproducible
};

struct pattern_result {
  int opened = 0;             // connections established
  int refused = 0;            // connect() failed
  int closed_by_server = 0;   // EOF or reset seen from the server
  int goodbyes = 0;           // framed: a goodbye frame (kind 9) was received
  int still_open = 0;         // open when the pattern ended (the server kept them)
  std::chrono::milliseconds first_close{-1};  // from the pattern's start to the first close seen
  std::string note;           // anything worth printing
};

// The patterns, by name (see pattern_names()):
//   oversize   a header claiming a 2 GiB payload, then hold (default 3 connections)
//   negative   lengths below the header size and a "negative" one (0xFFFFFFFF);
//              against BASP a u32 cannot be negative: the same bytes claim 4 GiB
//   truncated  a header claiming 1000 bytes, 10 of them sent; half the connections
//              close at once, half hold (default 50)
//   random     100 random bytes, then reset (default 200)
//   slowloris  a valid frame sent one byte per second per connection (default 50)
//   reset      connect and reset at once, nothing sent (default 500)
//   noread     framed only: hello, 4 produces of ~1 MB into topic "hostile"
//              (which must exist) read back, then 400 fetches of up to 1 MiB sent
//              and never read; holds, watching only for the server's close
//   partial    pre-handshake frames as large as allowed (64 KiB) short of their
//              last byte, then hold (default 1000)
//   bigframes  framed: hello, then a 64 MiB request frame short of its last byte;
//              BASP: a 64 MiB claim and as many bytes (default 10 connections)
//   pings      hello, then pings as fast as the server takes them, no pong read
//              (default 4,000,000: 80 MB); BASP: heartbeat headers
//   hellos     framed: a hello frame, then 50 more on the same connection, then
//              hold (default 200); BASP: a client handshake header whose payload is
//              garbage (no real BASP hello exists without CAF; see noread.hpp for
//              hellos through the real client library)
pattern_result run_pattern(const std::string& name, const target& t, const pattern_options& o);
std::vector<std::string> pattern_names();

// The bytes of one framed header (length = 16 + payload_size unless given).
std::vector<char> framed_header(std::uint8_t kind, std::uint64_t correlation, std::uint32_t length);
// A framed hello: a hand-built Cap'n Proto Hello {minVersion 1, maxVersion 1, clientId}.
std::vector<char> framed_hello(std::uint64_t correlation, const std::string& client_id);
// A BASP header (big endian, CAF 0.17's layout).
std::vector<char> basp_header(std::uint8_t operation, std::uint32_t payload_len, std::uint64_t operation_data);

} // namespace herald::hostile
