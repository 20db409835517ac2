# test_flush.rb -- Herald.flush: queued events go out before exit!, stats tell queued from sent.
require_relative "test_helper"

class TestFlush < HeraldTestCase
  def test_resque_style_child_flushes_before_exit_bang
    configure_for_stack
    user = fresh_user("job")
    client = ws_for(user)
    reader, writer = IO.pipe
    pid = fork do
      reader.close
      20.times { |i| Herald.notify(user, "job", i) }
      flushed = Herald.flush(timeout: 5)
      writer.puts JSON.generate("flushed" => flushed, "stats" => Herald.stats)
      writer.close
      exit!(0) # what a Resque child does: no at_exit handlers run
    end
    writer.close
    Process.wait(pid)
    report = JSON.parse(reader.read)
    assert_equal true, report["flushed"], "flush reports every event went out within its timeout"
    assert_equal({ "queued" => 20, "sent" => 20, "dropped" => 0, "confirmed" => 0, "pending" => 0 }, report["stats"],
                 "after flush, the child's 20 events are counted sent and none is pending")
    assert_equal (0...20).to_a, client.events(20).map { |e| e["data"] },
                 "all 20 events of a child that ended with exit! reached the browser, in order"
  end

  def test_notify_after_flush_opens_a_new_socket
    configure_for_stack
    user = fresh_user("again")
    client = ws_for(user)
    Herald.notify(user, "n", 1)
    assert Herald.flush(timeout: 5), "the first flush succeeds"
    Herald.notify(user, "n", 2)
    assert Herald.flush(timeout: 5), "a flush after more events succeeds too"
    assert_equal [1, 2], client.events(2).map { |e| e["data"] }, "events before and after a flush both arrive"
    assert_equal 2, Herald.stats[:sent], "both are counted sent"
  end

  def test_flush_with_no_broker_times_out_and_says_so
    Herald.configure do |c|
      c.ingest = "tcp://127.0.0.1:#{free_port}" # nothing listens there
      c.linger_ms = 0
    end
    3.times { Herald.notify("nobody", "x") }
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_equal false, Herald.flush(timeout: 0.3), "flush answers false when events could not go out"
    took = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    assert_operator took, :>=, 0.29, "flush waited for its timeout"
    assert_operator took, :<, 3, "and not much longer"
    assert_equal({ queued: 3, sent: 0, dropped: 0, confirmed: 0, pending: 3 }, Herald.stats,
                 "the three events are queued and pending, none sent")
    Herald.reset!
    assert_equal 0, Herald.stats[:pending], "reset! gives up on them"
  end

  def test_flush_with_nothing_queued
    Herald.configure { |c| c.ingest = "tcp://127.0.0.1:#{free_port}" }
    assert_equal true, Herald.flush(timeout: 0.1), "nothing queued: nothing to wait for"
    assert_equal 0, Herald.socket_count, "and no socket was opened for it"
    assert_raises(ArgumentError, "a timeout must be positive") { Herald.flush(timeout: 0) }
  end
end
