// Shared memory as unmodified programs use it (SPEC §2.3): a semaphore glibc's sem_open finds
// initialised, without O_CREAT, on both sides; an object with a size that shm_open + mmap use
// at once; Python's SharedMemory attaching to it, and creating and unlinking it, where python3
// is installed; C programs that unlink their segment and create it again (O_CREAT|O_EXCL)
// beside a second writer and a reader; and what these calls cannot do to anything else.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <string>
#include <vector>

#include "runtime/mediation/notification.hpp"
#include "tests/support/background.hpp"
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

// A provider owning `objects` (JSON array of entries, in its slot's `list`: "write", the
// plug may write them too, or "read") and a consumer plugged into it.
std::string manifest(const std::string& name, const std::string& objects,
                     const std::vector<std::string>& provider,
                     const std::vector<std::string>& consumer,
                     const std::string& list = "write") {
  return "{\"version\": 1, \"name\": \"" + name + "\", \"services\": {\n"
         "  \"provider\": {\"command\": " + quoted(provider) +
         ", \"slots\": {\"mem\": {\"interface\": \"shared-memory\", \"" + list + "\": " +
         objects + "}}},\n"
         "  \"consumer\": {\"command\": " + quoted(consumer) +
         ", \"plugs\": {\"mem\": {\"interface\": \"shared-memory\"}}}}}\n";
}

bool contains(const std::string& text, const std::string& part) {
  return text.find(part) != std::string::npos;
}

// Unlinks and exclusive creates of an object are answered by the supervisor (SPEC §6's
// mediation); without it they are the kernel's EBUSY/EACCES and EEXIST.
bool has_mediation() {
  if (ipcrt::runtime::mediation_support()) return true;
  UT_PRINT("skipped: no name-level mediation on this kernel");
  return false;
}

