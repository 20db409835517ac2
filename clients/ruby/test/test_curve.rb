# test_curve.rb -- with curve_cert/curve_server the gem is a CURVE client of a broker run with --curve-allow.
require_relative "test_helper"
require "fileutils"
require "tmpdir"

class TestCurve < Minitest::Test
  include HeraldHarness

  # One CURVE broker and gateway for this file (the shared stack has no CURVE).
  def self.stack
    @stack ||= begin
      dir = Dir.mktmpdir("herald-rb-curve-")
      allow = File.join(dir, "allow")
      Dir.mkdir(allow)
      certs = { broker: HeraldHarness.keygen(dir, "broker"),
                gw: HeraldHarness.keygen(dir, "gw", "gateway"),
                rails: HeraldHarness.keygen(dir, "rails", "producer"),
                stranger: HeraldHarness.keygen(dir, "stranger", "producer") }
      FileUtils.cp([certs[:gw], certs[:rails]], allow)
      broker = HeraldHarness::Broker.new(extra: ["--curve-cert", certs[:broker], "--curve-allow", allow])
      gateway = HeraldHarness::Gateway.new(broker, extra: ["--curve-cert", certs[:gw],
                                                           "--curve-server", certs[:broker]])
      Minitest.after_run do
        gateway.stop
        broker.stop
        FileUtils.rm_rf(dir)
      end
      { dir: dir, certs: certs, broker: broker, gateway: gateway }
    end
  end

  def stack = self.class.stack
  def certs = stack[:certs]

  def configure(cert, **extra)
    b = stack[:broker]
    Herald.configure do |c|
      c.ingest = b.ingest
      c.control = b.control
      c.secret = HeraldHarness::SECRET
      c.curve_cert = cert
      c.curve_server = certs[:broker]
      extra.each { |k, v| c.public_send("#{k}=", v) }
    end
  end

  def teardown
    @client&.close
    Herald.reset!
  end

  def test_notify_and_presence_with_the_producer_key
    configure(certs[:rails])
    user = "curve-#{SecureRandom.hex(3)}"
    @client = WsClient.new(stack[:gateway].url, Herald.token(user, ttl: 300))
    assert_equal user, @client.welcome["user"], "the CURVE gateway welcomed the client"
    wait_until("#{user} online") { Herald.online?(user) }
    assert Herald.notify(user, "bid", { amount: 7 }), "notify queued on the CURVE PUSH socket"
    ev = @client.events(1).first
    assert_equal "bid", ev["event"]
    assert_equal({ "amount" => 7 }, ev["data"], "the event went through ingest with the producer's key")
  end

  def test_unknown_key_gets_no_answer
    configure(certs[:stranger], control_timeout_ms: 300)
    assert_raises(Herald::Timeout, "the broker does not answer a key it does not allow") do
      Herald.online?("anyone")
    end
  end

  def test_producer_may_not_resume
    configure(certs[:rails])
    err = assert_raises(Herald::ControlError) { Herald.control_request({ "op" => "resume", "user" => "x" }) }
    assert_includes err.message, "forbidden", "resume is for gateways only"
  end

  def test_keys_parse_like_czmq
    keys = Herald::Curve.load(certs[:rails], certs[:broker])
    printed = `#{File.join(HeraldHarness::BIN, 'herald-keygen')} #{File.join(stack[:dir], 'again')} --role producer`
    again = Herald::Curve.load(File.join(stack[:dir], "again.cert"), certs[:broker])
    assert_includes printed, again.public_key, "the parsed public key is the one herald-keygen printed"
    assert_equal 40, keys.secret_key.size, "the secret key comes from rails.cert_secret"
    refute_equal keys.public_key, keys.server_key
  end

  def test_bad_settings_fail_at_configure
    assert_raises(Herald::ConfigError, "curve_cert without curve_server") do
      Herald.configure { |c| c.curve_cert = certs[:rails] }
    end
    pub_only = File.join(stack[:dir], "pubonly.cert")
    FileUtils.cp(certs[:rails], pub_only)
    err = assert_raises(Herald::ConfigError) do
      Herald.configure { |c| c.curve_cert = pub_only; c.curve_server = certs[:broker] }
    end
    assert_includes err.message, "no secret key", "a public certificate alone cannot be used"
    assert_raises(Herald::ConfigError, "a missing file is named") do
      Herald.configure { |c| c.curve_cert = "/nonexistent.cert"; c.curve_server = certs[:broker] }
    end
  end
end
