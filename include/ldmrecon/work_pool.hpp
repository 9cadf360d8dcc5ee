// A few worker threads for the work around the models (reading ahead, measuring and writing behind), with a
// bounded queue: a producer that outruns them waits, so memory holds a few clips, never the corpus.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace ldmrecon {

class WorkPool {
public:
    // `threads` 0: every task runs at once in the caller's thread (a sequential run, the same results).
    WorkPool(int threads, std::size_t max_queued);
    ~WorkPool();  // finishes what was submitted
    WorkPool(const WorkPool&) = delete;
    WorkPool& operator=(const WorkPool&) = delete;

    // Queues `task`, first waiting while `max_queued` tasks wait for a thread. A task must not throw.
    void submit(std::function<void()> task);
    // Returns once every submitted task has finished.
    void wait();
    int threads() const { return static_cast<int>(workers_.size()); }

private:
    void work();
    std::size_t max_queued_;
    std::deque<std::function<void()>> queue_;
    std::size_t running_ = 0;
    bool stopping_ = false;
    std::mutex mutex_;
    std::condition_variable has_work_, has_room_, idle_;
    std::vector<std::thread> workers_;
};

}  // namespace ldmrecon
