#pragma once
// Maps socket write progress (ciphertext bytes the socket took) back to the
// plaintext bytes they carry, for a writer that counts plaintext, such as the
// connection logic's unwritten-bytes account (actors/connection_logic.hpp)
// when a tls_channel sits between it and the socket. Handshake records and
// alerts carry no plaintext. Within one write, progress is counted pro rata;
// once all of a write's ciphertext is out, all of its plaintext has been
// reported, exactly.

#include <cstddef>
#include <deque>

namespace herald::security {

class tls_write_ledger {
public:
  // One write to the socket: `ciphertext` bytes carrying `plaintext` bytes.
  void sent(std::size_t plaintext, std::size_t ciphertext) {
    if (ciphertext == 0)
      return;
    chunks_.push_back({plaintext, ciphertext, 0, 0});
    pending_ += ciphertext;
  }

  // The socket took `ciphertext` more bytes; returns the plaintext bytes
  // that this completes.
  std::size_t written(std::size_t ciphertext) {
    std::size_t plain = 0;
    while (ciphertext > 0 && !chunks_.empty()) {
      auto& c = chunks_.front();
      std::size_t step = ciphertext < c.cipher - c.cipher_done ? ciphertext : c.cipher - c.cipher_done;
      c.cipher_done += step;
      ciphertext -= step;
      pending_ -= step;
      // Pro rata, rounded down; the rest when the chunk completes.
      std::size_t due = c.cipher_done == c.cipher
                          ? c.plain
                          : static_cast<std::size_t>(static_cast<long double>(c.plain) * c.cipher_done / c.cipher);
      if (due < c.plain_reported)
        due = c.plain_reported; // never backwards (rounding)
      plain += due - c.plain_reported;
      c.plain_reported = due;
      if (c.cipher_done == c.cipher)
        chunks_.pop_front();
    }
    return plain;
  }

  std::size_t pending_ciphertext() const { return pending_; }

private:
  struct chunk {
    std::size_t plain, cipher, cipher_done, plain_reported;
  };
  std::deque<chunk> chunks_;
  std::size_t pending_ = 0;
};

} // namespace herald::security
