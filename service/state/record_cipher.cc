#include "service/state/record_cipher.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include <fstream>
#include <memory>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace dcr::state {
namespace {

constexpr unsigned char kVersion = 0x01;
constexpr std::size_t kKeyBytes = 32;
constexpr std::size_t kNonceBytes = 12;
constexpr std::size_t kTagBytes = 16;
constexpr std::size_t kMaxKeyIdBytes = 32;
constexpr std::size_t kMaxKeysFileBytes = 64 * 1024;
constexpr absl::string_view kNamesId = "names";
constexpr absl::string_view kAadLabel = "dcr-state-record-v1";

bool ValidKeyId(absl::string_view id) {
  if (id.empty() || id.size() > kMaxKeyIdBytes) return false;
  for (char c : id) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '.' && c != '_' && c != '-') {
      return false;
    }
  }
  return true;
}

std::string AssociatedData(absl::string_view key_id, absl::string_view associated) {
  return absl::StrCat(kAadLabel, absl::string_view("\0", 1), key_id, absl::string_view("\0", 1),
                      associated);
}

struct CtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CtxFree>;

void Wipe(std::string& s) {
  if (!s.empty()) OPENSSL_cleanse(s.data(), s.size());
  s.clear();
}

}  // namespace

RecordCipher::~RecordCipher() {
  for (Key& key : keys_) Wipe(key.bytes);
  Wipe(names_key_);
}

absl::StatusOr<RecordCipher> RecordCipher::FromFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::FailedPreconditionError(absl::StrCat("cannot read keys file ", path));
  std::string text(kMaxKeysFileBytes + 1, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (text.size() > kMaxKeysFileBytes) {
    Wipe(text);
    return absl::FailedPreconditionError(
        absl::StrCat("keys file ", path, " is larger than ", kMaxKeysFileBytes, " bytes"));
  }
  absl::StatusOr<RecordCipher> cipher = Parse(text, path);
  Wipe(text);
  return cipher;
}

absl::StatusOr<RecordCipher> RecordCipher::Parse(absl::string_view text, absl::string_view source) {
  RecordCipher cipher;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    const std::size_t colon = line.find(':');
    const auto where = [&] { return absl::StrCat(source, " line ", line_number); };
    if (colon == absl::string_view::npos) {
      return absl::InvalidArgumentError(absl::StrCat(where(), ": expected <key id>:<base64>"));
    }
    absl::string_view id = line.substr(0, colon);
    if (!ValidKeyId(id)) {
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": a key id is 1-32 characters of [A-Za-z0-9._-]"));
    }
    std::string bytes;
    if (!absl::Base64Unescape(line.substr(colon + 1), &bytes) || bytes.size() != kKeyBytes) {
      Wipe(bytes);
      return absl::InvalidArgumentError(
          absl::StrCat(where(), ": key \"", id, "\" is not the base64 of 32 bytes"));
    }
    if (id == kNamesId) {
      if (!cipher.names_key_.empty()) {
        Wipe(bytes);
        return absl::InvalidArgumentError(absl::StrCat(where(), ": a second names key"));
      }
      cipher.names_key_ = std::move(bytes);
      continue;
    }
    if (cipher.Find(id) != nullptr) {
      Wipe(bytes);
      return absl::InvalidArgumentError(absl::StrCat(where(), ": key id \"", id, "\" twice"));
    }
    cipher.keys_.push_back({std::string(id), std::move(bytes)});
  }
  if (cipher.keys_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " has no record key"));
  }
  if (cipher.names_key_.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(source, " has no names: key"));
  }
  return cipher;
}

const RecordCipher::Key* RecordCipher::Find(absl::string_view id) const {
  for (const Key& key : keys_) {
    if (key.id == id) return &key;
  }
  return nullptr;
}

