# test_testing.rb -- Herald.test_mode! and Herald::TestHelper: recorded, asserted, cleared between tests.
require_relative "test_helper"
require "herald/test_helper"

class TestTestMode < Minitest::Test
  include Herald::TestHelper

  def setup
    Herald.configure { |c| c.ingest = "tcp://127.0.0.1:9" } # nothing there: test mode must not send
    Herald.test_mode!
  end

  def teardown
    Herald.test_mode!(false)
    Herald.reset!
  end

  # Run in either order: each starts with nothing recorded (before_setup clears).
  def test_records_are_cleared_between_tests_a
    assert_no_herald_notifications
    Herald.notify("alice", "bid", { amount: 1 })
    assert_equal 1, herald_notifications.size, "only this test's notification is recorded"
  end

  def test_records_are_cleared_between_tests_b
    assert_no_herald_notifications
    Herald.notify("alice", "bid", { amount: 2 })
    assert_equal 1, herald_notifications.size, "only this test's notification is recorded"
  end

  def test_assertions_match_user_event_data_and_count
    user = Struct.new(:id).new(7)
    assert_equal true, Herald.notify(%w[alice 7], :bid, { amount: 120, at: Date.new(2026, 1, 2) }, id: "b-1"),
                 "notify answers as if queued"
    hit = assert_herald_notified("alice", :bid, data: { amount: 120, at: "2026-01-02" })
    assert_equal "b-1", hit.id, "the matching record is returned, with its id"
    assert_herald_notified user, "bid", count: 1
    assert_herald_notified("alice", :bid, data: ->(d) { d["amount"] > 100 })
    assert_raises(Minitest::Assertion, "a different event does not match") { assert_herald_notified("alice", :paid) }
    assert_raises(Minitest::Assertion, "other data does not match") do
      assert_herald_notified("alice", :bid, data: { amount: 5 })
    end
    err = assert_raises(Minitest::Assertion, "another user does not match") { assert_herald_notified("bob", :bid) }
    assert_includes err.message, "bid->alice,7", "the failure lists what was recorded"
    assert_equal({ queued: 1, sent: 1, dropped: 0, confirmed: 0, pending: 0 }, Herald.stats,
                 "stats count recorded notifications as queued and sent")
    assert_equal 0, Herald.socket_count, "test mode opened no socket"
  end

  def test_block_forms
    Herald.notify("alice", "early")
    assert_herald_notified("alice", :bid, count: 2) do
      Herald.notify("alice", "bid")
      Herald.notify("alice", "bid")
    end
    assert_no_herald_notifications { Herald.online?("alice") }
    assert_raises(Minitest::Assertion, "the block sent something") do
      assert_no_herald_notifications { Herald.notify("alice", "late") }
    end
  end

  def test_channels_broadcasts_presence_confirm_and_tokens
    Herald.publish("order:42", "bid", { amount: 95 })
    Herald.broadcast("maintenance", { at: "22:00" })
    assert_herald_published "order:42", :bid, data: { amount: 95 }
    assert_herald_broadcast :maintenance
    assert_equal({ "alice" => false }, Herald.presence(["alice"]), "nobody is online unless marked")
    Herald::Testing.online!("alice")
    assert Herald.online?("alice"), "online! marks a user online"
    reply = Herald.notify("alice", "paid", nil, confirm: true)
    assert_equal ["test", false], [reply[:epoch], reply[:duplicate]], "a confirmed send answers with a test epoch"
    assert_operator reply[:offset], :>, 0, "and an offset"
    assert herald_notifications.last.confirm, "and is recorded as confirmed"
    assert_equal({ online: true, sent: true }, Herald.disconnect("alice"), "disconnect is recorded, not sent")
    assert_equal ["alice"], Herald::Testing.disconnects
    claims = JWT.decode(Herald.token("alice"), Herald::Testing::SECRET, true, algorithm: "HS256").first
    assert_equal "alice", claims["sub"], "tokens are minted with the test secret when none is configured"
  end

  def test_bad_arguments_still_raise
    assert_raises(ArgumentError, "test mode checks envelopes as the real client does") { Herald.notify("", "bid") }
    assert_raises(ArgumentError) { Herald.notify("u", "bid", Object.new) }
    assert_no_herald_notifications
  end

  def test_outside_test_mode_the_assertions_say_so
    Herald.test_mode!(false)
    err = assert_raises(Minitest::Assertion) { assert_herald_notified("alice", :bid) }
    assert_includes err.message, "Herald.test_mode!", "the failure says how to turn test mode on"
  end
end

# Without Minitest's assert (plain Ruby, RSpec without minitest): the
# methods raise an error the framework reports.
class TestTestHelperPlain < Minitest::Test
  class Plain
    include Herald::TestHelper
  end

  def teardown
    Herald.test_mode!(false)
  end

  def test_plain_methods_raise_failure
    Herald.test_mode!
    Herald.notify("alice", "bid")
    plain = Plain.new
    assert plain.assert_herald_notified("alice", :bid), "a match returns the record"
    assert_raises(Herald::TestHelper::Failure, "a miss raises Herald::TestHelper::Failure") do
      plain.assert_herald_notified("bob", :bid)
    end
  end
end
