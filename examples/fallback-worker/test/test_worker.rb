# test_worker.rb -- an event to an offline user reaches the fallback worker through the real broker.
$LOAD_PATH.unshift File.expand_path("../../../clients/ruby/lib", __dir__)
require "minitest/autorun"
require "securerandom"
require "fileutils"
require "tmpdir"
require "herald"
require_relative "../../../clients/ruby/test/herald_harness"
require_relative "../worker"

class TestFallbackWorker < Minitest::Test
  include HeraldHarness
  WORKER = File.expand_path("../worker.rb", __dir__)

  def setup
    @broker = Broker.new
    b = @broker
    Herald.configure do |c|
      c.ingest = b.ingest
      c.control = b.control
    end
  end

  def teardown
    @worker&.stop
    @broker&.stop
    Herald.reset!
  end

  def test_event_to_offline_user_is_printed_by_the_worker
    @worker = Child.new(["ruby", WORKER], env: { "HERALD_UNDELIVERED" => @broker.undelivered }, name: "worker")
    wait_until("worker started") { @worker.output.include?("pulling undelivered events") }
    user = "dana-#{SecureRandom.hex(3)}"
    refute Herald.online?(user), "the recipient has no connection"
    # The worker's TCP connection may not be up the instant it says it
    # started, and with no worker connected the broker drops undelivered
    # events (by design). So send until one arrives, each with its own id.
    sent = 0
    wait_until("the worker prints an e-mail for #{user}", timeout: 15, interval: 0.2) do
      sent += 1
      Herald.notify(user, "bid", { title: "200 branded mugs", amount: 120 }, id: "miss-#{sent}")
      @worker.output.include?("To: #{user}")
    end
    out = @worker.output
    assert_includes out, %(Subject: You missed a "bid" notification), "the worker names the missed event"
    assert_includes out, "While you were away: 200 branded mugs", "the worker shows the event's data"
    assert_match(/Reason: offline, offset \d+, id miss-\d+/, out, "reason, offset and id come from the broker")
    assert @worker.alive?, "the worker keeps running after handling events"
    @worker.stop
    refute @worker.alive?, "SIGTERM stops the worker"
  end

  def test_worker_as_a_curve_client
    @broker.stop
    dir = Dir.mktmpdir("herald-worker-curve-")
    allow = File.join(dir, "allow")
    Dir.mkdir(allow)
    server = keygen(dir, "broker")
    mailer = keygen(dir, "mailer", "worker")
    rails = keygen(dir, "rails", "producer")
    FileUtils.cp([mailer, rails], allow)
    @broker = Broker.new(extra: ["--curve-cert", server, "--curve-allow", allow])
    b = @broker
    Herald.configure do |c|
      c.ingest = b.ingest
      c.control = b.control
      c.curve_cert = rails
      c.curve_server = server
    end
    @worker = Child.new(["ruby", WORKER], name: "worker",
                        env: { "HERALD_UNDELIVERED" => b.undelivered,
                               "HERALD_CURVE_CERT" => mailer, "HERALD_CURVE_SERVER" => server })
    wait_until("worker started") { @worker.output.include?("pulling undelivered events") }
    assert_includes @worker.output, "(CURVE)", "the worker says it uses CURVE"
    user = "erin-#{SecureRandom.hex(3)}"
    sent = 0
    wait_until("the CURVE worker prints an e-mail for #{user}", timeout: 15, interval: 0.2) do
      sent += 1
      Herald.notify(user, "bid", { title: "over CURVE" }, id: "c-#{sent}")
      @worker.output.include?("To: #{user}")
    end
    assert_includes @worker.output, "While you were away: over CURVE"
  ensure
    FileUtils.rm_rf(dir) if dir
  end

  def test_email_for_skips_malformed_messages
    assert_nil FallbackWorker.email_for("nope"), "a non-map is not an undelivered event"
    assert_nil FallbackWorker.email_for({ "event" => "x" }), "a map without 'to' is skipped"
    mail = FallbackWorker.email_for({ "event" => "x", "to" => "u", "data" => [1], "offset" => 3 })
    assert_includes mail, "While you were away: [1]", "data without a title is shown as JSON"
  end
end
