// Sends one produce request carrying a batch of a chosen size straight to a
// broker's session (bypassing the producer's own checks) and prints the
// broker's answer. For measuring what an oversized or bomb-like batch costs
// a broker (bench/README.md, "Oversized batches"):
//   oversize_probe HOST:PORT TOPIC MB plain   one record of MB MiB, uncompressed
//   oversize_probe HOST:PORT TOPIC MB zstd    MB MiB of zstd-labelled random bytes
//   oversize_probe HOST:PORT TOPIC MB bomb    a real zstd frame of MB MiB (<= 64) of
//                                              mostly zeros, about 200x smaller: a
//                                              batch under the limit that expands

#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>

#include <caf/all.hpp>
#include <caf/io/all.hpp>
#include <zstd.h>

#include "protocol/atoms.hpp"
#include "protocol/client_system.hpp"
#include "client/actors.hpp"
#include "client/blocking.hpp"
#include "schema/wire.hpp"
#include "storage/batch_header.hpp"
#include "storage/compression.hpp"
#include "storage/record_batch.hpp"

using namespace herald;

namespace {

void put_u32(char* p, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<char>(v >> (8 * i));
}

// A batch whose payload is `compressed` labelled with codec zstd and
// `plain_len` as its uncompressed length.
std::vector<char> zstd_batch(const std::vector<char>& compressed, std::uint32_t plain_len) {
  const std::size_t payload = (storage::compressed_prefix_size + compressed.size() + 7) / 8 * 8;
  std::vector<char> batch(storage::batch_header_size + payload, 0);
  storage::batch_header h;
  h.length = static_cast<std::uint32_t>(batch.size());
  h.attributes = static_cast<std::uint16_t>(storage::codec::zstd);
  h.record_count = 1;
  storage::encode_batch_header(h, batch);
  put_u32(batch.data() + storage::batch_header_size, plain_len);
  put_u32(batch.data() + storage::batch_header_size + 4, static_cast<std::uint32_t>(compressed.size()));
  std::copy(compressed.begin(), compressed.end(), batch.begin() + storage::batch_header_size + 8);
  storage::seal_batch(batch);
  return batch;
}

} // namespace

int main(int argc, char** argv) {
  if (argc != 5) {
    std::fprintf(stderr, "usage: %s HOST:PORT TOPIC MB plain|zstd|bomb\n", argv[0]);
    return 2;
  }
  const std::string topic = argv[2];
  const std::size_t bytes = std::strtoull(argv[3], nullptr, 10) << 20;
  const std::string kind = argv[4];
  std::mt19937_64 rng{42};
  std::vector<char> batch;
  if (kind == "plain") {
    std::string value(bytes, '\0');
    for (auto& c : value) c = static_cast<char>(rng());
    storage::batch_builder b;
    b.add(1, std::nullopt, value);
    batch = b.build();
  } else if (kind == "zstd") {
    std::vector<char> noise(bytes);
    for (auto& c : noise) c = static_cast<char>(rng());
    batch = zstd_batch(noise, static_cast<std::uint32_t>(storage::max_uncompressed_payload));
  } else {
    // One random byte per KiB keeps the ratio under the reader's 1024x cap.
    std::vector<char> zeros(bytes, 0);
    for (std::size_t i = 0; i < zeros.size(); i += 1024) zeros[i] = static_cast<char>(rng());
    std::vector<char> frame(ZSTD_compressBound(bytes));
    frame.resize(ZSTD_compress(frame.data(), frame.size(), zeros.data(), zeros.size(), 3));
    batch = zstd_batch(frame, static_cast<std::uint32_t>(bytes));
  }
  std::fprintf(stderr, "sending a %zu-byte batch\n", batch.size());

  caf::actor_system_config cfg;
  configure_client_system(cfg);
  caf::actor_system system{cfg};
  caf::scoped_actor self{system};
  auto [host, port] = client::parse_broker(argv[1]);
  auto session = client::open_session(system, host, port, caf::actor_cast<caf::actor>(self));
  if (!session) {
    std::fprintf(stderr, "cannot connect: %s\n", system.render(session.error()).c_str());
    return 1;
  }
  capnp::MallocMessageBuilder builder;
  auto p = builder.initRoot<schema::Request>().initProduce();
  p.setTopic(topic);
  p.setAcks(schema::Acks::ALL);
  p.setBatch(kj::arrayPtr(reinterpret_cast<const kj::byte*>(batch.data()), batch.size()));
  auto request = wire::to_bytes(builder);
  batch = {};
  int rc = 1;
  self->request(*session, std::chrono::seconds{120}, request_atom::value, std::move(request))
    .receive(
      [&](std::vector<char>& r) {
        wire::message_reader reader(r);
        auto e = reader.root<schema::Response>().getError();
        std::printf("%s: %s\n", wire::to_string(e.getCode()), e.getMessage().cStr());
        rc = 0;
      },
      [&](caf::error& e) { std::printf("error: %s\n", system.render(e).c_str()); });
  return rc;
}
