# test_channels.rb -- publish/broadcast envelopes, channel tokens and subscription tokens (no processes).
require_relative "test_helper"

class TestChannels < Minitest::Test
  SECRET = HeraldHarness::SECRET

  def setup
    Herald.configure { |c| c.secret = SECRET }
  end

  def teardown
    Herald.reset!
  end

  def decode(token)
    JWT.decode(token, SECRET, true, algorithm: "HS256")
  end

  def test_channel_and_broadcast_envelopes
    env = MessagePack.unpack(Herald::Envelope.pack(nil, "bid", { n: 1 }, channel: "order:17", id: "b-1"))
    assert_equal({ "event" => "bid", "channel" => "order:17", "data" => { "n" => 1 }, "id" => "b-1" }, env,
                 "a channel event names its channel instead of to")
    env = MessagePack.unpack(Herald::Envelope.pack(nil, "banner", "hi", broadcast: true, op: "publish",
                                                                        idempotency_key: "k"))
    assert_equal({ "op" => "publish", "event" => "banner", "broadcast" => true, "data" => "hi",
                   "idempotency_key" => "k" }, env, "a broadcast says broadcast: true")
  end

  def test_bad_addressing_refused
    bad = [
      -> { Herald::Envelope.pack("a", "x", nil, channel: "c") },
      -> { Herald::Envelope.pack(nil, "x", nil) },
      -> { Herald::Envelope.pack(nil, "x", nil, channel: "c", broadcast: true) },
      -> { Herald::Envelope.pack(nil, "x", nil, channel: "") },
      -> { Herald::Envelope.pack(nil, "x", nil, channel: "has space") },
      -> { Herald::Envelope.pack(nil, "x", nil, channel: "c" * 129) },
      -> { Herald.publish("no spaces", "x") },
      -> { Herald.notify(nil, "x") },
      -> { Herald.channel_presence("a b") },
    ]
    bad.each_with_index do |call, i|
      assert_raises(ArgumentError, "case #{i} breaks an addressing rule and is refused before sending") { call.call }
    end
    assert Herald::Envelope.pack(nil, "x", nil, channel: "Aa0_.:@/=-" + "c" * 118), "every allowed character, 128 bytes"
  end

  def test_token_channels_claim
    payload, = decode(Herald.token("carol", channels: ["order:17", "order:*", "*", "order:17"]))
    assert_equal ["order:17", "order:*", "*"], payload["channels"], "the claim lists names and prefixes, once each"
    payload, = decode(Herald.token("carol"))
    refute payload.key?("channels"), "no claim unless asked for"
    assert_raises(ArgumentError) { Herald.token("carol", channels: "order:17") }
    assert_raises(ArgumentError) { Herald.token("carol", channels: ["a*b"]) }
    assert_raises(ArgumentError) { Herald.token("carol", channels: ["bad name"]) }
  end

  def test_subscription_token
    before = Time.now.to_i
    payload, header = decode(Herald.subscription_token("carol", "order:17", ttl: 120))
    assert_equal "HS256", header["alg"]
    assert_equal %w[carol order:17], payload.values_at("sub", "channel"), "sub and channel"
    assert_operator payload["iat"], :>=, before
    assert_equal payload["iat"] + 120, payload["exp"], "exp is iat + ttl"
    payload, = decode(Herald.subscription_token("carol", "order:17"))
    assert_equal payload["iat"] + Herald.config.token_ttl, payload["exp"], "default ttl: token_ttl"
    assert_raises(ArgumentError) { Herald.subscription_token("carol", "order:*") }
    assert_raises(ArgumentError) { Herald.subscription_token("carol", "order:17", ttl: 0) }
    Herald.configure { |c| c.secret = nil }
    assert_raises(Herald::ConfigError) { Herald.subscription_token("carol", "order:17") }
  end
end
