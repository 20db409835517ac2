# test_threads.rb -- each thread gets its own socket; dead threads' sockets are reclaimed.
require_relative "test_helper"

class TestThreads < HeraldTestCase
  THREADS = 6
  PER_THREAD = 40

  def test_many_threads_notify_concurrently
    configure_for_stack
    user = fresh_user("busy")
    client = ws_for(user)
    Herald.socket_count # the main thread already holds a REQ socket from ws_for
    base = Herald.socket_count
    ready = Queue.new
    go = Queue.new
    threads = Array.new(THREADS) do |t|
      Thread.new do
        Herald.notify(user, "t", { "t" => t, "i" => -1 }) # opens this thread's socket
        ready << true
        go.pop
        PER_THREAD.times { |i| Herald.notify(user, "t", { "t" => t, "i" => i }) }
      end
    end
    THREADS.times { ready.pop }
    assert_equal base + THREADS, Herald.socket_count,
                 "every live thread holds its own PUSH socket (none shared)"
    THREADS.times { go << true }
    threads.each(&:join)

    got = client.events(THREADS * (PER_THREAD + 1)).map { |e| e["data"] }
    THREADS.times do |t|
      seq = got.select { |d| d["t"] == t }.map { |d| d["i"] }
      assert_equal (-1...PER_THREAD).to_a, seq, "thread #{t}'s events all arrive, in its own order"
    end
    assert_equal THREADS * (PER_THREAD + 1), Herald.stats[:sent], "sent counts events from every thread"

    Thread.new { Herald.notify(user, "t", { "t" => 99, "i" => 0 }) }.join
    assert_equal base + 1, Herald.socket_count,
                 "sockets of finished threads are closed when a new thread opens one"
  end
end
