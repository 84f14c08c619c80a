// Encryption of idempotency records before they leave the process, and keyed
// hashes of the names they are stored under.
//
// Keys file (a mounted Secret), one entry per line, `#` comments and blank
// lines ignored:
//   <key id>:<base64 of 32 random bytes>      record keys, newest first
//   names:<base64 of 32 random bytes>         the key of the names' hashes
// Key ids are 1-32 characters of [A-Za-z0-9._-]. The first record key seals
// new records; every record key opens. Rotation: put a new key on the first
// line and keep the old ones as long as records sealed by them may live (the
// retention window). The `names` key is not rotated with them: changing it
// renames every record, which makes them invisible (a retry could be sent
// again), so change it only with the store emptied or the window passed.
// Generate a key: `head -c 32 /dev/urandom | base64`.
//
// A sealed record: 0x01, key id length (1 byte), key id, 12-byte random
// nonce, AES-256-GCM ciphertext, 16-byte tag. The associated data is the key
// id and the caller's `associated` (the record's name in the store), so a
// value copied under another name or relabelled with another key id fails.
#ifndef DCR_SERVICE_STATE_RECORD_CIPHER_H_
#define DCR_SERVICE_STATE_RECORD_CIPHER_H_

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dcr::state {

class RecordCipher {
 public:
  static absl::StatusOr<RecordCipher> FromFile(const std::string& path);
  // `source` names the text in error messages; errors never quote key bytes.
  static absl::StatusOr<RecordCipher> Parse(absl::string_view text,
                                            absl::string_view source = "keys file");

  RecordCipher(RecordCipher&&) = default;
  RecordCipher& operator=(RecordCipher&&) = default;
  ~RecordCipher();  // wipes the key bytes

  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view associated) const;
  // DATA_LOSS for a malformed value, an unknown key id, or a failed
  // authentication (tampered, or not sealed for `associated`).
  absl::StatusOr<std::string> Open(absl::string_view sealed, absl::string_view associated) const;

  // Hex HMAC-SHA256 of `value` under the names key, separated by `label`
  // (e.g. "idem", "fingerprint", "bucket") so that equal values of
  // different kinds hash differently.
  std::string NameHash(absl::string_view label, absl::string_view value) const;

  const std::string& sealing_key_id() const { return keys_.front().id; }
  std::size_t key_count() const { return keys_.size(); }

 private:
  struct Key {
    std::string id;
    std::string bytes;  // 32
  };
  RecordCipher() = default;
  const Key* Find(absl::string_view id) const;

  std::vector<Key> keys_;  // record keys, the sealing key first
  std::string names_key_;
};

}  // namespace dcr::state

#endif  // DCR_SERVICE_STATE_RECORD_CIPHER_H_
