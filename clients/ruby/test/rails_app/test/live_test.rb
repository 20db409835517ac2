# test/live_test.rb -- the fixture app served by WEBrick in normal mode: a controller's Herald.notify reaches a real browser connection.
require_relative "live_helper"

class LiveTest < Minitest::Test
  include HeraldHarness

  def setup
    @dir = LiveRails.secret_dir
    @broker = HeraldHarness::Broker.new
    @gateway = HeraldHarness::Gateway.new(@broker)
    @app = LiveRails::App.new(@broker, @gateway, secret_file: File.join(@dir, "secret")).wait_ready
  end

  def teardown
    @client&.close
    @app&.kill
    @gateway&.stop
    @broker&.stop
    FileUtils.rm_rf(@dir) if @dir
  end

  def test_a_controller_notify_reaches_the_browser_and_flush_and_stats_say_so
    url, token = @app.meta_for("carol")
    assert_equal @gateway.url, url, "herald_meta_tags rendered herald.yml's gateway_url"
    @client = WsClient.new(url, token)
    assert_equal "carol", @client.welcome["user"],
                 "the real gateway accepted the token the app minted from herald.yml's secret_file"
    wait_until("carol online, asked through the app's Herald.online?") do
      @app.get_json("/herald/online?user=carol")["online"]
    end

    assert_equal({ "queued" => true }, @app.post_json("/bids", customer: "carol", amount: 120, as: "v7"),
                 "the action's Herald.notify queued the event (normal mode, not test mode)")
    ev = @client.events(1).first
    assert_equal "bid", ev["event"]
    assert_equal 120, ev["data"]["amount"]
    assert_equal "v7", ev["data"]["vendor"], "the data the controller built reached the browser"
    assert_match(/\A\d{4}-\d\d-\d\dT/, ev["data"]["at"], "Time went out as ISO 8601")

    committed = @app.post_json("/bids", customer: "carol", amount: 130, as: "v8", confirm: 1)
    assert_kind_of Integer, committed["offset"], "notify(confirm: true) returned the broker's offset"
    assert_equal ev["offset"] + 1, committed["offset"], "the confirmed event is the next one in carol's stream"
    assert_equal 130, @client.events(1).first["data"]["amount"], "the confirmed event reached the browser too"

    status = @app.post_json("/herald/flush", timeout: 5)
    assert_equal true, status["flushed"], "Herald.flush in the app: everything queued went out"
    assert_equal({ "queued" => 1, "sent" => 1, "dropped" => 0, "confirmed" => 1, "pending" => 0 }, status["stats"],
                 "stats tell the queued-and-sent event from the confirmed one")

    assert @app.terminate, "the server stops on SIGTERM and exits by itself:\n#{@app.output}"
  end
end
