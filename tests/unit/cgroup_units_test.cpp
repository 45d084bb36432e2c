// cgroup v2 without a kernel (SPEC §13): /proc/self/cgroup and mountinfo as the kernel writes
// them on a hybrid and a unified layout, the event files, what `resources` becomes in cgroup
// files, and `plan` refusing limits where they cannot be applied, with the fix.
#include <CppUTest/TestHarness.h>

#include "platform/cgroup.hpp"
#include "runtime/cgroups/support.hpp"
#include "runtime/plan.hpp"

using namespace ipcrt;

namespace {

// This VM's layout: v1 controllers on a tmpfs at /sys/fs/cgroup, cgroup2 at .../unified.
constexpr const char* kHybridMountinfo =
    "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n"
    "32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu\n"
    "35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory\n"
    "39 31 0:36 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids\n"
    "40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd\n"
    "41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw\n";

config::Service service_with(config::Resources resources) {
  config::Service service;
  service.name = "hog";
  service.command = {"/bin/true"};
  service.pointer = "/services/hog";
  service.resources = resources;
  return service;
}

}  // namespace

TEST_GROUP(CgroupFiles){};

TEST(CgroupFiles, TheUnifiedLineOfProcSelfCgroup) {
  STRCMP_EQUAL("/",
               platform::parse_unified_cgroup("9:name=systemd:/\n4:memory:/x\n0::/\n")->c_str());
  STRCMP_EQUAL("/system.slice/ipcrt.service",
               platform::parse_unified_cgroup("0::/system.slice/ipcrt.service\n")->c_str());
  CHECK_FALSE(platform::parse_unified_cgroup("4:memory:/\n1:cpu:/\n").has_value());
}

TEST(CgroupFiles, MountsOfAHybridLayout) {
  auto mounts = platform::parse_cgroup_mounts(kHybridMountinfo);
  LONGS_EQUAL(5, mounts.size());
  CHECK_FALSE(mounts[0].v2);
  STRCMP_EQUAL("cpu", mounts[0].controllers.at(0).c_str());
  STRCMP_EQUAL("memory", mounts[1].controllers.at(0).c_str());
  CHECK_TRUE(mounts[3].controllers.empty());  // name=systemd is no controller
  CHECK_TRUE(mounts[4].v2);
  STRCMP_EQUAL("/sys/fs/cgroup/unified", mounts[4].mount_point.c_str());
  STRCMP_EQUAL("/", mounts[4].root.c_str());
}

TEST(CgroupFiles, EventFilesAsNumbers) {
  auto events =
      platform::parse_flat_keyed("low 0\nhigh 12\nmax 3\noom 1\noom_kill 1\noom_group_kill 1\n");
  LONGS_EQUAL(12, events.at("high"));
  LONGS_EQUAL(1, events.at("oom_kill"));
  auto populated = platform::parse_flat_keyed("populated 0\nfrozen 0\n");
  LONGS_EQUAL(0, populated.at("populated"));
  auto words = platform::split_words("cpuset cpu io memory hugetlb pids\n");
  LONGS_EQUAL(6, words.size());
  STRCMP_EQUAL("pids", words.back().c_str());
}

TEST_GROUP(CgroupLimits){};

TEST(CgroupLimits, ResourcesInTheKernelsUnitsAndSpelling) {
  config::Resources resources;
  resources.memory_max = 64 * config::kMiB;
  resources.memory_high = config::kNoLimit;
  resources.pids_max = 32;
  resources.cpu_weight = 50;
  resources.cpu_max = config::CpuMax{50000, 100000};
  auto settings = runtime::cgroup_settings(resources);
  LONGS_EQUAL(5, settings.size());
  STRCMP_EQUAL("memory.max", settings[0].first.c_str());
  STRCMP_EQUAL("67108864", settings[0].second.c_str());
  STRCMP_EQUAL("max", settings[1].second.c_str());
  STRCMP_EQUAL("32", settings[2].second.c_str());
  STRCMP_EQUAL("50", settings[3].second.c_str());
  STRCMP_EQUAL("cpu.max", settings[4].first.c_str());
  STRCMP_EQUAL("50000 100000", settings[4].second.c_str());
  resources.cpu_max = config::CpuMax{};
  STRCMP_EQUAL("max 100000", runtime::cgroup_settings(resources)[4].second.c_str());
  CHECK_TRUE(runtime::cgroup_settings(config::Resources{}).empty());
}

