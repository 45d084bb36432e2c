// Unmodified programs under a strict service's filter (@default only): a dynamically linked C
// program, a busybox shell script and a Python script must run as they do unconfined.
#include <CppUTest/TestHarness.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "runtime/seccomp/service_policy.hpp"
#include "tests/support/filtered_exec.hpp"

namespace {

ipcrt::platform::BpfProgram default_program() {
  ipcrt::config::Service service;
  service.name = "workload";
  service.pointer = "/services/workload";
  ipcrt::runtime::PlannedService planned;
  auto program = ipcrt::runtime::compile_service_filter(service, planned);
  if (!program) FAIL(program.error().describe().c_str());
  return *program;
}

void expect_same_as_unconfined(const std::vector<std::string>& argv) {
  auto unconfined = ipcrt::test::run_filtered({}, argv);
  auto confined = ipcrt::test::run_filtered(default_program(), argv);
  LONGS_EQUAL_TEXT(0, unconfined.exit_code, unconfined.err.c_str());
  LONGS_EQUAL_TEXT(0, confined.exit_code, confined.err.c_str());
  STRCMP_EQUAL(unconfined.out.c_str(), confined.out.c_str());
  CHECK(!confined.out.empty() || argv[0] == "/bin/true");
}

// Test images for ARM boards carry no Python or coreutils: say so instead of failing.
bool present(const char* program) {
  if (::access(program, X_OK) == 0) return true;
  UT_PRINT((std::string("skipped: ") + program + " is not installed").c_str());
  return false;
}

}  // namespace

TEST_GROUP(SeccompWorkloads){};

TEST(SeccompWorkloads, DynamicallyLinkedCoreutilsRun) {
  if (!present("/bin/ls") || !present("/bin/date")) return;
  expect_same_as_unconfined({"/bin/true"});
  ipcrt::test::TempDir dir;  // a directory nobody else changes between the two runs
  dir.write_file("listed.txt", "x");
  // -A, not -a: ".." is /tmp, whose link count changes whenever a concurrent test makes a
  // directory there.
  expect_same_as_unconfined({"/bin/ls", "-lA", "--time-style=+%s", dir.path()});
  expect_same_as_unconfined({"/bin/date", "-u", "-d", "@0"});
}

TEST(SeccompWorkloads, BusyboxShellScriptRuns) {
  if (!present("/bin/busybox")) return;
  ipcrt::test::TempDir dir;
  std::string script =
      "set -e; cd " + dir.path() +
      "; echo alpha > a.txt; echo beta >> a.txt; (cd / && pwd) > sub.txt;"
      " n=$(cat a.txt | wc -l); sort -r a.txt | head -n 1; echo lines=$n; cat sub.txt;"
      " for i in 1 2 3; do printf '%s' $i; done; echo; ls | sort | tr '\\n' ' '; echo;"
      " sleep 0.05 & wait; trap 'echo trapped' USR1; kill -USR1 $$; rm a.txt";
  auto result = ipcrt::test::run_filtered(default_program(), {"/bin/busybox", "sh", "-c", script});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("beta\nlines=2\n/\n123\na.txt sub.txt \ntrapped\n", result.out.c_str());
}

TEST(SeccompWorkloads, PythonScriptWithThreadsRuns) {
  if (!present("/usr/bin/python3")) return;
  const char* script =
      "import json, os, threading, tempfile, subprocess\n"
      "out = []\n"
      "t = threading.Thread(target=lambda: out.append(json.dumps({'pid': os.getpid() > 0})))\n"
      "t.start(); t.join()\n"
      "with tempfile.TemporaryDirectory() as d:\n"
      "    open(os.path.join(d, 'f'), 'w').write('x')\n"
      "    out.append(str(os.listdir(d)))\n"
      "out.append(subprocess.run(['/bin/echo', 'child'], capture_output=True, "
      "text=True).stdout.strip())\n"
      "print(' '.join(out))\n";
  auto result = ipcrt::test::run_filtered(default_program(), {"/usr/bin/python3", "-c", script});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("{\"pid\": true} ['f'] child\n", result.out.c_str());
}
