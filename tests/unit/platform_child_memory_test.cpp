// What a service's child is forked with (runtime/launch.cpp): not the heap above its TLS, and
// of the descriptors only those it names, on the real kernel, in a forked child so that this
// process keeps its own.
#include <CppUTest/TestHarness.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdint>
#include <cstring>
#include <memory>
#include <vector>

#include "platform/descriptors.hpp"
#include "platform/memory.hpp"

namespace {

// Runs `body` in a forked child; its exit status (0: every check held).
template <typename Body>
int in_child(Body body) {
  const pid_t child = ::fork();
  if (child == 0) ::_exit(body());
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

bool is_open(int fd) {
  return ::fcntl(fd, F_GETFD) >= 0;
}

}  // namespace

TEST_GROUP(ChildMemory){};

TEST(ChildMemory, OnlyTheNamedDescriptorsFromThreeUpStayOpen) {
  std::vector<int> fds;
  for (int i = 0; i < 8; ++i) fds.push_back(::open("/dev/null", O_RDONLY | O_CLOEXEC));
  const int result = in_child([&fds] {
    const int keep[] = {fds[5], -1, fds[1], fds[5], 2};  // any order, duplicates, unused slots
    if (ipcrt::platform::close_descriptors_except_these(keep, 5) != 0) return 10;
    for (std::size_t i = 0; i < fds.size(); ++i) {
      if (is_open(fds[i]) != (i == 1 || i == 5)) return 20 + static_cast<int>(i);
    }
    return is_open(0) && is_open(1) && is_open(2) ? 0 : 30;
  });
  for (int fd : fds) ::close(fd);
  LONGS_EQUAL(0, result);
}

TEST(ChildMemory, MoreThanSixtyFourDescriptorsToKeepCloseNothing) {
  const int fd = ::open("/dev/null", O_RDONLY | O_CLOEXEC);
  const int result = in_child([fd] {
    std::vector<int> keep(65, 0);
    if (ipcrt::platform::close_descriptors_except_these(keep.data(), 65) != -E2BIG) return 10;
    return is_open(fd) ? 0 : 11;
  });
  ::close(fd);
  LONGS_EQUAL(0, result);
}

// As begin_launch forks a service's child: the heap above the thread's TLS left out of the
// fork. The child runs without it, faults on it, and every fork after gets it back.
TEST(ChildMemory, TheHeapAboveTheThreadsPagesCanBeLeftOutOfAFork) {
  auto start = ipcrt::platform::heap_start();
  CHECK_TRUE(start.has_value());
  CHECK_TRUE(*start <= ipcrt::platform::heap_end());
  const auto page = static_cast<std::uintptr_t>(::getpagesize());
  const auto thread = reinterpret_cast<std::uintptr_t>(__builtin_thread_pointer());
  if (thread < *start || thread >= ipcrt::platform::heap_end()) {
    UT_PRINT("skipped: the thread's TLS is not on the heap (a dynamic libc)");
    return;
  }
  const std::uintptr_t from = (thread + 64 * 1024 + page - 1) / page * page;
  // A block of the heap above `from` (malloc's chunks below its mmap threshold).
  std::vector<std::unique_ptr<char[]>> blocks;
  char* block = nullptr;
  while (block == nullptr && blocks.size() < 64) {
    blocks.emplace_back(new char[16384]);
    std::memset(blocks.back().get(), 7, 16384);
    if (reinterpret_cast<std::uintptr_t>(blocks.back().get()) >= from) block = blocks.back().get();
  }
  CHECK_TRUE(block != nullptr);
  {
    const ipcrt::platform::HeapOutOfForks left_out(from);
    CHECK_TRUE(left_out.left_out());
    LONGS_EQUAL(0, in_child([] { return 0; }));  // it runs without
    LONGS_EQUAL(128 + SIGSEGV,
                in_child([block] { return block[0] == 7 ? 0 : 1; }));  // and lacks it
  }
  LONGS_EQUAL(0, in_child([block] { return block[0] == 7 ? 0 : 1; }));
  const ipcrt::platform::HeapOutOfForks none(0);
  CHECK_FALSE(none.left_out());
}

TEST(ChildMemory, APrivateMappingIsWritableAndItsOwn) {
  auto mapping = ipcrt::platform::PrivateMapping::create(3 * 4096);
  CHECK_TRUE(mapping.has_value());
  std::memset(mapping->data(), 7, mapping->size());
  const int result = in_child([data = mapping->data()] {
    if (data[3 * 4096 - 1] != 7) return 10;  // the child's copy
    data[0] = 9;
    return 0;
  });
  LONGS_EQUAL(0, result);
  LONGS_EQUAL(7, mapping->data()[0]);  // the child wrote its own copy
  ipcrt::platform::PrivateMapping moved = std::move(*mapping);
  CHECK_TRUE(mapping->data() == nullptr && moved.size() == 3 * 4096);
}
