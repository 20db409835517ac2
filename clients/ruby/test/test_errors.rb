# test_errors.rb -- bad arguments raise ArgumentError before anything is queued; data is converted or refused.
require_relative "test_helper"

class TestErrors < Minitest::Test
  def setup
    Herald.configure { |c| c.ingest = "tcp://127.0.0.1:9" } # never reached: nothing may be queued
  end

  def teardown
    Herald.reset!
  end

  def data_of(value)
    MessagePack.unpack(Herald::Envelope.pack("u", "e", value))["data"]
  end

  def test_bad_calls_raise_before_sending
    calls = {
      "a bad event name" => [-> { Herald.notify("u", "no spaces", 1) }, /event name "no spaces"/],
      "an empty recipient" => [-> { Herald.notify("", "bid") }, /user id "" must be 1-128 bytes/],
      "no recipients" => [-> { Herald.notify([], "bid") }, /at least one user id/],
      "oversized data" => [-> { Herald.notify("u", "bid", "z" * 70_000) }, /over the 65536-byte limit/],
      "a bad channel" => [-> { Herald.publish("no spaces", "bid") }, /channel "no spaces" must be/],
      "a Time key" => [-> { Herald.notify("u", "bid", { Time.at(0) => 1 }) }, /data cannot be sent/],
      "an arbitrary object" => [-> { Herald.notify("u", "bid", { x: Object.new }) }, /data holds a Object/],
      "NaN" => [-> { Herald.notify("u", "bid", Float::NAN) }, /NaN, which JSON cannot carry/],
      "a 70-bit integer" => [-> { Herald.notify("u", "bid", 2**70) }, /data cannot be sent/],
    }
    calls.each do |what, (call, message)|
      err = assert_raises(ArgumentError, "#{what} raises ArgumentError") { call.call }
      assert_match message, err.message, "the message for #{what} says what is wrong"
    end
    assert_equal 0, Herald.stats[:queued], "none of them was queued"
    assert_equal 0, Herald.socket_count, "no socket was even opened"
  end

  def test_times_dates_and_structs_are_converted
    assert_equal "2026-01-02T03:04:05.500Z", data_of(Time.utc(2026, 1, 2, 3, 4, 5.5)),
                 "a Time becomes ISO 8601 with milliseconds (what Rails' JSON gives)"
    assert_equal "2026-01-02", data_of(Date.new(2026, 1, 2)), "a Date becomes ISO 8601"
    assert_equal({ "a" => 1 }, data_of(Struct.new(:a).new(1)), "an object with to_h is sent as its Hash")
    deep = 100.times.reduce(1) { |acc, _| [acc] }
    assert_raises(ArgumentError, "data nested deeper than 64 levels is refused") { data_of(deep) }
  end

  def test_user_models_are_their_ids
    user = Struct.new(:id).new(42)
    custom = Object.new
    def custom.to_herald_id
      "acct-7"
    end
    env = MessagePack.unpack(Herald::Envelope.pack([user, custom], "bid", nil))
    assert_equal %w[42 acct-7], env["to"], "a model is sent as its id, or as its to_herald_id"
    assert_raises(ArgumentError, "a model without an id (unsaved) is refused") do
      Herald::Envelope.pack(Struct.new(:id).new(nil), "bid", nil)
    end
  end
end
