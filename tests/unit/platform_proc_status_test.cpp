// /proc/<pid>/status fields: the parser on fixed texts, then on this process's real status.
#include <CppUTest/TestHarness.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "platform/proc_status.hpp"

namespace {

using ipcrt::platform::proc_status_field;
using ipcrt::platform::proc_status_number;

const char* const kStatus =
    "Name:\tUmask:\\n0777\n"
    "Umask:\t0027\n"
    "State:\tS (sleeping)\n"
    "VmRSS:\t    1234 kB\n"
    "CapPrm:\t0000000001000000\n"
    "CapEff:\t000001fffeffffff\n"
    "NoValue:\n"
    "Cpus_allowed_list:\t0-1";

}  // namespace

TEST_GROUP(ProcStatus){};

TEST(ProcStatus, FieldIsTheTrimmedValueOfItsOwnLine) {
  STRCMP_EQUAL("0027", std::string(proc_status_field(kStatus, "Umask").value()).c_str());
  STRCMP_EQUAL("S (sleeping)", std::string(proc_status_field(kStatus, "State").value()).c_str());
  STRCMP_EQUAL("1234 kB", std::string(proc_status_field(kStatus, "VmRSS").value()).c_str());
  STRCMP_EQUAL("0-1",
               std::string(proc_status_field(kStatus, "Cpus_allowed_list").value()).c_str());
  STRCMP_EQUAL("", std::string(proc_status_field(kStatus, "NoValue").value()).c_str());
}

TEST(ProcStatus, NamesMatchWholeFieldNamesAtTheStartOfALine) {
  CHECK_FALSE(proc_status_field(kStatus, "Cap").has_value());
  CHECK_FALSE(proc_status_field(kStatus, "VmRSS:").has_value());
  CHECK_FALSE(proc_status_field(kStatus, "Threads").has_value());
  CHECK_FALSE(proc_status_field("", "Umask").has_value());
  // A process named "Umask:\n0777" (escaped by the kernel, as here) forges no Umask line.
  STRCMP_EQUAL("0027", std::string(proc_status_field(kStatus, "Umask").value()).c_str());
}

TEST(ProcStatus, NumbersAreReadInTheFieldsBase) {
  UNSIGNED_LONGLONGS_EQUAL(027, proc_status_number(kStatus, "Umask", 8).value());
  UNSIGNED_LONGLONGS_EQUAL(0x000001fffeffffffULL, proc_status_number(kStatus, "CapEff", 16).value());
  UNSIGNED_LONGLONGS_EQUAL(1234, proc_status_number(kStatus, "VmRSS", 10).value());
  CHECK_FALSE(proc_status_number(kStatus, "State", 10).has_value());
  CHECK_FALSE(proc_status_number(kStatus, "NoValue", 10).has_value());
  CHECK_FALSE(proc_status_number(kStatus, "Missing", 10).has_value());
}

TEST(ProcStatus, ReadsThisProcessesStatusFromTheKernel) {
  const mode_t previous = ::umask(0037);
  auto own = ipcrt::platform::read_own_proc_status();
  auto by_pid = ipcrt::platform::read_proc_status(::getpid());
  ::umask(previous);
  CHECK_TRUE_TEXT(own.has_value(), own ? "" : own.error().describe().c_str());
  CHECK_TRUE_TEXT(by_pid.has_value(), by_pid ? "" : by_pid.error().describe().c_str());
  UNSIGNED_LONGLONGS_EQUAL(0037, proc_status_number(*own, "Umask", 8).value_or(0));
  UNSIGNED_LONGLONGS_EQUAL(0037, proc_status_number(*by_pid, "Umask", 8).value_or(0));
  UNSIGNED_LONGLONGS_EQUAL(static_cast<unsigned long long>(::getpid()),
                           proc_status_number(*own, "Pid", 10).value_or(0));
  CHECK_TRUE(proc_status_number(*own, "VmRSS", 10).value_or(0) > 0);
}

TEST(ProcStatus, AProcessThatIsGoneIsAnError) {
  CHECK_FALSE(ipcrt::platform::read_proc_status(-1).has_value());
}
