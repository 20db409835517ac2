# test_fork.rb -- a forked child (a Puma/Unicorn worker) gets its own context and sockets.
require_relative "test_helper"

class TestFork < HeraldTestCase
  def test_child_after_fork_notifies
    configure_for_stack
    user = fresh_user("forky")
    client = ws_for(user)
    Herald.notify(user, "from", "parent-before") # the parent's sockets exist before the fork
    assert_equal "parent-before", client.events(1).first["data"], "the parent's event arrives"

    reader, writer = IO.pipe
    pid = fork do
      reader.close
      ok = Herald.notify(user, "from", "child")
      online = Herald.online?(user)
      flushed = Herald.flush(timeout: 5)
      stats = Herald.stats
      writer.puts JSON.generate("ok" => ok, "online" => online, "flushed" => flushed,
                                "queued" => stats[:queued], "sent" => stats[:sent])
      writer.close
      exit!(0) # no at_exit: only the flush gets the event out
    end
    writer.close
    Process.wait(pid)
    report = JSON.parse(reader.read)
    assert_equal({ "ok" => true, "online" => true, "flushed" => true, "queued" => 1, "sent" => 1 }, report,
                 "in the child notify queues, presence answers, flush reports it sent, and its stats start from zero")
    assert_equal 0, $?.exitstatus, "the child exited cleanly"
    assert_equal "child", client.events(1).first["data"], "the child's event reached the websocket despite exit!"

    Herald.notify(user, "from", "parent-after")
    assert_equal "parent-after", client.events(1).first["data"], "the parent's sockets still work after the fork"
  end
end