bool has_python() {
  if (::access("/usr/bin/python3", X_OK) == 0) return true;
  UT_PRINT("skipped: python3 is not installed");
  return false;
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

// SPEC §2.3: a program that owns its segment unlinks its name and creates it again with
// O_CREAT|O_EXCL. For a declared object both succeed (the supervisor answers them: the unlink
// leaves it, the create truncates it and hands it over), and the other writer, which opened
// the name as usual, shares the very same object: it reads the text and its reply is read.
TEST(ShmPrograms, AWriterUnlinksAndCreatesItsObjectAgainAndTheOtherWriterSharesIt) {
  if (!has_mediation()) return;
  TempDir dir;
  const std::string object = unique_name("seg");
  Objects cleanup{unique_name("sh"), {object}};
  const std::string text = manifest(
      cleanup.manifest, "[\"" + object + "\"]",
      {probe(), "recreate", object, "hello from the provider", "wait-reply"},
      {probe(), "follow", object, "reply from the consumer"});
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS(("provider: recreated " + object + " unlink=ok create=ok size=4096").c_str(),
                  result.out.c_str());
  STRCMP_CONTAINS(("consumer: follow " + object + " hello from the provider").c_str(),
                  result.out.c_str());
  STRCMP_CONTAINS(("provider: reply " + object + " reply from the consumer").c_str(),
                  result.out.c_str());
  STRCMP_CONTAINS(("provider: unlinked " + object + " result=ok").c_str(), result.out.c_str());
}

// A reader on a `read` grant opens the object O_RDONLY, whatever its writer unlinks and
// creates again: the object stays, so the reader finds the text also after the writer's last
// unlink and exit.
TEST(ShmPrograms, AReaderKeepsOpeningTheObjectItsWriterUnlinkedAndCreatedAgain) {
  if (!has_mediation()) return;
  TempDir dir;
  const std::string object = unique_name("cfg");
  Objects cleanup{unique_name("sh"), {object}};
  const std::string text =
      manifest(cleanup.manifest, "[\"" + object + "\"]",
               {probe(), "recreate", object, "settings v2"}, {probe(), "follow", object}, "read");
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS(("provider: recreated " + object + " unlink=ok create=ok size=4096").c_str(),
                  result.out.c_str());
  STRCMP_CONTAINS(("consumer: follow " + object + " settings v2").c_str(), result.out.c_str());
}

// What the supervisor does not answer stays the kernel's: a reader may neither unlink its
// object (root's mount point in a sticky /dev/shm: EACCES; EBUSY for a root service) nor
// create it (EEXIST); a writer's unlink and exclusive
// create of a name it was not granted make a private object in its own /dev/shm, as any
// program's would; and its ordinary file calls elsewhere (mkstemp and unlink in /tmp) work.
TEST(ShmPrograms, UnlinksAndExclusiveCreatesOfAnythingElseAreTheKernelsAsBefore) {
  TempDir dir;
  const std::string object = unique_name("ro");
  const std::string mine = unique_name("mine");
  Objects cleanup{unique_name("sh"), {object, mine}};
  const std::string text = manifest(cleanup.manifest, "[\"" + object + "\"]",
                                    {probe(), "unlink", mine}, {probe(), "unlink", object}, "read");
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS(("consumer: unlink " + object + " unlink=EACCES create=EEXIST").c_str(),
                  result.out.c_str());
  STRCMP_CONTAINS(("provider: unlink " + mine + " unlink=ENOENT create=ok").c_str(),
                  result.out.c_str());
  CHECK_FALSE_TEXT(contains(result.err, "msg=denied"), result.err.c_str());
}

// Python's multiprocessing.shared_memory as its documentation shows it, unmodified: the
// provider creates the segment (SharedMemory(name, create=True, size=...)), the consumer, a
// second writer, attaches by name (retrying until it exists, as a program started beside its
// peer does); the provider reads the reply, unlink()s, creates it again and unlink()s again.
TEST(ShmPrograms, PythonSharedMemoryCreateAndUnlinkInOneWriterAttachInAnother) {
  if (!has_python() || !has_mediation()) return;
  TempDir dir;
  dir.share_with_services();
  const std::string object = unique_name("pyseg");
  Objects cleanup{unique_name("sh"), {object}};
  const std::string creator = dir.write_file(
      "creator.py",
      "import sys, time\n"
      "from multiprocessing import shared_memory\n"
      "shm = shared_memory.SharedMemory(sys.argv[1], create=True, size=4096)\n"
      "shm.buf[:5] = b'hello'\n"
      "for _ in range(1000):\n"
      "    if bytes(shm.buf[100:105]) == b'reply': break\n"
      "    time.sleep(0.01)\n"
      "print('creator: size', shm.size, 'got', bytes(shm.buf[100:105]).decode(), flush=True)\n"
      "shm.close()\n"
      "shm.unlink()\n"
      "again = shared_memory.SharedMemory(sys.argv[1], create=True, size=8192)\n"
      "print('creator: again size', again.size, 'first byte', again.buf[0], flush=True)\n"
      "again.close()\n"
      "again.unlink()\n"
      "print('creator: unlinked', flush=True)\n");
  const std::string attacher = dir.write_file(
      "attacher.py",
      "import sys, time\n"
      "from multiprocessing import shared_memory\n"
      "for _ in range(1000):\n"
      "    try:\n"
      "        shm = shared_memory.SharedMemory(sys.argv[1])\n"
      "        if bytes(shm.buf[:5]) == b'hello': break\n"
      "        shm.close()\n"
      "    except ValueError:\n"  // still empty: mmap of an empty file
      "        pass\n"
      "    time.sleep(0.01)\n"
      "print('attacher: read', bytes(shm.buf[:5]).decode(), flush=True)\n"
      "shm.buf[100:105] = b'reply'\n"
      "shm.close()\n");
  const std::string text =
      manifest(cleanup.manifest, "[\"" + object + "\"]", {"/usr/bin/python3", creator, object},
               {"/usr/bin/python3", attacher, object});
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_EQUAL("", cleanup.left().c_str());
  STRCMP_CONTAINS("attacher: read hello", result.out.c_str());
  STRCMP_CONTAINS("creator: size 4096 got reply", result.out.c_str());
  // Created again: a fresh, empty object of the new size, the same name.
  STRCMP_CONTAINS("creator: again size 8192 first byte 0", result.out.c_str());
  STRCMP_CONTAINS("creator: unlinked", result.out.c_str());
  CHECK_FALSE_TEXT(contains(result.err, "msg=denied"), result.err.c_str());
}

// The same calls by relative paths: the working directory or a directory descriptor is the
// service's /dev/shm (compared by device and inode, as the kernel would resolve it), or a
// "./dev/shm/NAME" from "/".
TEST(ShmPrograms, RelativePathsToAnObjectAreAnsweredToo) {
  if (!has_mediation()) return;
  TempDir dir;
  const std::string object = unique_name("rel");
  Objects cleanup{unique_name("sh"), {object}};
  const std::string text = manifest(cleanup.manifest, "[\"" + object + "\"]",
                                    {probe(), "relative", object}, {"/bin/true"});
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("provider: relative " + object +
                   " unlink=ok open=ok unlinkat=ok openat=ok dotted=ok")
                      .c_str(),
                  result.out.c_str());
}

