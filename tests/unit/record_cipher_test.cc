// RecordCipher (service/state/): AES-256-GCM records, key rotation, and
// every way a stored value can be wrong (tampered, truncated, another key
// id, another name) ending in DATA_LOSS rather than a crash or a wrong
// record; the keys file's format; the names' keyed hashes.
#include <fstream>
#include <string>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "service/state/record_cipher.h"
#include "tests/testing/temp_dir.h"

namespace dcr::state {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

std::string KeyLine(absl::string_view id, char fill) {
  return absl::StrCat(id, ":", absl::Base64Escape(std::string(32, fill)), "\n");
}
const std::string kNames = KeyLine("names", 'n');

RecordCipher Make(const std::string& text) {
  absl::StatusOr<RecordCipher> cipher = RecordCipher::Parse(text);
  EXPECT_TRUE(cipher.ok()) << cipher.status();
  return *std::move(cipher);
}

constexpr absl::string_view kName = "dcr:idem:0123abcd";
constexpr absl::string_view kSecret = R"({"client_secret":"s3cr3t-marker"})";

TEST(RecordCipherTest, RoundTripsAndNeverShowsThePlaintext) {
  RecordCipher cipher = Make(KeyLine("k1", 'a') + kNames);
  absl::StatusOr<std::string> sealed = cipher.Seal(kSecret, kName);
  ASSERT_TRUE(sealed.ok());
  EXPECT_THAT(*sealed, Not(HasSubstr("s3cr3t")));
  EXPECT_EQ(sealed->size(), 2 + 2 + 12 + kSecret.size() + 16);
  absl::StatusOr<std::string> opened = cipher.Open(*sealed, kName);
  ASSERT_TRUE(opened.ok()) << opened.status();
  EXPECT_EQ(*opened, kSecret);
  // A fresh nonce each time: equal records do not look equal.
  EXPECT_NE(*cipher.Seal(kSecret, kName), *sealed);
  EXPECT_EQ(*cipher.Open(*cipher.Seal("", kName), kName), "");
}

TEST(RecordCipherTest, TheFirstKeySealsAndEveryKeyOpens) {
  RecordCipher old_only = Make(KeyLine("k1", 'a') + kNames);
  RecordCipher rotated = Make(KeyLine("k2", 'b') + KeyLine("k1", 'a') + kNames);
  EXPECT_EQ(rotated.sealing_key_id(), "k2");
  const std::string by_old = *old_only.Seal(kSecret, kName);
  EXPECT_EQ(*rotated.Open(by_old, kName), kSecret);
  const std::string by_new = *rotated.Seal(kSecret, kName);
  EXPECT_EQ(*rotated.Open(by_new, kName), kSecret);
  // A replica that has not got the new key yet: DATA_LOSS, naming the key.
  absl::StatusOr<std::string> unknown = old_only.Open(by_new, kName);
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(unknown.status().message(), HasSubstr("\"k2\""));
  // Rotation does not rename: the names key is separate.
  EXPECT_EQ(old_only.NameHash("idem", "x"), rotated.NameHash("idem", "x"));
}

TEST(RecordCipherTest, EveryAlteredByteAndEveryTruncationIsDataLoss) {
  RecordCipher cipher = Make(KeyLine("k1", 'a') + kNames);
  const std::string sealed = *cipher.Seal(kSecret, kName);
  for (std::size_t i = 0; i < sealed.size(); ++i) {
    std::string altered = sealed;
    altered[i] = static_cast<char>(altered[i] ^ 0x01);
    EXPECT_EQ(cipher.Open(altered, kName).status().code(), absl::StatusCode::kDataLoss) << i;
  }
  for (std::size_t n = 0; n < sealed.size(); ++n) {
    EXPECT_EQ(cipher.Open(sealed.substr(0, n), kName).status().code(),
              absl::StatusCode::kDataLoss)
        << n;
  }
  EXPECT_EQ(cipher.Open(sealed + "x", kName).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RecordCipherTest, ARelabelledKeyIdFailsAuthentication) {
  // Both keys are known: only the associated data (which holds the id) tells.
  RecordCipher cipher = Make(KeyLine("k1", 'a') + KeyLine("k2", 'a') + kNames);
  std::string sealed = *cipher.Seal(kSecret, kName);
  ASSERT_EQ(sealed.substr(2, 2), "k1");
  sealed[3] = '2';
  absl::StatusOr<std::string> opened = cipher.Open(sealed, kName);
  EXPECT_EQ(opened.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(opened.status().message(), HasSubstr("authentication"));
}

TEST(RecordCipherTest, AValueMovedToAnotherNameFailsAuthentication) {
  RecordCipher cipher = Make(KeyLine("k1", 'a') + kNames);
  const std::string sealed = *cipher.Seal(kSecret, kName);
  EXPECT_EQ(cipher.Open(sealed, "dcr:idem:somewhere-else").status().code(),
            absl::StatusCode::kDataLoss);
}

TEST(RecordCipherTest, AnotherKeyUnderTheSameIdFailsAuthentication) {
  RecordCipher a = Make(KeyLine("k1", 'a') + kNames);
  RecordCipher b = Make(KeyLine("k1", 'b') + kNames);
  EXPECT_EQ(b.Open(*a.Seal(kSecret, kName), kName).status().code(), absl::StatusCode::kDataLoss);
}

TEST(RecordCipherTest, TheKeysFileIsCheckedStrictlyAndErrorsShowNoKey) {
  const std::string bytes = absl::Base64Escape(std::string(32, 'z'));
  struct Case {
    std::string text;
    std::string error;
  } cases[] = {
      {kNames, "no record key"},
      {KeyLine("k1", 'a'), "no names: key"},
      {"k1 " + bytes + "\n" + kNames, "expected <key id>:<base64>"},
      {"k1:" + absl::Base64Escape(std::string(31, 'z')) + "\n" + kNames, "32 bytes"},
      {"k1:not base64!\n" + kNames, "32 bytes"},
      {"bad id:" + bytes + "\n" + kNames, "key id"},
      {":" + bytes + "\n" + kNames, "key id"},
      {KeyLine("k1", 'a') + KeyLine("k1", 'b') + kNames, "twice"},
      {KeyLine("k1", 'a') + kNames + kNames, "second names key"},
  };
  for (const Case& c : cases) {
    absl::StatusOr<RecordCipher> cipher = RecordCipher::Parse(c.text, "keys");
    ASSERT_FALSE(cipher.ok()) << c.text;
    EXPECT_EQ(cipher.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(cipher.status().message(), HasSubstr(c.error)) << c.text;
    EXPECT_THAT(cipher.status().message(), Not(HasSubstr(bytes)));
  }
  // Comments, blank lines, CRLF and spaces around lines are fine.
  EXPECT_TRUE(RecordCipher::Parse("# keys\n\n  " + KeyLine("k-1.a_b", 'a') + "\r\n" + kNames).ok());
}

TEST(RecordCipherTest, ReadsAKeysFile) {
  testing::TempDir dir("record-cipher");
  const std::string path = dir.path() + "/keys";
  std::ofstream(path) << KeyLine("k1", 'a') << kNames;
  absl::StatusOr<RecordCipher> cipher = RecordCipher::FromFile(path);
  ASSERT_TRUE(cipher.ok()) << cipher.status();
  EXPECT_EQ(cipher->key_count(), 1u);
  absl::StatusOr<RecordCipher> missing = RecordCipher::FromFile(dir.path() + "/none");
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RecordCipherTest, NameHashesAreKeyedAndSeparatedByLabel) {
  RecordCipher a = Make(KeyLine("k1", 'a') + kNames);
  RecordCipher other_names = Make(KeyLine("k1", 'a') + KeyLine("names", 'm'));
  const std::string h = a.NameHash("idem", "developer-portal/req-42");
  EXPECT_EQ(h.size(), 64u);
  EXPECT_EQ(h, a.NameHash("idem", "developer-portal/req-42"));
  EXPECT_NE(h, a.NameHash("bucket", "developer-portal/req-42"));
  EXPECT_NE(h, other_names.NameHash("idem", "developer-portal/req-42"));
  EXPECT_THAT(h, Not(HasSubstr("portal")));
}

}  // namespace
}  // namespace dcr::state
