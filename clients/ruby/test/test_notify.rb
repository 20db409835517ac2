# test_notify.rb -- Herald.notify reaches a browser-side websocket through the real broker and gateway.
require_relative "test_helper"

class TestNotify < HeraldTestCase
  def test_event_reaches_websocket_client
    configure_for_stack
    user = fresh_user("carol")
    client = ws_for(user)
    assert Herald.notify(user, "bid", { amount: 120, vendor: "v1", note: "é\"\n" }, id: "bid-1"),
           "notify reports the event queued"
    ev = client.events(1).first
    assert_equal "bid", ev["event"], "the event name arrives"
    assert_equal({ "amount" => 120, "vendor" => "v1", "note" => "é\"\n" }, ev["data"],
                 "the data arrives as JSON with symbol keys turned into strings and text intact")
    assert_equal "bid-1", ev["id"], "the producer's id is passed through"
    assert_kind_of Integer, ev["offset"], "the broker stamped an offset"
  end

  def test_one_notify_to_many_users
    configure_for_stack
    users = [fresh_user("v"), fresh_user("v")]
    clients = users.map { |u| ws_for(u) }
    Herald.notify(users, "negotiate", { text: "lower?" })
    clients.each_with_index do |c, i|
      assert_equal({ "text" => "lower?" }, c.events(1).first["data"], "recipient #{i} of an array gets the event")
    end
  end

  def test_events_arrive_in_order
    configure_for_stack
    user = fresh_user("order")
    client = ws_for(user)
    50.times { |i| Herald.notify(user, "n", i) }
    got = client.events(50).map { |e| e["data"] }
    assert_equal (0...50).to_a, got, "events from one thread arrive in the order they were sent"
    assert_equal 50, Herald.stats[:queued], "stats count every queued event"
    wait_until("stats[:sent] reaches 50") { Herald.stats[:sent] == 50 }
    assert_equal 0, Herald.stats[:pending], "once delivered, none is pending"
  end

  def test_ttl_zero_and_no_data
    configure_for_stack
    user = fresh_user("plain")
    client = ws_for(user)
    Herald.notify(user, "ping.me", ttl: 0)
    ev = client.events(1).first
    assert_nil ev["data"], "an event without data arrives with data null"
    assert_equal "ping.me", ev["event"], "dots are allowed in event names"
  end
end
