# test_threads.rb -- threads share the process's outbox; each thread's order holds; dead threads' sockets are reclaimed.
require_relative "test_helper"

class TestThreads < HeraldTestCase
  THREADS = 6
  PER_THREAD = 40

  def test_many_threads_notify_concurrently
    configure_for_stack
    user = fresh_user("busy")
    client = ws_for(user)
    base = Herald.socket_count # the main thread's REQ socket from ws_for
    ready = Queue.new
    go = Queue.new
    threads = Array.new(THREADS) do |t|
      Thread.new do
        Herald.notify(user, "t", { "t" => t, "i" => -1 })
        ready << true
        go.pop
        PER_THREAD.times { |i| Herald.notify(user, "t", { "t" => t, "i" => i }) }
      end
    end
    THREADS.times { ready.pop }
    assert_equal base + 1, Herald.socket_count,
                 "every thread's events go through the process's one PUSH socket (the sender thread's)"
    THREADS.times { go << true }
    threads.each(&:join)

    got = client.events(THREADS * (PER_THREAD + 1)).map { |e| e["data"] }
    THREADS.times do |t|
      seq = got.select { |d| d["t"] == t }.map { |d| d["i"] }
      assert_equal (-1...PER_THREAD).to_a, seq, "thread #{t}'s events all arrive, in its own order"
    end
    total = THREADS * (PER_THREAD + 1)
    assert_equal total, Herald.stats[:queued], "queued counts events from every thread"
    wait_until("sent to reach #{total}") { Herald.stats[:sent] == total }

    Thread.new { Herald.online?(user) }.join
    assert_equal base + 2, Herald.socket_count, "a thread that asked presence held its own REQ socket"
    Thread.new { Herald.online?(user) }.join
    assert_equal base + 2, Herald.socket_count,
                 "the finished thread's REQ socket was closed when the next thread opened one"
  end
end
