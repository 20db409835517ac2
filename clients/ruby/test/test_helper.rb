# test_helper.rb -- minitest set-up: load the gem from lib/, share one broker+gateway per run.
$LOAD_PATH.unshift File.expand_path("../lib", __dir__)
require "minitest/autorun"
require "securerandom"
require "herald"
require_relative "herald_harness"

module HeraldTestStack
  @lock = Mutex.new
  @stack = nil

  # One broker and one gateway, started on first use, stopped after the run.
  def self.get
    @lock.synchronize do
      @stack ||= begin
        broker = HeraldHarness::Broker.new
        gateway = HeraldHarness::Gateway.new(broker)
        { broker: broker, gateway: gateway }
      end
    end
  end

  def self.stop
    return unless @stack

    @stack[:gateway].stop
    @stack[:broker].stop
    @stack = nil
  end
end

Minitest.after_run { HeraldTestStack.stop }

class HeraldTestCase < Minitest::Test
  include HeraldHarness

  def stack
    HeraldTestStack.get
  end

  def broker
    stack[:broker]
  end

  def gateway
    stack[:gateway]
  end

  # Points the client at the shared stack with the test secret.
  def configure_for_stack(**extra)
    b = broker
    Herald.configure do |c|
      c.ingest = b.ingest
      c.control = b.control
      c.secret = HeraldHarness::SECRET
      extra.each { |k, v| c.public_send("#{k}=", v) }
    end
  end

  # A unique user id, so tests sharing the stack never see each other's events.
  def fresh_user(prefix = "u")
    "#{prefix}-#{SecureRandom.hex(4)}"
  end

  # Opens a websocket client for `user`, waits for its welcome and until the
  # broker reports the user online (so events are routed to it, not history).
  def ws_for(user)
    client = WsClient.new(gateway.url, Herald.token(user, ttl: 300))
    @clients = (@clients || []) << client
    welcome = client.welcome
    assert_equal user, welcome["user"], "the gateway welcomed the token's subject"
    wait_until("#{user} online") { Herald.online?(user) }
    client
  end

  def teardown
    (@clients || []).each(&:close)
    Herald.reset!
  end
end
