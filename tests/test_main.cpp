// doctest's main, with one addition: a run given a test-case filter that
// matches no test case fails. CTest runs each test case as
// `binary --test-case=<name>`, and doctest exits 0 when the filter matches
// nothing, so a name CTest could not pass through intact (doctest_discover_tests
// cut names at ';') ran zero test cases and was reported as passed.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <cstdio>
#include <cstring>

namespace {

int test_cases_matched = -1;  // set at the end of a run

struct match_counter : doctest::IReporter {
  explicit match_counter(const doctest::ContextOptions&) {}
  void report_query(const doctest::QueryData&) override {}
  void test_run_start() override {}
  void test_run_end(const doctest::TestRunStats& stats) override {
    test_cases_matched = static_cast<int>(stats.numTestCasesPassingFilters);
  }
  void test_case_start(const doctest::TestCaseData&) override {}
  void test_case_reenter(const doctest::TestCaseData&) override {}
  void test_case_end(const doctest::CurrentTestCaseStats&) override {}
  void test_case_exception(const doctest::TestCaseException&) override {}
  void subcase_start(const doctest::SubcaseSignature&) override {}
  void subcase_end() override {}
  void log_assert(const doctest::AssertData&) override {}
  void log_message(const doctest::MessageData&) override {}
  void test_case_skipped(const doctest::TestCaseData&) override {}
};

REGISTER_LISTENER("herald_match_counter", 1, match_counter);

bool names_test_cases(int argc, char** argv) {
  for (int i = 1; i < argc; ++i)
    for (const char* flag : {"--test-case=", "-tc=", "--dt-test-case=", "--dt-tc="})
      if (std::strncmp(argv[i], flag, std::strlen(flag)) == 0)
        return true;
  return false;
}

} // namespace

int main(int argc, char** argv) {
  doctest::Context context(argc, argv);
  const int result = context.run();
  if (context.shouldExit())
    return result;
  if (result == 0 && test_cases_matched == 0 && names_test_cases(argc, argv)) {
    std::fprintf(stderr, "no test case matches the --test-case filter: nothing was tested (a name with ';' or "
                         "another character CTest cannot pass through?)\n");
    return 1;
  }
  return result;
}