// A service that runs as root sees every host mount read-only, the runtime's store among
// them; the objects it may write are still writable (their binds are not read-only), and
// the other side reads what it wrote.
TEST(ShmPrograms, ARootServiceWritesTheObjectsItMayWrite) {
  TempDir dir;
  const std::string object = unique_name("rootobj");
  Objects cleanup{unique_name("sh"), {object}};
  std::string text =
      manifest(cleanup.manifest, "[{\"name\": \"" + object + "\", \"size\": 4096}]",
               {probe(), "write", object, "written as root"}, {probe(), "read", object});
  const std::string provider = "\"provider\": {";
  text.replace(text.find(provider), provider.size(), provider + "\"user\": \"root\", ");
  auto result = ipcrt::test::run_ipcrt({"run", dir.write_file("m.json", text)});
  LONGS_EQUAL_TEXT(0, result.exit_code, result.err.c_str());
  STRCMP_CONTAINS(("provider: wrote " + object + " size=4096").c_str(), result.out.c_str());
  STRCMP_CONTAINS(("consumer: read " + object + " written as root").c_str(), result.out.c_str());
}

// A hostile writer of one object uses the calls the supervisor answers against an object it
// was not granted, the vault's: by name, relative to /dev/shm, through "./dev/shm". None of
// them is answered for it (not its object): the unlink finds nothing in its /dev/shm and the
// exclusive create makes a private file there. The vault's object (its contents there before
// the run: a store a killed runtime left, adopted) is untouched, as the host sees it in the
// store while the run goes on.
TEST(ShmPrograms, AWriterOfOneObjectNeverReachesAnotherThroughUnlinkOrExclusiveCreate) {
  if (!has_mediation()) return;
  TempDir dir;
  const std::string mine = unique_name("mine");
  const std::string secret = unique_name("vault");
  Objects cleanup{unique_name("sh"), {mine, secret}};
  ipcrt::test::LeftoverShmStore store(cleanup.manifest);
  CHECK_FALSE(store.path.empty());
  {
    const int fd = ::open(store.object(secret).c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    CHECK_EQUAL(10, ::write(fd, "vault data", 10));
    ::close(fd);
  }
  const std::string text =
      "{\"version\": 1, \"name\": \"" + cleanup.manifest + "\", \"services\": {\n"
      "  \"vault\": {\"command\": " + quoted({IPCRT_SANDBOX_PROBE, "wait"}) +
      ", \"slots\": {\"secret\": {\"interface\": \"shared-memory\", \"read\": [{\"name\": \"" +
      secret + "\", \"size\": 4096}]}}},\n"
      "  \"attacker\": {\"command\": " + quoted({probe(), "recreate", secret, "evil"}) +
      ", \"slots\": {\"own\": {\"interface\": \"shared-memory\", \"write\": [\"" + mine +
      "\"]}}},\n"
      "  \"sneak\": {\"command\": " + quoted({probe(), "relative", secret}) +
      ", \"slots\": {\"own\": {\"interface\": \"shared-memory\", \"write\": [\"" + mine +
      "-2\"]}}}}}\n";
  ipcrt::test::Background run(dir, dir.write_file("m.json", text));
  CHECK_TEXT(run.wait_for("msg=exited service=attacker"), run.err().c_str());
  CHECK_TEXT(run.wait_for("msg=exited service=sneak"), run.err().c_str());
  std::string contents(32, '\0');
  const int fd = ::open(store.object(secret).c_str(), O_RDONLY | O_CLOEXEC);
  const ssize_t n = ::read(fd, contents.data(), contents.size());
  struct stat info {};
  ::fstat(fd, &info);
  ::close(fd);
  contents.resize(n > 0 ? ::strnlen(contents.data(), static_cast<std::size_t>(n)) : 0);
  run.signal(SIGTERM);
  LONGS_EQUAL_TEXT(0, run.wait(), run.err().c_str());
  // Its own /dev/shm has no such name: the unlink fails as the kernel's, the create is private.
  STRCMP_CONTAINS(("attacker: recreated " + secret + " unlink=ENOENT create=ok size=4096").c_str(),
                  run.out().c_str());
  STRCMP_CONTAINS(("sneak: relative " + secret + " unlink=ENOENT open=ok").c_str(),
                  run.out().c_str());
  STRCMP_EQUAL("vault data", contents.c_str());
  LONGS_EQUAL(4096, info.st_size);
}
