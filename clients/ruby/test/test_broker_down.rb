# test_broker_down.rb -- with no broker, notify never blocks; a full queue raises or counts a drop.
require_relative "test_helper"

class TestBrokerDown < HeraldTestCase
  HWM = 50

  def down_endpoint
    "tcp://127.0.0.1:#{free_port}" # nothing listens there
  end

  # Sends until notify stops queuing; returns [queued count, what stopped it].
  def fill(limit)
    queued = 0
    limit.times do
      r = Herald.notify("nobody", "x", "y" * 100)
      return [queued, r] unless r

      queued += 1
    end
    [queued, :never_full]
  rescue Herald::QueueFull => e
    [queued, e]
  end

  def test_full_queue_raises_queue_full
    Herald.configure do |c|
      c.ingest = down_endpoint
      c.send_hwm = HWM
      c.linger_ms = 0
    end
    queued, stop = fill(HWM * 20)
    assert_kind_of Herald::QueueFull, stop, "once the queue is full, notify raises Herald::QueueFull"
    assert_operator queued, :>=, HWM, "at least send_hwm events were queued without blocking first"
    assert_raises(Herald::QueueFull, "it keeps raising while the broker is away") { Herald.notify("nobody", "x") }
    assert_equal({ queued: queued, sent: 0, dropped: 0, confirmed: 0, pending: queued }, Herald.stats,
                 "every event is counted queued and pending, none sent while no broker is connected, none dropped")
  end

  def test_full_queue_counts_drops_when_configured
    Herald.configure do |c|
      c.ingest = down_endpoint
      c.send_hwm = HWM
      c.on_full = :drop
      c.linger_ms = 0
    end
    queued, stop = fill(HWM * 20)
    assert_equal false, stop, "with on_full = :drop, notify returns false instead of raising"
    3.times { assert_equal false, Herald.notify("nobody", "x"), "and keeps returning false" }
    assert_equal({ queued: queued, sent: 0, dropped: 4, confirmed: 0, pending: queued }, Herald.stats,
                 "each refused event is counted in stats[:dropped]; the queued ones wait, unsent")
  end

  def test_queued_events_flush_when_broker_appears
    port = free_port
    Herald.configure do |c|
      c.ingest = "tcp://127.0.0.1:#{port}"
      c.send_hwm = HWM
    end
    user = fresh_user("late")
    Herald.notify(user, "early", 1) # queued: nothing listens on the port yet
    late = Broker.new(ports: { "ingest" => port, "publish" => free_port, "control" => free_port,
                               "undelivered" => free_port, "http" => free_port })
    begin
      # The event queued before the broker existed is delivered once it binds:
      # the broker's offset moves from 0 to 1.
      wait_until("queued event accepted") { late_offset(late) >= 1 }
      pass
    ensure
      late.stop
    end
  end

  def late_offset(broker)
    text = Net::HTTP.get(URI("#{broker.http}/metrics"))
    line = text.lines.find { |l| l.start_with?("herald_broker_offset ") }
    line ? line.split.last.to_f : 0
  rescue StandardError
    0
  end
end
