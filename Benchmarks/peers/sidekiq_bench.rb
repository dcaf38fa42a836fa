# Sidekiq's side of Benchmarks/bench-cost.sh: the same workload as `phoenix bench` on the same Redis server
# (REDIS_URL, a database of its own). Enqueues JOBS no-op jobs with push_bulk (batches of 1,000) into a staging
# list (timed alone: no other process of the run is busy then), then starts WORKERS `sidekiq -c CONCURRENCY`
# processes on an empty queue and, once they are all up, renames the list onto the queue they wait on, so that
# processing is timed from the moment every job is there and every worker is ready,
# as `phoenix bench` times it from resuming a paused queue. Each job increments one counter; the run ends when it
# reaches JOBS. Prints one line of JSON: version, enqueue and processing rates (jobs/s), the workers' peak RSS.
# Usage: ruby sidekiq_bench.rb JOBS WORKERS CONCURRENCY   (also loaded by each worker: `sidekiq -r` this file)
require "json"
require "sidekiq"
require "sidekiq/api"

Sidekiq.logger.level = Logger::WARN
# Sidekiq 6.4 calls redis-rb 4.8's SADD in the form it warns about on every push.
Redis.silence_deprecations = true

# The job: one INCR, as phoenix bench's no-op job completes one counter.
class NoopJob
  include Sidekiq::Worker

  def perform
    Sidekiq.redis { |redis| redis.incr("bench:done") }
  end
end

def monotonic
  Process.clock_gettime(Process::CLOCK_MONOTONIC)
end

def peak_rss_mb(pid)
  line = File.readlines("/proc/#{pid}/status").find { |l| l.start_with?("VmHWM:") }
  line ? line.split[1].to_f / 1024 : 0.0
end

if $PROGRAM_NAME == __FILE__
  jobs, workers, concurrency = ARGV.map(&:to_i)
  Sidekiq.redis(&:flushdb)

  started = monotonic
  (jobs / 1000.0).ceil.times do |batch|
    count = [1000, jobs - batch * 1000].min
    Sidekiq::Client.push_bulk("class" => NoopJob, "args" => Array.new(count) { [] }, "queue" => "staging")
  end
  enqueue_rate = jobs / (monotonic - started)

  pids = []
  at_exit { pids.each { |pid| Process.kill("KILL", pid) rescue nil } }
  pids = Array.new(workers) do
    spawn("sidekiq", "-r", File.expand_path(__FILE__), "-c", concurrency.to_s, "-q", "default", out: File::NULL, err: File::NULL)
  end
  deadline = monotonic + 60
  sleep 0.05 until Sidekiq::ProcessSet.new.size == workers || monotonic > deadline
  abort "the sidekiq processes did not start within 60 s" if Sidekiq::ProcessSet.new.size != workers
  started = monotonic
  Sidekiq.redis { |redis| redis.rename("queue:staging", "queue:default") }
  sleep 0.005 until Sidekiq.redis { |redis| redis.get("bench:done").to_i } >= jobs || monotonic > started + 3600
  processing_rate = jobs / (monotonic - started)
  rss = pids.map { |pid| peak_rss_mb(pid) }
  pids.each { |pid| Process.kill("KILL", pid) }
  pids.each { |pid| Process.wait(pid) }
  pids = []
  puts JSON.generate(peer: "sidekiq", version: Sidekiq::VERSION, enqueue_rate: enqueue_rate.round,
                     processing_rate: processing_rate.round, peak_rss_mb: rss.max.round(1))
end
