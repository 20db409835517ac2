# test/curve_test.rb -- the fixture app with CURVE set in herald.yml: its key delivers, a stranger's or a gateway's key is refused and counted.
require_relative "live_helper"

class CurveTest < Minitest::Test
  include HeraldHarness

  def setup
    @dir = LiveRails.secret_dir
    allow = File.join(@dir, "allow")
    Dir.mkdir(allow)
    @certs = { broker: keygen(@dir, "broker"), gw: keygen(@dir, "gw", "gateway"),
               rails: keygen(@dir, "rails", "producer"), stranger: keygen(@dir, "stranger", "producer") }
    FileUtils.cp([@certs[:gw], @certs[:rails]], allow)
    @broker = HeraldHarness::Broker.new(extra: ["--curve-cert", @certs[:broker], "--curve-allow", allow])
    @gateway = HeraldHarness::Gateway.new(@broker, extra: ["--curve-cert", @certs[:gw],
                                                           "--curve-server", @certs[:broker]])
    secret = File.join(@dir, "secret")
    # three copies of the app, booted side by side, differing only in the
    # certificate herald.yml names: allowed producer, unknown key, and a key
    # the broker knows with the gateway role only
    @apps = %i[rails stranger gw].to_h do |who|
      [who, LiveRails::App.new(@broker, @gateway, secret_file: secret, curve: [@certs[who], @certs[:broker]],
                                                  name: "rails-#{who}")]
    end
    @apps.each_value(&:wait_ready)
  end

  def teardown
    @client&.close
    @apps&.each_value(&:kill)
    @gateway&.stop
    @broker&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  def refused(reason)
    text = Net::HTTP.get(URI("#{@broker.http}/metrics"))
    LiveRails.sample(text, %(herald_broker_auth_refused_total{socket="ingest",reason="#{reason}"}))
  end

  def test_the_allowed_key_delivers_and_others_are_refused_and_counted
    good = @apps[:rails]
    url, token = good.meta_for("dora")
    @client = WsClient.new(url, token)
    assert_equal "dora", @client.welcome["user"], "the CURVE gateway serves the app's token"
    wait_until("dora online, asked over CURVE control by the allowed app") do
      good.get_json("/herald/online?user=dora")["online"]
    end

    { stranger: ["unknown_key", 1], gw: ["role", 2] }.each do |who, (reason, amount)|
      app = @apps[who]
      assert_equal({ "queued" => true }, app.post_json("/bids", customer: "dora", amount: amount, as: who),
                   "#{who}: notify only queues, it never blocks the action")
      wait_until("the broker to count the #{who} key's ingest refusal (reason #{reason})") { refused(reason) >= 1 }
      status = app.post_json("/herald/flush", timeout: 0.5)
      assert_equal false, status["flushed"], "#{who}: Herald.flush in the app says the event did not go out"
      assert_equal 1, status["stats"]["pending"], "#{who}: the event waits in the app's queue"
      assert_equal 0, status["stats"]["sent"], "#{who}: nothing was sent to a broker that refused the key"
    end

    assert_equal({ "queued" => true }, good.post_json("/bids", customer: "dora", amount: 3, as: "rails"))
    ev = @client.events(1).first
    assert_equal 3, ev["data"]["amount"],
                 "the first event dora gets is the allowed app's: the refused keys' events never arrived"
    status = good.post_json("/herald/flush", timeout: 5)
    assert_equal true, status["flushed"], "Herald.flush in the allowed app: sent over CURVE"
    assert_equal 1, status["stats"]["sent"]
    assert_equal 0, refused("handshake"), "the gem's CURVE handshake itself never failed (same server key)"
    # the refused apps' exits wait linger_ms (1 s) for their queued event: stop them side by side
    @apps.each_value { |app| app.signal("TERM") }
    @apps.each { |who, app| assert app.terminate, "#{who} app stops on SIGTERM:\n#{app.output}" }
  end
end
