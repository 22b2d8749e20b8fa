#include "metrics/process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace sluice::metrics {

namespace {

// /proc/self/stat's fields after the command (which may hold spaces, so it is skipped by its
// closing parenthesis). Field 3 (state) is index 0 here.
std::vector<std::string> StatFields() {
  std::ifstream in("/proc/self/stat");
  std::string line;
  std::getline(in, line);
  std::vector<std::string> fields;
  size_t close = line.rfind(')');
  if (close == std::string::npos) return fields;
  std::istringstream rest(line.substr(close + 1));
  for (std::string f; rest >> f;) fields.push_back(f);
  return fields;
}

double StatField(size_t field_number) {  // as numbered in proc(5)
  std::vector<std::string> fields = StatFields();
  size_t i = field_number - 3;
  return i < fields.size() ? std::stod(fields[i]) : 0;
}

double StartTimeSeconds() {
  // Boot time plus the process's start in clock ticks after boot.
  std::ifstream in("/proc/stat");
  double boot = 0;
  for (std::string key; in >> key;) {
    if (key == "btime") {
      in >> boot;
      break;
    }
  }
  return boot + StatField(22) / static_cast<double>(sysconf(_SC_CLK_TCK));
}

double OpenFds() {
  DIR* dir = opendir("/proc/self/fd");
  if (dir == nullptr) return 0;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    if (e->d_name[0] != '.') ++n;
  }
  closedir(dir);
  return n - 1;  // the directory stream's own descriptor
}

}  // namespace

void RegisterProcessMetrics(Registry& r) {
  const double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  const double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  r.NewCallbackCounter("process_cpu_seconds_total",
                       "Total user and system CPU time spent in seconds.",
                       [ticks] { return (StatField(14) + StatField(15)) / ticks; });
  r.NewCallbackGauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                     [page] { return StatField(24) * page; });
  r.NewCallbackGauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
                     [] { return StatField(23); });
  const double start = StartTimeSeconds();
  r.NewCallbackGauge("process_start_time_seconds",
                     "Start time of the process since unix epoch in seconds.",
                     [start] { return start; });
  r.NewCallbackGauge("process_open_fds", "Number of open file descriptors.", OpenFds);
  r.NewCallbackGauge("process_max_fds", "Maximum number of open file descriptors.", [] {
    rlimit limit{};
    return getrlimit(RLIMIT_NOFILE, &limit) == 0 ? static_cast<double>(limit.rlim_cur) : 0;
  });
}

}  // namespace sluice::metrics
