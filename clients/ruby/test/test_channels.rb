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

# The same through the real broker and gateway: a subscriber gets the
# channel's events, every connection the broadcasts.
class TestChannelsLive < HeraldTestCase
  def subscriber(user, channel, token: nil, claim: nil)
    frame = { "type" => "subscribe", "channel" => channel }
    frame["token"] = token if token
    client = WsClient.new(gateway.url, Herald.token(user, ttl: 300, channels: claim), send: [frame])
    @clients = (@clients || []) << client
    client.welcome
    subscribed = client.frame_of("subscribed")
    assert_equal channel, subscribed["channel"], "the gateway subscribed #{user} to #{channel}"
    client
  end

  def test_publish_reaches_subscribers_only
    configure_for_stack
    channel = "order:#{SecureRandom.hex(3)}"
    by_claim = subscriber(fresh_user("v"), channel, claim: ["order:*"])
    customer = fresh_user("c")
    by_token = subscriber(customer, channel, token: Herald.subscription_token(customer, channel, ttl: 60))
    bystander = ws_for(fresh_user("b"))
    wait_until("two connections on #{channel}") { Herald.channel_presence(channel)[:connections] == 2 }
    presence = Herald.channel_presence(channel)
    assert_includes presence[:users], customer, "channel presence names the subscribers"
    assert_equal false, presence[:truncated]

    assert Herald.publish(channel, "bid", { amount: 95 }, id: "b-1"), "queued"
    confirmed = Herald.publish(channel, "bid", { amount: 90 }, confirm: true)
    [by_claim, by_token].each do |c|
      # the push (ingest) and the confirmed publish (control) take different
      # sockets: either may reach the broker first
      got = c.events(2).sort_by { |e| e["data"]["amount"] }
      assert_equal [channel, channel], got.map { |e| e["channel"] }, "channel events name their channel"
      assert_equal [{ "amount" => 90 }, { "amount" => 95 }], got.map { |e| e["data"] }
      assert_equal confirmed[:offset], got.first["offset"], "delivered at the confirmed offset"
    end
    Herald.broadcast("banner", { text: "hello" })
    [by_claim, by_token, bystander].each do |c|
      ev = c.events(1).first
      assert_equal ["banner", true], [ev["event"], ev["broadcast"]], "a broadcast reaches every connection"
    end
  end
end
