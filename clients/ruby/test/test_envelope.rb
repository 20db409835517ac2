# test_envelope.rb -- the envelope the client builds, and the inputs it refuses (no processes).
require_relative "test_helper"

class TestEnvelope < Minitest::Test
  def unpack(bytes)
    MessagePack.unpack(bytes)
  end

  def test_envelope_has_string_keys_and_all_fields
    env = unpack(Herald::Envelope.pack("carol", :bid, { amount: 120, tags: [:a] }, id: "b-1", ttl: 30))
    assert_equal({ "event" => "bid", "to" => "carol", "data" => { "amount" => 120, "tags" => ["a"] },
                   "id" => "b-1", "ttl" => 30 }, env,
                 "symbols become strings and every given field is carried with the protocol's key")
  end

  def test_optional_fields_are_left_out
    env = unpack(Herald::Envelope.pack(%w[a b a], "x", nil))
    assert_equal({ "event" => "x", "to" => %w[a b] }, env,
                 "no data/id/ttl keys when not given, and duplicate recipients are sent once")
  end

  def test_objects_with_as_json_are_converted
    obj = Object.new
    def obj.as_json
      { "id" => 7 }
    end
    env = unpack(Herald::Envelope.pack("a", "x", { order: obj }))
    assert_equal({ "order" => { "id" => 7 } }, env["data"], "Rails-style models are sent as their as_json")
  end

  def test_bad_inputs_raise_argument_error
    bad = [
      -> { Herald::Envelope.pack("a", "bad event", nil) },
      -> { Herald::Envelope.pack("a", "", nil) },
      -> { Herald::Envelope.pack("a", "x" * 65, nil) },
      -> { Herald::Envelope.pack("", "x", nil) },
      -> { Herald::Envelope.pack("a\nb", "x", nil) },
      -> { Herald::Envelope.pack("u" * 129, "x", nil) },
      -> { Herald::Envelope.pack("\xff".b, "x", nil) },
      -> { Herald::Envelope.pack([], "x", nil) },
      -> { Herald::Envelope.pack(nil, "x", nil) },
      -> { Herald::Envelope.pack("a", "x", nil, id: "i" * 129) },
      -> { Herald::Envelope.pack("a", "x", nil, ttl: -1) },
      -> { Herald::Envelope.pack("a", "x", "z" * 70_000) },
      -> { Herald::Envelope.pack("a", "x", nil, idempotency_key: "") },
      -> { Herald::Envelope.pack("a", "x", nil, idempotency_key: "k" * 129) },
    ]
    bad.each_with_index do |call, i|
      assert_raises(ArgumentError, "input #{i} breaks a protocol rule and is refused before sending") { call.call }
    end
  end

  def test_config_reads_environment_and_validates
    cfg = Herald::Config.new("HERALD_INGEST" => "tcp://10.1.1.1:1", "HERALD_CONTROL" => "tcp://10.1.1.1:2",
                             "HERALD_SECRET" => "s", "HERALD_ON_FULL" => "drop")
    assert_equal ["tcp://10.1.1.1:1", "tcp://10.1.1.1:2", "s", :drop],
                 [cfg.ingest, cfg.control, cfg.secret, cfg.on_full], "HERALD_* variables set the defaults"
    cfg.on_full = :explode
    assert_raises(Herald::ConfigError, "an unknown on_full policy is refused at configure time") { cfg.validate! }
  end

  def test_idempotency_key_and_publish_op
    env = unpack(Herald::Envelope.pack("a", "x", 1, idempotency_key: "k-1", op: "publish"))
    assert_equal({ "op" => "publish", "event" => "x", "to" => "a", "data" => 1, "idempotency_key" => "k-1" }, env,
                 "a confirmed send is the envelope with op publish, its key carried as idempotency_key")
  end

  def test_pair_endpoint_lists
    cfg = Herald::Config.new("HERALD_INGEST" => "tcp://a:1,tcp://b:1", "HERALD_CONTROL" => "tcp://a:3, tcp://b:3")
    cfg.validate!
    assert_equal [%w[tcp://a:1 tcp://b:1], %w[tcp://a:3 tcp://b:3]], [cfg.ingest_endpoints, cfg.control_endpoints],
                 "EP1,EP2 is a pair, primary first"
    ["tcp://a:1,tcp://b:1,tcp://c:1", "tcp://a:1,", ""].each do |bad|
      cfg = Herald::Config.new("HERALD_CONTROL" => bad)
      assert_raises(Herald::ConfigError, "control #{bad.inspect} is refused") { cfg.validate! }
    end
    cfg = Herald::Config.new
    cfg.confirm_timeout_ms = 0
    assert_raises(Herald::ConfigError, "timeouts must be positive") { cfg.validate! }
  end
end
