// A fresh directory under the test's temporary directory, removed with it.
#ifndef DCR_TESTS_TESTING_TEMP_DIR_H_
#define DCR_TESTS_TESTING_TEMP_DIR_H_

#include <string>

namespace dcr::testing {

class TempDir {
 public:
  explicit TempDir(const std::string& prefix);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  // Empty if the directory could not be created.
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace dcr::testing

#endif  // DCR_TESTS_TESTING_TEMP_DIR_H_
