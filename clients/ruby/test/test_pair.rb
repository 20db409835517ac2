# test_pair.rb -- the gem against a hot standby pair: "EP1,EP2" endpoints, failover of ingest and control.
require_relative "test_helper"

class TestPair < Minitest::Test
  include HeraldHarness

  def setup
    @pair = Pair.new(pair_timeout_ms: 1000)
    @pair.start_both
    pair = @pair
    Herald.configure do |c|
      c.ingest = pair.ingest
      c.control = pair.control
    end
  end

  def teardown
    Herald.reset!
    @pair.stop
  end

  def accepted
    Herald.control_request({ "op" => "stats" })["herald_broker_events_accepted_total"]
  end

  def test_kill9_primary_confirmed_and_plain_go_on
    first = Herald.notify("alice", "bid", 1, idempotency_key: "pair-1", confirm: true)
    assert Herald.notify("alice", "bid", 2), "a plain push to the pair"
    wait_until("the primary accepted both") { accepted == 2 }
    assert_equal({ "alice" => false }, Herald.presence(["alice"]), "control answers from the primary")
    wait_until("the backup to hold the copy") do
      @pair.metrics(0)[/^herald_broker_pair_lag_events (\d+)/, 1] == "0"
    end

    @pair.procs[0].kill
    # the retries go to the backup and are its vote: it takes over, knows
    # the key from its copy and answers the first offset
    again = Herald.notify("alice", "bid", 1, idempotency_key: "pair-1", confirm: true)
    assert_equal first.merge(duplicate: true), again, "the replicated event is not routed twice"
    fresh = Herald.notify("alice", "bid", 3, confirm: true)
    assert_operator fresh[:offset], :>, first[:offset] + (1 << 24), "offsets jump after a takeover"
    assert_equal first[:epoch], fresh[:epoch], "same epoch"
    assert @pair.serving?(1), "the backup is active"
    assert Herald.notify("alice", "bid", 4), "plain pushes reach the new active"
    wait_until("the backup accepted the fresh events") { accepted == 2 }
    assert_equal({ "alice" => false }, Herald.presence(["alice"]), "control answers from the backup")
  end
end
