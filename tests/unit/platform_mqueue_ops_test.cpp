// Queue operations on the real kernel: create/adopt, mode and owner, unlink, listing, and the
// RLIMIT_MSGQUEUE charge formula checked against the kernel's own accounting.
#include <CppUTest/TestHarness.h>
#include <mqueue.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "common/text.hpp"
#include "platform/mqueue.hpp"
#include "tests/support/process.hpp"

namespace mq = ipcrt::platform;

namespace {

// Unlinks the queue when the test ends, passed or failed.
struct QueueName {
  std::string path = ipcrt::cat('/', ipcrt::test::unique_name("ipcrt-mq"));
  ~QueueName() { ::mq_unlink(path.c_str()); }
};

bool listed(const std::string& path) {
  auto names = mq::list_queues();
  CHECK_TRUE_TEXT(names.has_value(), names ? "" : names.error().describe().c_str());
  return std::find(names->begin(), names->end(), path) != names->end();
}

// In a child: limit RLIMIT_MSGQUEUE to `limit`, become an unprivileged uid nobody else uses,
// create the queue. Returns 0 on success, else the errno of mq_open.
int create_as_unprivileged(const std::string& path, long max_messages, long message_size,
                           std::uint64_t limit) {
  pid_t child = ::fork();
  if (child == 0) {
    const uid_t unused_id = 3000000 + static_cast<uid_t>(::getpid() % 100000);
    rlimit rl{static_cast<rlim_t>(limit), static_cast<rlim_t>(limit)};
    if (::setrlimit(RLIMIT_MSGQUEUE, &rl) != 0) ::_exit(200);
    if (::setresgid(unused_id, unused_id, unused_id) != 0) ::_exit(201);
    if (::setresuid(unused_id, unused_id, unused_id) != 0) ::_exit(202);
    mq_attr attr{};
    attr.mq_maxmsg = max_messages;
    attr.mq_msgsize = message_size;
    mqd_t queue = ::mq_open(path.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600, &attr);
    if (queue < 0) ::_exit(errno);
    ::mq_close(queue);
    ::mq_unlink(path.c_str());
    ::_exit(0);
  }
  int status = 0;
  ::waitpid(child, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 255;
}

}  // namespace

TEST_GROUP(PlatformMqueueOps){};

TEST(PlatformMqueueOps, CreatesWithExactAttributesAndModeDespiteUmask) {
  QueueName queue;
  mode_t old_umask = ::umask(077);
  auto opened = mq::create_or_open_queue(queue.path, 5, 128, 0664);
  ::umask(old_umask);
  CHECK_TRUE_TEXT(opened.has_value(), opened ? "" : opened.error().describe().c_str());
  CHECK_TRUE(opened->created);
  auto attributes = mq::queue_attributes(opened->fd.get());
  CHECK_TRUE(attributes.has_value());
  LONGS_EQUAL(5, attributes->max_messages);
  LONGS_EQUAL(128, attributes->message_size);
  LONGS_EQUAL(0, attributes->current_messages);
  LONGS_EQUAL(0664, attributes->mode);
}

TEST(PlatformMqueueOps, ExistingQueueIsOpenedWithItsMessages) {
  QueueName queue;
  auto first = mq::create_or_open_queue(queue.path, 4, 64, 0600);
  CHECK_TRUE(first.has_value());
  CHECK_EQUAL(0, ::mq_send(first->fd.get(), "kept", 4, 0));
  auto second = mq::create_or_open_queue(queue.path, 8, 32, 0600);
  CHECK_TRUE(second.has_value());
  CHECK_FALSE(second->created);
  auto attributes = mq::queue_attributes(queue.path);
  CHECK_TRUE(attributes.has_value());
  LONGS_EQUAL(4, attributes->max_messages);  // the existing attributes, for the caller to compare
  LONGS_EQUAL(64, attributes->message_size);
  LONGS_EQUAL(1, attributes->current_messages);
}

TEST(PlatformMqueueOps, OwnerIsSetOnTheQueue) {
  QueueName queue;
  auto opened = mq::create_or_open_queue(queue.path, 2, 16, 0660);
  CHECK_TRUE(opened.has_value());
  CHECK_TRUE(mq::set_queue_owner(opened->fd.get(), 4321, 8765).has_value());
  auto attributes = mq::queue_attributes(queue.path);
  CHECK_TRUE(attributes.has_value());
  LONGS_EQUAL(4321, attributes->owner_uid);
  LONGS_EQUAL(8765, attributes->owner_gid);
}

TEST(PlatformMqueueOps, ListsAndUnlinks) {
  QueueName queue;
  CHECK_FALSE(listed(queue.path));
  CHECK_TRUE(mq::create_or_open_queue(queue.path, 2, 16, 0600).has_value());
  CHECK_TRUE(listed(queue.path));
  CHECK_TRUE(mq::unlink_queue(queue.path).has_value());
  CHECK_FALSE(listed(queue.path));
  auto again = mq::unlink_queue(queue.path);
  CHECK_FALSE(again.has_value());
  LONGS_EQUAL(ENOENT, again.error().errnum);
  STRCMP_CONTAINS(queue.path.c_str(), again.error().describe().c_str());
}

// Without /dev/mqueue, list_queues() lists through a detached mount and no child; it must see
// what the child's private mount sees: a queue the moment it exists, none once unlinked.
// (Whole listings are not compared: other tests create queues meanwhile.)
TEST(PlatformMqueueOps, DetachedMountListsWhatThePrivateMountLists) {
  if (!mq::list_queues_detached()) TEST_EXIT;  // before Linux 5.2, or refused: the child lists
  QueueName queue;
  auto seen_by_both = [&](bool expected) {
    auto detached = mq::list_queues_detached();
    auto in_child = mq::list_queues_in_child();
    CHECK_TRUE(detached.has_value());
    CHECK_TRUE_TEXT(in_child.has_value(), in_child ? "" : in_child.error().describe().c_str());
    CHECK_EQUAL(expected,
                std::find(detached->begin(), detached->end(), queue.path) != detached->end());
    CHECK_EQUAL(expected,
                std::find(in_child->begin(), in_child->end(), queue.path) != in_child->end());
  };
  seen_by_both(false);
  CHECK_TRUE(mq::create_or_open_queue(queue.path, 2, 16, 0600).has_value());
  seen_by_both(true);
  CHECK_TRUE(mq::unlink_queue(queue.path).has_value());
  seen_by_both(false);
}

TEST(PlatformMqueueOps, AttributesAboveTheHardCeilingNameTheQueueAndTheSysctl) {
  QueueName queue;
  auto opened = mq::create_or_open_queue(queue.path, mq::kHardMsgMax + 1, 16, 0600);
  CHECK_FALSE(opened.has_value());
  LONGS_EQUAL(EINVAL, opened.error().errnum);
  STRCMP_CONTAINS(queue.path.c_str(), opened.error().describe().c_str());
  STRCMP_CONTAINS("fs.mqueue.msg_max", opened.error().describe().c_str());
  CHECK_FALSE(listed(queue.path));
}

TEST(PlatformMqueueOps, ChargeFormulaMatchesTheKernelToTheByte) {
  QueueName queue;
  const long max_messages = 7;
  const long message_size = 1000;
  const std::uint64_t charge = mq::queue_charge_bytes(max_messages, message_size);
  LONGS_EQUAL(0, create_as_unprivileged(queue.path, max_messages, message_size, charge));
  LONGS_EQUAL(EMFILE, create_as_unprivileged(queue.path, max_messages, message_size, charge - 1));
}

TEST(PlatformMqueueOps, ChargeOfKnownSizes) {
  // 64-bit kernel: msg_msg and posix_msg_tree_node are 48 bytes each.
  UNSIGNED_LONGLONGS_EQUAL(10 * 48 + 10 * 48 + 10 * 8192, mq::queue_charge_bytes(10, 8192, 8));
  // 32-bit kernel: 24 bytes each.
  UNSIGNED_LONGLONGS_EQUAL(10 * 24 + 10 * 24 + 10 * 8192, mq::queue_charge_bytes(10, 8192, 4));
  // Tree nodes stop at MQ_PRIO_MAX (32768) priorities.
  UNSIGNED_LONGLONGS_EQUAL(65536ULL * 48 + 32768ULL * 48 + 65536ULL * 1,
                           mq::queue_charge_bytes(65536, 1, 8));
}

TEST(PlatformMqueueOps, RlimitIsSetAndRead) {
  rlimit saved{};
  ::getrlimit(RLIMIT_MSGQUEUE, &saved);
  auto set = mq::set_msgqueue_rlimit(123456, saved.rlim_max);
  auto limits = mq::read_mqueue_limits();
  ::setrlimit(RLIMIT_MSGQUEUE, &saved);
  CHECK_TRUE(set.has_value());
  CHECK_TRUE(limits.has_value());
  UNSIGNED_LONGLONGS_EQUAL(123456, limits->rlimit_msgqueue_soft);
}