TEST(CgroupLimits, OnlyTheControllersSomeServiceUses) {
  config::Resources pids;
  pids.pids_max = 10;
  config::Resources cpu;
  cpu.cpu_weight = 200;
  auto needed = runtime::controllers_needed({service_with(cpu), service_with(pids)});
  LONGS_EQUAL(2, needed.size());
  STRCMP_EQUAL("pids", needed[0].c_str());
  STRCMP_EQUAL("cpu", needed[1].c_str());
  CHECK_TRUE(runtime::controllers_needed({service_with({})}).empty());
}

TEST(CgroupLimits, AControllerBoundToCgroupV1IsRefusedWithTheBootFix) {
  runtime::CgroupSupport support;
  support.usable = true;
  support.own = "/sys/fs/cgroup/unified";
  support.controllers = {"hugetlb"};
  support.v1_controllers = {"cpu", "memory", "pids"};
  auto refusal = runtime::limit_refusal(support, "memory-max");
  CHECK_TRUE(refusal.has_value());
  STRCMP_CONTAINS("memory-max needs the memory controller", refusal->message.c_str());
  STRCMP_CONTAINS("(cgroup.controllers: hugetlb)", refusal->message.c_str());
  STRCMP_CONTAINS("hybrid layout", refusal->message.c_str());
  STRCMP_CONTAINS("systemd.unified_cgroup_hierarchy=1", refusal->hint.c_str());
  support.controllers = {"memory"};
  CHECK_FALSE(runtime::limit_refusal(support, "memory-high").has_value());
  auto pids = runtime::limit_refusal(support, "pids-max");
  CHECK_TRUE(pids.has_value());
  support.v1_controllers.clear();
  STRCMP_CONTAINS("Delegate=yes", runtime::limit_refusal(support, "cpu-weight")->hint.c_str());
}

// A KernelState built by hand has no cgroups: every limit is an error at its pointer.
TEST(CgroupLimits, PlanRefusesLimitsWithoutCgroupV2AtTheirPointers) {
  config::Manifest manifest;
  manifest.name = "m";
  config::Resources resources;
  resources.memory_max = 64 * config::kMiB;
  resources.cpu_max = config::CpuMax{50000, 100000};
  manifest.services.push_back(service_with(resources));
  runtime::KernelState kernel;
  kernel.limits.queues_max = 256;
  kernel.cgroups.why_not = {"cgroup v2 is not mounted", 0, "mount it"};
  config::Diagnostics diagnostics;
  auto plan = runtime::make_plan(manifest, {}, kernel, diagnostics);
  CHECK_FALSE(plan.has_value());
  const std::string text = diagnostics.format("m.json");
  STRCMP_CONTAINS(
      "/services/hog/resources/memory-max: error: memory-max needs cgroup v2, but "
      "cgroup v2 is not mounted",
      text.c_str());
  STRCMP_CONTAINS("/services/hog/resources/cpu-max", text.c_str());

  kernel.cgroups.usable = true;
  kernel.cgroups.own = "/sys/fs/cgroup";
  kernel.cgroups.controllers = {"cpu", "memory"};
  config::Diagnostics fine;
  auto planned = runtime::make_plan(manifest, {}, kernel, fine);
  CHECK_TRUE_TEXT(planned.has_value(), fine.format("m.json").c_str());
  STRCMP_EQUAL("/sys/fs/cgroup/ipcrt.m/hog", planned->services.front().cgroup.c_str());
  LONGS_EQUAL(2, planned->services.front().cgroup_settings.size());
}
