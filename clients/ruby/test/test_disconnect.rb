# test_disconnect.rb -- Herald.disconnect closes a user's connections with 4003 through the real stack.
require_relative "test_helper"

class TestDisconnect < HeraldTestCase
  def test_disconnect_closes_with_4003
    configure_for_stack
    gone = fresh_user("gone")
    stays = fresh_user("stays")
    a = ws_for(gone)
    b = ws_for(stays)
    assert_equal({ online: true, sent: true }, Herald.disconnect(gone),
                 "the reply says the user was online and the request was published")
    assert_equal({ "type" => "closed", "code" => 4003 }, a.next_frame.slice("type", "code"),
                 "the disconnected user's connection is closed with 4003")
    assert_equal true, Herald.online?(stays), "another user stays connected"
    Herald.notify(stays, "still", { n: 1 })
    assert_equal({ "type" => "event", "event" => "still" }, b.next_frame.slice("type", "event"),
                 "and keeps getting events")
  end

  def test_disconnect_offline_user
    configure_for_stack
    assert_equal({ online: false, sent: true }, Herald.disconnect(fresh_user("nobody")),
                 "an offline user: nothing to close, said so")
    assert_raises(ArgumentError, "a bad user id is refused locally") { Herald.disconnect("") }
  end
end
