// Shared memory as unmodified programs use it (SPEC §2.3): a semaphore glibc's sem_open finds
// initialised, without O_CREAT, on both sides; an object with a size that shm_open + mmap use
// at once; Python's SharedMemory attaching to it where python3 is installed.
#include <CppUTest/TestHarness.h>
#include <unistd.h>

#include <string>
#include <vector>

#include "tests/support/process.hpp"
#include "tests/support/system_state.hpp"

using ipcrt::test::TempDir;
using ipcrt::test::unique_name;

namespace {

std::string probe() {
  return IPCRT_SHM_PROBE;
}

std::string quoted(const std::vector<std::string>& items) {
  std::string text = "[";
  for (std::size_t i = 0; i < items.size(); ++i) text += (i ? ", \"" : "\"") + items[i] + "\"";
  return text + "]";
}

// A provider owning `objects` (JSON array of entries, all writable by the plug) and a consumer
// plugged into it.
std::string manifest(const std::string& name, const std::string& objects,
                     const std::vector<std::string>& provider,
                     const std::vector<std::string>& consumer) {
  return "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {\n"
         "  \"provider\": {\"command\": " + quoted(provider) +
         ", \"slots\": {\"mem\": {\"interface\": \"shared-memory\", \"write\": " + objects +
         "}}},\n"
         "  \"consumer\": {\"command\": " + quoted(consumer) +
         ", \"plugs\": {\"mem\": {\"interface\": \"shared-memory\"}}}}}\n";
}

// A case's manifest name and its objects. Once `run` has ended nothing of them is left, on
// the runtime's tmpfs (unmounted) or in the host's /dev/shm (never used): left() says what
// is; whatever the outcome, the destructor removes it.
struct Objects {
  std::string manifest;
  std::vector<std::string> names;
  [[nodiscard]] std::string left() const {
    if (ipcrt::test::shm_store_mounted(manifest)) return ipcrt::test::shm_store(manifest);
    for (const auto& name : names) {
      if (ipcrt::test::path_exists("/dev/shm/" + name)) return "/dev/shm/" + name;
    }
    return "";
  }
  ~Objects() { ipcrt::test::ShmStoreCleanup{manifest}; }
};

}  // namespace

TEST_GROUP(ShmPrograms){};

TEST(ShmPrograms, ASemaphorePostedByOneServiceWakesAnotherWithoutOCreat) {
  TempDir dir;
  const std::string sem = unique_name("ready");
  Objects cleanup{unique_name("sh"), {"sem." + sem}};
  // The consumer waits first (providers start before their consumers, so the poster is the
  // consumer here and the waiter the provider): the value starts at 0.
  const std::string text =
      manifest(cleanup.manifest, "[{\"name\": \"sem." + sem + "\", \"value\": 0}]",
               {probe(), "wait", sem}, {probe(), "post", sem});
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS(("consumer: posted " + sem).c_str(), result.out.c_str());
  STRCMP_CONTAINS(("provider: woke " + sem).c_str(), result.out.c_str());
}

TEST(ShmPrograms, ASemaphoreIsResetToItsValueAtEveryRun) {
  TempDir dir;
  const std::string sem = unique_name("tokens");
  Objects cleanup{unique_name("sh"), {"sem." + sem}};
  // Value 1: one wait succeeds at once, in every run, though the last run left it at 0.
  const std::string text =
      manifest(cleanup.manifest, "[{\"name\": \"sem." + sem + "\", \"value\": 1}]",
               {probe(), "wait", sem}, {"/bin/true"});
  for (int run = 0; run < 2; ++run) {
    auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
    LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
    STRCMP_EQUAL("", cleanup.left().c_str());
    STRCMP_CONTAINS(("provider: woke " + sem).c_str(), result.out.c_str());
  }
}

TEST(ShmPrograms, ASizedObjectIsMappedAtOnceAndSharedBetweenServices) {
  TempDir dir;
  const std::string object = unique_name("frames");
  Objects cleanup{unique_name("sh"), {object}};
  const std::string text =
      manifest(cleanup.manifest, "[{\"name\": \"" + object + "\", \"size\": 65536}]",
               {probe(), "write", object, "hello from the provider"}, {probe(), "read", object});
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS(("provider: wrote " + object + " size=65536").c_str(), result.out.c_str());
  STRCMP_CONTAINS(("consumer: read " + object + " hello from the provider").c_str(),
                  result.out.c_str());
}

TEST(ShmPrograms, PythonSharedMemoryAttachesToASizedObject) {
  if (::access("/usr/bin/python3", X_OK) != 0) {
    UT_PRINT("skipped: python3 is not installed");
    return;
  }
  TempDir dir;
  const std::string object = unique_name("py");
  Objects cleanup{unique_name("sh"), {object}};
  const std::string script =
      "from multiprocessing import shared_memory\n"
      "import sys\n"
      "shm = shared_memory.SharedMemory(sys.argv[1])\n"
      "shm.buf[:5] = b'hello'\n"
      "print('python: size', shm.size, 'wrote', bytes(shm.buf[:5]).decode())\n"
      "shm.close()\n";
  dir.share_with_services();  // the script is read by the service's own user
  const std::string path = dir.write_file("attach.py", script);
  const std::string text = manifest(cleanup.manifest, "[{\"name\": \"" + object +
                                                           "\", \"size\": 4096}]",
                                    {"/usr/bin/python3", path, object}, {probe(), "read", object});
  // (python's resource tracker may warn that it cannot unlink the object at exit: objects
  // belong to the manifest; the check is that it attached, wrote and the other side read.)
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS("python: size 4096 wrote hello", result.out.c_str());
  STRCMP_CONTAINS(("consumer: read " + object + " hello").c_str(), result.out.c_str());
}
