// One process-wide pool of worker threads shared by every CPU kernel, so that
// the driver, the pipeline and the index never oversubscribe the cores.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ripvec {

class ThreadPool {
 public:
  // threads == 0 means std::thread::hardware_concurrency() (or $RIPVEC_THREADS). At most
  // kMaxThreads: `-j 100000` started threads until the user's process limit was spent (every
  // fork on the machine failed) and never finished.
  static constexpr unsigned kMaxThreads = 1024;
  explicit ThreadPool(unsigned threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  static ThreadPool& global();

  unsigned size() const { return static_cast<unsigned>(workers_.size()) + 1; }

  // Calls fn(lo, hi) over disjoint sub-ranges covering [begin, end), each at least
  // `grain` long (except the last), on the workers and the calling thread; returns when
  // all are done. Nested calls from inside a worker run serially on that worker.
  // The first exception thrown by fn is rethrown here.
  void parallel_for(int64_t begin, int64_t end, int64_t grain,
                    const std::function<void(int64_t, int64_t)>& fn);

 private:
  void worker_loop(unsigned index);

  std::vector<std::thread> workers_;
  std::mutex mu_;
  std::condition_variable cv_work_;
  std::condition_variable cv_done_;
  std::mutex call_mu_;  // one parallel_for at a time owns the workers
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t job_end_ = 0, job_grain_ = 1;
  int64_t next_ = 0;
  unsigned active_ = 0;
  uint64_t generation_ = 0;
  bool stop_ = false;
  std::exception_ptr error_;
};

// Convenience wrapper over ThreadPool::global().
inline void parallel_for(int64_t begin, int64_t end, int64_t grain,
                         const std::function<void(int64_t, int64_t)>& fn) {
  ThreadPool::global().parallel_for(begin, end, grain, fn);
}

}  // namespace ripvec