absl::StatusOr<std::string> RecordCipher::Seal(absl::string_view plaintext,
                                               absl::string_view associated) const {
  const Key& key = keys_.front();
  std::string out;
  out.reserve(2 + key.id.size() + kNonceBytes + plaintext.size() + kTagBytes);
  out.push_back(static_cast<char>(kVersion));
  out.push_back(static_cast<char>(key.id.size()));
  out.append(key.id);
  const std::size_t nonce_at = out.size();
  out.resize(nonce_at + kNonceBytes);
  auto* nonce = reinterpret_cast<unsigned char*>(out.data() + nonce_at);
  if (RAND_bytes(nonce, kNonceBytes) != 1) return absl::InternalError("RAND_bytes failed");

  const std::string aad = AssociatedData(key.id, associated);
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  const std::size_t body_at = out.size();
  out.resize(body_at + plaintext.size() + kTagBytes);
  auto* body = reinterpret_cast<unsigned char*>(out.data() + body_at);
  // Re-read the nonce after the resize: the buffer may have moved.
  nonce = reinterpret_cast<unsigned char*>(out.data() + nonce_at);
  if (!ctx ||
      EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr,
                         reinterpret_cast<const unsigned char*>(key.bytes.data()), nonce) != 1 ||
      EVP_EncryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_EncryptUpdate(ctx.get(), body, &len,
                        reinterpret_cast<const unsigned char*>(plaintext.data()),
                        static_cast<int>(plaintext.size())) != 1 ||
      EVP_EncryptFinal_ex(ctx.get(), body + len, &len) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagBytes,
                          body + plaintext.size()) != 1) {
    return absl::InternalError("AES-256-GCM encryption failed");
  }
  return out;
}

absl::StatusOr<std::string> RecordCipher::Open(absl::string_view sealed,
                                               absl::string_view associated) const {
  if (sealed.size() < 2 || static_cast<unsigned char>(sealed[0]) != kVersion) {
    return absl::DataLossError("stored record is not a sealed record (version)");
  }
  const std::size_t id_size = static_cast<unsigned char>(sealed[1]);
  if (sealed.size() < 2 + id_size + kNonceBytes + kTagBytes) {
    return absl::DataLossError("stored record is truncated");
  }
  const absl::string_view id = sealed.substr(2, id_size);
  const Key* key = Find(id);
  if (key == nullptr) {
    // Ids are not secret; naming it tells an operator which key went missing.
    return absl::DataLossError(absl::StrCat(
        "stored record is sealed with key id \"", absl::CHexEscape(id),
        "\", which the keys file does not hold"));
  }
  const auto* nonce = reinterpret_cast<const unsigned char*>(sealed.data() + 2 + id_size);
  const absl::string_view body = sealed.substr(2 + id_size + kNonceBytes);
  const std::size_t text_size = body.size() - kTagBytes;
  const auto* data = reinterpret_cast<const unsigned char*>(body.data());
  std::string tag(body.substr(text_size));
  const std::string aad = AssociatedData(key->id, associated);

  std::string out(text_size, '\0');
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  int len = 0;
  auto* plain = reinterpret_cast<unsigned char*>(out.data());
  if (!ctx ||
      EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceBytes, nullptr) != 1 ||
      EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr,
                         reinterpret_cast<const unsigned char*>(key->bytes.data()), nonce) != 1 ||
      EVP_DecryptUpdate(ctx.get(), nullptr, &len, reinterpret_cast<const unsigned char*>(aad.data()),
                        static_cast<int>(aad.size())) != 1 ||
      EVP_DecryptUpdate(ctx.get(), plain, &len, data, static_cast<int>(text_size)) != 1 ||
      EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagBytes, tag.data()) != 1 ||
      EVP_DecryptFinal_ex(ctx.get(), plain + len, &len) != 1) {
    Wipe(out);
    return absl::DataLossError(
        "stored record failed authentication (altered, or not sealed for this name)");
  }
  return out;
}

std::string RecordCipher::NameHash(absl::string_view label, absl::string_view value) const {
  const std::string input = absl::StrCat(label, absl::string_view("\0", 1), value);
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  HMAC(EVP_sha256(), names_key_.data(), static_cast<int>(names_key_.size()),
       reinterpret_cast<const unsigned char*>(input.data()), input.size(), mac, &mac_len);
  return absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(mac), mac_len));
}

}  // namespace dcr::state
