// README "Error mapping" says, per outcome, the gRPC code, the reason, the
// end-client HTTP status and whether the request may have been processed.
// proto/api/error_rules.h is the table the code uses: the two must agree,
// row by row, and every reason must be documented.
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "proto/api/error_rules.h"

namespace dcr::api {
namespace {

struct DocRow {
  std::string what, code, reason, http, processed;
};

// The rows of the first table under "## Error mapping".
std::vector<DocRow> ErrorMappingRows() {
  std::ifstream in(DCR_README_PATH);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<DocRow> rows;
  bool in_section = false, in_table = false;
  for (absl::string_view line : absl::StrSplit(text.str(), '\n')) {
    if (absl::StartsWith(line, "## ")) {
      if (in_section) break;
      in_section = line == "## Error mapping";
      continue;
    }
    if (!in_section) continue;
    if (!absl::StartsWith(line, "|")) {
      if (in_table) break;
      continue;
    }
    in_table = true;
    std::vector<std::string> cells = absl::StrSplit(line, '|');
    if (cells.size() != 7) continue;  // "", 5 cells, ""
    for (std::string& cell : cells) {
      cell = std::string(absl::StripAsciiWhitespace(
          absl::StrReplaceAll(cell, {{"`", ""}, {"**", ""}})));
    }
    if (cells[2] == "gRPC code" || absl::StartsWith(cells[2], "---")) continue;
    rows.push_back(DocRow{cells[1], cells[2], cells[3], cells[4], cells[5]});
  }
  return rows;
}

TEST(ErrorTableDocTest, EveryReadmeRowMatchesTheTable) {
  const std::vector<DocRow> rows = ErrorMappingRows();
  ASSERT_GE(rows.size(), 18u) << "README's error table was not found at " << DCR_README_PATH;
  absl::flat_hash_set<int> documented;
  for (const DocRow& row : rows) {
    SCOPED_TRACE(row.what);
    v1::ErrorReason reason;
    ASSERT_TRUE(v1::ErrorReason_Parse("ERROR_REASON_" + row.reason, &reason)) << row.reason;
    documented.insert(reason);
    const v1::Action action = absl::StrContains(row.what, "UNAUTHORIZED")
                                  ? v1::ACTION_UNAUTHORIZED
                                  : v1::ACTION_UNSPECIFIED;
    EXPECT_EQ(row.code, absl::StatusCodeToString(CodeOf(reason, action)));
    int http = 0;
    ASSERT_TRUE(absl::SimpleAtoi(row.http, &http)) << row.http;
    EXPECT_EQ(http, HttpStatusOf(reason, action));
    const Processed processed = RuleOf(reason).processed;
    if (row.processed == "yes") {
      EXPECT_EQ(processed, Processed::kYes);
    } else if (row.processed == "if sent") {
      EXPECT_EQ(processed, Processed::kIfSent);
    } else {
      EXPECT_TRUE(absl::StartsWith(row.processed, "no")) << row.processed;
      EXPECT_EQ(processed, Processed::kNo);
    }
  }
  for (const ReasonRule& rule : ReasonRules()) {
    if (rule.reason == v1::ERROR_REASON_UNSPECIFIED) continue;
    EXPECT_TRUE(documented.contains(rule.reason))
        << v1::ErrorReason_Name(rule.reason) << " is not in README's error table";
  }
}

}  // namespace
}  // namespace dcr::api
